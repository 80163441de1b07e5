"""A reader's notifications, as models: what core stores and lists
(GET /api/v1/notifications) and what ai's SSE route
(GET /api/ai/notifications/stream) pushes live.

    notification   NotificationEvent   a new notification and the reader's unread count

Core appends each new notification, once the transaction that caused it has
committed, to a capped Redis Stream per reader (fields `event` and `data`,
as an answer's stream holds them); ai replays that stream after a
`Last-Event-ID` and tails it. The stream's key is core's to choose (under
core's key prefix) and travels in the signed ticket: the two services need no
shared setting to agree on it, and a reader's ticket names that reader's
stream only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

NOTIFICATION = "notification"  # the SSE event's name
NOTIFICATIONS_STREAM_PATH = "/api/ai/notifications/stream"
# A notification ticket is never an answer's stream ticket (aud `gaji-stream`)
# nor an access token (aud `gaji`), and neither of those is one.
NOTIFICATION_TICKET_AUDIENCE = "gaji-notifications"
NOTIFICATION_TICKET_TYPE = "notification_ticket"
NOTIFICATION_TICKET_TTL_SECONDS = 300
# The live stream keeps a reader's latest entries (XADD MAXLEN ~) for a
# reconnect to resume from; the stored notifications are the full record.
NOTIFICATION_STREAM_MAXLEN = 200
NOTIFICATION_STREAM_TTL_SECONDS = 7 * 24 * 3600
NOTIFICATION_TEXT_MAX_CHARS = 300


class NotificationKind(StrEnum):
    SCENARIO_FORKED = "scenario_forked"  # someone forked your scenario (scenario_id: the fork)
    CONVERSATION_LIKED = "conversation_liked"  # someone liked your conversation
    CONVERSATION_FORKED = "conversation_forked"  # someone forked your conversation (the fork)
    FOLLOWED = "followed"  # someone follows you
    ANSWER_READY = "answer_ready"  # an answer finished while you were not reading its stream


class NotificationActor(BaseModel):
    id: UUID
    username: str


class Notification(BaseModel):
    id: UUID
    kind: NotificationKind
    actor: NotificationActor | None = Field(description="Who did it (null: nobody, or a deleted account)")
    scenario_id: UUID | None = None
    conversation_id: UUID | None = None
    message_id: UUID | None = None
    text: str = Field(max_length=NOTIFICATION_TEXT_MAX_CHARS)
    read: bool
    created_at: datetime


class NotificationEvent(BaseModel):
    """The `notification` event's data."""

    notification: Notification
    unread_count: int = Field(ge=0, description="The reader's unread notifications, this one included")


def notification_stream_key(prefix: str, user_id: UUID | str) -> str:
    """The Redis Stream of one reader's notifications."""
    return f"{prefix}:notify:{user_id}"


class NotificationTicketClaims(BaseModel):
    """The signed ticket in core's notifications `stream_url` (RS256, core's JWKS)."""

    sub: str = Field(description="User id")
    stream: str = Field(max_length=300, description="The Redis Stream of this user's notifications")
    token_type: Literal["notification_ticket"] = NOTIFICATION_TICKET_TYPE
    aud: Literal["gaji-notifications"] = NOTIFICATION_TICKET_AUDIENCE
    iss: str
    exp: int
    iat: int
    jti: str

    @model_validator(mode="after")
    def _own_stream(self) -> NotificationTicketClaims:
        # The stream named is the subject's own, whatever core's prefix is.
        suffix = notification_stream_key("", self.sub)
        if not (self.stream.endswith(suffix) and len(self.stream) > len(suffix)):
            raise ValueError("the ticket names another reader's stream")
        return self


__all__ = [
    "NOTIFICATION",
    "NOTIFICATIONS_STREAM_PATH",
    "NOTIFICATION_STREAM_MAXLEN",
    "NOTIFICATION_STREAM_TTL_SECONDS",
    "NOTIFICATION_TEXT_MAX_CHARS",
    "NOTIFICATION_TICKET_AUDIENCE",
    "NOTIFICATION_TICKET_TTL_SECONDS",
    "NOTIFICATION_TICKET_TYPE",
    "Notification",
    "NotificationActor",
    "NotificationEvent",
    "NotificationKind",
    "NotificationTicketClaims",
    "notification_stream_key",
]
