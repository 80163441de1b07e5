"""PATCH and DELETE /conversations/{id}/messages/{mid}: a reader's own
messages changed after they were sent, the answers after them marked stale
(or regenerated), rows shared with a fork copied first, and what the model
is told afterwards."""

from __future__ import annotations

import json
import uuid

import orjson
import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import apis, reads, selectors
from conversations.models import Conversation, ConversationMessageLink, MemoryEntry, Message, MessagePrompt
from conversations.tests.helpers import client_for, internal_client, make_conversation, send
from conversations.tests.message_helpers import (
    detail_messages,
    message_url,
    persist,
    shown,
    turn,
    url,
)

pytestmark = pytest.mark.django_db

NEW_FIELDS = {"edited_at", "deleted", "stale", "alternatives_count", "chosen"}


@pytest.fixture
def chat(user, stub_ai):
    """A conversation of two completed turns: [hello, Hi., how are you?, Well.]."""
    conversation = make_conversation(user)
    client = client_for(user)
    first = turn(client, conversation, "Hello Mr. Darcy", "Good day.")
    second = turn(client, conversation, "How are you?", "Very well.")
    return conversation, client, first, second


def edit(client, conversation, message_id, **body):
    return client.patch(message_url(conversation, message_id), body, format="json")


def delete(client, conversation, message_id):
    return client.delete(message_url(conversation, message_id))


def fork_of(user, conversation) -> Conversation:
    response = client_for(user).post(url(conversation, "/fork"), {}, format="json")
    assert response.status_code == 201, response.content
    return Conversation.objects.get(id=response.json()["id"])


# -- message bodies -----------------------------------------------------------------------------


def test_message_bodies_carry_the_new_fields_everywhere(chat):
    conversation, client, first, _ = chat
    listed = shown(client, conversation)
    detail = detail_messages(client, conversation)
    for body in (*listed, *detail):
        assert NEW_FIELDS <= body.keys()
    assert listed[0]["edited_at"] is None and listed[0]["deleted"] is False and listed[1]["stale"] is False
    assert listed[1]["alternatives_count"] == 0 and listed[1]["chosen"] is None
    edit(client, conversation, first["message_id"], content="Hello again")
    got = orjson.loads(orjson.dumps(reads.conversation_document(conversation.id, conversation.user)))
    expected = json.loads(
        json.dumps(
            apis.conversation_json(
                selectors.conversation_get(conversation_id=conversation.id, viewer=conversation.user)
            )
        )
    )
    assert got["messages"] == expected["messages"]  # the raw read path and the serializer agree
    assert got["messages"][0]["edited_at"] is not None and got["messages"][1]["stale"] is True


# -- edit ---------------------------------------------------------------------------------------


def test_edit_changes_the_text_and_marks_the_answers_after_it_stale(chat):
    conversation, client, first, _ = chat
    response = edit(client, conversation, first["message_id"], content="  Hello, Mr. Bingley  ")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["turn"] is None
    message = body["message"]
    assert message["id"] == first["message_id"]  # not shared: changed in place
    assert message["content"] == "  Hello, Mr. Bingley  "  # kept as written, like a sent message
    assert message["edited_at"] is not None and message["position"] == 0
    listed = shown(client, conversation)
    assert [m["stale"] for m in listed] == [False, True, False, False]  # only up to the next message
    assert listed[1]["content"] == "Good day."  # kept
    assert Conversation.objects.get(id=conversation.id).message_count == 4


def test_every_answer_up_to_the_next_message_goes_stale(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    first = turn(client, conversation, "Hello", "Hi.")
    more = client.post(url(conversation, "/continue"), {}, format="json").json()  # the scene goes on
    persist(conversation.id, more["assistant_message_id"], "And then...")
    turn(client, conversation, "Next", "Yes.")
    edit(client, conversation, first["message_id"], content="Hello there")
    assert [m["stale"] for m in shown(client, conversation)] == [False, True, True, False, False]


def test_edit_validates_its_content_like_a_sent_message(chat):
    conversation, client, first, _ = chat
    mid = first["message_id"]
    for body, field in (
        ({"content": "   "}, "content"),
        ({"content": ""}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"content": 42}, "content"),
        ({"content": "a\u0000b"}, "content"),
        ({}, "non_field_errors"),
        ({"regenerate": False}, "non_field_errors"),
        ({"content": "ok", "regenerate": "maybe"}, "regenerate"),
        ({"content": "ok", "role": "assistant"}, "role"),
    ):
        envelope = assert_envelope(edit(client, conversation, mid, **body), 400, "VALIDATION_ERROR")
        assert field in envelope["details"], (body, envelope)
    assert edit(client, conversation, mid, content="x" * 4000).status_code == 200
    assert Message.objects.get(id=mid).content == "x" * 4000


