"""A reader's import, ai's side: POST /api/ai/internal/novels/{novel_id}/ingest
(core -> ai, service token) queues the same ingestion job a staff ingest
does, with core's novel preset and the reader recorded as its creator; the
pipeline then uses that novel (never a slug lookup or a new novel) and keeps
core's slug and title."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gaji_contracts.novels import IngestionStatus, Novel, NovelUpdate
from redis.asyncio import Redis

from gaji_ai.clients.core import CoreResponseError
from gaji_ai.ingestion import pipeline
from gaji_ai.ingestion.jobs import Job, job_key
from gaji_ai.ingestion.pipeline import IngestionFailed, run_ingestion
from gaji_ai.taskqueue import celery_app
from gaji_ai.vectors.store import CHARACTERS, PASSAGES, EdgeVectorStore

from support import SERVICE_AUTH, TEST_REDIS_URL, bearer

NOVEL = str(uuid.uuid4())
READER = str(uuid.uuid4())
PATH = f"/api/ai/internal/novels/{NOVEL}/ingest"
TEXT = "\n\n".join(
    f"CHAPTER {n}.\n\n" + "Rose walked with Tom to the mill by the river. " * 30 for n in (1, 2, 3)
)
BODY = {"text": TEXT, "created_by": READER, "title": "My Story", "author": "Me", "language": "en"}


@pytest.fixture
def sent(monkeypatch) -> list:
    """The Celery messages the API sends (the broker itself is tested in e2e)."""
    calls: list = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: calls.append((name, args)))
    return calls


@pytest.fixture
def uploads(tmp_path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
async def service_client(make_client, uploads):
    async with make_client(upload_dir=uploads) as client:
        client.headers.update(SERVICE_AUTH)
        yield client


async def stored_job(prefix: str, job_id: str) -> Job | None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        raw = await redis.get(job_key(prefix, job_id))
    finally:
        await redis.aclose()
    return Job.model_validate_json(raw) if raw is not None else None


async def test_the_import_is_queued_as_a_job_on_core_s_novel(
    service_client, sent, redis_prefix, uploads
):
    response = await service_client.post(
        f"/api/ai/internal/novels/{NOVEL.upper()}/ingest", json=BODY
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"job_id", "status", "estimated_duration_minutes"}
    assert body["status"] == "queued" and body["estimated_duration_minutes"] > 0
    assert sent == [("gaji.ingestion.ingest_novel", [body["job_id"]])]
    job = await stored_job(redis_prefix, body["job_id"])
    assert job is not None
    assert job.kind == "ingest" and job.status == "queued"
    assert job.novel_id == NOVEL and job.novel_preset  # the id lower-cased, as core's
    assert job.created_by == READER and job.title == "My Story"
    assert job.metadata == {"title": "My Story", "author": "Me", "language": "en"}
    assert job.upload  # the worker deletes the file when the job ends
    source = Path(job.source_path or "")
    assert source.parent == uploads and source.suffix == ".txt"
    assert source.read_text(encoding="utf-8") == TEXT
    assert job.size_bytes == len(TEXT.encode())


async def test_the_reader_follows_the_job_and_nobody_else_does(service_client, sent, published_key):
    job_id = (await service_client.post(PATH, json=BODY)).json()["job_id"]
    status = f"/api/ai/novels/status/{job_id}"
    mine = await service_client.get(
        status, headers=bearer(published_key.token(sub=READER, is_staff=False))
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["novel_id"] == NOVEL and mine.json()["status"] == "queued"
    assert mine.json()["title"] == "My Story"
    other = await service_client.get(status, headers=bearer(published_key.token(is_staff=False)))
    assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND"
    staff = await service_client.get(status, headers=bearer(published_key.token(is_staff=True)))
    assert staff.status_code == 200


async def test_non_ascii_text_is_stored_as_utf8(service_client, sent, redis_prefix):
    text = "Élise lisait « Guerre et Paix » — 東京の雨. 🌧 " * 20
    response = await service_client.post(PATH, json={**BODY, "text": text})
    assert response.status_code == 202, response.text
    job = await stored_job(redis_prefix, response.json()["job_id"])
    assert Path(job.source_path).read_bytes() == text.encode("utf-8")


async def test_only_the_service_token_may_import(make_client, published_key, sent, uploads):
    async with make_client(upload_dir=uploads) as client:
        anonymous = await client.post(PATH, json=BODY)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "NOT_AUTHENTICATED"
        for token in (published_key.token(sub=READER), published_key.token(is_staff=True)):
            refused = await client.post(PATH, json=BODY, headers=bearer(token))
            assert refused.status_code == 403
            assert refused.json()["code"] == "SERVICE_TOKEN_REQUIRED"
    assert sent == []
    assert not uploads.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/ai/internal/novels/not-a-uuid/ingest", BODY, "novel_id"),
        (PATH, {**BODY, "text": ""}, "text"),
        (PATH, {k: v for k, v in BODY.items() if k != "created_by"}, "created_by"),
        (PATH, {**BODY, "created_by": "someone"}, "created_by"),
        (PATH, {**BODY, "title": "   "}, "title"),
        (PATH, {**BODY, "title": "t" * 301}, "title"),
        (PATH, {**BODY, "filename": ""}, "filename"),
        (PATH, {**BODY, "language": "x" * 21}, "language"),
        (PATH, {**BODY, "slug": "mine"}, "slug"),  # unknown fields are refused
        (PATH, [BODY], "non_field_errors"),
        (PATH, "null", "non_field_errors"),
    ],
)
async def test_invalid_imports_are_400_and_nothing_is_queued(
    service_client, sent, uploads, redis_prefix, path, body, field
):
    if body == "null":
        response = await service_client.post(
            path, content=b"null", headers={"content-type": "application/json"}
        )
    else:
        response = await service_client.post(path, json=body)
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["code"] == "VALIDATION_ERROR"
    assert any(key.split(".")[-1] == field for key in envelope["details"]), envelope
    assert sent == []
    assert not uploads.exists()


async def test_a_body_that_is_not_json_is_refused(service_client, sent, uploads):
    malformed = await service_client.post(
        PATH, content=b'{"text": "a', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "MALFORMED_JSON"
    not_utf8 = await service_client.post(
        PATH, content=b"M\x1d\xbbv", headers={"content-type": "application/json"}
    )
    assert not_utf8.status_code == 400 and not_utf8.json()["code"] == "MALFORMED_JSON"
    lone_surrogate = await service_client.post(
        PATH,
        content=b'{"text": "a\\ud800b", "created_by": "%s", "title": "T"}' % READER.encode(),
        headers={"content-type": "application/json"},
    )
    assert lone_surrogate.status_code == 400
    assert lone_surrogate.json()["code"] == "MALFORMED_JSON"
    plain = await service_client.post(
        PATH, content=TEXT.encode(), headers={"content-type": "text/plain"}
    )
    assert plain.status_code == 415 and plain.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert sent == []
    assert not uploads.exists()


async def test_a_novel_larger_than_other_json_bodies_is_accepted(
    make_client, sent, uploads, redis_prefix
):
    """The route has its own body limit: a text over the app's 1 MB JSON limit passes."""
    async with make_client(upload_dir=uploads, max_body_bytes=100_000) as client:
        big = "Words upon words, chapter after chapter. " * 30_000  # ~1.2 MB
        response = await client.post(PATH, json={**BODY, "text": big}, headers=SERVICE_AUTH)
        assert response.status_code == 202, response.text[:300]
        # Its limit is its own: other routes keep the app's.
        echo = await client.post(
            "/api/ai/internal/echo", json={"message": big}, headers=SERVICE_AUTH
        )
        assert echo.status_code == 413
    assert len(sent) == 1


