"""Workers reach the API's embedded store through the internal vector
endpoints: RemoteVectorStore against the real app (Qdrant Edge in a tmp
folder), and the endpoints' refusals."""

from __future__ import annotations

import httpx
import pytest

from gaji_ai.embeddings import DENSE_SIZE, sparse_document, sparse_query
from gaji_ai.main import create_app
from gaji_ai.vectors.store import PASSAGES, WINDOWS, RemoteVectorStore, SearchFilter, VectorPoint

from support import SERVICE_TOKEN, running


def unit(i: int) -> list[float]:
    vector = [0.0] * DENSE_SIZE
    vector[i] = 1.0
    return vector


@pytest.fixture
async def app_and_remote(test_settings):
    app = create_app(test_settings())
    async with running(app) as client:
        remote = RemoteVectorStore(
            "http://ai.test", SERVICE_TOKEN, 5, transport=httpx.ASGITransport(app=app)
        )
        yield client, remote
        await remote.close()


async def test_a_worker_uses_the_api_owned_store(app_and_remote):
    _, remote = app_and_remote
    texts = ["Darcy at Pemberley."] + [f"Rain in Meryton, day {i}." for i in range(1, 80)]
    points = [
        VectorPoint(
            f"00000000-0000-0000-0000-{i:012d}",
            unit(i),
            {"novel_id": "n", "chapter": 1, "text": text},
            sparse_document(text),
        )
        for i, text in enumerate(texts)
    ]
    await remote.ping()
    await remote.upsert(PASSAGES, points)  # more than one request's worth
    assert await remote.count(PASSAGES, "n") == 80
    hits = await remote.search(
        PASSAGES, dense=unit(0), sparse=sparse_query("Pemberley"), where=SearchFilter("n"), limit=3
    )
    assert hits[0].payload["text"] == "Darcy at Pemberley." and hits[
        0
    ].dense_score == pytest.approx(1.0)
    assert (await remote.get(PASSAGES, points[1].id)).payload["text"] == "Rain in Meryton, day 1."
    assert len(await remote.scroll(PASSAGES, novel_id="n", limit=10)) == 10
    await remote.optimize(PASSAGES)
    await remote.delete_novel(PASSAGES, "n")
    assert await remote.count(PASSAGES, "n") == 0


async def test_vector_endpoints_refuse_users_bad_bodies_and_unknown_collections(app_and_remote):
    client, _ = app_and_remote
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    assert (
        await client.post("/api/ai/internal/vectors/novel_passages/count", json={})
    ).status_code == 401
    short = {"points": [{"id": "x", "dense": [0.1, 0.2], "payload": {}}]}
    response = await client.post(
        "/api/ai/internal/vectors/novel_passages/upsert", json=short, headers=service
    )
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    response = await client.post("/api/ai/internal/vectors/secrets/count", json={}, headers=service)
    assert response.status_code == 400
    response = await client.post(
        "/api/ai/internal/vectors/novel_passages/delete", json={}, headers=service
    )
    assert response.status_code == 400


DENSE = [0.1] * DENSE_SIZE
POINT = "6f1c3a52-1b36-4c8e-9a55-2d2a8f0e4a10"


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        # Found by the OpenAPI fuzzer (tests/test_fuzz_openapi.py): each was a
        # 503 "vector store is unavailable", a 500, or a Qdrant Edge panic.
        ("upsert", {"points": [{"id": "0", "dense": DENSE, "payload": {}}]}, "points.0.id"),
        ("get", {"id": "0"}, "id"),
        (
            "upsert",
            {
                "points": [
                    {
                        "id": POINT,
                        "dense": DENSE,
                        "sparse": {"indices": [1, 2], "values": [1.0]},
                        "payload": {},
                    }
                ]
            },
            "points.0.sparse",
        ),
        ("search", {"dense": DENSE, "sparse": {"indices": [3, 3], "values": [1, 2]}}, "sparse"),
        (
            "search",
            {"dense": DENSE, "sparse": {"indices": [-1], "values": [1.0]}},
            "sparse.indices.0",
        ),
        (
            "search",
            {"dense": DENSE, "sparse": {"indices": [2**32], "values": [1.0]}},
            "sparse.indices.0",
        ),
        ("search", {"dense": [1.7976931348623157e308] * DENSE_SIZE}, "dense.0"),
        (
            "upsert",
            {"points": [{"id": POINT, "dense": [1e39] * DENSE_SIZE, "payload": {}}]},
            "points.0.dense.0",
        ),
    ],
)
async def test_vectors_qdrant_cannot_take_are_400(app_and_remote, route, body, field):
    client, _ = app_and_remote
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    response = await client.post(
        f"/api/ai/internal/vectors/characters/{route}", json=body, headers=service
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in response.json()["details"], response.json()["details"]
    # ... and the store still answers.
    count = await client.post("/api/ai/internal/vectors/characters/count", json={}, headers=service)
    assert count.status_code == 200 and count.json() == {"count": 0}


async def test_a_worker_searches_bm25_only_and_windows_and_gets_cosines(app_and_remote):
    """What the fused passage search asks a worker's store: BM25 only over
    passages (with each hit's cosine), dense over windows, and a passage by id
    with its cosine to the query."""
    _, remote = app_and_remote
    texts = ["Darcy at Pemberley.", "Rain in Meryton."]
    points = [
        VectorPoint(
            f"00000000-0000-0000-0000-{i:012d}",
            unit(i),
            {"novel_id": "n", "chapter": 1, "text": text},
            sparse_document(text),
        )
        for i, text in enumerate(texts)
    ]
    await remote.upsert(PASSAGES, points)
    window = VectorPoint(
        "00000000-0000-0000-0001-000000000000",
        unit(1),
        {"novel_id": "n", "chapter": 1, "passage_ids": [points[1].id]},
    )
    await remote.upsert(WINDOWS, [window])
    lexical = await remote.search(
        PASSAGES,
        dense=unit(1),
        sparse=sparse_query("Pemberley"),
        where=SearchFilter("n"),
        limit=5,
        fusion=False,
    )
    assert [h.payload["text"] for h in lexical] == ["Darcy at Pemberley."]  # BM25 only
    assert lexical[0].dense_score == pytest.approx(0.0)  # its cosine to unit(1)
    windows = await remote.search(
        WINDOWS, dense=unit(1), sparse=None, where=SearchFilter("n"), limit=300
    )
    assert windows[0].payload["passage_ids"] == [points[1].id]
    hit = await remote.get(PASSAGES, points[1].id, dense=unit(1))
    assert hit.dense_score == pytest.approx(1.0) and hit.payload["text"] == "Rain in Meryton."
    await remote.delete_novel(WINDOWS, "n")
    assert await remote.count(WINDOWS, "n") == 0
