"""GET /api/ai/novels/jobs: the ingestion jobs newest first, paginated, each
as GET /api/ai/novels/status/{job_id} shows it; staff only; the Redis index
behind it (newest JOB_INDEX_LIMIT kept, expiring like the jobs, ids of
expired jobs skipped and dropped)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.asyncio import Redis

from gaji_ai.ingestion import jobs
from gaji_ai.ingestion.jobs import JOB_TTL_SECONDS, Job, job_index_key, job_key, now
from gaji_ai.taskqueue import celery_app

from support import SERVICE_AUTH, TEST_REDIS_URL, bearer

JOBS = "/api/ai/novels/jobs"
INGEST = "/api/ai/novels/ingest"


@pytest.fixture
def sent(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: calls.append((name, args)))
    return calls


@pytest.fixture
async def staff_client(make_client, tmp_path, published_key, sent):
    folder = tmp_path / "novels"
    folder.mkdir()
    (folder / "tale.txt").write_text("Chapter 1\n\n" + "A quiet tale. " * 100)
    async with make_client(novel_data_dir=folder) as client:
        client.headers.update(bearer(published_key.token(is_staff=True)))
        yield client


@pytest.fixture
async def redis():
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


async def ingest(client, title: str) -> str:
    response = await client.post(
        INGEST, json={"novel_file_path": "tale.txt", "metadata": {"title": title}}
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


async def test_jobs_newest_first_each_as_its_status(staff_client):
    empty = await staff_client.get(JOBS)
    assert empty.status_code == 200
    assert empty.json() == {
        "content": [],
        "page": {"number": 0, "size": 20, "total_elements": 0, "total_pages": 0},
    }
    ids = [await ingest(staff_client, f"Tale {i}") for i in range(3)]
    listed = (await staff_client.get(JOBS)).json()
    assert [job["job_id"] for job in listed["content"]] == ids[::-1]
    assert [job["title"] for job in listed["content"]] == ["Tale 2", "Tale 1", "Tale 0"]
    assert listed["page"] == {"number": 0, "size": 20, "total_elements": 3, "total_pages": 1}
    for job in listed["content"]:
        status = (await staff_client.get(f"/api/ai/novels/status/{job['job_id']}")).json()
        assert job == status


async def test_paging(staff_client):
    ids = [await ingest(staff_client, f"Tale {i}") for i in range(5)][::-1]
    pages = [(await staff_client.get(JOBS, params={"page": n, "size": 2})).json() for n in range(4)]
    assert [[job["job_id"] for job in p["content"]] for p in pages] == [
        ids[0:2],
        ids[2:4],
        ids[4:5],
        [],
    ]
    for n, page in enumerate(pages):
        assert page["page"] == {"number": n, "size": 2, "total_elements": 5, "total_pages": 3}
    whole = (await staff_client.get(JOBS, params={"size": 100})).json()
    assert [job["job_id"] for job in whole["content"]] == ids


async def test_expired_jobs_are_skipped_and_dropped_from_the_index(
    staff_client, redis, redis_prefix
):
    ids = [await ingest(staff_client, f"Tale {i}") for i in range(3)]
    index = job_index_key(redis_prefix)
    assert 0 < await redis.ttl(index) <= JOB_TTL_SECONDS
    await redis.delete(job_key(redis_prefix, ids[1]))  # its 7 days are over
    listed = (await staff_client.get(JOBS)).json()
    assert [job["job_id"] for job in listed["content"]] == [ids[2], ids[0]]
    assert listed["page"]["total_elements"] == 2
    assert await redis.zcard(index) == 2


async def test_a_silent_worker_is_reported_failed_in_the_list_too(
    staff_client, redis, redis_prefix
):
    job_id = await ingest(staff_client, "Tale")
    key = job_key(redis_prefix, job_id)
    job = Job.model_validate_json(await redis.get(key))
    job.status, job.updated_at = "processing", now() - timedelta(hours=1)
    await redis.set(key, job.model_dump_json())
    [listed] = (await staff_client.get(JOBS)).json()["content"]
    assert listed["status"] == "failed" and "worker" in listed["error"]
    assert Job.model_validate_json(await redis.get(key)).status == "failed"


async def test_the_index_keeps_the_newest(staff_client, redis, redis_prefix, monkeypatch):
    monkeypatch.setattr(jobs, "JOB_INDEX_LIMIT", 3)
    ids = [await ingest(staff_client, f"Tale {i}") for i in range(5)]
    assert await redis.zcard(job_index_key(redis_prefix)) == 3
    listed = (await staff_client.get(JOBS)).json()
    assert [job["job_id"] for job in listed["content"]] == ids[:1:-1]


async def test_character_extractions_are_listed(staff_client, redis, redis_prefix):
    """POST /api/ai/characters/extract queues its job through the same
    save_new_job (the route itself needs an ingested novel: tested by the fuzzer)."""
    job = Job(job_id=Job.new_id(), kind="characters", novel_id="n")
    await jobs.save_new_job(redis, redis_prefix, job)
    [listed] = (await staff_client.get(JOBS)).json()["content"]
    assert listed["job_id"] == job.job_id and listed["status"] == "queued"


async def test_staff_only(make_client, published_key):
    async with make_client() as client:
        anonymous = await client.get(JOBS)
        reader = await client.get(JOBS, headers=bearer(published_key.token(is_staff=False)))
        service = await client.get(JOBS, headers=SERVICE_AUTH)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "NOT_AUTHENTICATED"
    assert reader.status_code == 403 and reader.json()["code"] == "PERMISSION_DENIED"
    assert service.status_code == 403 and service.json()["code"] == "SERVICE_TOKEN_NOT_ALLOWED"
    for response in (anonymous, reader, service):
        assert response.json()["path"] == JOBS


@pytest.mark.parametrize(
    "params, field",
    [
        ({"page": -1}, "page"),
        ({"page": "first"}, "page"),
        ({"page": 10_000_001}, "page"),
        ({"size": 0}, "size"),
        ({"size": 101}, "size"),
        ({"size": "1.5"}, "size"),
        ({"size": ""}, "size"),
    ],
)
async def test_bad_paging_params_are_400(staff_client, params, field):
    response = await staff_client.get(JOBS, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and field in body["details"]
    assert body["trace_id"] == response.headers["x-request-id"]