async def test_a_body_over_the_route_limit_is_413(make_client, sent, uploads, monkeypatch):
    from gaji_ai import main

    monkeypatch.setattr(main, "READER_INGEST_MAX_BYTES", 5000)
    async with make_client(upload_dir=uploads) as client:
        response = await client.post(PATH, json={**BODY, "text": "x" * 6000}, headers=SERVICE_AUTH)
    assert response.status_code == 413 and response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert sent == []
    assert not uploads.exists()


async def test_a_queue_outage_is_503_and_leaves_no_file(service_client, uploads, monkeypatch):
    def broken(name, args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", broken)
    response = await service_client.post(PATH, json=BODY)
    assert response.status_code == 503 and response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert list(uploads.iterdir()) == []


async def test_the_import_forgets_a_cached_missing_novel(
    service_client, sent, core_stub, published_key
):
    """A reader who asked before core created the novel is not told it is
    missing for the cache's lifetime once it is being ingested."""
    reader = bearer(published_key.token(sub=READER))
    core_stub.novel_access[NOVEL] = 404
    before = await service_client.get(f"/api/ai/novels/{NOVEL}/vectors", headers=reader)
    assert before.json()["passages"] == 0
    core_stub.novel_access[NOVEL] = {"id": NOVEL, "owner_id": READER, "visibility": "private"}
    assert (await service_client.post(PATH, json=BODY)).status_code == 202
    asked = len(core_stub.requests_to(f"/api/internal/novels/{NOVEL}/access"))
    await service_client.get(f"/api/ai/novels/{NOVEL}/vectors", headers=reader)
    assert len(core_stub.requests_to(f"/api/internal/novels/{NOVEL}/access")) == asked + 1


# --- the pipeline with a preset novel ----------------------------------------------


class FlatEmbedder:
    name = "flat"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


def _novel(**fields) -> Novel:
    now = datetime.now(UTC)
    values = {
        "id": NOVEL,
        "slug": "my-story-2",
        "title": "My Story",
        "author": "Me",
        "publication_year": None,
        "genre": "",
        "language": "en",
        "ingestion_status": IngestionStatus.PROCESSING,
        "total_passages": 0,
        "total_characters": 0,
        "vectordb_collection_id": "",
        "created_at": now,
        "updated_at": now,
    }
    return Novel(**{**values, **fields})


class FakeCore:
    """Records the pipeline's calls; no novel is found or created by slug."""

    def __init__(self, *, missing: bool = False) -> None:
        self.updates: list[tuple[str, dict]] = []
        self.missing = missing

    async def novel_find(self, id_or_slug: str):
        raise AssertionError("a preset novel is never looked up by slug")

    async def novel_create(self, novel):
        raise AssertionError("a preset novel is never created")

    async def novel_update(self, novel_id: str, update: NovelUpdate) -> Novel:
        self.updates.append((novel_id, update.model_dump(exclude_unset=True)))
        if self.missing:
            raise CoreResponseError("gone", status=404)
        return _novel()


@pytest.fixture
async def store(tmp_path):
    opened = await EdgeVectorStore.open(tmp_path / "qdrant")
    yield opened
    await opened.close()


def _preset_job(tmp_path: Path, text: str = TEXT) -> Job:
    source = tmp_path / "import.txt"
    source.write_text(
        # A Gutenberg-like header whose title must not replace core's.
        "Title: Something Else\nAuthor: Nobody\n\n" + text,
        encoding="utf-8",
    )
    return Job(
        job_id=Job.new_id(),
        novel_id=NOVEL,
        novel_preset=True,
        source_path=str(source),
        upload=True,
        metadata={"title": "Reader title", "author": "Me", "language": "en"},
        title="Reader title",
        created_by=READER,
    )


async def test_the_pipeline_ingests_into_the_preset_novel(tmp_path, store, monkeypatch):
    monkeypatch.setattr(pipeline, "configured_describer", lambda: None)
    core = FakeCore()
    job = _preset_job(tmp_path)
    saved: list[str] = []
    await run_ingestion(
        job, core=core, store=store, embedder=FlatEmbedder(), save=lambda j: saved.append(j.status)
    )
    assert job.status == "completed" and job.novel_id == NOVEL
    assert (job.slug, job.title) == ("my-story-2", "My Story")  # core's, not the file's
    first, *_, last = core.updates
    assert first == (NOVEL, {"ingestion_status": "processing"})  # nothing else changed
    assert last[0] == NOVEL and last[1]["ingestion_status"] == "completed"
    assert all(novel_id == NOVEL for novel_id, _ in core.updates)
    assert await store.count(PASSAGES, NOVEL) == last[1]["total_passages"] > 0
    assert await store.count(CHARACTERS, NOVEL) == last[1]["total_characters"]


async def test_a_preset_novel_deleted_on_core_fails_the_job(tmp_path, store, monkeypatch):
    monkeypatch.setattr(pipeline, "configured_describer", lambda: None)
    job = _preset_job(tmp_path)
    with pytest.raises(IngestionFailed, match="deleted"):
        await run_ingestion(
            job,
            core=FakeCore(missing=True),
            store=store,
            embedder=FlatEmbedder(),
            save=lambda j: None,
        )
    assert await store.count(PASSAGES, NOVEL) == 0


async def test_a_staff_job_still_finds_its_novel_by_slug(tmp_path, store, monkeypatch):
    """The control: without a preset novel, the slug lookup happens (even
    when a retried job already holds the novel id of its first attempt)."""
    monkeypatch.setattr(pipeline, "configured_describer", lambda: None)
    looked_up: list[str] = []

    class StaffCore(FakeCore):
        async def novel_find(self, id_or_slug: str):
            looked_up.append(id_or_slug)
            return _novel(slug=id_or_slug)

    job = _preset_job(tmp_path)
    job.novel_preset = False
    job.metadata = {"slug": "reader-title"}
    await run_ingestion(
        job, core=StaffCore(), store=store, embedder=FlatEmbedder(), save=lambda j: None
    )
    assert looked_up == ["reader-title"]
