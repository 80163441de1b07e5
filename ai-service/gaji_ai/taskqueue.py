"""The Celery app's configuration and the names of its tasks, written once.

Two queues, one worker each, so a long ingestion job never delays a
reader's chat turn:

    celery -A gaji_ai.worker worker -Q generation -n chat@%h
    celery -A gaji_ai.worker worker -Q ingestion -n ingest@%h

The API process sends tasks through this module (`send`); the worker
process (gaji_ai.worker) registers each domain's tasks on the same app."""

from __future__ import annotations

import asyncio

from celery import Celery
from kombu import Exchange, Queue

from gaji_ai.config import Settings, get_settings

INGESTION_QUEUE = "ingestion"
GENERATION_QUEUE = "generation"
INGEST_TASK = "gaji.ingestion.ingest_novel"
GENERATE_TASK = "gaji.generation.generate"
PING_TASK = "gaji.ping"


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
        # Keep our JSON log lines (gaji_ai.worker's setup_logging handler).
        worker_hijack_root_logger=False,
        # A replacement pool process says it is up before loading its models
        # (gaji_ai.worker._preload_models); this is only the margin for the imports.
        worker_proc_alive_timeout=60,
    )

    @celery.task(name=PING_TASK, shared=False)
    def ping() -> str:
        """Proves a worker consumes the queue it was sent to."""
        return "pong"

    return celery


celery_app = create_celery_app(get_settings())


async def send(name: str, *args: object) -> None:
    """Queue a task (the broker call runs in a thread: kombu is blocking)."""
    await asyncio.to_thread(celery_app.send_task, name, args=list(args))
