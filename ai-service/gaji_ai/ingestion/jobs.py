"""Ingestion jobs: their state lives in Redis (JSON under `{prefix}:job:{id}`,
kept 7 days), written by the worker as it goes and read by the status
endpoint. An index of them, `{prefix}:jobs` (a sorted set: job id scored by
its creation time), is written with each new job, keeps the newest
JOB_INDEX_LIMIT and expires like the jobs (7 days after the last one); the
job list skips and drops the ids whose job has expired. A job whose worker
died stops beating: after JOB_STALE_SECONDS without an update a running job
is reported (and recorded) `failed`, so nothing half-done is ever reported
complete.

The duration estimate divides the text's size by the throughput measured
on the last jobs (characters per second, an average kept in Redis)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

JOB_TTL_SECONDS = 7 * 24 * 3600
JOB_INDEX_LIMIT = 1000
# Measured on the 2-core reference machine (make bench-ai, make run's demo
# ingest): Pride and Prejudice, 0.73 M characters in 38-48 s end to end.
# Replaced by the average rate of the jobs that finish.
INITIAL_CHARS_PER_SECOND = 16_000.0


def now() -> datetime:
    return datetime.now(UTC)


class Progress(BaseModel):
    passages_processed: int = 0
    passages_total: int = 0
    # Two-sentence windows (embedded after the passages; see search/service.py).
    windows_processed: int = 0
    windows_total: int = 0
    characters_extracted: int = 0
    locations_extracted: int = 0
    events_extracted: int = 0


class Job(BaseModel):
    job_id: str
    kind: Literal["ingest", "characters"] = "ingest"
    status: Literal["queued", "processing", "completed", "failed"] = "queued"
    novel_id: str | None = None
    # The novel was created by core before the job (a reader's import):
    # `novel_id` is it, and the pipeline never looks a novel up or creates
    # one by slug.
    novel_preset: bool = False
    slug: str | None = None
    title: str | None = None
    source_path: str | None = None  # the file the worker reads
    upload: bool = False  # the file is ours to delete when done
    metadata: dict = Field(default_factory=dict)
    size_bytes: int = 0
    extraction_mode: Literal["full", "quick"] = "full"
    # Who started it (the access token's `sub`): they and staff may read its
    # status. None for jobs stored before it was recorded (staff only).
    created_by: str | None = None
    progress: Progress = Field(default_factory=Progress)
    error: str | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def stale(self, stale_seconds: int) -> bool:
        return (
            self.status == "processing"
            and (now() - self.updated_at).total_seconds() > stale_seconds
        )


def job_key(prefix: str, job_id: str) -> str:
    return f"{prefix}:job:{job_id}"


def job_index_key(prefix: str) -> str:
    return f"{prefix}:jobs"


async def save_new_job(redis: Redis, prefix: str, job: Job) -> None:
    """Store a new job and index it, newest kept, in one transaction."""
    index = job_index_key(prefix)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(job_key(prefix, job.job_id), job.model_dump_json(), ex=JOB_TTL_SECONDS)
        pipe.zadd(index, {job.job_id: job.created_at.timestamp()})
        pipe.zremrangebyrank(index, 0, -(JOB_INDEX_LIMIT + 1))
        pipe.expire(index, JOB_TTL_SECONDS)
        await pipe.execute()


async def indexed_job_ids(redis: Redis, prefix: str) -> list[str]:
    """The indexed jobs that still exist, newest first; the ids of expired
    jobs are removed from the index on the way."""
    index = job_index_key(prefix)
    ids = [raw.decode() for raw in await redis.zrevrange(index, 0, -1)]
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.exists(job_key(prefix, job_id))
        exists = await pipe.execute()
    gone = [job_id for job_id, alive in zip(ids, exists, strict=True) if not alive]
    if gone:
        await redis.zrem(index, *gone)
    return [job_id for job_id, alive in zip(ids, exists, strict=True) if alive]


def rate_key(prefix: str) -> str:
    return f"{prefix}:ingest:chars_per_second"


def estimate_minutes(size_chars: int, chars_per_second: float | None) -> float:
    rate = chars_per_second or INITIAL_CHARS_PER_SECOND
    return max(0.1, math.ceil(size_chars / rate / 6) / 10)  # minutes, one decimal, rounded up


def blended_rate(previous: float | None, measured: float) -> float:
    """An exponential average: recent jobs count most, one outlier does not swing it."""
    return measured if previous is None else 0.5 * previous + 0.5 * measured
