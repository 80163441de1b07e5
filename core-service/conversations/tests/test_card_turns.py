"""Cards and lorebooks in a chat turn: a character imported from a Character
Card joins the scene like a novel's character (`card:<id>`, the owner's own
cards only) and speaks with its card's texts; the conversation's and the
novel's lorebooks, and the books embedded in the scene's cards, fire on the
recent lines and travel to ai as `lore`."""

from __future__ import annotations

import json

import pytest

from cards import services as cards
from conftest import assert_envelope
from conversations.cast import UNKNOWN_CARD
from conversations.tests.helpers import client_for, make_conversation, send
from novels.models import Novel
from scenarios.tests.helpers import make_scenario

pytestmark = pytest.mark.django_db


def card_bytes(name="Captain Vane", **data) -> bytes:
    fields = {
        "name": name,
        "description": "{{char}} commands the Sparrow.",
        "personality": "Blunt.",
        "scenario": "Becalmed off Meryton.",
        "first_mes": "Ahoy.",
        "mes_example": "",
        "creator_notes": "",
        "system_prompt": "",
        "post_history_instructions": "Stay salty. {{original}}",
        "alternate_greetings": [],
        "tags": [],
        "creator": "",
        "character_version": "1",
        "extensions": {},
    }
    fields.update(data)
    return json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": fields}).encode()


def lorebook_bytes(entries) -> bytes:
    return json.dumps(
        {
            "spec": "lorebook_v3",
            "data": {
                "name": "Sea lore",
                "extensions": {},
                "entries": [
                    {
                        "keys": e.get("keys", []),
                        "content": e["content"],
                        "extensions": {},
                        "enabled": True,
                        "insertion_order": e.get("order", 10),
                        "use_regex": False,
                        "constant": e.get("constant", False),
                        "name": e.get("name", ""),
                        **({"selective": True, "secondary_keys": e["secondary"]} if "secondary" in e else {}),
                    }
                    for e in entries
                ],
            },
        }
    ).encode()


def cast_url(conversation):
    return f"/api/v1/conversations/{conversation.id}/cast"


def test_a_readers_card_joins_the_cast_and_speaks_with_its_texts(user, stub_ai):
    card = cards.card_import(user=user, raw=card_bytes(), filename="vane.json")
    conversation = make_conversation(user)
    client = client_for(user)
    member = {"character_id": f"card:{card.id}", "name": "Captain Vane", "talkativeness": 0.5}
    response = client.put(cast_url(conversation), {"narrator": False, "members": [member]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["members"][0]["character_id"] == f"card:{card.id}"

    assert send(client, conversation, "Captain, where are we?").status_code == 202
    request = stub_ai.last["body"]
    (answer,) = request.answers
    assert answer.speaker.character_id == f"card:{card.id}" and answer.speaker.name == "Captain Vane"
    assert answer.persona is not None and answer.persona.card_id == card.id
    assert answer.persona.description == "{{char}} commands the Sparrow."  # ai replaces the macros
    assert answer.persona.post_history_instructions == "Stay salty. {{original}}"


def test_a_card_speaker_can_be_named_on_send(user, stub_ai):
    card = cards.card_import(user=user, raw=card_bytes(), filename="vane.json")
    conversation = make_conversation(user)
    speakers = [{"kind": "character", "character_id": f"card:{card.id}"}]
    assert send(client_for(user), conversation, "Hello?", speakers=speakers).status_code == 202
    (answer,) = stub_ai.last["body"].answers
    assert answer.persona.name == "Captain Vane"


def test_someone_elses_card_or_a_bad_card_id_is_refused(user, make_user, stub_ai):
    other = make_user()
    theirs = cards.card_import(user=other, raw=card_bytes(), filename="vane.json")
    conversation = make_conversation(user)
    client = client_for(user)
    for character_id in (f"card:{theirs.id}", "card:not-a-uuid"):
        member = {"character_id": character_id, "name": "Captain Vane", "talkativeness": 0.5}
        body = assert_envelope(
            client.put(cast_url(conversation), {"narrator": False, "members": [member]}, format="json"), 400
        )
        assert body["details"]["members.0.character_id"] == [UNKNOWN_CARD]
    speakers = [{"kind": "character", "character_id": f"card:{theirs.id}"}]
    body = assert_envelope(send(client, conversation, "Hello?", speakers=speakers), 400)
    assert body["details"]["speakers.0.character_id"] == [UNKNOWN_CARD]


def test_a_conversations_lorebook_fires_on_its_keys(user, stub_ai):
    book = cards.lorebook_import(
        user=user,
        raw=lorebook_bytes(
            [
                {"keys": ["Sparrow"], "content": "The Sparrow is a brig.", "name": "Sparrow", "order": 20},
                {"content": "It is 1812.", "constant": True, "name": "Year", "order": 5},
                {"keys": ["Kraken"], "content": "Krakens are myths.", "name": "Kraken"},
                {"keys": ["storm"], "secondary": ["mast"], "content": "Storms break masts.", "name": "Storm"},
            ]
        ),
        filename="sea.json",
    )
    conversation = make_conversation(user)
    cards.conversation_lorebooks_set(user=user, conversation_id=conversation.id, lorebook_ids=[book.id])
    assert send(client_for(user), conversation, "Is the Sparrow ready for the storm?").status_code == 202
    lore = stub_ai.last["body"].lore
    assert [(e.name, e.content) for e in lore] == [
        ("Year", "It is 1812."),
        ("Sparrow", "The Sparrow is a brig."),
    ]  # insertion order; Kraken unmatched, Storm lacks its secondary key
    assert lore[0].reason == "constant" and "Sparrow" in lore[1].reason
    assert {e.book for e in lore} == {"Sea lore"}


def test_a_novels_lorebook_and_a_cast_cards_own_book_fire_too(user, stub_ai):
    novel = Novel.objects.create(
        slug="sea-tales", title="Sea Tales", ingestion_status="pending", owner=user, visibility="private"
    )
    scenario = make_scenario(user, base_story=novel.slug)
    book = cards.lorebook_import(
        user=user,
        raw=lorebook_bytes([{"keys": ["harbour"], "content": "The harbour is shallow."}]),
        filename="n.json",
    )
    cards.novel_lorebooks_set(user=user, novel_id=novel.id, lorebook_ids=[book.id])
    embedded = {
        "name": "Vane's book",
        "extensions": {},
        "entries": [
            {
                "keys": ["parrot"],
                "content": "{{char}} keeps a parrot named Jory.",
                "extensions": {},
                "enabled": True,
                "insertion_order": 1,
            }
        ],
    }
    card = cards.card_import(user=user, raw=card_bytes(character_book=embedded), filename="vane.json")
    conversation = make_conversation(user, scenario)
    member = {"character_id": f"card:{card.id}", "name": "Captain Vane", "talkativeness": 0.5}
    client = client_for(user)
    assert (
        client.put(
            cast_url(conversation), {"narrator": False, "members": [member]}, format="json"
        ).status_code
        == 200
    )
    assert send(client, conversation, "Does the parrot like the harbour?").status_code == 202
    contents = [e.content for e in stub_ai.last["body"].lore]
    assert contents == ["{{char}} keeps a parrot named Jory.", "The harbour is shallow."]


def test_a_turn_without_lorebooks_sends_no_lore(user, stub_ai):
    conversation = make_conversation(user)
    assert send(client_for(user), conversation, "Hello").status_code == 202
    assert stub_ai.last["body"].lore == []
