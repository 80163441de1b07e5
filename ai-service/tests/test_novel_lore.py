"""A novel's lore for export (GET /api/ai/internal/novels/{id}/lore, service
token): its stored cast and the places the text names, each with the
passages it comes from."""

from __future__ import annotations

import uuid

import pytest
from test_cast_api import FlatEmbedder
from test_characters import SYNTHETIC, chapters_of

from gaji_ai.ingestion.pipeline import cast_profiles, passage_id, store_characters
from gaji_ai.main import create_app
from gaji_ai.vectors.store import PASSAGES, VectorPoint

from support import SERVICE_AUTH, bearer, running

# A place the cast extraction finds: named often, after "at"/"to"/"in".
PLACE_TEXT = (
    "They drove to Combe in the rain. At Combe the lamps were lit. "
    "Nobody at Combe had slept. The road to Combe was flooded. "
    "Rose walked back to Combe alone, and in Combe she found Tom."
)


@pytest.fixture
async def app(test_settings):
    app = create_app(test_settings())
    async with running(app) as client:
        yield client, app.state.vector_store


async def _ingest(store, novel: str) -> None:
    texts = (*SYNTHETIC, PLACE_TEXT)
    points = [
        VectorPoint(
            id=passage_id(novel, index),
            dense=[1.0] + [0.0] * 383,
            payload={
                "novel_id": novel,
                "chunk_index": index,
                "chapter": index + 1,
                "chapter_title": f"Chapter {index + 1}",
                "text": text,
            },
        )
        for index, text in enumerate(texts)
    ]
    await store.upsert(PASSAGES, points)
    profiles, _ = cast_profiles(*chapters_of(*texts))
    await store_characters(novel_id=novel, profiles=profiles, store=store, embedder=FlatEmbedder())


async def test_lore_has_the_cast_and_places_with_their_sources(app):
    client, store = app
    novel = str(uuid.uuid4())
    await _ingest(store, novel)
    response = await client.get(f"/api/ai/internal/novels/{novel}/lore", headers=SERVICE_AUTH)
    assert response.status_code == 200, response.text
    lore = response.json()
    assert lore["novel_id"] == novel
    rose = next(c for c in lore["characters"] if c["character"]["name"] == "Rose")
    assert rose["sources"], "each character keeps the passages it is drawn from"
    first = rose["sources"][0]
    assert first["passage_id"] == passage_id(novel, first["chunk_index"])
    assert "Rose" in first["quote"] and len(rose["sources"]) <= 3
    combe = next(p for p in lore["places"] if p["name"] == "Combe")
    assert combe["mentions"] >= 2 and combe["sources"]
    assert all("Combe" in s["quote"] for s in combe["sources"])
    assert combe["description"].startswith(combe["sources"][0]["quote"])
    chapters = [s["chunk_index"] for s in combe["sources"]]
    assert chapters == sorted(chapters)  # reading order


async def test_front_matter_is_no_source(app):
    """A title page or a publisher's line (chapter 0) names places too, but
    says nothing about them: sources come from the story."""
    client, store = app
    novel = str(uuid.uuid4())
    await _ingest(store, novel)
    front = VectorPoint(
        id=passage_id(novel, 99),
        dense=[1.0] + [0.0] * 383,
        payload={
            "novel_id": novel,
            "chunk_index": -1,
            "chapter": 0,
            "chapter_title": "",
            "text": "Combe Press.",
        },
    )
    await store.upsert(PASSAGES, [front])
    lore = (await client.get(f"/api/ai/internal/novels/{novel}/lore", headers=SERVICE_AUTH)).json()
    combe = next(p for p in lore["places"] if p["name"] == "Combe")
    assert all(s["chapter"] > 0 for s in combe["sources"])
    assert "Combe Press." not in combe["description"]


async def test_lore_of_a_novel_without_passages_is_404(app):
    client, _ = app
    response = await client.get(
        f"/api/ai/internal/novels/{uuid.uuid4()}/lore", headers=SERVICE_AUTH
    )
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


async def test_lore_is_for_the_service_token_only(app, published_key):
    client, store = app
    novel = str(uuid.uuid4())
    await _ingest(store, novel)
    assert (await client.get(f"/api/ai/internal/novels/{novel}/lore")).status_code == 401
    reader = bearer(published_key.token(is_staff=True))
    assert (
        await client.get(f"/api/ai/internal/novels/{novel}/lore", headers=reader)
    ).status_code in (
        401,
        403,
    )
    assert (
        await client.get("/api/ai/internal/novels/not-a-uuid/lore", headers=SERVICE_AUTH)
    ).status_code == 400
