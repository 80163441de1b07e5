"""POST /api/ai/novels/ingest and the job status: who may ingest, which
paths and uploads are refused, the job queued in Redis with an estimate
from the measured throughput, a silent worker reported failed, and the
cast endpoints' 404s. (The job itself runs in the end-to-end test, with the
real worker.)"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from redis.asyncio import Redis

from gaji_ai.ingestion.jobs import Job, estimate_minutes, job_key, now, rate_key, save_new_job
from gaji_ai.taskqueue import celery_app

from support import TEST_REDIS_URL, bearer

INGEST = "/api/ai/novels/ingest"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "novels"
    folder.mkdir()
    (folder / "tale.txt").write_text("Chapter 1\n\n" + "A quiet tale. " * 100)
    (folder / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return folder


@pytest.fixture
def sent(monkeypatch) -> list:
    """The Celery messages the API sends (the broker itself is tested in e2e)."""
    calls: list = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: calls.append((name, args)))
    return calls


@pytest.fixture
async def staff_client(make_client, data_dir, tmp_path, published_key):
    async with make_client(
        novel_data_dir=data_dir, upload_dir=tmp_path / "uploads", max_upload_bytes=4096
    ) as client:
        client.headers.update(bearer(published_key.token(is_staff=True)))
        yield client


async def test_ingest_by_path_queues_a_job_with_an_estimate(
    staff_client, sent, redis_prefix, data_dir
):
    response = await staff_client.post(
        INGEST, json={"novel_file_path": "tale.txt", "metadata": {"title": "A Tale"}}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["estimated_duration_minutes"] > 0
    assert sent == [("gaji.ingestion.ingest_novel", [body["job_id"]])]
    redis = Redis.from_url(TEST_REDIS_URL)
    job = Job.model_validate_json(await redis.get(job_key(redis_prefix, body["job_id"])))
    await redis.aclose()
    assert job.source_path == str((data_dir / "tale.txt").resolve()) and not job.upload
    assert job.metadata == {"title": "A Tale"}


def test_estimate_follows_the_measured_rate():
    assert estimate_minutes(600_000, 10_000) == 1.0
    assert estimate_minutes(600_000, 1_000) == 10.0
    assert estimate_minutes(600_000, None) > 0  # before any job: the reference machine's rate


async def test_estimate_uses_the_rate_stored_by_finished_jobs(staff_client, sent, redis_prefix):
    redis = Redis.from_url(TEST_REDIS_URL)
    await redis.set(rate_key(redis_prefix), "10")  # 10 characters per second
    await redis.aclose()
    body = (await staff_client.post(INGEST, json={"novel_file_path": "tale.txt"})).json()
    assert body["estimated_duration_minutes"] == estimate_minutes((len("Chapter 1\n\n") + 1400), 10)


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "escape.txt",
        "/etc/passwd",
        "notes.pdf",
        "sub/../../secret.txt",
        "a\x00.txt",
    ],
)
async def test_paths_outside_the_data_directory_are_refused(staff_client, sent, path):
    response = await staff_client.post(INGEST, json={"novel_file_path": path})
    assert response.status_code == 400, response.text
    assert (
        response.json()["code"] == "VALIDATION_ERROR"
        and "novel_file_path" in response.json()["details"]
    )
    assert sent == []


@pytest.mark.parametrize("path", ["missing.txt", "0" * 300 + ".txt"])  # the second: ENAMETOOLONG
async def test_a_file_that_is_not_there_is_404(staff_client, sent, path):
    response = await staff_client.post(INGEST, json={"novel_file_path": path})
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["code"] == "NOT_FOUND" and "novel_file_path" in body["details"]
    assert sent == []


async def test_a_body_that_is_not_utf8_is_malformed_json(staff_client, sent):
    response = await staff_client.post(
        INGEST, content=b"M\x1d\xbbv", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "MALFORMED_JSON"
    assert sent == []


async def test_readers_anonymous_and_service_token_are_refused(
    make_client, published_key, data_dir, sent
):
    async with make_client(novel_data_dir=data_dir) as client:
        body = {"novel_file_path": "tale.txt"}
        assert (await client.post(INGEST, json=body)).status_code == 401
        reader = bearer(published_key.token(is_staff=False))
        assert (await client.post(INGEST, json=body, headers=reader)).status_code == 403
    assert sent == []


async def test_upload_is_stored_and_queued(staff_client, sent, tmp_path):
    files = {
        "file": ("my story.md", b"# Chapter 1\n\n" + b"Words and words. " * 50, "text/markdown")
    }
    response = await staff_client.post(
        INGEST, files=files, data={"metadata": json.dumps({"title": "Mine"})}
    )
    assert response.status_code == 202, response.text
    stored = list((tmp_path / "uploads").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".md"


@pytest.mark.parametrize(
    "files, data, status, field",
    [
        ({"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}, {}, 400, "file"),
        ({"file": ("x.txt", b"a" * 5000, "text/plain")}, {}, 413, None),
        ({"file": ("x.txt", b"bin\x00ary", "text/plain")}, {}, 400, "file"),
        (
            {"file": ("x.txt", b"fine text", "text/plain")},
            {"metadata": "{not json"},
            400,
            "metadata",
        ),
        (
            {"file": ("x.txt", b"fine text", "text/plain")},
            {"metadata": '{"slug": "Bad Slug"}'},
            400,
            "metadata.slug",
        ),
        ({"other": ("x.txt", b"fine", "text/plain")}, {}, 400, "file"),
    ],
)
async def test_bad_uploads_are_refused(staff_client, sent, tmp_path, files, data, status, field):
    response = await staff_client.post(INGEST, files=files, data=data)
    assert response.status_code == status, response.text
    if field:
        assert field in response.json()["details"]
    assert sent == []
    uploads = tmp_path / "uploads"
    assert not (uploads.exists() and list(uploads.iterdir()))  # nothing left behind


async def test_oversized_upload_body_is_413_before_reading(staff_client, sent):
    files = {"file": ("big.txt", b"a" * 200_000, "text/plain")}
    response = await staff_client.post(INGEST, files=files)
    assert response.status_code == 413 and response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_other_content_types_are_415(staff_client, sent):
    response = await staff_client.post(
        INGEST, content=b"tale.txt", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


async def test_malformed_json_and_unknown_keys_are_400(staff_client, sent):
    bad = await staff_client.post(
        INGEST, content=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "MALFORMED_JSON"
    extra = await staff_client.post(INGEST, json={"novel_file_path": "tale.txt", "owner": "me"})
    assert extra.status_code == 400 and "owner" in extra.json()["details"]


async def test_status_of_a_job_and_a_silent_worker(staff_client, sent, redis_prefix):
    job_id = (await staff_client.post(INGEST, json={"novel_file_path": "tale.txt"})).json()[
        "job_id"
    ]
    status = await staff_client.get(f"/api/ai/novels/status/{job_id}")
    assert status.status_code == 200 and status.json()["status"] == "queued"
    assert status.json()["progress"]["passages_total"] == 0
    # A worker that stopped beating long ago: reported (and recorded) failed.
    redis = Redis.from_url(TEST_REDIS_URL)
    key = job_key(redis_prefix, job_id)
    job = Job.model_validate_json(await redis.get(key))
    job.status, job.updated_at = "processing", now() - timedelta(hours=1)
    await redis.set(key, job.model_dump_json())
    lost = (await staff_client.get(f"/api/ai/novels/status/{job_id}")).json()
    assert lost["status"] == "failed" and "worker" in lost["error"]
    assert Job.model_validate_json(await redis.get(key)).status == "failed"
    await redis.aclose()
    missing = await staff_client.get("/api/ai/novels/status/no-such-job")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


async def test_a_job_status_is_its_creators_and_staffs(client, published_key, redis_prefix):
    """The reader who started a job reads its status; staff read every job;
    any other reader gets the very 404 of a job that does not exist, so job
    ids cannot be probed. (Readers cannot start jobs yet: the record is
    written here as the ingest route writes it.)"""
    reader = str(uuid.uuid4())
    job = Job(job_id=Job.new_id(), title="My own story", created_by=reader)
    legacy = Job(job_id=Job.new_id(), title="Before creators were recorded")
    redis = Redis.from_url(TEST_REDIS_URL)
    await save_new_job(redis, redis_prefix, job)
    await save_new_job(redis, redis_prefix, legacy)
    await redis.aclose()
    url = f"/api/ai/novels/status/{job.job_id}"

    mine = await client.get(url, headers=bearer(published_key.token(sub=reader)))
    assert mine.status_code == 200, mine.text
    assert mine.json()["job_id"] == job.job_id and mine.json()["title"] == "My own story"
    staff = await client.get(url, headers=bearer(published_key.token(is_staff=True)))
    assert staff.status_code == 200 and staff.json() == mine.json()

    nobody = await client.get(
        "/api/ai/novels/status/no-such-job", headers=bearer(published_key.token())
    )
    for someone_else in (published_key.token(), published_key.token(sub=reader.upper())):
        other = await client.get(url, headers=bearer(someone_else))
        assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND"
        assert other.json()["message"] == nobody.json()["message"]
        assert "My own story" not in other.text
    anonymous = await client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "NOT_AUTHENTICATED"

    # A job stored before its creator was recorded: staff only.
    legacy_url = f"/api/ai/novels/status/{legacy.job_id}"
    assert (await client.get(legacy_url, headers=bearer(published_key.token()))).status_code == 404
    staff_legacy = await client.get(legacy_url, headers=bearer(published_key.token(is_staff=True)))
    assert staff_legacy.status_code == 200


async def test_a_started_job_records_its_creator(staff_client, sent, redis_prefix, published_key):
    response = await staff_client.post(INGEST, json={"novel_file_path": "tale.txt"})
    assert response.status_code == 202, response.text
    token = staff_client.headers["authorization"].removeprefix("Bearer ")
    staff_sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    redis = Redis.from_url(TEST_REDIS_URL)
    raw = await redis.get(job_key(redis_prefix, response.json()["job_id"]))
    await redis.aclose()
    assert Job.model_validate_json(raw).created_by == staff_sub


async def test_cast_endpoints_404_and_validate_ids(staff_client):
    unknown = "00000000-0000-0000-0000-000000000000"
    assert (await staff_client.get(f"/api/ai/novels/{unknown}/characters")).status_code == 404
    assert (await staff_client.get(f"/api/ai/characters/{unknown}")).status_code == 404
    assert (await staff_client.get("/api/ai/characters/not-a-uuid")).status_code == 400
