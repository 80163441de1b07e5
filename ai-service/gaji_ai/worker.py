"""The ai service's Celery worker: the app configured in gaji_ai.taskqueue,
with each domain's tasks registered on it (gaji_ai.generation.tasks,
gaji_ai.ingestion.tasks), and the worker's process signals:

    celery -A gaji_ai.worker worker -Q generation -n chat@%h
    celery -A gaji_ai.worker worker -Q ingestion -n ingest@%h

(more generation workers when load grows). A worker process loads its
models at start, so the first job does not pay for them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import redis
from celery.signals import (
    celeryd_init,
    setup_logging,
    worker_process_init,
    worker_process_shutdown,
)

from gaji_ai.common.logging import configure_logging
from gaji_ai.config import Settings, get_settings
from gaji_ai.embeddings import dense_embedder
from gaji_ai.generation import tasks as generation_tasks
from gaji_ai.generation.tracking import WorkerBeat
from gaji_ai.generation.turn import close_worker_context
from gaji_ai.ingestion import tasks as ingestion_tasks
from gaji_ai.llm.registry import provider_for
from gaji_ai.taskqueue import (
    GENERATE_TASK,
    GENERATION_QUEUE,
    INGEST_TASK,
    INGESTION_QUEUE,
    celery_app,
    create_celery_app,
)

logger = logging.getLogger("gaji_ai.worker")

__all__ = [
    "GENERATE_TASK",
    "GENERATION_QUEUE",
    "INGESTION_QUEUE",
    "INGEST_TASK",
    "celery_app",
    "create_celery_app",
    "wait_for_models",
]


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
        # (grounding happens in the API process, before the queue).
        light = _consumes_generation() and not _consumes_ingestion() and settings.llm.uses_engine
        if settings.embeddings.embeddings_preload:
            if not light:
                embedder = dense_embedder(settings)
                if hasattr(embedder, "warm"):
                    embedder.warm()
            if _consumes_generation():
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
    close_worker_context()


generation_tasks.register(celery_app, get_settings(), ready=wait_for_models)
ingestion_tasks.register(celery_app, get_settings(), ready=wait_for_models)
