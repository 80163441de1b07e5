"""Conversation export (Gaji JSON, SillyTavern JSONL) and import back as a
new conversation: round trips through the API, who may export what, and
how a foreign SillyTavern chat is read."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from gaji_contracts.conversations import MessageRole, MessageStatus

from conftest import assert_envelope
from conversations import services
from conversations.models import Conversation, MemoryEntry, Message
from conversations.tests.helpers import CONVERSATIONS, client_for, make_conversation, make_scenario
from novels.models import Novel
from scenarios.models import Scenario

pytestmark = pytest.mark.django_db

CITATION = {
    "passage_id": "p-1",
    "chapter": 3,
    "chapter_title": "Chapter 3",
    "chunk_index": 7,
    "quote": "It is…",
}
HTML = '<script>alert("x")</script><b>bold</b> & more'


def export(client, conversation, fmt="gaji"):
    return client.get(f"{CONVERSATIONS}/{conversation.id}/export", {"format": fmt})


def upload(client, content: bytes | str, name: str = "chat.json", **fields):
    if isinstance(content, str):
        content = content.encode()
    body = {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream"), **fields}
    return client.post(f"{CONVERSATIONS}/import", body, format="multipart")


def message(role, content, *, kind=None, character_id="", name="", **fields) -> Message:
    kind = kind or ("user" if role == MessageRole.USER.value else "character")
    return Message(
        role=role,
        content=content,
        speaker_kind=kind,
        speaker_character_id=character_id,
        speaker_name=name,
        status=fields.pop("status", MessageStatus.COMPLETED.value),
        **fields,
    )


def append(conversation, rows: list[Message]) -> list[Message]:
    with transaction.atomic():
        locked = services._locked(conversation.id)
        for row in rows:
            row.save()
        services._append(locked, rows)
    conversation.refresh_from_db()
    return rows


@pytest.fixture
def novel():
    # Not ingested: the novel's cast is unknown (no ai call), ids in files are kept as they are.
    return Novel.objects.create(slug="pride-and-prejudice", title="Pride and Prejudice", author="Austen")


@pytest.fixture
def story(user, novel):
    """A conversation on a novel with a cast, speakers of every kind, citations,
    kept versions, an edit, a deletion, a cancelled answer, HTML, and memory."""
    scenario = make_scenario(user, scenario_type="EVENT_ALTERATION", base_story="pride-and-prejudice")
    Scenario.objects.filter(id=scenario.id).update(novel=novel)
    conversation = make_conversation(user, Scenario.objects.get(id=scenario.id), title="Netherfield, again")
    Conversation.objects.filter(id=conversation.id).update(
        canon_chapter=12,
        cast={
            "narrator": True,
            "members": [
                {"character_id": "c-eliza", "name": "Elizabeth Bennet", "talkativeness": 0.8},
                {"character_id": None, "name": "Mr. Collins", "talkativeness": 0.2},
            ],
        },
    )
    conversation.refresh_from_db()
    done = timezone.now() - timedelta(hours=1)
    versions = [
        {
            "content": "First take.",
            "citations": [CITATION],
            "grounded": True,
            "model": "m-1",
            "total_tokens": 5,
            "degraded": False,
            "speaker_kind": "character",
            "speaker_character_id": "c-eliza",
            "speaker_name": "Elizabeth Bennet",
            "stale": False,
            "completed_at": done.isoformat(),
        },
        {
            "content": "Second take.",
            "citations": [],
            "grounded": False,
            "model": "m-2",
            "total_tokens": 6,
            "degraded": True,
            "speaker_kind": "character",
            "speaker_character_id": "c-eliza",
            "speaker_name": "Elizabeth Bennet",
            "stale": False,
            "completed_at": done.isoformat(),
        },
    ]
    rows = append(
        conversation,
        [
            message("user", f"Hello {HTML}", name=user.username, edited_at=done),
            message(
                "assistant",
                "Second take.",
                character_id="c-eliza",
                name="Elizabeth Bennet",
                citations=[],
                grounded=False,
                model="m-2",
                total_tokens=6,
                degraded=True,
                alternatives=versions,
                chosen=1,
                completed_at=done,
            ),
            message("assistant", "The rain falls.", kind="narrator", name="Narrator", completed_at=done),
            message("user", "", name=user.username, deleted=True),
            message(
                "assistant",
                "Half a senten",
                name="Mr. Collins",
                status=MessageStatus.CANCELLED.value,
                stale=True,
                citations=[CITATION],
                grounded=True,
                completed_at=done,
            ),
        ],
    )
    answer = rows[1]
    MemoryEntry.objects.create(
        conversation=conversation,
        kind="relationship",
        subject="Elizabeth Bennet",
        target="Mr. Darcy",
        text="She warms to him.",
        value=20,
        history=[
            {
                "value": 20,
                "change": 20,
                "text": "She warms to him.",
                "source": "model",
                "source_message_id": str(answer.id),
                "at": done.isoformat(),
            }
        ],
        source="model",
        source_message_id=answer.id,
        position=1,
        known_by=["c-eliza"],
    )
    MemoryEntry.objects.create(
        conversation=conversation, kind="pin", text=f"Remember {HTML}", source="reader", pinned=True
    )
    MemoryEntry.objects.create(
        conversation=conversation,
        kind="summary",
        text="They talked.",
        source="model",
        layer=1,
        covers_from=0,
        covers_to=2,
        position=0,
    )
    return conversation


def _messages(document: dict) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "id"} for m in document["messages"]]


def _memory(document: dict, ids: dict[str, str]) -> list[dict]:
    """Entries without their own ids and times, answers named by their position."""
    out = []
    for entry in document["memory"]:
        entry = {k: v for k, v in entry.items() if k not in ("id", "updated_at")}
        entry["source_message_id"] = ids.get(entry["source_message_id"])
        entry["history"] = [
            {**h, "source_message_id": ids.get(h["source_message_id"])} for h in entry["history"]
        ]
        out.append(entry)
    return sorted(out, key=lambda e: (e["kind"], e["text"]))


def _positions(document: dict) -> dict[str, int]:
    return {m["id"]: m["position"] for m in document["messages"]}


def test_gaji_export_document(user, story):
    response = export(client_for(user), story)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    filename = f"netherfield-again-{str(story.id)[:8]}.json"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    document = json.loads(response.content)
    assert document["format"] == "gaji.conversation" and document["version"] == 1
    info = document["conversation"]
    assert info["id"] == str(story.id) and info["canon_chapter"] == 12 and info["depth"] == 0
    assert info["novel"]["slug"] == "pride-and-prejudice"
    assert info["cast"]["members"][0] == {
        "character_id": "c-eliza",
        "name": "Elizabeth Bennet",
        "talkativeness": 0.8,
    }
    messages = document["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "user", "assistant"]
    assert messages[0]["content"] == f"Hello {HTML}"  # as written, never escaped
    eliza = {"kind": "character", "character_id": "c-eliza", "name": "Elizabeth Bennet"}
    assert messages[1]["speaker"] == eliza
    assert messages[1]["chosen"] == 1 and [v["content"] for v in messages[1]["alternatives"]] == [
        "First take.",
        "Second take.",
    ]
    assert messages[1]["alternatives"][0]["citations"] == [CITATION]
    assert messages[2]["speaker"]["kind"] == "narrator"
    assert messages[3]["deleted"] is True
    assert messages[4]["status"] == "cancelled" and messages[4]["citations"] == [CITATION]
    assert len(document["memory"]) == 3
    assert document["tree"] == [
        {"id": str(story.id), "title": "Netherfield, again", "parent_conversation_id": None, "depth": 0}
    ]


def test_gaji_round_trip(user, story):
    client = client_for(user)
    first = json.loads(export(client, story).content)
    before = Message.objects.count()

    imported = upload(client, json.dumps(first), "story.json")

    assert imported.status_code == 201, imported.content
    body = imported.json()
    assert body["id"] != str(story.id) and body["user_id"] == str(user.id)
    assert body["scenario_id"] == str(story.scenario_id)  # the file's scenario, readable
    assert body["message_count"] == 5 and len(body["messages"]) == 5
    assert Message.objects.count() == before + 5  # new rows; the original's untouched
    copy = Conversation.objects.get(id=body["id"])
    assert copy.parent_id is None and copy.depth == 0
    second = json.loads(export(client, copy).content)
    assert _messages(second) == _messages(first)
    assert _memory(second, _positions(second)) == _memory(first, _positions(first))
    assert second["conversation"]["cast"] == first["conversation"]["cast"]
    assert second["conversation"]["canon_chapter"] == 12
    # The original is as it was.
    again = json.loads(export(client, story).content)
    assert _messages(again) == _messages(first)
    assert [m["id"] for m in again["messages"]] == [m["id"] for m in first["messages"]]


def test_sillytavern_export_lines(user, story):
    response = export(client_for(user), story, "sillytavern")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert response["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in response.content.decode().splitlines()]
    header, messages = lines[0], lines[1:]
    assert header["user_name"] == user.username and header["character_name"] == "Elizabeth Bennet"
    assert header["chat_metadata"]["gaji"]["conversation_id"] == str(story.id)
    assert header["chat_metadata"]["gaji"]["novel"]["slug"] == "pride-and-prejudice"
    assert "main_chat" not in header["chat_metadata"]
    assert len(messages) == 4  # the deleted message is left out
    assert messages[0]["is_user"] is True and messages[0]["mes"] == f"Hello {HTML}"
    assert messages[1]["swipes"] == ["First take.", "Second take."] and messages[1]["swipe_id"] == 1
    assert messages[1]["extra"]["gaji"]["speaker"]["character_id"] == "c-eliza"
    assert messages[2]["extra"]["type"] == "narrator" and messages[2]["is_system"] is False
    assert messages[3]["extra"]["gaji"]["citations"] == [CITATION]
    assert "swipes" not in messages[3] and "swipes" not in messages[0]  # one version: no swipes


def _without_ids(lines: list[dict]) -> list[dict]:
    out = []
    for line in lines[1:]:
        line = json.loads(json.dumps(line))
        line["extra"]["gaji"].pop("message_id")
        out.append(line)
    return out


def test_sillytavern_round_trip(user, story):
    client = client_for(user)
    first = export(client, story, "sillytavern").content
    imported = upload(client, first, "chat.jsonl", scenario_id=str(story.scenario_id))
    assert imported.status_code == 201, imported.content
    copy = Conversation.objects.get(id=imported.json()["id"])
    assert copy.title == story.title and copy.message_count == 4
    second = export(client, copy, "sillytavern").content
    a = [json.loads(line) for line in first.decode().splitlines()]
    b = [json.loads(line) for line in second.decode().splitlines()]
    assert _without_ids(b) == _without_ids(a)
    assert b[0]["chat_metadata"]["gaji"]["cast"] == a[0]["chat_metadata"]["gaji"]["cast"]
    assert b[0]["character_name"] == a[0]["character_name"]


def test_sillytavern_needs_a_scenario_unless_it_names_one_readable(user, story, make_user):
    raw = export(client_for(user), story, "sillytavern").content
    lines = raw.decode().splitlines()
    header = json.loads(lines[0])
    header["chat_metadata"].pop("gaji")
    bare = "\n".join([json.dumps(header), *lines[1:]])
    before = Conversation.objects.count()
    body = assert_envelope(upload(client_for(user), bare, "chat.jsonl"), 400, "VALIDATION_ERROR")
    assert "scenario_id" in body["details"]
    assert Conversation.objects.count() == before
    # The file's own gaji metadata names the scenario: that one, when readable.
    assert upload(client_for(make_user()), raw, "chat.jsonl").status_code == 201


def test_foreign_sillytavern_chat(user, story):
    """A chat SillyTavern wrote: its dates, swipes, narrator and names; unknown keys are dropped."""
    lines = [
        {
            "user_name": "Reader",
            "character_name": "Elizabeth Bennet",
            "create_date": "2024-06-01@15h04m05s",
            "chat_metadata": {"note_prompt": "", "world_info": "x"},
        },
        {
            "name": "Reader",
            "is_user": True,
            "is_system": False,
            "send_date": "June 1, 2024 3:04pm",
            "mes": "Good morning.",
            "extra": {"bookmark_link": "y"},
            "force_avatar": "a.png",
        },
        {
            "name": "Elizabeth Bennet",
            "is_user": False,
            "send_date": 1717254245000,
            "mes": "Two",
            "swipe_id": 1,
            "swipes": ["One", "Two", "Three"],
            "swipe_info": [{"send_date": "2024-06-01T15:04:05Z", "extra": {"model": "gpt"}}, {}, {}],
            "extra": {"model": "gpt", "api": "openai", "token_count": 3},
        },
        {
            "name": "System",
            "is_user": False,
            "is_system": False,
            "mes": "Night falls.",
            "extra": {"type": "narrator"},
        },
        {"name": "Jane Bennet", "is_user": False, "is_system": True, "mes": "Lizzy!", "send_date": "garbage"},
    ]
    raw = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    name = "Elizabeth - 2024-06-01.jsonl"
    response = upload(client_for(user), raw, name, scenario_id=str(story.scenario_id))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Imported chat with Elizabeth Bennet"
    messages = body["messages"]
    assert [m["speaker"] for m in messages] == [
        {"kind": "user", "character_id": None, "name": "Reader"},
        {"kind": "character", "character_id": None, "name": "Elizabeth Bennet"},
        {"kind": "narrator", "character_id": None, "name": "System"},
        {"kind": "character", "character_id": None, "name": "Jane Bennet"},
    ]
    assert messages[0]["created_at"].startswith("2024-06-01T15:04")
    assert messages[1]["created_at"].startswith("2024-06-01T15:04")
    assert messages[1]["model"] == "gpt" and messages[1]["alternatives_count"] == 3
    assert messages[1]["chosen"] == 1 and messages[1]["content"] == "Two"
    stored = Message.objects.get(id=messages[1]["id"])
    assert [v["content"] for v in stored.alternatives] == ["One", "Two", "Three"]
    assert stored.alternatives[0]["model"] == "gpt"
    # Not the same novel: the scenario's default cast, and the chat's character joins it.
    copy = Conversation.objects.get(id=body["id"])
    assert [m["name"] for m in copy.cast["members"]] == ["Elizabeth Bennet"]


def test_speakers_match_the_cast_by_name(user, story):
    """From another novel (or none), cast ids are not trusted: names are matched to the new cast."""
    document = json.loads(export(client_for(user), story).content)
    document["conversation"]["novel"] = None
    document["messages"][1]["speaker"]["character_id"] = "c-foreign"
    other = make_scenario(user, scenario_type="EVENT_ALTERATION", base_story="pride-and-prejudice")
    Scenario.objects.filter(id=other.id).update(novel=story.scenario.novel)
    response = upload(client_for(user), json.dumps(document), "x.json", scenario_id=str(other.id))
    assert response.status_code == 201, response.content
    copy = Conversation.objects.get(id=response.json()["id"])
    assert copy.canon_chapter is None  # the spoiler boundary belongs to the file's novel
    speakers = [m["speaker"] for m in response.json()["messages"]]
    assert speakers[1] == {"kind": "character", "character_id": None, "name": "Elizabeth Bennet"}


def test_visibility_defaults_to_the_readers_setting_and_counts(user, story, make_user):
    reader = make_user(settings={"default_visibility": "private"})
    document = export(client_for(user), story).content
    scenario = Scenario.objects.get(id=story.scenario_id)
    response = upload(client_for(reader), document, "x.json")
    assert response.status_code == 201
    assert response.json()["visibility"] == "private"
    assert Scenario.objects.get(id=scenario.id).conversation_count == scenario.conversation_count
    response = upload(client_for(reader), document, "x.json", visibility="public")
    assert response.json()["visibility"] == "public"
    assert Scenario.objects.get(id=scenario.id).conversation_count == scenario.conversation_count + 1


def test_memory_and_private_conversations(user, story, make_user):
    other, staff = make_user(), make_user(is_staff=True)
    # Public: anyone may export it, the memory is the owner's and staff's.
    assert "memory" not in json.loads(export(client_for(other), story).content)
    from rest_framework.test import APIClient

    anonymous = export(APIClient(), story)
    assert anonymous.status_code == 200 and "memory" not in json.loads(anonymous.content)
    assert len(json.loads(export(client_for(staff), story).content)["memory"]) == 3
    Conversation.objects.filter(id=story.id).update(visibility="private")
    for fmt in ("gaji", "sillytavern"):
        assert_envelope(export(client_for(other), story, fmt), 404, "NOT_FOUND")
        assert_envelope(export(APIClient(), story, fmt), 404, "NOT_FOUND")
        assert export(client_for(staff), story, fmt).status_code == 200
        assert export(client_for(user), story, fmt).status_code == 200


def test_imported_memory_keeps_sources_and_maps_answers(user, story):
    client = client_for(user)
    response = upload(client, export(client, story).content, "x.json")
    copy = Conversation.objects.get(id=response.json()["id"])
    relation = MemoryEntry.objects.get(conversation=copy, kind="relationship")
    answer = copy.links.get(position=1).message
    assert relation.source == "model" and relation.source_message_id == answer.id
    assert relation.history[0]["source_message_id"] == str(answer.id)
    assert MemoryEntry.objects.get(conversation=copy, kind="pin").source == "reader"


def test_tree_shows_forks_the_requester_may_see(user, story, make_user):
    other = make_user()
    public_fork = services.conversation_fork(conversation_id=story.id, user=other, visibility="public")
    private_fork = services.conversation_fork(conversation_id=story.id, user=other, visibility="private")
    tree = json.loads(export(client_for(user), story).content)["tree"]
    ids = {node["id"] for node in tree}
    assert str(public_fork.id) in ids and str(private_fork.id) not in ids
    fork_doc = json.loads(export(client_for(other), private_fork).content)
    assert fork_doc["conversation"]["parent_conversation_id"] == str(story.id)
    assert {n["id"] for n in fork_doc["tree"]} >= {str(story.id), str(private_fork.id)}
    lines = export(client_for(other), private_fork, "sillytavern").content.decode().splitlines()
    assert json.loads(lines[0])["chat_metadata"]["main_chat"] == story.title


def test_pending_answers_become_failed(user, story):
    document = json.loads(export(client_for(user), story).content)
    document["messages"][2]["status"] = "pending"
    document["messages"][0]["status"] = "failed"  # a reader's message is always completed
    response = upload(client_for(user), json.dumps(document), "x.json")
    assert response.status_code == 201
    assert [m["status"] for m in response.json()["messages"]][:3] == ["completed", "completed", "failed"]


def test_import_is_rate_limited_as_a_write(user, story, settings):
    raw = export(client_for(user), story).content
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_SCALE = 0.01  # one write a minute
    client = client_for(user)
    assert upload(client, raw, "x.json").status_code == 201
    before = Conversation.objects.count()
    assert_envelope(upload(client, raw, "x.json"), 429, "RATE_LIMITED")
    assert Conversation.objects.count() == before


def test_empty_conversation_round_trip(user):
    conversation = make_conversation(user)
    raw = export(client_for(user), conversation).content
    response = upload(client_for(user), raw, "x.json")
    assert response.status_code == 201 and response.json()["messages"] == []


def test_card_characters_keep_their_id_only_for_the_cards_owner(user, story, make_user):
    """A `card:<id>` character is a reader's own imported card: someone else's is named freely."""
    from cards.models import CharacterCard

    other = make_user()

    def card(owner):
        return CharacterCard.objects.create(
            owner=owner, name="Captain Vane", spec="chara_card_v2", container="json", document={}
        )

    mine, theirs = card(user), card(other)
    document = json.loads(export(client_for(user), story).content)
    document["conversation"]["cast"]["members"].append(
        {"character_id": f"card:{theirs.id}", "name": "Captain Vane", "talkativeness": 0.5}
    )
    document["messages"][1]["speaker"] = {"kind": "character", "character_id": f"card:{mine.id}", "name": "V"}
    document["messages"][2]["speaker"] = {
        "kind": "character",
        "character_id": f"card:{theirs.id}",
        "name": "W",
    }
    response = upload(client_for(user), json.dumps(document), "x.json")
    assert response.status_code == 201, response.content
    speakers = [m["speaker"]["character_id"] for m in response.json()["messages"]]
    assert speakers[1] == f"card:{mine.id}" and speakers[2] is None
    cast = Conversation.objects.get(id=response.json()["id"]).cast
    assert cast["members"][-1] == {"character_id": None, "name": "Captain Vane", "talkativeness": 0.5}
