"""The worker side of an ingestion job (the ingestion queue's task)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import redis
from celery import Celery

from gaji_ai.clients.core import CoreClient, CoreError
from gaji_ai.config import Settings
from gaji_ai.embeddings import dense_embedder
from gaji_ai.ingestion.jobs import (
    JOB_TTL_SECONDS,
    Job,
    Progress,
    blended_rate,
    job_key,
    now,
    rate_key,
)
from gaji_ai.ingestion.pipeline import IngestionFailed, mark_failed, run_extraction, run_ingestion
from gaji_ai.taskqueue import INGEST_TASK
from gaji_ai.vectors.store import VectorStoreError, worker_vector_store

logger = logging.getLogger("gaji_ai.ingestion")


def register(celery: Celery, settings: Settings, ready: Callable[[], object]) -> None:
    @celery.task(name=INGEST_TASK, shared=False)
    def ingest_novel(job_id: str) -> str:
        """Ingest a novel; the job's state is in Redis (gaji_ai.ingestion.jobs)."""
        ready()
        return run_job(settings, job_id)


def run_job(settings: Settings, job_id: str) -> str:
    """Run one job; returns its final status. A redelivered job that already
    finished is left as it is."""
    prefix = settings.rate_limit.rate_limit_prefix
    client = redis.Redis.from_url(settings.redis.redis_url)
    key = job_key(prefix, job_id)
    raw = client.get(key)
    if raw is None:
        logger.warning("ingestion job %s not found (expired?)", job_id)
        return "missing"
    job = Job.model_validate_json(raw)
    if job.status in {"completed", "failed"}:
        return job.status

    def save(current: Job) -> None:
        current.updated_at = now()
        client.set(key, current.model_dump_json(), ex=JOB_TTL_SECONDS)

    job.status, job.error = "processing", None
    job.progress = Progress()
    job.attempts += 1
    job.started_at = now()
    save(job)
    asyncio.run(_run(settings, job, save, client))
    if job.upload and job.source_path:
        with contextlib.suppress(OSError):
            Path(job.source_path).unlink()
    client.close()
    return job.status


async def _run(settings: Settings, job: Job, save, client: redis.Redis) -> None:
    async with httpx.AsyncClient() as http:
        core = CoreClient(
            http,
            base_url=settings.core.core_base_url,
            service_token=settings.auth.service_token,
            timeout_seconds=settings.app.http_timeout_seconds,
        )
        store = worker_vector_store(settings)
        try:
            if job.kind == "characters":
                await run_extraction(
                    job, core=core, store=store, embedder=dense_embedder(settings), save=save
                )
                return
            rate = await run_ingestion(
                job,
                core=core,
                store=store,
                embedder=dense_embedder(settings),
                save=save,
                batch_size=settings.embeddings.embeddings_batch_size,
            )
            previous = client.get(rate_key(settings.rate_limit.rate_limit_prefix))
            blended = blended_rate(float(previous) if previous else None, rate)
            client.set(rate_key(settings.rate_limit.rate_limit_prefix), blended)
        except IngestionFailed as exc:
            await mark_failed(job, str(exc), core=core, save=save)
        except CoreError:
            logger.exception("ingestion job %s: core", job.job_id)
            await mark_failed(
                job, "Core could not be reached or refused the novel.", core=core, save=save
            )
        except VectorStoreError:
            logger.exception("ingestion job %s: vector store", job.job_id)
            await mark_failed(job, "The vector store is unavailable.", core=core, save=save)
        except Exception:
            logger.exception("ingestion job %s failed", job.job_id)
            await mark_failed(
                job, "Ingestion failed unexpectedly; see the worker log.", core=core, save=save
            )
        finally:
            await store.close()
