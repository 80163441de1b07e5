"""Regenerating a completed answer keeps its earlier text as a version;
GET/PUT .../alternatives lists the versions and chooses the one shown,
which is what the model is told and what later forks share."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations.models import Conversation, Message
from conversations.tests.helpers import client_for, make_conversation, send
from conversations.tests.message_helpers import message_url, persist, shown, turn, url
from conversations.versions import MAX_VERSIONS

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    first = turn(client, conversation, "Hello Mr. Darcy", "Good day.")
    return conversation, client, first


def regenerate(client, conversation, message_id, **body):
    return client.post(message_url(conversation, message_id, "/regenerate"), body, format="json")


def alternatives(client, conversation, message_id):
    return client.get(message_url(conversation, message_id, "/alternatives"))


def choose(client, conversation, message_id, index):
    return client.put(message_url(conversation, message_id, "/alternatives"), {"index": index}, format="json")


def regenerated(client, conversation, message_id, text: str) -> str:
    """Regenerate an answer and complete the new attempt with `text`; returns its id."""
    response = regenerate(client, conversation, message_id)
    assert response.status_code == 202, response.content
    answer_id = response.json()["assistant_message_id"]
    attempt = Message.objects.get(id=answer_id).attempt
    persist(conversation.id, answer_id, text, attempt=attempt)
    return answer_id


def test_regenerating_a_completed_answer_keeps_its_text_as_a_version(chat, stub_ai):
    conversation, client, first = chat
    answer_id = first["assistant_message_id"]
    response = regenerate(client, conversation, answer_id)
    assert response.status_code == 202, response.content
    assert response.json()["assistant_message_id"] == answer_id
    assert stub_ai.last["body"].attempt == 2
    assert stub_ai.last["body"].user_message == "Hello Mr. Darcy"
    pending = shown(client, conversation)[1]
    assert (pending["status"], pending["content"], pending["alternatives_count"], pending["chosen"]) == (
        "pending",
        "",
        1,
        None,
    )
    persist(conversation.id, answer_id, "Good evening.", attempt=2, total_tokens=30)
    done = shown(client, conversation)[1]
    assert (done["content"], done["alternatives_count"], done["chosen"]) == ("Good evening.", 2, 1)
    body = alternatives(APIClient(), conversation, answer_id).json()  # readable by anyone, like the text
    assert body["chosen"] == 1
    assert [(i["index"], i["content"], i["total_tokens"]) for i in body["items"]] == [
        (0, "Good day.", 12),
        (1, "Good evening.", 30),
    ]
    assert all(i["completed_at"] and i["model"] == "smollm2-135m" for i in body["items"])
    assert body["items"][0]["citations"] == [] and body["items"][0]["grounded"] is None


def test_an_answer_never_regenerated_has_no_versions(chat):
    conversation, client, first = chat
    body = alternatives(client, conversation, first["assistant_message_id"]).json()
    assert body == {"chosen": None, "items": []}


def test_a_failed_attempt_is_not_a_version(user, stub_ai):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user)
    client = client_for(user)
    failed = send(client, conversation).json()
    stub_ai.mode = "accept"
    answer_id = regenerated(client, conversation, failed["assistant_message_id"], "At last.")
    last = shown(client, conversation)[-1]
    assert (last["content"], last["alternatives_count"], last["chosen"]) == ("At last.", 0, None)
    # Completed then regenerated into a failure: the completed text stays the only version kept.
    stub_ai.mode = "refuse"
    assert_envelope(regenerate(client, conversation, answer_id), 503, "AI_UNAVAILABLE")
    stub_ai.mode = "accept"
    regenerated(client, conversation, answer_id, "Once more.")
    items = alternatives(client, conversation, answer_id).json()["items"]
    assert [i["content"] for i in items] == ["At last.", "Once more."]


def test_choosing_a_version_shows_it_and_the_model_is_told_of_it(chat, stub_ai):
    conversation, client, first = chat
    answer_id = first["assistant_message_id"]
    regenerated(client, conversation, answer_id, "Good evening.")
    response = choose(client, conversation, answer_id, 0)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["content"], body["chosen"], body["alternatives_count"]) == (
        answer_id,
        "Good day.",
        0,
        2,
    )
    assert body["status"] == "completed" and body["position"] == 1
    assert shown(client, conversation)[1]["content"] == "Good day."
    send(client, conversation, "And then?")
    assert [m.content for m in stub_ai.last["body"].recent_messages] == ["Hello Mr. Darcy", "Good day."]
    # Regenerating again adds a third version; the shown one is not kept twice.
    regenerated(client, conversation, answer_id, "Hm.")
    items = alternatives(client, conversation, answer_id).json()
    assert [i["content"] for i in items["items"]] == ["Good day.", "Good evening.", "Hm."]
    assert items["chosen"] == 2


def test_choose_refuses_what_it_should(chat, make_user):
    conversation, client, first = chat
    answer_id = first["assistant_message_id"]
    envelope = assert_envelope(choose(client, conversation, answer_id, 0), 409, "CONFLICT")
    assert "index" in envelope["details"]  # a single version: nothing to choose
    regenerated(client, conversation, answer_id, "Good evening.")
    envelope = assert_envelope(choose(client, conversation, answer_id, 2), 409, "CONFLICT")
    assert "index" in envelope["details"]  # a well-formed index this answer has no version for
    for index in (-1, "x", None, MAX_VERSIONS):
        envelope = assert_envelope(choose(client, conversation, answer_id, index), 400, "VALIDATION_ERROR")
        assert "index" in envelope["details"], index
    extra = client.put(
        message_url(conversation, answer_id, "/alternatives"), {"index": 0, "content": "x"}, format="json"
    )
    assert_envelope(extra, 400, "VALIDATION_ERROR")
    assert_envelope(choose(client_for(make_user()), conversation, answer_id, 0), 403)
    assert_envelope(choose(APIClient(), conversation, answer_id, 0), 401)
    assert_envelope(choose(client, conversation, first["message_id"], 0), 409, "CONFLICT")
    assert_envelope(alternatives(client, conversation, first["message_id"]), 409, "CONFLICT")
    assert_envelope(choose(client, conversation, uuid.uuid4(), 0), 404)
    assert_envelope(alternatives(client, conversation, uuid.uuid4()), 404)
    assert Message.objects.get(id=answer_id).content == "Good evening."


def test_choosing_while_the_answer_is_generated_is_409(chat):
    conversation, client, first = chat
    answer_id = first["assistant_message_id"]
    regenerated(client, conversation, answer_id, "Good evening.")
    assert regenerate(client, conversation, answer_id).status_code == 202  # pending again
    assert_envelope(choose(client, conversation, answer_id, 0), 409, "CONFLICT")


def test_versions_of_a_private_conversation_are_404_to_others(chat, make_user):
    conversation, client, first = chat
    Conversation.objects.filter(id=conversation.id).update(visibility="private")
    answer_id = first["assistant_message_id"]
    assert_envelope(alternatives(APIClient(), conversation, answer_id), 404)
    assert_envelope(alternatives(client_for(make_user()), conversation, answer_id), 404)
    assert_envelope(choose(client_for(make_user()), conversation, answer_id, 0), 404)
    assert alternatives(client, conversation, answer_id).status_code == 200


def test_versions_are_capped(chat):
    conversation, client, first = chat
    answer_id = first["assistant_message_id"]
    regenerated(client, conversation, answer_id, "v1")
    message = Message.objects.get(id=answer_id)
    versions = [{**message.alternatives[0], "content": f"v{i}"} for i in range(MAX_VERSIONS)]
    Message.objects.filter(id=answer_id).update(alternatives=versions, chosen=MAX_VERSIONS - 1)
    envelope = assert_envelope(regenerate(client, conversation, answer_id), 409, "CONFLICT")
    assert str(MAX_VERSIONS) in envelope["message"]
    assert Message.objects.get(id=answer_id).status == "completed"
    assert choose(client, conversation, answer_id, 3).json()["content"] == "v3"


def test_regenerating_an_answer_a_fork_shares_copies_it_first(chat, make_user):
    conversation, client, first = chat
    forker = make_user()
    fork_id = client_for(forker).post(url(conversation, "/fork"), {}, format="json").json()["id"]
    fork = Conversation.objects.get(id=fork_id)
    answer_id = first["assistant_message_id"]
    response = regenerate(client, conversation, answer_id)
    assert response.status_code == 202, response.content
    copy_id = response.json()["assistant_message_id"]
    assert copy_id != answer_id
    assert "message_id=" + copy_id in response.json()["stream_url"]
    persist(conversation.id, copy_id, "Good evening.", attempt=2)
    assert shown(client, conversation)[1]["content"] == "Good evening."
    kept = shown(APIClient(), fork)[1]
    assert (kept["id"], kept["content"], kept["alternatives_count"]) == (answer_id, "Good day.", 0)
    # ai finishing the regenerated copy never touches the fork's row.
    assert Message.objects.get(id=answer_id).attempt == 1


def test_forks_made_after_a_choice_share_the_chosen_version_and_earlier_forks_keep_theirs(chat, make_user):
    conversation, client, first = chat
    answer_id = first["assistant_message_id"]
    regenerated(client, conversation, answer_id, "Good evening.")
    early = client_for(make_user()).post(url(conversation, "/fork"), {}, format="json").json()["id"]
    chosen = choose(client, conversation, answer_id, 0).json()
    assert chosen["id"] != answer_id  # the early fork shares the row: copied first
    late = client_for(make_user()).post(url(conversation, "/fork"), {}, format="json").json()["id"]
    assert shown(APIClient(), Conversation.objects.get(id=early))[1]["content"] == "Good evening."
    late_answer = shown(APIClient(), Conversation.objects.get(id=late))[1]
    assert (late_answer["content"], late_answer["chosen"]) == ("Good day.", 0)


def test_a_regenerated_answer_is_no_longer_stale(chat):
    conversation, client, first = chat
    client.patch(message_url(conversation, first["message_id"]), {"content": "Hi"}, format="json")
    assert shown(client, conversation)[1]["stale"] is True
    regenerated(client, conversation, first["assistant_message_id"], "Hi to you.")
    answer = shown(client, conversation)[1]
    assert answer["stale"] is False
    # The version that answered the old text stays stale when chosen again.
    chosen = choose(client, conversation, first["assistant_message_id"], 0).json()
    assert (chosen["content"], chosen["stale"]) == ("Good day.", True)
