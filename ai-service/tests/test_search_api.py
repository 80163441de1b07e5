"""POST /api/ai/search/passages (and the internal twin), the character
extraction job request and the internal vector delete, on the app's real
Qdrant Edge store with the real embedding model."""

from __future__ import annotations

import uuid

import pytest

from gaji_ai.embeddings import LocalEmbedder, sparse_document
from gaji_ai.main import create_app
from gaji_ai.taskqueue import celery_app
from gaji_ai.vectors.store import CHARACTERS, PASSAGES, VectorPoint

from support import SERVICE_TOKEN, bearer, running

NOVEL = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
PASSAGE_TEXTS = [
    (
        1,
        "Mr. Bingley has taken Netherfield Park, a fine house near Meryton, "
        "and will move in by Michaelmas.",
    ),
    (
        2,
        "Elizabeth walked alone across the fields, jumping over stiles, "
        "her petticoat six inches deep in mud.",
    ),
    (
        3,
        "At Pemberley the housekeeper praised her master as the best landlord and the best master.",
    ),
    (
        4,
        "Mr. Collins proposed to Elizabeth, listing his reasons for marrying "
        "with solemn composure.",
    ),
    (
        5,
        "Lydia eloped with Mr. Wickham from Brighton, to the despair "
        "of the whole family at Longbourn.",
    ),
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
async def app_client(test_settings, embedder, published_key):
    app = create_app(test_settings())
    async with running(app) as client:
        store = app.state.vector_store
        texts = [t for _, t in PASSAGE_TEXTS]
        vectors = embedder.embed(texts)
        await store.upsert(
            PASSAGES,
            [
                VectorPoint(
                    str(uuid.uuid5(uuid.NAMESPACE_URL, f"{novel}/{i}")),
                    vector,
                    {
                        "novel_id": novel,
                        "novel_title": "P&P",
                        "chunk_index": i,
                        "chapter": chapter,
                        "text": text,
                        "chapter_title": f"Chapter {chapter}",
                        "start_offset": i * 100,
                        "end_offset": i * 100 + 99,
                    },
                    sparse_document(text),
                )
                for novel in (NOVEL, OTHER)
                for i, ((chapter, text), vector) in enumerate(
                    zip(PASSAGE_TEXTS, vectors, strict=True)
                )
            ],
        )
        client.headers.update(bearer(published_key.token(is_staff=True)))
        yield client, store


def search_body(**overrides) -> dict:
    return {"query": "Who moved into Netherfield?", "novel_id": NOVEL, "top_k": 3, **overrides}


async def test_search_finds_the_answering_passage_of_that_novel(app_client):
    client, _ = app_client
    response = await client.post("/api/ai/search/passages", json=search_body())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_results"] == len(body["passages"]) == 3
    top = body["passages"][0]
    assert "Netherfield" in top["text"] and top["chapter"] == 1 and top["chunk_index"] == 0
    assert top["metadata"]["novel_id"] == NOVEL and top["metadata"]["novel_title"] == "P&P"
    assert 0 < top["similarity_score"] <= 1
    assert body["query_embedding_time_ms"] > 0 and body["search_time_ms"] >= 0
    assert {p["metadata"]["novel_id"] for p in body["passages"]} == {NOVEL}


async def test_search_filters_chapters_and_similarity(app_client):
    client, _ = app_client
    ranged = await client.post(
        "/api/ai/search/passages", json=search_body(filters={"chapter_from": 3, "chapter_to": 4})
    )
    assert {p["chapter"] for p in ranged.json()["passages"]} <= {3, 4}
    strict = await client.post(
        "/api/ai/search/passages", json=search_body(top_k=5, filters={"min_similarity": 0.99})
    )
    assert strict.json()["passages"] == []


@pytest.mark.parametrize(
    "overrides, status",
    [
        ({"query": ""}, 400),
        ({"query": "   "}, 400),
        ({"query": "x" * 2000}, 400),
        ({"top_k": 0}, 400),
        ({"top_k": 51}, 400),
        ({"novel_id": "not-a-uuid"}, 400),
        ({"novel_id": str(uuid.uuid4())}, 404),
        ({"filters": {"chapter_from": 5, "chapter_to": 2}}, 400),
        ({"filters": {"min_similarity": 2}}, 400),
        ({"extra": 1}, 400),
    ],
)
async def test_bad_searches(app_client, overrides, status):
    client, _ = app_client
    response = await client.post("/api/ai/search/passages", json=search_body(**overrides))
    assert response.status_code == status, response.text
    assert response.json()["code"] in {"VALIDATION_ERROR", "NOT_FOUND"}


async def test_search_needs_a_user_and_core_uses_the_internal_twin(app_client):
    client, _ = app_client
    anonymous = await client.post(
        "/api/ai/search/passages", json=search_body(), headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    refused = await client.post("/api/ai/search/passages", json=search_body(), headers=service)
    assert refused.status_code == 403
    twin = await client.post(
        "/api/ai/internal/search/passages", json=search_body(), headers=service
    )
    assert twin.status_code == 200 and "Netherfield" in twin.json()["passages"][0]["text"]


async def test_extract_characters_queues_a_job(app_client, monkeypatch):
    client, _ = app_client
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append((name, args)))
    response = await client.post(
        "/api/ai/characters/extract", json={"novel_id": NOVEL, "extraction_mode": "quick"}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert sent == [("gaji.ingestion.ingest_novel", [job_id])]
    status = (await client.get(f"/api/ai/novels/status/{job_id}")).json()
    assert (status["status"], status["novel_id"]) == ("queued", NOVEL)
    unknown = await client.post("/api/ai/characters/extract", json={"novel_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    bad = await client.post(
        "/api/ai/characters/extract", json={"novel_id": NOVEL, "extraction_mode": "deep"}
    )
    assert bad.status_code == 400


async def test_internal_delete_removes_one_novels_vectors(app_client):
    client, store = app_client
    await store.upsert(
        CHARACTERS,
        [VectorPoint(str(uuid.uuid4()), [1.0] + [0.0] * 383, {"novel_id": NOVEL, "name": "X"})],
    )
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    response = await client.delete(f"/api/ai/internal/novels/{NOVEL}/vectors", headers=service)
    assert response.status_code == 200 and response.json()["passages_deleted"] == 5
    assert await store.count(PASSAGES, NOVEL) == 0 and await store.count(CHARACTERS, NOVEL) == 0
    assert await store.count(PASSAGES, OTHER) == 5
    user = await client.delete(f"/api/ai/internal/novels/{NOVEL}/vectors")
    assert user.status_code in {401, 403}


async def test_the_api_loads_the_model_at_startup_when_asked(make_client):
    import asyncio

    from gaji_ai import embeddings

    previous = embeddings._default
    embeddings._default = None  # a fresh process
    try:
        async with make_client(embeddings_preload=True) as client:
            assert (await client.get("/healthz")).status_code == 200  # not blocked by the load
            for _ in range(200):
                loaded = embeddings._default is not None and embeddings._default._model is not None
                if loaded:
                    break
                await asyncio.sleep(0.1)
            assert loaded
    finally:
        embeddings._default = previous
