"""The chat-turn contracts: what core sends ai, what ai sends back, the
stream ticket's claims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from gaji_contracts.conversations import (
    STREAM_TICKET_AUDIENCE,
    AssistantMessageResult,
    ChatMessage,
    GenerationAccepted,
    GenerationRequest,
    MessageRole,
    MessageStatus,
    ScenarioBrief,
    StreamTicketClaims,
    stream_path,
)
from gaji_contracts.errors import ErrorCode
from pydantic import ValidationError


def request(**overrides) -> dict:
    return {
        "conversation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "user_message_id": str(uuid.uuid4()),
        "assistant_message_id": str(uuid.uuid4()),
        "user_message": "What if Elizabeth said yes?",
        "scenario": {
            "id": str(uuid.uuid4()),
            "base_story": "pride-and-prejudice",
            "scenario_type": "EVENT_ALTERATION",
            "parameters": {"event": "Proposal"},
        },
        **overrides,
    }


def test_generation_request_round_trips_as_json():
    parsed = GenerationRequest.model_validate(request())
    again = GenerationRequest.model_validate_json(parsed.model_dump_json())
    assert again == parsed
    assert (
        again.attempt == 1 and again.novel_id is None and again.recent_messages == [] and again.model is None
    )


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"user_message": "x" * 4001}, "user_message"),
        ({"attempt": 0}, "attempt"),
        ({"conversation_id": "nope"}, "conversation_id"),
        ({"unexpected": 1}, "unexpected"),
        ({"model": "m" * 101}, "model"),
    ],
)
def test_generation_request_refuses_bad_fields(overrides, field):
    with pytest.raises(ValidationError) as info:
        GenerationRequest.model_validate(request(**overrides))
    assert field in {str(e["loc"][0]) for e in info.value.errors()}


def test_a_readers_message_cannot_be_empty_but_a_scene_may_go_on_without_one():
    with pytest.raises(ValidationError, match="user_message"):
        GenerationRequest.model_validate(request(user_message=" "))
    going_on = GenerationRequest.model_validate(request(user_message="", user_message_id=None))
    assert going_on.user_message == "" and going_on.user_message_id is None


def test_answers_start_with_the_streamed_answer_each_once_at_most_three():
    base = request()
    lead = base["assistant_message_id"]
    narrator = {"kind": "narrator", "name": "Narrator"}
    darcy = {"kind": "character", "character_id": "c-1", "name": "Mr. Darcy"}
    ok = GenerationRequest.model_validate(
        {
            **base,
            "answers": [
                {"message_id": lead, "speaker": darcy},
                {"message_id": str(uuid.uuid4()), "speaker": narrator},
            ],
        }
    )
    assert [a.speaker.kind for a in ok.answers] == ["character", "narrator"]
    with pytest.raises(ValidationError, match="first answer"):
        GenerationRequest.model_validate(
            {**base, "answers": [{"message_id": str(uuid.uuid4()), "speaker": darcy}]}
        )
    with pytest.raises(ValidationError, match="each answer once"):
        GenerationRequest.model_validate(
            {
                **base,
                "answers": [{"message_id": lead, "speaker": darcy}, {"message_id": lead, "speaker": darcy}],
            }
        )
    four = [{"message_id": lead, "speaker": darcy}] + [
        {"message_id": str(uuid.uuid4()), "speaker": narrator} for _ in range(3)
    ]
    with pytest.raises(ValidationError):
        GenerationRequest.model_validate({**base, "answers": four})
    with pytest.raises(ValidationError):
        GenerationRequest.model_validate(
            {**base, "answers": [{"message_id": lead, "speaker": {"kind": "god", "name": "x"}}]}
        )


def test_history_messages_keep_role_and_status():
    message = ChatMessage(id=uuid.uuid4(), role="assistant", content="Indeed.", created_at=datetime.now(UTC))
    assert message.role is MessageRole.ASSISTANT and message.status is MessageStatus.COMPLETED
    with pytest.raises(ValidationError):
        ChatMessage(id=uuid.uuid4(), role="narrator", content="x", created_at=datetime.now(UTC))


def test_generation_accepted_is_queued():
    message_id = uuid.uuid4()
    assert GenerationAccepted(message_id=message_id).model_dump(mode="json") == {
        "message_id": str(message_id),
        "status": "queued",
    }


@pytest.mark.parametrize("status", ["streaming", "completed", "cancelled", "failed"])
def test_assistant_result_accepts_the_states_ai_can_report(status):
    result = AssistantMessageResult(message_id=uuid.uuid4(), status=status)
    assert result.role == "assistant" and result.total_tokens == 0 and result.degraded is False


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "pending"},
        {"role": "user"},
        {"total_tokens": -1},
        {"content": "x" * 100_001},
        {"attempt": 0},
        {"extra": True},
    ],
)
def test_assistant_result_refuses_what_core_must_not_store(overrides):
    with pytest.raises(ValidationError):
        AssistantMessageResult.model_validate(
            {"message_id": str(uuid.uuid4()), "status": "completed", **overrides}
        )


def test_scenario_brief_keeps_parameters_as_given():
    brief = ScenarioBrief(
        id=uuid.uuid4(), base_story="emma", scenario_type="SETTING_MODIFICATION", parameters={"a": [1]}
    )
    assert brief.parameters == {"a": [1]}


def test_stream_ticket_is_not_an_access_token():
    claims = StreamTicketClaims(
        sub="u", conversation_id="c", message_id="m", iss="gaji-core", exp=2, iat=1, jti="j"
    )
    assert claims.aud == STREAM_TICKET_AUDIENCE != "gaji"
    assert claims.token_type == "stream_ticket"
    with pytest.raises(ValidationError):
        StreamTicketClaims.model_validate({**claims.model_dump(), "token_type": "access"})


def test_stream_path_and_codes():
    conversation_id = uuid.uuid4()
    assert stream_path(conversation_id) == f"/api/ai/conversations/{conversation_id}/stream"
    assert ErrorCode.AI_UNAVAILABLE == "AI_UNAVAILABLE"
    assert ErrorCode.FORK_DEPTH_EXCEEDED == "FORK_DEPTH_EXCEEDED"
