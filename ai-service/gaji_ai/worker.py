"""Celery app of the ai service. Two queues, one worker each, so a long
ingestion job never delays a user's chat turn:

    celery -A gaji_ai.worker worker -Q generation -n chat@%h
    celery -A gaji_ai.worker worker -Q ingestion -n ingest@%h

(more generation workers when load grows). The generation worker loads the
local model at start, so the first chat turn does not pay for it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery
from celery.signals import (
    celeryd_init,
    setup_logging,
    worker_process_init,
    worker_process_shutdown,
)
from kombu import Exchange, Queue

from gaji_ai.common.logging import configure_logging
from gaji_ai.config import Settings, get_settings

logger = logging.getLogger("gaji_ai.worker")

INGESTION_QUEUE = "ingestion"
GENERATION_QUEUE = "generation"
INGEST_TASK = "gaji.ingestion.ingest_novel"
GENERATE_TASK = "gaji.generation.generate"


def create_celery_app(settings: Settings) -> Celery:
    broker = settings.redis.celery_broker_url
    # fixups=[]: the repo shares one virtualenv with Django, and Celery's
    # Django fix-up would load core's settings whenever DJANGO_SETTINGS_MODULE
    # happens to be set. The ai worker never touches Django.
    celery = Celery("gaji_ai", broker=broker, backend=broker, fixups=[])
    celery.conf.update(
        # Each queue gets its own exchange and routing key; a bare Queue(name)
        # would bind to the default queue's exchange and key.
        task_queues=tuple(
            Queue(name, Exchange(name, type="direct"), routing_key=name)
            for name in (INGESTION_QUEUE, GENERATION_QUEUE)
        ),
        task_default_queue=GENERATION_QUEUE,
        task_routes={
            "gaji.ingestion.*": {"queue": INGESTION_QUEUE},
            "gaji.generation.*": {"queue": GENERATION_QUEUE},
        },
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        timezone="UTC",
        enable_utc=True,
        # Jobs are long (embedding a novel, generating a reply): take one at a
        # time, and acknowledge only once done so a killed worker's job is redelivered.
        worker_prefetch_multiplier=1,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True,
        # Keep our JSON log lines; see the setup_logging handler below.
        worker_hijack_root_logger=False,
        # A replacement pool process says it is up before loading its models
        # (see _preload_models); this is only the margin for the imports.
        worker_proc_alive_timeout=60,
    )

    @celery.task(name="gaji.ping", shared=False)
    def ping() -> str:
        """Proves a worker consumes the queue it was sent to."""
        return "pong"

    @celery.task(name=INGEST_TASK, shared=False)
    def ingest_novel(job_id: str) -> str:
        """Ingest a novel; the job's state is in Redis (gaji_ai.ingestion.jobs)."""
        from gaji_ai.ingestion.tasks import run_job

        wait_for_models()
        return run_job(settings, job_id)

    @celery.task(name=GENERATE_TASK, shared=False)
    def generate(payload: dict) -> str:
        """One chat turn (gaji_ai.generation.runner)."""
        from gaji_ai.generation.runner import run_generation

        return run_generation(settings, payload, ready=wait_for_models)

    return celery


@setup_logging.connect
def _configure_worker_logging(**_: Any) -> None:
    configure_logging(get_settings().app.log_level)


_consumed_queues: set[str] = set()


@celeryd_init.connect
def _remember_queues(options: dict | None = None, **_: Any) -> None:
    """The queues this worker consumes (`-Q`), before it forks its processes."""
    queues = (options or {}).get("queues") or ""
    if isinstance(queues, str):
        queues = queues.split(",")
    _consumed_queues.update(q.strip() for q in queues if q.strip())


_worker_beat = None


def _consumes_generation() -> bool:
    return GENERATION_QUEUE in _consumed_queues or not _consumed_queues


def _consumes_ingestion() -> bool:
    return INGESTION_QUEUE in _consumed_queues or not _consumed_queues


# Set while no load is in progress (also outside pool processes, e.g. tests).
_models_ready = threading.Event()
_models_ready.set()


@worker_process_init.connect
def _preload_models(**_: Any) -> None:
    """Each worker process loads its models once, before its first job: the
    embedding model, and the local LLM where chat turns are consumed. A chat
    worker process also starts beating, so turns queued behind it are known
    to be waiting rather than lost.

    The loading runs in a thread: this handler must return quickly, because
    Celery kills a new pool process that has not said it is up within
    `worker_proc_alive_timeout` (4 s by default), and loading torch and the
    LLM can take longer than that (after a crash, every replacement process
    was killed that way, for good). A job that arrives first waits for the
    models (`wait_for_models`)."""
    global _worker_beat
    settings = get_settings()
    if _consumes_generation():
        import os
        import socket

        import redis

        from gaji_ai.generation.tracking import WorkerBeat

        _worker_beat = WorkerBeat(
            redis.Redis.from_url(settings.redis.redis_url),
            settings.rate_limit.rate_limit_prefix,
            f"{socket.gethostname()}:{os.getpid()}",
        )
        _worker_beat.start()
    _models_ready.clear()
    threading.Thread(
        target=_load_models, args=(settings,), name="gaji-model-load", daemon=True
    ).start()


def _load_models(settings: Settings) -> None:
    started = time.monotonic()
    try:
        # A chat-only worker on the engine holds no model: its processes (one
        # per engine slot) stay small, and the embedder loads on first use
        # (grounding normally happens in the API process, before the queue).
        light = _consumes_generation() and not _consumes_ingestion() and settings.llm.uses_engine
        if settings.embeddings.embeddings_preload:
            if not light:
                from gaji_ai.embeddings import dense_embedder

                embedder = dense_embedder(settings)
                if hasattr(embedder, "warm"):
                    embedder.warm()
            if _consumes_generation():
                from gaji_ai.generation.runner import provider_for

                provider = provider_for(settings)
                if hasattr(provider, "warm"):
                    provider.warm()
    except Exception:  # the first job loads them itself, and reports the error
        logger.exception("preloading the models failed")
    finally:
        _models_ready.set()
    # The parent logs "ready." before its processes finish this: this line
    # says a process can take a job at once (the e2e stack waits for it).
    logger.info("worker process ready in %.1f s", time.monotonic() - started)


def wait_for_models(timeout: float | None = None) -> bool:
    """A job's first step: the models this process is loading, if any."""
    return _models_ready.wait(timeout)


@worker_process_shutdown.connect
def _shutdown(**_: Any) -> None:
    if _worker_beat is not None:
        _worker_beat.stop()
    from gaji_ai.generation.runner import close_worker_context

    close_worker_context()


celery_app = create_celery_app(get_settings())
