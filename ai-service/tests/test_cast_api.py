"""The cast as the API serves it: every character has an `id` (its vector
point id, stable across re-ingestion) and GET /api/ai/characters/{id} answers
the body the list shows; relationships carry the other character's id. And
the remote-LLM description path, with a scripted provider (the local model
is not used for it: gaji_ai.ingestion.cast_llm)."""

from __future__ import annotations

import re
import uuid

import pytest
from test_characters import NOVELS, SYNTHETIC, chapters_of

from gaji_ai.ingestion.cast_llm import (
    accept,
    configured_describer,
    describe_cast,
    llm_describer,
    prompt,
)
from gaji_ai.ingestion.pipeline import cast_profiles, character_id, store_characters
from gaji_ai.llm.providers import ProviderError
from gaji_ai.main import create_app
from gaji_ai.vectors.store import CHARACTERS, VectorPoint

from support import SERVICE_TOKEN, bearer, running


class FlatEmbedder:
    """Vectors are not what is tested here."""

    name = "flat"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


@pytest.fixture
async def app_client(test_settings, published_key):
    app = create_app(test_settings())
    async with running(app) as client:
        client.headers.update(bearer(published_key.token(is_staff=False)))
        yield client, app.state.vector_store


async def test_every_character_has_a_stable_id_and_reads_back_the_same(app_client):
    client, store = app_client
    novel = str(uuid.uuid4())
    profiles, _cast = cast_profiles(*chapters_of(*SYNTHETIC))
    await store_characters(novel_id=novel, profiles=profiles, store=store, embedder=FlatEmbedder())

    listing = await client.get(f"/api/ai/novels/{novel}/characters")
    assert listing.status_code == 200, listing.text
    cast = listing.json()
    assert [c["name"] for c in cast][:2] == ["Rose", "Tom"]  # most mentioned first
    ids = {c["name"]: c["id"] for c in cast}
    for entry in cast:
        assert entry["id"] == entry["vectordb_id"] == character_id(novel, entry["name"])
        assert entry["novel_id"] == novel
        one = await client.get(f"/api/ai/characters/{entry['id']}")
        assert one.status_code == 200 and one.json() == entry
    rose = next(c for c in cast if c["name"] == "Rose")
    assert {"id": ids["Mr. Harding"], "name": "Mr. Harding", "relation": "father"} in (
        rose["relationships"]
    )
    assert rose["description"].startswith("Rose was a lively girl of nineteen")
    assert rose["description_source"] == "text" and rose["gender"] == "female"
    assert rose["first_appearance"]["chapter"] == 1
    assert rose["first_appearance"]["quote"].startswith("Mr. Harding's daughter, Rose")
    assert {"lively", "cheerful", "generous"} <= set(rose["personality_traits"])

    # Re-ingesting replaces the points under the same ids.
    await store_characters(novel_id=novel, profiles=profiles, store=store, embedder=FlatEmbedder())
    again = (await client.get(f"/api/ai/novels/{novel}/characters")).json()
    assert {c["name"]: c["id"] for c in again} == ids
    assert await store.count(CHARACTERS, novel) == len(cast)
    upper = await client.get(f"/api/ai/characters/{ids['Rose'].upper()}")
    assert upper.status_code == 200 and upper.json()["name"] == "Rose"


async def test_core_reads_the_cast_in_short_with_the_service_token_only(app_client):
    client, store = app_client
    novel = str(uuid.uuid4())
    profiles, _cast = cast_profiles(*chapters_of(*SYNTHETIC))
    await store_characters(novel_id=novel, profiles=profiles, store=store, embedder=FlatEmbedder())
    full = (await client.get(f"/api/ai/novels/{novel}/characters")).json()
    path = f"/api/ai/internal/novels/{novel}/cast"
    assert (await client.get(path)).status_code == 403  # a reader's token
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    short = await client.get(path, headers=service)
    assert short.status_code == 200, short.text
    body = short.json()
    assert body["novel_id"] == novel
    assert [(c["id"], c["name"], c["aliases"], c["mention_count"]) for c in body["characters"]] == [
        (c["id"], c["name"], c["aliases"], c["mention_count"]) for c in full
    ]
    empty = await client.get(f"/api/ai/internal/novels/{uuid.uuid4()}/cast", headers=service)
    assert empty.json()["characters"] == []
    bad = await client.get("/api/ai/internal/novels/not-a-uuid/cast", headers=service)
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"


