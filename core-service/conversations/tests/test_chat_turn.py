"""The core half of the chat turn, against a stub ai server (a real HTTP
server): send, ai down, regenerate, and the internal context/persist API."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.conf import settings
from gaji_contracts.auth import JWT_ISSUER
from gaji_contracts.conversations import STREAM_TICKET_AUDIENCE, StreamTicketClaims
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations.models import Conversation, Message
from conversations.tests.helpers import (
    CONVERSATIONS,
    add_exchanges,
    client_for,
    internal_client,
    make_conversation,
    messages_of,
    send,
)
from novels.models import Novel
from scenarios.tests.helpers import make_scenario

pytestmark = pytest.mark.django_db


# -- send ---------------------------------------------------------------------------


def test_send_stores_both_messages_and_hands_the_turn_to_ai(user, stub_ai):
    conversation = make_conversation(user)
    response = send(client_for(user), conversation)
    assert response.status_code == 202, response.content
    body = response.json()
    user_message, assistant = messages_of(conversation)
    assert body["message_id"] == str(user_message.id)
    assert body["assistant_message_id"] == str(assistant.id)
    assert user_message.role == "user" and user_message.content == "What would Elizabeth say?"
    assert assistant.role == "assistant" and assistant.status == "pending" and assistant.content == ""
    assert Conversation.objects.get(id=conversation.id).message_count == 2

    sent = stub_ai.last
    request = sent["body"]
    assert sent["headers"]["Authorization"] == f"Bearer {settings.SERVICE_TOKEN}"
    assert sent["headers"]["X-Request-ID"] == response["X-Request-ID"]
    assert request.conversation_id == conversation.id
    assert request.user_message_id == user_message.id
    assert request.assistant_message_id == assistant.id
    assert request.user_id == user.id
    assert request.user_message == "What would Elizabeth say?"
    assert request.scenario.id == conversation.scenario_id
    assert request.scenario.parameters == conversation.scenario.parameters
    assert request.novel_id is None  # harry_potter has no ingested novel
    assert request.recent_messages == []
    assert request.attempt == 1


def test_stream_url_is_absolute_on_ai_with_a_signed_ticket_bound_to_the_turn(user, stub_ai):
    conversation = make_conversation(user)
    body = send(client_for(user), conversation).json()
    url = urlsplit(body["stream_url"])
    assert f"{url.scheme}://{url.netloc}" == "https://ai.gaji.test"
    assert url.path == f"/api/ai/conversations/{conversation.id}/stream"
    query = parse_qs(url.query)
    assert query["message_id"] == [body["assistant_message_id"]]
    ticket = query["ticket"][0]
    header = jwt.get_unverified_header(ticket)
    assert header["kid"] == settings.JWT_SIGNING_KEY.kid
    claims = StreamTicketClaims.model_validate(
        jwt.decode(
            ticket,
            settings.JWT_SIGNING_KEY.public_pem,
            algorithms=["RS256"],
            audience=STREAM_TICKET_AUDIENCE,
            issuer=JWT_ISSUER,
        )
    )
    assert claims.sub == str(user.id)
    assert claims.conversation_id == str(conversation.id)
    assert claims.message_id == body["assistant_message_id"]
    assert 0 < claims.exp - claims.iat <= 300


def test_a_stream_ticket_is_not_an_access_token(user, stub_ai):
    conversation = make_conversation(user)
    ticket = parse_qs(urlsplit(send(client_for(user), conversation).json()["stream_url"]).query)["ticket"][0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ticket}")
    response = client.put(f"{CONVERSATIONS}/{conversation.id}", {"title": "hijack"}, format="json")
    assert_envelope(response, 401)


def test_history_sent_to_ai_is_the_completed_messages_before_the_new_one(user, stub_ai, settings):
    settings.CHAT_HISTORY_MESSAGES = 4
    conversation = make_conversation(user)
    earlier = add_exchanges(conversation, 6)
    Message.objects.filter(id=earlier[5].id).update(status="failed", content="")
    send(client_for(user), conversation)
    history = stub_ai.last["body"].recent_messages
    assert [m.id for m in history] == [m.id for m in earlier[1:5]]
    assert [m.role for m in history] == ["assistant", "user", "assistant", "user"]


def test_grounded_scenario_sends_its_ingested_novel(user, stub_ai):
    novel = Novel.objects.create(
        slug="pride-and-prejudice", title="Pride and Prejudice", ingestion_status="completed"
    )
    conversation = make_conversation(user, make_scenario(user, base_story="pride-and-prejudice"))
    send(client_for(user), conversation)
    assert stub_ai.last["body"].novel_id == novel.id


def test_novel_not_yet_ingested_is_not_grounded(user, stub_ai):
    Novel.objects.create(slug="emma", title="Emma", ingestion_status="processing")
    conversation = make_conversation(user, make_scenario(user, base_story="emma"))
    send(client_for(user), conversation)
    assert stub_ai.last["body"].novel_id is None


def test_novel_whose_vectors_are_missing_is_not_grounded(user, stub_ai):
    """ai found the novel's passages gone (gaji_ai.novels.reconcile): turns on
    it are sent without the novel, not pretending to be grounded."""
    Novel.objects.create(slug="emma", title="Emma", ingestion_status="missing", total_passages=900)
    conversation = make_conversation(user, make_scenario(user, base_story="emma"))
    send(client_for(user), conversation)
    assert stub_ai.last["body"].novel_id is None


def test_model_choice_is_passed_to_ai_and_recorded(user, stub_ai):
    conversation = make_conversation(user)
    body = send(client_for(user), conversation, model="smollm2-135m-instruct").json()
    assert stub_ai.last["body"].model == "smollm2-135m-instruct"
    assert Message.objects.get(id=body["assistant_message_id"]).model == "smollm2-135m-instruct"


def test_only_the_owner_can_send(make_user, stub_ai):
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner)
    assert_envelope(send(client_for(other), conversation), 403, "PERMISSION_DENIED")
    assert_envelope(send(APIClient(), conversation), 401)
    assert Message.objects.count() == 0
    assert stub_ai.requests == []


def test_unknown_conversation_is_404(user, stub_ai):
    response = client_for(user).post(
        f"{CONVERSATIONS}/{uuid.uuid4()}/messages", {"content": "hi"}, format="json"
    )
    assert_envelope(response, 404)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   \n "}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"content": "nul\x00byte"}, "content"),
        ({"content": 42}, "content"),
        ({"content": "hi", "role": "assistant"}, "role"),
        ({"content": "hi", "model": "m" * 101}, "model"),
    ],
)
def test_bad_message_bodies_are_400_and_store_nothing(user, stub_ai, payload, field):
    conversation = make_conversation(user)
    response = client_for(user).post(f"{CONVERSATIONS}/{conversation.id}/messages", payload, format="json")
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["details"]
    assert Message.objects.count() == 0


def test_4000_characters_is_accepted(user, stub_ai):
    conversation = make_conversation(user)
    assert send(client_for(user), conversation, content="é" * 4000).status_code == 202


def test_ten_messages_per_minute_then_429_with_headers(user, stub_ai, settings):
    settings.RATE_LIMIT_SCALE = 1.0
    conversation = make_conversation(user)
    client = client_for(user)
    for _ in range(10):
        assert send(client, conversation).status_code == 202
    response = send(client, conversation)
    assert_envelope(response, 429, "RATE_LIMITED")
    assert response["X-RateLimit-Limit"] == "10"
    assert response["X-RateLimit-Remaining"] == "0"
    assert int(response["Retry-After"]) > 0
    assert Conversation.objects.get(id=conversation.id).message_count == 20


# -- ai down ------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["down", "refuse", "slow", "garbage"])
def test_ai_unavailable_is_503_and_keeps_the_users_message(user, stub_ai, failure):
    if failure == "down":
        stub_ai.down()
    else:
        stub_ai.mode = failure
    conversation = make_conversation(user)
    response = send(client_for(user), conversation, content="Keep me")
    body = assert_envelope(response, 503, "AI_UNAVAILABLE")
    assert response["Retry-After"]
    user_message, assistant = messages_of(conversation)
    assert body["message_id"] == str(user_message.id)
    assert body["assistant_message_id"] == str(assistant.id)
    assert user_message.content == "Keep me" and user_message.status == "completed"
    assert assistant.status == "failed" and assistant.error_code == "AI_UNAVAILABLE"
    assert "127.0.0.1" not in response.content.decode()  # no internals leak


def test_regenerate_after_ai_comes_back(user, stub_ai):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user)
    client = client_for(user)
    failed = send(client, conversation).json()
    stub_ai.mode = "accept"
    response = client.post(
        f"{CONVERSATIONS}/{conversation.id}/messages/{failed['assistant_message_id']}/regenerate",
        format="json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["message_id"] == failed["message_id"]
    assert body["assistant_message_id"] == failed["assistant_message_id"]
    assert "ticket=" in body["stream_url"]
    assistant = Message.objects.get(id=failed["assistant_message_id"])
    assert assistant.status == "pending" and assistant.attempt == 2 and assistant.error_code == ""
    request = stub_ai.last["body"]
    assert request.attempt == 2
    assert str(request.user_message_id) == failed["message_id"]
    assert request.user_message == "What would Elizabeth say?"
    assert Conversation.objects.get(id=conversation.id).message_count == 2  # nothing new linked


def test_regenerate_refuses_answers_being_generated_and_user_messages(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    url = f"{CONVERSATIONS}/{conversation.id}/messages/{turn['assistant_message_id']}/regenerate"
    assert_envelope(client.post(url), 409, "CONFLICT")  # pending
    Message.objects.filter(id=turn["assistant_message_id"]).update(status="streaming")
    assert_envelope(client.post(url), 409, "CONFLICT")
    Message.objects.filter(id=turn["assistant_message_id"]).update(status="completed", content="done")
    assert client.post(url).status_code == 202  # a completed answer: kept as a version (test_alternatives)
    user_url = f"{CONVERSATIONS}/{conversation.id}/messages/{turn['message_id']}/regenerate"
    assert_envelope(client.post(user_url), 409, "CONFLICT")  # a user message has no answer to redo


def test_regenerate_is_owner_only_and_message_must_belong(make_user, stub_ai):
    owner, other = make_user(), make_user()
    stub_ai.mode = "refuse"
    conversation = make_conversation(owner)
    turn = send(client_for(owner), conversation).json()
    url = f"{CONVERSATIONS}/{conversation.id}/messages/{turn['assistant_message_id']}/regenerate"
    assert_envelope(client_for(other).post(url), 403)
    elsewhere = make_conversation(owner)
    wrong = f"{CONVERSATIONS}/{elsewhere.id}/messages/{turn['assistant_message_id']}/regenerate"
    assert_envelope(client_for(owner).post(wrong), 404)


def test_regenerate_when_ai_is_still_down_is_503_again(user, stub_ai):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user)
    client = client_for(user)
    failed = send(client, conversation).json()
    response = client.post(
        f"{CONVERSATIONS}/{conversation.id}/messages/{failed['assistant_message_id']}/regenerate"
    )
    assert_envelope(response, 503, "AI_UNAVAILABLE")
    assert Message.objects.get(id=failed["assistant_message_id"]).status == "failed"


# -- internal API -----------------------------------------------------------------------------


def persist(conversation_id, **body):
    return internal_client().post(
        f"/api/internal/conversations/{conversation_id}/messages", body, format="json"
    )


def completion(message_id, **overrides):
    return {
        "message_id": str(message_id),
        "role": "assistant",
        "content": "Elizabeth would laugh.",
        "status": "completed",
        "model": "smollm2-135m",
        "total_tokens": 42,
        "degraded": False,
        **overrides,
    }


def test_persist_completes_the_pending_answer_once(user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    first = persist(conversation.id, **completion(turn["assistant_message_id"]))
    assert first.status_code == 200, first.content
    assert first.json() == {
        "message_id": turn["assistant_message_id"],
        "status": "completed",
        "applied": True,
    }
    again = persist(
        conversation.id, **completion(turn["assistant_message_id"], content="different", total_tokens=99)
    )
    assert again.json()["applied"] is False
    message = Message.objects.get(id=turn["assistant_message_id"])
    assert message.content == "Elizabeth would laugh." and message.total_tokens == 42
    assert message.model == "smollm2-135m" and message.completed_at is not None
    assert Conversation.objects.get(id=conversation.id).total_tokens == 42  # not 84, not 141
    assert Message.objects.count() == 2


def test_persist_records_whether_the_answer_was_grounded(user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    pending = client_for(user).get(f"/api/v1/conversations/{conversation.id}/messages").json()
    assert pending["content"][-1]["grounded"] is None  # not answered yet
    persist(conversation.id, **completion(turn["assistant_message_id"], grounded=False))
    history = client_for(user).get(f"/api/v1/conversations/{conversation.id}/messages").json()
    assert history["content"][-1]["grounded"] is False
    assert Message.objects.get(id=turn["assistant_message_id"]).grounded is False


def test_persist_cancelled_keeps_the_partial_text_and_allows_regenerate(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    persist(conversation.id, **completion(turn["assistant_message_id"], status="cancelled", content="Eliza"))
    message = Message.objects.get(id=turn["assistant_message_id"])
    assert (message.status, message.content) == ("cancelled", "Eliza")
    url = f"{CONVERSATIONS}/{conversation.id}/messages/{turn['assistant_message_id']}/regenerate"
    assert client.post(url).status_code == 202


def test_a_stale_attempt_is_ignored_after_regenerate(user, stub_ai):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    stub_ai.mode = "accept"
    client.post(f"{CONVERSATIONS}/{conversation.id}/messages/{turn['assistant_message_id']}/regenerate")
    stale = persist(conversation.id, **completion(turn["assistant_message_id"], attempt=1))
    assert stale.json()["applied"] is False
    assert Message.objects.get(id=turn["assistant_message_id"]).status == "pending"
    fresh = persist(conversation.id, **completion(turn["assistant_message_id"], attempt=2))
    assert fresh.json()["applied"] is True


def test_a_failed_answer_still_accepts_a_late_completion(user, stub_ai):
    # core gave up (timeout) yet ai had taken the turn: its answer is kept.
    stub_ai.mode = "slow"
    stub_ai.slow_seconds = 1.0
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation)
    assert turn.status_code == 503
    assistant_id = turn.json()["assistant_message_id"]
    assert persist(conversation.id, **completion(assistant_id)).json()["applied"] is True
    assert Message.objects.get(id=assistant_id).status == "completed"


def test_streaming_progress_then_completion(user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    progress = persist(
        conversation.id, message_id=turn["assistant_message_id"], status="streaming", model="m"
    )
    assert progress.json() == {
        "message_id": turn["assistant_message_id"],
        "status": "streaming",
        "applied": True,
    }
    assert persist(conversation.id, **completion(turn["assistant_message_id"])).json()["applied"] is True


def test_persist_refuses_user_messages_unknown_ids_and_other_conversations(user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    assert_envelope(persist(conversation.id, **completion(turn["message_id"])), 409, "CONFLICT")
    assert_envelope(persist(conversation.id, **completion(uuid.uuid4())), 404)
    other = make_conversation(user)
    assert_envelope(persist(other.id, **completion(turn["assistant_message_id"])), 404)
    assert_envelope(persist(uuid.uuid4(), **completion(turn["assistant_message_id"])), 404)
    assert Message.objects.get(id=turn["message_id"]).content == "What would Elizabeth say?"


@pytest.mark.parametrize(
    "override, field",
    [
        ({"status": "pending"}, "status"),
        ({"role": "user"}, "role"),
        ({"total_tokens": -1}, "total_tokens"),
        ({"message_id": "not-a-uuid"}, "message_id"),
        ({"content": "x" * 100_001}, "content"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_persist_validates_its_contract(user, stub_ai, override, field):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    payload = {**completion(turn["assistant_message_id"]), **override}
    body = assert_envelope(persist(conversation.id, **payload), 400)
    assert field in body["details"]
    assert Message.objects.get(id=turn["assistant_message_id"]).status == "pending"


def test_internal_routes_refuse_users_and_anonymous(user, stub_ai):
    conversation = make_conversation(user)
    path = f"/api/internal/conversations/{conversation.id}/context"
    assert_envelope(APIClient().get(path), 401)
    assert_envelope(client_for(user).get(path), 403, "SERVICE_TOKEN_REQUIRED")
    assert_envelope(client_for(user).post(f"/api/internal/conversations/{conversation.id}/messages", {}), 403)


def test_context_has_scenario_novel_owner_and_last_messages(user, stub_ai):
    novel = Novel.objects.create(
        slug="emma", title="Emma", author="Jane Austen", ingestion_status="completed"
    )
    conversation = make_conversation(user, make_scenario(user, base_story="emma"))
    messages = add_exchanges(conversation, 30)
    response = internal_client().get(f"/api/internal/conversations/{conversation.id}/context?messages=5")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["conversation"]["id"] == str(conversation.id)
    assert body["conversation"]["message_count"] == 30
    assert body["scenario"]["id"] == str(conversation.scenario_id)
    assert body["novel"] == {
        "id": str(novel.id),
        "slug": "emma",
        "title": "Emma",
        "author": "Jane Austen",
        "ingestion_status": "completed",
    }
    assert body["owner"] == {"id": str(user.id), "username": user.username}
    assert [m["id"] for m in body["messages"]] == [str(m.id) for m in messages[-5:]]
    assert_envelope(
        internal_client().get(f"/api/internal/conversations/{conversation.id}/context?messages=101"), 400
    )
    assert_envelope(internal_client().get(f"/api/internal/conversations/{uuid.uuid4()}/context"), 404)


def test_context_with_a_message_id_is_404_unless_the_conversation_shows_it(make_user, stub_ai):
    """ai's Bearer stream route asks this way: owning conversation X must not
    open a message of conversation Y."""
    mine = make_conversation(make_user())
    theirs = make_conversation(make_user())
    [shown] = add_exchanges(mine, 1)
    [elsewhere] = add_exchanges(theirs, 1)
    context = f"/api/internal/conversations/{mine.id}/context"
    ok = internal_client().get(context, {"messages": 0, "message_id": str(shown.id)})
    assert ok.status_code == 200 and ok.json()["owner"]["id"] == str(mine.user_id)
    for message_id in (elsewhere.id, uuid.uuid4()):
        assert_envelope(internal_client().get(context, {"messages": 0, "message_id": str(message_id)}), 404)
    assert_envelope(internal_client().get(context, {"message_id": "nope"}), 400)
