"""The chat turn's extras, against the stub ai server (a real HTTP server):
the character addressed, model validation, cancel, and the internal turn
creation behind ai's direct endpoint."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from gaji_contracts.conversations import GenerationRequest, turns_path
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

MODEL = "smollm2-135m-instruct"  # the stub's default list


def regenerate(client, conversation, message_id, **body):
    return client.post(
        f"{CONVERSATIONS}/{conversation.id}/messages/{message_id}/regenerate", body, format="json"
    )


def cancel(client, conversation, message_id):
    return client.post(f"{CONVERSATIONS}/{conversation.id}/messages/{message_id}/cancel")


# -- character --------------------------------------------------------------------------


def test_character_is_stripped_and_passed_to_ai(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    assert send(client, conversation, character="  Mr. Darcy ").status_code == 202
    assert stub_ai.last["body"].character == "Mr. Darcy"
    assert [a.speaker.name for a in stub_ai.last["body"].answers] == ["Mr. Darcy"]
    assert send(client, conversation).status_code == 202
    # Unaddressed, the scene answers: here, the scenario's character.
    (answer,) = stub_ai.last["body"].answers
    assert (answer.speaker.kind, answer.speaker.name) == ("character", "Hermione Granger")


def test_regenerate_takes_a_character_too(user, stub_ai):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user)
    client = client_for(user)
    failed = send(client, conversation, character="Elizabeth").json()
    stub_ai.mode = "accept"
    response = regenerate(client, conversation, failed["assistant_message_id"], character="Mr. Collins")
    assert response.status_code == 202, response.content
    assert stub_ai.last["body"].character == "Mr. Collins"


@pytest.mark.parametrize("character", ["", "   ", "x" * 101, 42, None, "nul\x00"])
def test_bad_characters_are_400_and_store_nothing(user, stub_ai, character):
    conversation = make_conversation(user)
    body = assert_envelope(send(client_for(user), conversation, character=character), 400, "VALIDATION_ERROR")
    assert "character" in body["details"]
    assert Message.objects.count() == 0
    assert stub_ai.requests == []


def test_100_character_name_is_accepted(user, stub_ai):
    conversation = make_conversation(user)
    assert send(client_for(user), conversation, character="D" * 100).status_code == 202
    assert stub_ai.last["body"].character == "D" * 100


# -- model validation -----------------------------------------------------------------------


def test_unknown_model_is_400_and_nothing_is_stored(user, stub_ai):
    stub_ai.models = ["smollm2-135m-instruct", "gpt-4o-mini"]
    conversation = make_conversation(user)
    response = send(client_for(user), conversation, model="gpt-5")
    body = assert_envelope(response, 400, "INVALID_MODEL")
    assert body["message"] == "Unknown model. Available: smollm2-135m-instruct, gpt-4o-mini."
    assert body["details"] == {"model": ["Must be one of: smollm2-135m-instruct, gpt-4o-mini."]}
    assert Conversation.objects.get(id=conversation.id).message_count == 0
    assert Message.objects.count() == 0
    assert stub_ai.requests == []


def test_model_list_is_read_without_the_service_token_and_cached(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    first = send(client, conversation, model=MODEL)
    assert first.status_code == 202, first.content
    assert send(client, conversation, model=MODEL).status_code == 202
    (seen,) = stub_ai.model_requests  # the second send used the cached list
    assert "Authorization" not in seen  # ai's public routes refuse the service token
    assert seen["X-Request-ID"] == first["X-Request-ID"]
    assert send(client, conversation).status_code == 202  # no model: no check
    assert len(stub_ai.model_requests) == 1


def test_model_list_unavailable_skips_the_check(user, stub_ai):
    stub_ai.models = None  # GET /api/ai/models answers 503
    conversation = make_conversation(user)
    response = send(client_for(user), conversation, model="anything")
    assert response.status_code == 202, response.content
    assert stub_ai.last["body"].model == "anything"


def test_model_list_unreachable_then_dispatch_fails_503(user, stub_ai):
    stub_ai.down()
    conversation = make_conversation(user)
    response = send(client_for(user), conversation, model=MODEL)
    assert_envelope(response, 503, "AI_UNAVAILABLE")
    assert Conversation.objects.get(id=conversation.id).message_count == 2


def test_ownership_is_checked_before_the_model(make_user, stub_ai):
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner)
    assert_envelope(send(client_for(other), conversation, model="gpt-5"), 403, "PERMISSION_DENIED")
    response = client_for(owner).post(
        f"{CONVERSATIONS}/{uuid.uuid4()}/messages", {"content": "hi", "model": "gpt-5"}, format="json"
    )
    assert_envelope(response, 404)
    assert stub_ai.model_requests == []


def test_regenerate_with_an_unknown_model_is_400_and_changes_nothing(user, stub_ai):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user)
    client = client_for(user)
    failed = send(client, conversation).json()
    stub_ai.mode = "accept"
    body = assert_envelope(
        regenerate(client, conversation, failed["assistant_message_id"], model="gpt-5"), 400
    )
    assert body["code"] == "INVALID_MODEL" and "model" in body["details"]
    assistant = Message.objects.get(id=failed["assistant_message_id"])
    assert (assistant.status, assistant.attempt, assistant.error_code) == ("failed", 1, "AI_UNAVAILABLE")


def test_ai_refusing_the_model_on_enqueue_keeps_the_message_then_regenerate_works(user, stub_ai):
    # ai's configuration changed after core cached its list: core lets the
    # model through, ai refuses it on hand-over.
    stub_ai.models = ["old-model"]
    conversation = make_conversation(user)
    client = client_for(user)
    assert send(client, conversation, model="old-model").status_code == 202  # list cached
    stub_ai.models = ["new-model"]
    stub_ai.mode = "invalid_model"
    response = send(client, conversation, content="Keep me", model="old-model")
    body = assert_envelope(response, 400, "INVALID_MODEL")
    assert body["details"] == {"model": ["Must be one of: new-model."]}
    assert "Retry-After" not in response
    user_message, assistant = messages_of(conversation)[2:]
    assert body["message_id"] == str(user_message.id)
    assert body["assistant_message_id"] == str(assistant.id)
    assert user_message.content == "Keep me" and user_message.status == "completed"
    assert assistant.status == "failed" and assistant.error_code == "INVALID_MODEL"

    stub_ai.mode = "accept"
    again = regenerate(client, conversation, assistant.id, model="new-model")  # the list is read again
    assert again.status_code == 202, again.content
    assert stub_ai.last["body"].model == "new-model"
    assert stub_ai.last["body"].user_message == "Keep me"
    assistant.refresh_from_db()
    assert (assistant.status, assistant.attempt, assistant.model) == ("pending", 2, "new-model")


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_a_pending_answer_relays_it_to_ai(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    response = cancel(client, conversation, turn["assistant_message_id"])
    assert response.status_code == 202, response.content
    assert response.json() == {
        "message_id": turn["assistant_message_id"],
        "status": "pending",
        "cancel_requested": True,
    }
    (relayed,) = stub_ai.cancels
    assert relayed["message_id"] == turn["assistant_message_id"]
    assert relayed["headers"]["Authorization"] == f"Bearer {settings.SERVICE_TOKEN}"
    assert relayed["headers"]["X-Request-ID"] == response["X-Request-ID"]
    # Nothing is written by core: the worker persists the partial text.
    assert Message.objects.get(id=turn["assistant_message_id"]).status == "pending"


def test_cancel_a_streaming_answer_then_the_worker_persists_it_cancelled(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    Message.objects.filter(id=turn["assistant_message_id"]).update(status="streaming")
    response = cancel(client, conversation, turn["assistant_message_id"])
    assert response.status_code == 202 and response.json()["status"] == "streaming"
    persisted = internal_client().post(
        f"/api/internal/conversations/{conversation.id}/messages",
        {
            "message_id": turn["assistant_message_id"],
            "role": "assistant",
            "content": "Eliza",
            "status": "cancelled",
            "model": MODEL,
            "total_tokens": 3,
            "degraded": False,
        },
        format="json",
    )
    assert persisted.json()["applied"] is True
    message = Message.objects.get(id=turn["assistant_message_id"])
    assert (message.status, message.content) == ("cancelled", "Eliza")
    assert_envelope(cancel(client, conversation, turn["assistant_message_id"]), 409, "CONFLICT")


@pytest.mark.parametrize("state", ["completed", "cancelled", "failed"])
def test_cancel_a_finished_answer_is_409(user, stub_ai, state):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    Message.objects.filter(id=turn["assistant_message_id"]).update(status=state)
    assert_envelope(cancel(client, conversation, turn["assistant_message_id"]), 409, "CONFLICT")
    assert stub_ai.cancels == []


def test_cancel_is_the_owners_and_the_message_must_be_an_answer_here(make_user, stub_ai):
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner)
    turn = send(client_for(owner), conversation).json()
    answer = turn["assistant_message_id"]
    assert_envelope(cancel(client_for(other), conversation, answer), 403, "PERMISSION_DENIED")
    assert_envelope(cancel(APIClient(), conversation, answer), 401)
    elsewhere = make_conversation(owner)
    assert_envelope(cancel(client_for(owner), elsewhere, answer), 404)
    assert_envelope(client_for(owner).post(f"{CONVERSATIONS}/{uuid.uuid4()}/messages/{answer}/cancel"), 404)
    assert_envelope(cancel(client_for(owner), conversation, uuid.uuid4()), 404)
    assert_envelope(cancel(client_for(owner), conversation, turn["message_id"]), 409, "CONFLICT")
    assert stub_ai.cancels == []


def test_cancel_when_ai_is_down_is_503(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    stub_ai.down()
    response = cancel(client, conversation, turn["assistant_message_id"])
    assert_envelope(response, 503, "AI_UNAVAILABLE")
    assert int(response["Retry-After"]) > 0
    assert "127.0.0.1" not in response.content.decode()
    assert Message.objects.get(id=turn["assistant_message_id"]).status == "pending"


def test_cancel_is_documented(api, db):
    schema = api.get("/api/v1/openapi.json").json()
    path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/cancel"
    operation = schema["paths"][path]["post"]
    assert operation["operationId"] == "conversations_cancel_message"
    assert {"202", "400", "401", "403", "404", "409", "503"} <= set(operation["responses"])
    send_body = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]["requestBody"]
    ref = send_body["content"]["application/json"]["schema"]["$ref"].removeprefix("#/components/schemas/")
    character = schema["components"]["schemas"][ref]["properties"]["character"]
    assert "Mr. Darcy" in character["description"] and character["maxLength"] == 100


# -- internal turn creation (ai's direct endpoint) -----------------------------------------------


def create_turn(conversation_id, client=None, **body):
    return (client or internal_client()).post(turns_path(conversation_id), body, format="json")


def test_internal_turn_stores_the_turn_and_returns_its_generation_request(user, stub_ai):
    novel = Novel.objects.create(slug="emma", title="Emma", ingestion_status="completed")
    conversation = make_conversation(user, make_scenario(user, base_story="emma"))
    earlier = add_exchanges(conversation, 4)
    response = create_turn(
        conversation.id, user_id=str(user.id), content="  Is Mr. Knightley right?\n", character=" Emma "
    )
    assert response.status_code == 201, response.content
    request = GenerationRequest.model_validate(response.json())
    user_message, assistant = messages_of(conversation)[4:]
    assert (user_message.role, user_message.content) == ("user", "Is Mr. Knightley right?")
    assert (assistant.role, assistant.status, assistant.content) == ("assistant", "pending", "")
    assert Conversation.objects.get(id=conversation.id).message_count == 6
    assert request.conversation_id == conversation.id
    assert request.user_id == user.id
    assert request.user_message_id == user_message.id
    assert request.assistant_message_id == assistant.id
    assert request.attempt == 1
    assert request.user_message == "Is Mr. Knightley right?"
    assert request.scenario.id == conversation.scenario_id
    assert request.novel_id == novel.id
    assert [m.id for m in request.recent_messages] == [m.id for m in earlier]
    assert request.character == "Emma" and request.model is None
    assert stub_ai.requests == []  # not dispatched: ai queues it itself


def test_internal_turn_builds_the_same_request_as_message_send(user, stub_ai):
    conversation = make_conversation(user)
    add_exchanges(conversation, 2)
    assert send(client_for(user), conversation, model=MODEL).status_code == 202
    sent = stub_ai.last["body"]
    created = GenerationRequest.model_validate(
        create_turn(conversation.id, user_id=str(user.id), content=sent.user_message, model=MODEL).json()
    )
    assert created.novel_id == sent.novel_id and created.scenario == sent.scenario
    # History: the same earlier exchanges, then the sent user message (its answer is still pending).
    assert created.recent_messages[:-1] == sent.recent_messages and len(sent.recent_messages) == 2
    assert created.recent_messages[-1].id == sent.user_message_id
    assert created.model == MODEL
    assert Message.objects.get(id=created.assistant_message_id).model == MODEL


def test_internal_turn_needs_the_service_token(user, stub_ai):
    conversation = make_conversation(user)
    body = {"user_id": str(user.id), "content": "hi"}
    assert_envelope(create_turn(conversation.id, APIClient(), **body), 401)
    assert_envelope(create_turn(conversation.id, client_for(user), **body), 403, "SERVICE_TOKEN_REQUIRED")
    assert Message.objects.count() == 0


def test_internal_turn_is_only_for_the_owner(make_user, stub_ai):
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner)
    for user_id in (other.id, uuid.uuid4()):
        response = create_turn(conversation.id, user_id=str(user_id), content="hi")
        assert_envelope(response, 403, "PERMISSION_DENIED")
    assert_envelope(create_turn(uuid.uuid4(), user_id=str(owner.id), content="hi"), 404)
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "override, field",
    [
        ({"content": "  \n "}, "content"),
        ({"content": ""}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"content": "nul\x00byte"}, "content"),
        ({"character": "   "}, "character"),
        ({"character": "x" * 101}, "character"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_internal_turn_validates_its_body(user, stub_ai, override, field):
    conversation = make_conversation(user)
    body = {"user_id": str(user.id), "content": "hi", **override}
    error = assert_envelope(create_turn(conversation.id, **body), 400, "VALIDATION_ERROR")
    assert field in error["details"]
    assert Message.objects.count() == 0