async def test_unknown_and_malformed_ids_are_error_envelopes(app_client):
    client, _store = app_client
    for path, status in [
        (f"/api/ai/characters/{uuid.uuid4()}", 404),
        (f"/api/ai/novels/{uuid.uuid4()}/characters", 404),
        ("/api/ai/characters/not-a-uuid", 400),
        ("/api/ai/characters/char-hermione-granger", 400),
        ("/api/ai/novels/not-a-uuid/characters", 400),
    ]:
        response = await client.get(path)
        assert response.status_code == status, (path, response.text)
        body = response.json()
        assert body["status"] == status and body["code"] and body["trace_id"] and body["path"]


async def test_a_point_stored_before_profiles_grew_still_reads(app_client):
    """Characters ingested by an older version have no relationships,
    gender or first appearance in their payload."""
    client, store = app_client
    novel, point = str(uuid.uuid4()), str(uuid.uuid4())
    payload = {"novel_id": novel, "name": "Old", "aliases": ["Old"], "description": "An old one."}
    payload |= {"personality_traits": [], "role": "main", "first_chapter": 2, "mention_count": 3}
    await store.upsert(CHARACTERS, [VectorPoint(point, [1.0] + [0.0] * 383, payload)])
    body = (await client.get(f"/api/ai/characters/{point}")).json()
    assert body["id"] == point and body["relationships"] == [] and body["first_appearance"] is None
    assert body["first_chapter"] == 2 and body["description_source"] == "text"


def test_quick_mode_keeps_the_top_twelve():
    from gaji_ai.ingestion.text import decode, split_chapters, strip_gutenberg

    body = strip_gutenberg(decode((NOVELS / "alice-in-wonderland.txt").read_bytes())).body
    full, cast = cast_profiles(body, split_chapters(body))
    quick, _ = cast_profiles(body, split_chapters(body), "quick")
    assert len(quick) == 12 and [p.name for p in quick] == [p.name for p in full[:12]]
    assert len(full) == min(30, len(cast.characters))


class ScriptedLLM:
    """Answers with its replies in order; an exception reply is raised."""

    name = "scripted"

    def __init__(self, replies: list) -> None:
        self.replies = replies
        self.prompts: list[str] = []

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7):
        self.prompts.append(messages[-1].content)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        yield from re.findall(r"\S+\s*", reply)  # deltas, as a provider streams them


def test_a_remote_llm_writes_descriptions_from_the_chosen_sentences():
    profiles, _cast = cast_profiles(*chapters_of(*SYNTHETIC))
    rose, tom = profiles[0], profiles[1]
    original_tom = tom.description
    llm = ScriptedLLM(
        [
            "Rose is Mr. Harding's lively daughter, nineteen, cheerful and generous.",
            "As an AI I cannot describe people.",  # refused: the text stays
            ProviderError("remote provider unreachable"),  # failed: the text stays
            "A grey dog.",  # not about this character: the text stays
        ]
    )
    written = describe_cast(profiles, llm_describer(llm), limit=4)
    assert written == 1
    assert rose.description.startswith("Rose is Mr. Harding's lively daughter, nineteen")
    assert rose.description_source == "llm"
    assert tom.description == original_tom and tom.description_source == "text"
    # The prompt hands over the novel's sentences about her, and her name.
    assert "Rose was a lively girl of nineteen" in llm.prompts[0] and "Rose" in llm.prompts[0]


def test_llm_answers_are_checked():
    profiles, _cast = cast_profiles(*chapters_of(*SYNTHETIC))
    rose = profiles[0]
    assert accept(rose, '  "Rose, a lively girl."  ') == "Rose, a lively girl."
    assert accept(rose, "Sorry, I can't help with that request today.") is None
    assert accept(rose, "short") is None
    assert accept(rose, "x" * 700) is None
    assert "Rose" in prompt(rose) and "Also called" not in prompt(rose)


async def test_ingestion_with_a_remote_llm_stores_its_descriptions(app_client):
    client, store = app_client
    novel = str(uuid.uuid4())
    llm = ScriptedLLM(["Rose is a lively girl of nineteen, cheerful and generous."] + ["-"] * 11)
    profiles, _cast = cast_profiles(*chapters_of(*SYNTHETIC), describer=llm_describer(llm))
    await store_characters(novel_id=novel, profiles=profiles, store=store, embedder=FlatEmbedder())
    cast = (await client.get(f"/api/ai/novels/{novel}/characters")).json()
    rose = next(c for c in cast if c["name"] == "Rose")
    assert rose["description_source"] == "llm" and rose["description"].startswith("Rose is a")
    assert all(c["description_source"] == "text" for c in cast if c["name"] != "Rose")


def test_the_local_model_does_not_write_descriptions(test_settings):
    """make run's default (LLM_PROVIDER=local): the novel's own sentences."""
    assert configured_describer(test_settings()) is None
