"""A reader's notifications, live.

GET /api/ai/notifications/stream?ticket=...   SSE: replay after Last-Event-ID, then tail

Core stores every notification and, once the transaction that caused it has
committed, appends it to the reader's capped Redis Stream
(gaji_contracts.notifications). This route replays that stream after a
`Last-Event-ID` (or `?last_event_id=`), then tails it with heartbeats until
the ticket expires; the client then asks core for a new ticket (POST
/api/v1/notifications/stream) and resumes with the last id it received, so
nothing pushed in between is lost while the stream keeps it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from gaji_contracts.errors import ErrorCode
from gaji_contracts.notifications import (
    NOTIFICATION,
    NotificationEvent,
    NotificationTicketClaims,
)
from pydantic import ValidationError
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gaji_ai.auth.dependencies import AUTHENTICATE, invalid_ticket, verified_ticket
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.deps import RedisDep
from gaji_ai.streams.sse import POLL_SECONDS, SSE_RESPONSES, sse_response
from gaji_ai.streams.stream import valid_event_id

logger = logging.getLogger("gaji_ai.notifications")
router = APIRouter(tags=["notifications"])
BATCH = 100


async def _claims(request: Request, ticket: str | None) -> NotificationTicketClaims:
    if not ticket:
        raise AppError(
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "A notification ticket is required (POST /api/v1/notifications/stream).",
            headers=AUTHENTICATE,
        )
    verify = request.app.state.jwks_verifier.verify_notification_ticket
    claims = await verified_ticket(verify, ticket, what="notification")
    if claims.exp <= time.time():
        # Within the verifier's clock-skew leeway, but this stream would end
        # at once: the client must fetch a new ticket, not reconnect in a loop.
        raise invalid_ticket("notification")
    return claims


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _latest(redis: AsyncRedis, key: str) -> str:
    """The id of the stream's newest entry ("0-0" when it is empty or absent):
    a client without a Last-Event-ID hears only what comes after it connected."""
    entries = await redis.xrevrange(key, count=1)
    return _text(entries[0][0]) if entries else "0-0"


async def notifications(
    redis: AsyncRedis, key: str, after: str | None, expires_at: float
) -> AsyncIterator[ServerSentEvent]:
    """The reader's notifications after `after` (new ones only when None),
    then each as it comes, until `expires_at` (epoch seconds)."""
    cursor = after or await _latest(redis, key)
    while (left := expires_at - time.time()) > 0:
        block_ms = max(1, int(min(POLL_SECONDS, left) * 1000))
        result = await redis.xread({key: cursor}, count=BATCH, block=block_ms)
        for _, entries in result or []:
            for raw_id, fields in entries:
                cursor = _text(raw_id)
                fields = {_text(k): _text(v) for k, v in fields.items()}
                if fields.get("event") != NOTIFICATION:
                    continue
                try:
                    event = NotificationEvent.model_validate_json(fields.get("data", ""))
                except ValidationError:
                    logger.warning("skipping a malformed notification entry %s", cursor)
                    continue
                yield ServerSentEvent(
                    json.dumps(event.model_dump(mode="json")), event=NOTIFICATION, id=cursor
                )


async def _ended_quietly(events: AsyncIterator[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    """A Redis outage ends the stream (the client reconnects with its last id);
    the notifications themselves are stored on core."""
    try:
        async for event in events:
            yield event
    except RedisError as exc:
        logger.warning("notification stream ended: Redis unavailable (%s)", type(exc).__name__)


@router.get(
    "/notifications/stream",
    responses={**SSE_RESPONSES, **error_responses(400, 401, 429, 503)},
)
async def stream(
    request: Request,
    redis: RedisDep,
    ticket: Annotated[str | None, Query(max_length=4096)] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> EventSourceResponse:
    """Events: `notification {notification, unread_count}` (gaji_contracts
    NotificationEvent), each with its stream id as `id`; comments as
    heartbeats. Without `Last-Event-ID` (header) or `last_event_id` only
    notifications after the connection come; with one, those after it that
    the stream still holds first. The stream ends when the ticket expires:
    fetch a new one and resume with the last id received."""
    claims = await _claims(request, ticket)
    after = valid_event_id(request.headers.get("last-event-id") or last_event_id)
    return sse_response(_ended_quietly(notifications(redis, claims.stream, after, claims.exp)))
