"""The worker's job runner on its failure paths (real Redis): a file that
holds no novel, a file gone missing, and a redelivered finished job."""

from __future__ import annotations

import redis as sync_redis

from gaji_ai.ingestion.jobs import Job, job_key
from gaji_ai.ingestion.tasks import run_job

from support import TEST_REDIS_URL


def queue(settings, prefix: str, **fields) -> Job:
    job = Job(job_id=Job.new_id(), **fields)
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    client.set(job_key(prefix, job.job_id), job.model_dump_json())
    client.close()
    return job


def stored(prefix: str, job_id: str) -> Job:
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    try:
        return Job.model_validate_json(client.get(job_key(prefix, job_id)))
    finally:
        client.close()


def test_a_file_without_a_novel_fails_the_job_with_a_reason(test_settings, redis_prefix, tmp_path):
    settings = test_settings()
    source = tmp_path / "tiny.txt"
    source.write_text(
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nHi.\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***"
    )
    job = queue(settings, redis_prefix, source_path=str(source), upload=True)
    assert run_job(settings, job.job_id) == "failed"
    after = stored(redis_prefix, job.job_id)
    assert after.status == "failed" and "no novel text" in after.error
    assert after.attempts == 1 and after.completed_at is not None
    assert not source.exists()  # an upload is removed once its job ends


def test_a_missing_file_fails_the_job(test_settings, redis_prefix, tmp_path):
    settings = test_settings()
    job = queue(settings, redis_prefix, source_path=str(tmp_path / "gone.txt"))
    assert run_job(settings, job.job_id) == "failed"
    assert stored(redis_prefix, job.job_id).error == "The novel's file could not be read."


def test_a_redelivered_finished_job_is_left_alone(test_settings, redis_prefix):
    settings = test_settings()
    job = queue(settings, redis_prefix, status="completed", source_path="/nonexistent")
    assert run_job(settings, job.job_id) == "completed"
    assert stored(redis_prefix, job.job_id).attempts == 0
    assert run_job(settings, "no-such-job") == "missing"
