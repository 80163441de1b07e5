"""The notification models: the body both services render, the live event,
the ticket (its own audience, the subject's own stream), and the flag ai
sends with a turn's last answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from gaji_contracts.conversations import AssistantMessageResult, StreamTicketClaims
from gaji_contracts.notifications import (
    NOTIFICATION_TICKET_AUDIENCE,
    NotificationEvent,
    NotificationKind,
    NotificationTicketClaims,
    notification_stream_key,
)
from pydantic import ValidationError


def claims(**overrides) -> dict:
    user = str(uuid.uuid4())
    return {
        "sub": user,
        "stream": notification_stream_key("gaji:core", user),
        "iss": "gaji-core",
        "iat": 1,
        "exp": 2,
        "jti": "j",
        **overrides,
    }


def test_the_kinds_are_the_apis():
    assert [k.value for k in NotificationKind] == [
        "scenario_forked",
        "conversation_liked",
        "conversation_forked",
        "followed",
        "answer_ready",
    ]


def test_the_event_as_json():
    actor = uuid.uuid4()
    event = NotificationEvent.model_validate(
        {
            "notification": {
                "id": str(uuid.uuid4()),
                "kind": "followed",
                "actor": {"id": str(actor), "username": "darcy"},
                "text": "darcy started following you.",
                "read": False,
                "created_at": datetime.now(UTC).isoformat(),
            },
            "unread_count": 3,
        }
    )
    body = event.model_dump(mode="json")
    assert body["notification"]["actor"] == {"id": str(actor), "username": "darcy"}
    assert body["notification"]["scenario_id"] is None and body["unread_count"] == 3
    assert NotificationEvent.model_validate_json(event.model_dump_json()) == event
    with pytest.raises(ValidationError):
        NotificationEvent.model_validate({**body, "unread_count": -1})
    with pytest.raises(ValidationError):
        NotificationEvent.model_validate({**body, "notification": {**body["notification"], "kind": "poked"}})


def test_the_stream_key():
    user = uuid.uuid4()
    assert notification_stream_key("gaji:core", user) == f"gaji:core:notify:{user}"


def test_a_ticket_names_its_subjects_own_stream():
    ticket = NotificationTicketClaims.model_validate(claims())
    assert (ticket.aud, ticket.token_type) == (NOTIFICATION_TICKET_AUDIENCE, "notification_ticket")
    assert NotificationTicketClaims.model_validate(
        claims(sub=ticket.sub, stream=f"bench:x:core:notify:{ticket.sub}")
    )
    for stream in (
        f"gaji:core:notify:{uuid.uuid4()}",  # another reader's
        f":notify:{ticket.sub}x",
        "gaji:core:gen:x",
    ):
        with pytest.raises(ValidationError, match="another reader"):
            NotificationTicketClaims.model_validate(claims(sub=ticket.sub, stream=stream))
    with pytest.raises(ValidationError):  # the bare suffix: no prefix at all
        NotificationTicketClaims.model_validate(claims(sub=ticket.sub, stream=f":notify:{ticket.sub}"))


def test_neither_ticket_passes_for_the_other():
    with pytest.raises(ValidationError):
        NotificationTicketClaims.model_validate(claims(aud="gaji-stream"))
    with pytest.raises(ValidationError):
        NotificationTicketClaims.model_validate(claims(token_type="stream_ticket"))
    with pytest.raises(ValidationError):
        StreamTicketClaims.model_validate(
            {**claims(), "conversation_id": "c", "message_id": "m", "token_type": "notification_ticket"}
        )


def test_reader_attached_is_optional_and_a_boolean():
    result = AssistantMessageResult(message_id=uuid.uuid4(), status="completed")
    assert result.reader_attached is None
    assert AssistantMessageResult(message_id=uuid.uuid4(), status="completed", reader_attached=False)
    with pytest.raises(ValidationError):
        AssistantMessageResult(message_id=uuid.uuid4(), status="completed", reader_attached="maybe")