def test_only_the_owners_own_messages_can_be_edited(chat, make_user):
    conversation, client, first, _ = chat
    assert_envelope(edit(client_for(make_user()), conversation, first["message_id"], content="mine"), 403)
    assert_envelope(edit(APIClient(), conversation, first["message_id"], content="mine"), 401)
    envelope = assert_envelope(
        edit(client, conversation, first["assistant_message_id"], content="x"), 409, "CONFLICT"
    )
    assert "message_id" in envelope["details"]  # an answer is not the reader's to edit
    assert_envelope(edit(client, conversation, uuid.uuid4(), content="x"), 404)
    elsewhere = make_conversation(conversation.user)
    assert_envelope(edit(client, elsewhere, first["message_id"], content="x"), 404)
    assert Message.objects.get(id=first["message_id"]).content == "Hello Mr. Darcy"


def test_a_private_conversation_is_404_to_others(chat, make_user):
    conversation, _, first, _ = chat
    Conversation.objects.filter(id=conversation.id).update(visibility="private")
    other = client_for(make_user())
    assert_envelope(edit(other, conversation, first["message_id"], content="x"), 404)
    assert_envelope(delete(other, conversation, first["message_id"]), 404)


def test_edit_while_its_answer_is_being_generated_is_409(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    pending = send(client, conversation).json()
    assert_envelope(edit(client, conversation, pending["message_id"], content="changed"), 409, "CONFLICT")
    Message.objects.filter(id=pending["assistant_message_id"]).update(status="streaming")
    assert_envelope(edit(client, conversation, pending["message_id"], content="changed"), 409, "CONFLICT")
    assert_envelope(delete(client, conversation, pending["message_id"]), 409, "CONFLICT")
    message = Message.objects.get(id=pending["message_id"])
    assert message.content == "What would Elizabeth say?" and message.edited_at is None


def test_edit_with_regenerate_generates_the_last_turn_again(chat, stub_ai):
    conversation, client, _, second = chat
    before = len(stub_ai.requests)
    response = edit(
        client, conversation, second["message_id"], content="How are you, truly?", regenerate=True
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["turn"]["message_id"] == second["message_id"]
    assert body["turn"]["assistant_message_id"] == second["assistant_message_id"]
    assert "ticket=" in body["turn"]["stream_url"]
    assert len(stub_ai.requests) == before + 1
    request = stub_ai.last["body"]
    assert request.user_message == "How are you, truly?" and request.attempt == 2
    assert [m.content for m in request.recent_messages] == ["Hello Mr. Darcy", "Good day."]
    answer = Message.objects.get(id=second["assistant_message_id"])
    assert (answer.status, answer.content, answer.stale) == ("pending", "", False)
    assert [v["content"] for v in answer.alternatives] == ["Very well."]  # the earlier text is kept
    persist(conversation.id, answer.id, "Truly well.", attempt=2)
    last = shown(client, conversation)[-1]
    assert (last["content"], last["alternatives_count"], last["chosen"], last["stale"]) == (
        "Truly well.",
        2,
        1,
        False,
    )


def test_regenerate_alone_answers_the_message_again_as_it_is(chat, stub_ai):
    conversation, client, _, second = chat
    response = edit(client, conversation, second["message_id"], regenerate=True)
    assert response.status_code == 200, response.content
    assert response.json()["message"]["edited_at"] is None
    assert response.json()["turn"]["assistant_message_id"] == second["assistant_message_id"]
    assert stub_ai.last["body"].user_message == "How are you?"
    assert Message.objects.get(id=second["message_id"]).content == "How are you?"


def test_edit_with_regenerate_before_the_last_turn_is_409_and_changes_nothing(chat, stub_ai):
    conversation, client, first, _ = chat
    before = len(stub_ai.requests)
    response = edit(client, conversation, first["message_id"], content="changed", regenerate=True)
    envelope = assert_envelope(response, 409, "CONFLICT")
    assert "last turn" in envelope["message"] and "regenerate" in envelope["details"]
    assert Message.objects.get(id=first["message_id"]).content == "Hello Mr. Darcy"
    assert not any(m["stale"] for m in shown(client, conversation))
    assert len(stub_ai.requests) == before


def test_edit_with_regenerate_counts_against_the_message_limit(chat, settings):
    conversation, client, _, second = chat
    settings.RATE_LIMIT_SCALE = 0.2  # 10 messages a minute -> 2; both already sent
    response = edit(client, conversation, second["message_id"], content="again", regenerate=True)
    assert_envelope(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) > 0
    assert Message.objects.get(id=second["message_id"]).content == "How are you?"
    assert edit(client, conversation, second["message_id"], content="plain edit").status_code == 200


def test_edit_regenerate_when_ai_is_down_keeps_the_edit_and_fails_the_answer(chat, stub_ai):
    conversation, client, _, second = chat
    stub_ai.mode = "refuse"
    response = edit(client, conversation, second["message_id"], content="Changed", regenerate=True)
    assert_envelope(response, 503, "AI_UNAVAILABLE")
    assert Message.objects.get(id=second["message_id"]).content == "Changed"
    answer = Message.objects.get(id=second["assistant_message_id"])
    assert answer.status == "failed" and answer.alternatives[0]["content"] == "Very well."


def test_a_deleted_message_cannot_be_edited(chat):
    conversation, client, first, _ = chat
    assert delete(client, conversation, first["message_id"]).status_code == 204
    assert_envelope(edit(client, conversation, first["message_id"], content="back"), 409, "CONFLICT")


# -- delete -------------------------------------------------------------------------------------


def test_delete_keeps_the_place_empties_the_text_and_marks_answers_stale(chat):
    conversation, client, first, _ = chat
    response = delete(client, conversation, first["message_id"])
    assert response.status_code == 204
    listed = shown(client, conversation)
    assert len(listed) == 4 and [m["position"] for m in listed] == [0, 1, 2, 3]
    assert (listed[0]["deleted"], listed[0]["content"]) == (True, "")
    assert [m["stale"] for m in listed] == [False, True, False, False]
    assert detail_messages(client, conversation)[0]["deleted"] is True
    assert delete(client, conversation, first["message_id"]).status_code == 204  # again: harmless
    assert shown(client, conversation) == listed


def test_delete_takes_the_text_out_of_memory_and_later_prompts_too(chat, make_user):
    conversation, client, first, second = chat
    about_first = MemoryEntry.objects.create(
        conversation=conversation,
        kind="fact",
        text="The reader said hello to Mr. Darcy.",
        source="rule",
        source_message_id=first["assistant_message_id"],
    )
    pinned = MemoryEntry.objects.create(conversation=conversation, kind="pin", text="Mine.", source="reader")
    record = {"messages": [{"role": "user", "content": "Reader: Hello Mr. Darcy"}]}
    for answer in (first["assistant_message_id"], second["assistant_message_id"]):
        MessagePrompt.objects.create(message_id=answer, record=record, produced_in=conversation.id)
    # A prompt another conversation produced (a root's, seen from its fork) is not this one's to drop.
    elsewhere = make_conversation(make_user())
    theirs = Message.objects.create(role="assistant", content="x")
    MessagePrompt.objects.create(message=theirs, record=record, produced_in=elsewhere.id)

    assert delete(client, conversation, first["message_id"]).status_code == 204
    assert not MemoryEntry.objects.filter(id=about_first.id).exists()
    assert MemoryEntry.objects.filter(id=pinned.id).exists()  # the reader's own entries stay
    assert not MessagePrompt.objects.filter(produced_in=conversation.id).exists()
    assert MessagePrompt.objects.filter(message=theirs).exists()


def test_delete_is_the_owners_and_for_user_messages_only(chat, make_user):
    conversation, client, first, _ = chat
    assert_envelope(delete(client_for(make_user()), conversation, first["message_id"]), 403)
    assert_envelope(delete(APIClient(), conversation, first["message_id"]), 401)
    envelope = assert_envelope(delete(client, conversation, first["assistant_message_id"]), 409, "CONFLICT")
    assert "message_id" in envelope["details"]
    assert_envelope(delete(client, conversation, uuid.uuid4()), 404)
    assert Message.objects.get(id=first["message_id"]).deleted is False


# -- what the model is told ---------------------------------------------------------------------


def test_the_model_sees_edited_text_and_never_a_deleted_message(chat, stub_ai):
    conversation, client, first, second = chat
    edit(client, conversation, first["message_id"], content="Hello Mr. Bingley")
    delete(client, conversation, second["message_id"])
    send(client, conversation, "Anything else?")
    history = [m.content for m in stub_ai.last["body"].recent_messages]
    assert history == ["Hello Mr. Bingley", "Good day.", "Very well."]


def test_regenerating_an_answer_to_a_deleted_message_sends_no_user_message(chat, stub_ai):
    conversation, client, _, second = chat
    delete(client, conversation, second["message_id"])
    response = client.post(message_url(conversation, second["assistant_message_id"], "/regenerate"))
    assert response.status_code == 202, response.content
    request = stub_ai.last["body"]
    assert request.user_message_id is None and request.user_message == ""
    assert [m.content for m in request.recent_messages] == ["Hello Mr. Darcy", "Good day."]


def test_the_internal_context_leaves_deleted_messages_out(chat):
    conversation, client, first, _ = chat
    delete(client, conversation, first["message_id"])
    response = internal_client().get(f"/api/internal/conversations/{conversation.id}/context")
    assert response.status_code == 200, response.content
    assert first["message_id"] not in [m["id"] for m in response.json()["messages"]]


# -- rows shared with a fork ---------------------------------------------------------------------


def test_editing_a_message_a_fork_shares_copies_it_and_the_fork_never_changes(chat, make_user):
    conversation, client, first, _ = chat
    fork = fork_of(make_user(), conversation)
    fork_before = shown(APIClient(), fork)
    response = edit(client, conversation, first["message_id"], content="Hello, changed")
    assert response.status_code == 200, response.content
    copy_id = response.json()["message"]["id"]
    assert copy_id != first["message_id"]
    assert shown(APIClient(), fork) == fork_before  # content, ids and staleness as they were
    root = shown(client, conversation)
    assert root[0]["id"] == copy_id and root[0]["content"] == "Hello, changed"
    assert root[1]["stale"] is True and root[1]["id"] != first["assistant_message_id"]  # copied too
    assert root[1]["content"] == "Good day." and root[1]["created_at"] == fork_before[1]["created_at"]
    assert root[2]["id"] == fork_before[2]["id"]  # untouched rows stay shared
    original = Message.objects.get(id=first["message_id"])
    assert original.content == "Hello Mr. Darcy" and original.edited_at is None
    # The copy is the root's own: editing it again changes it in place.
    again = edit(client, conversation, copy_id, content="Third text").json()["message"]
    assert again["id"] == copy_id


def test_a_fork_editing_a_shared_message_leaves_the_root_alone(chat, make_user):
    conversation, client, _, second = chat
    forker = make_user()
    fork = fork_of(forker, conversation)
    root_before = shown(client, conversation)
    assert delete(client_for(forker), fork, second["message_id"]).status_code == 204
    assert shown(client, conversation) == root_before
    forked = shown(client_for(forker), fork)
    assert forked[2]["deleted"] is True and forked[2]["id"] != second["message_id"]
    assert forked[3]["stale"] is True
    links = ConversationMessageLink.objects.filter(message_id=second["message_id"])
    assert list(links.values_list("conversation_id", flat=True)) == [conversation.id]


def test_deleting_the_root_keeps_a_forks_copies_and_drops_the_roots(chat, make_user):
    conversation, client, first, _ = chat
    fork = fork_of(make_user(), conversation)
    copy_id = edit(client, conversation, first["message_id"], content="changed").json()["message"]["id"]
    assert client.delete(url(conversation)).status_code == 204
    assert not Message.objects.filter(id=copy_id).exists()
    assert Message.objects.get(id=first["message_id"]).content == "Hello Mr. Darcy"
    assert shown(APIClient(), fork)[0]["id"] == first["message_id"]


def test_a_copy_takes_this_conversations_memory_markers_and_prompt_only_if_its_own(chat, make_user):
    """own_copy: relationship history rows naming the answer follow it to its
    copy (so a later rewrite can undo them), and a prompt another
    conversation produced never goes with the copy."""
    from django.db import transaction

    from conversations import versions

    conversation, _, first, _ = chat
    fork = fork_of(make_user(), conversation)
    answer_id = first["assistant_message_id"]
    assert ConversationMessageLink.objects.filter(conversation=fork, message_id=answer_id).exists()
    row = MemoryEntry.objects.create(
        conversation=fork,
        kind="relationship",
        subject="Elizabeth",
        target="Darcy",
        text="Elizabeth warms to Darcy.",
        value=10,
        history=[{"change": 10, "source_message_id": str(answer_id)}],
        source="rule",
    )
    MessagePrompt.objects.create(message_id=answer_id, record={"messages": []}, produced_in=conversation.id)
    with transaction.atomic():
        copy = versions.own_copy(fork.id, versions.locked_message(answer_id))
    assert copy.id != answer_id
    row.refresh_from_db()
    assert row.history == [{"change": 10, "source_message_id": str(copy.id)}]
    assert not MessagePrompt.objects.filter(message_id=copy.id).exists()
    assert MessagePrompt.objects.filter(message_id=answer_id).exists()  # the root keeps its own
