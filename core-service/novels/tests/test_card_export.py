"""A novel's cast and lore out: Character Card V3 (JSON and PNG) with the
novel's lorebook embedded, and the lorebook alone (lorebook_v3, World
Info); every entry keeps its passage sources under extensions
"gaji/sources". ai's lore route is stubbed at the integrations boundary
(tests-e2e exports from the real services)."""

from __future__ import annotations

import json
import uuid

import pytest
from gaji_contracts.characters import (
    Character,
    CharacterRelationship,
    FirstAppearance,
    LoreCharacter,
    LorePlace,
    LoreSource,
    NovelLore,
)

from cards import formats
from conftest import assert_envelope, bearer_for
from integrations.ai import AiUnavailable
from novels.card_export import SOURCES_KEY
from novels.models import Novel

ROSE_ID = str(uuid.uuid4())


def _source(chunk: int, quote: str) -> LoreSource:
    return LoreSource(
        passage_id=str(uuid.uuid4()), chapter=1, chapter_title="Chapter 1", chunk_index=chunk, quote=quote
    )


def _lore(novel_id) -> NovelLore:
    rose = Character(
        id=ROSE_ID,
        vectordb_id=ROSE_ID,
        novel_id=str(novel_id),
        name="Rose",
        aliases=["Rosie"],
        description="Rose was a lively girl of nineteen.",
        personality_traits=["lively", "generous"],
        role="main",
        relationships=[CharacterRelationship(name="Mr. Harding", relation="father")],
        first_chapter=1,
        first_appearance=FirstAppearance(chapter=1, quote="Mr. Harding's daughter, Rose, came in."),
        mention_count=12,
    )
    return NovelLore(
        novel_id=str(novel_id),
        characters=[LoreCharacter(character=rose, sources=[_source(1, "Rose was a lively girl.")])],
        places=[
            LorePlace(
                name="Combe",
                mentions=5,
                description="They drove to Combe in the rain.",
                sources=[_source(0, "They drove to Combe in the rain.")],
            )
        ],
    )


@pytest.fixture
def ai_lore(monkeypatch):
    calls = []

    def fake(novel_id, *, request_id=None):
        calls.append(novel_id)
        return _lore(novel_id)

    monkeypatch.setattr("novels.export_apis.novel_lore", fake)
    return calls


@pytest.fixture
def novel(db) -> Novel:
    return Novel.objects.create(slug="combe", title="Combe", author="A. Writer", ingestion_status="completed")


def test_the_lorebook_keeps_each_entrys_passage_sources(api, novel, ai_lore):
    response = api.get(f"/api/v1/novels/{novel.slug}/lorebook")
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].startswith("attachment;")
    document = json.loads(response.content)
    assert document["spec"] == "lorebook_v3"
    entries = {e["name"]: e for e in document["data"]["entries"]}
    assert entries["Combe"]["keys"] == ["Combe"]
    assert entries["Combe"]["extensions"][SOURCES_KEY][0]["quote"] == "They drove to Combe in the rain."
    assert entries["Rose"]["keys"] == ["Rose", "Rosie"]
    assert "Mr. Harding (father)" in entries["Rose"]["content"]
    # It reads back as a lorebook, sources intact.
    again = formats.read_lorebook(response.content)
    assert again.book["entries"][0]["extensions"][SOURCES_KEY]


def test_the_lorebook_as_world_info_keeps_the_sources_too(api, novel, ai_lore):
    response = api.get(f"/api/v1/novels/{novel.id}/lorebook", {"format": "worldinfo"})
    assert response.status_code == 200, response.content
    document = json.loads(response.content)
    entries = list(document["entries"].values())
    combe = next(e for e in entries if e["key"] == ["Combe"])
    assert combe["extensions"][SOURCES_KEY][0]["chunk_index"] == 0
    imported = formats.read_lorebook(response.content)
    assert imported.kind == "worldinfo"


def test_a_character_card_v3_json_embeds_the_lorebook(api, novel, ai_lore):
    response = api.get(f"/api/v1/novels/{novel.slug}/characters/{ROSE_ID}/card")
    assert response.status_code == 200, response.content
    card = formats.read_card(response.content, "rose.json")
    assert card.spec == "chara_card_v3" and not card.warnings
    assert card.fields.name == "Rose" and card.fields.personality == "lively, generous"
    assert card.fields.first_mes == "Mr. Harding's daughter, Rose, came in."
    book = card.fields.character_book
    assert {e["name"] for e in book["entries"]} == {"Combe", "Rose"}
    data = card.document["data"]
    assert data["extensions"][SOURCES_KEY][0]["quote"] == "Rose was a lively girl."
    assert data["extensions"]["gaji/novel"]["slug"] == "combe"


def test_a_character_card_png_carries_ccv3_and_a_v2_copy(api, novel, ai_lore):
    response = api.get(f"/api/v1/novels/{novel.slug}/characters/{ROSE_ID}/card", {"format": "png"})
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"ccv3" in response.content and b"chara" in response.content
    card = formats.read_card(response.content, "rose.png")
    assert card.container == "png" and card.spec == "chara_card_v3"
    assert card.fields.character_book["entries"][0]["extensions"][SOURCES_KEY]


def test_refusals(api, novel, ai_lore, make_user, monkeypatch):
    assert_envelope(api.get(f"/api/v1/novels/{novel.slug}/characters/{uuid.uuid4()}/card"), 404, "NOT_FOUND")
    assert_envelope(api.get(f"/api/v1/novels/{novel.slug}/lorebook", {"format": "sillytavern"}), 400)
    assert_envelope(api.get("/api/v1/novels/no-such-novel/lorebook"), 404)

    def missing(novel_id, *, request_id=None):
        return None

    monkeypatch.setattr("novels.export_apis.novel_lore", missing)
    body = assert_envelope(api.get(f"/api/v1/novels/{novel.slug}/lorebook"), 404, "NOT_FOUND")
    assert "not ingested" in body["message"]

    def down(novel_id, *, request_id=None):
        raise AiUnavailable("down")

    monkeypatch.setattr("novels.export_apis.novel_lore", down)
    assert_envelope(api.get(f"/api/v1/novels/{novel.slug}/lorebook"), 503, "AI_UNAVAILABLE")


def test_a_private_novel_exports_for_its_owner_only(api, ai_lore, make_user):
    owner, other = make_user(), make_user()
    private = Novel.objects.create(
        slug="secret", title="Secret", ingestion_status="completed", owner=owner, visibility="private"
    )
    url = f"/api/v1/novels/{private.id}/lorebook"
    assert_envelope(api.get(url), 404)
    api.credentials(HTTP_AUTHORIZATION=bearer_for(other))
    assert_envelope(api.get(url), 404)
    assert ai_lore == []  # ai was never asked for someone else's private novel
    api.credentials(HTTP_AUTHORIZATION=bearer_for(owner))
    assert api.get(url).status_code == 200
