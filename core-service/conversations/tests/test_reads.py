"""conversations/reads.py against the serializer it replaces: the same
document for roots, forks, a deleted scenario, every message state, avatar
and no avatar, and more messages than the detail shows."""

from __future__ import annotations

import json
import uuid

import orjson
import pytest
from django.http import Http404
from django.utils import timezone
from gaji_contracts.conversations import MessageRole, MessageStatus

from conversations import apis, reads, selectors, services
from conversations.models import Message
from conversations.tests.helpers import add_exchanges, make_conversation
from scenarios.services import scenario_delete

CITED = [
    {
        "passage_id": "p-1",
        "chapter": 3,
        "chapter_title": "Chapter 3",
        "chunk_index": 40,
        "quote": "Mr. \u201cD\u201d…",
    },
    {"passage_id": "p-2", "chapter": 0, "chapter_title": "", "chunk_index": 0, "quote": "Front matter."},
]


def same_as_serializer(conversation_id) -> dict:
    got = orjson.loads(orjson.dumps(reads.conversation_document(conversation_id)))
    conversation = selectors.conversation_get(conversation_id=conversation_id, viewer=None)
    expected = json.loads(json.dumps(apis.conversation_json(conversation)))
    assert got == expected
    return got


def test_a_conversation_with_messages_in_every_state(user):
    conversation = make_conversation(user)
    add_exchanges(conversation, 4)
    pending = Message.objects.create(role=MessageRole.ASSISTANT.value, status=MessageStatus.PENDING.value)
    services._append(services._locked(conversation.id), [pending])
    Message.objects.filter(id=pending.id).update(
        status=MessageStatus.FAILED.value, grounded=False, total_tokens=7, degraded=True, model="m",
        completed_at=timezone.now(), citations=CITED,
    )  # fmt: skip
    body = same_as_serializer(conversation.id)
    assert body["messages"][-1]["citations"] == CITED and body["messages"][0]["citations"] == []
    assert [m["content"] for m in body["messages"][:4]] == [f"message {i}" for i in range(4)]
    assert body["messages"][-1]["status"] == "failed" and body["messages_truncated"] is False


def test_a_fork_of_a_deleted_scenario_by_a_user_with_an_avatar(user):
    user.avatar_url = "https://cdn.example/a.jpg"
    user.save(update_fields=["avatar_url"])
    root = make_conversation(user)
    add_exchanges(root, 3)
    fork = services.conversation_fork(conversation_id=root.id, user=user)
    scenario_delete(scenario=root.scenario, user=user)
    body = same_as_serializer(fork.id)
    assert body["is_fork"] is True and body["parent_conversation_id"] == str(root.id)
    assert body["scenario"]["is_deleted"] is True
    assert body["user"]["avatar_url"] == "https://cdn.example/a.jpg"


def test_only_the_most_recent_messages_are_shown(user, settings):
    conversation = make_conversation(user)
    add_exchanges(conversation, 7)
    monkey = pytest.MonkeyPatch()
    monkey.setattr(reads, "DETAIL_MESSAGES", 5)
    monkey.setattr(selectors, "DETAIL_MESSAGES", 5)
    try:
        body = same_as_serializer(conversation.id)
    finally:
        monkey.undo()
    assert [m["content"] for m in body["messages"]] == [f"message {i}" for i in range(2, 7)]
    assert body["messages_truncated"] is True


def test_an_unknown_conversation_is_404(db):
    with pytest.raises(Http404):
        reads.conversation_document(uuid.uuid4())
