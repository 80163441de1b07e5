"""The seed's direct chat endpoint, kept apart from the platform's own turn:

POST /api/ai/conversations/{conversation_id}/messages   stores the turn through core,
                                                        streams the answer in the response
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from gaji_contracts.conversations import (
    MAX_CHARACTER_NAME_CHARS,
    MAX_USER_MESSAGE_CHARS,
    AssistantMessageResult,
    TurnCreate,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import RETRY_AFTER
from gaji_contracts.text import CleanText
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gaji_ai.auth.dependencies import CurrentUser
from gaji_ai.clients.core import CoreError, CoreResponseError, CoreUnavailable
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import CoreClientDep, JsonBody, RedisDep, SettingsDep, VectorStoreDep
from gaji_ai.generation.turns import check_model, queue_generation
from gaji_ai.streams.sse import SSE_RESPONSES, guarded, sse_frame, sse_response, tail
from gaji_ai.streams.stream import CHUNK, COMPLETE, StreamEvent

router = APIRouter(tags=["chat"])


class DirectMessage(BaseModel):
    content: CleanText = Field(min_length=1, max_length=MAX_USER_MESSAGE_CHARS)
    model: str | None = Field(default=None, max_length=100, description="From GET /api/ai/models")
    character: CleanText | None = Field(
        default=None,
        max_length=MAX_CHARACTER_NAME_CHARS,
        description="The character you address; default: the scenario's character, "
        "else the narrator",
    )
    scenario_id: UUID | None = Field(
        default=None,
        description="Accepted for the seed's clients; the conversation's own scenario is used",
    )


def _relay(exc: CoreResponseError) -> AppError:
    """core's refusal of the turn, as our own envelope (same status and code).
    A 429 is the reader's own message budget, shared with core's send route:
    relayed with core's Retry-After."""
    if exc.status == 429:
        retry_after = exc.retry_after if (exc.retry_after or "").isdigit() else "60"
        message = exc.envelope.get("message")
        return AppError(
            429,
            ErrorCode.RATE_LIMITED,
            str(message or f"Rate limit exceeded. Retry in {retry_after} seconds."),
            headers={RETRY_AFTER: retry_after},
        )
    if exc.status in (400, 403, 404):
        envelope = exc.envelope
        default = {400: ErrorCode.VALIDATION_ERROR, 403: ErrorCode.PERMISSION_DENIED}
        return AppError(
            exc.status,
            str(envelope.get("code") or default.get(exc.status, ErrorCode.NOT_FOUND)),
            str(envelope.get("message") or "core refused the message."),
            envelope.get("details") if isinstance(envelope.get("details"), dict) else None,
        )
    return AppError(503, ErrorCode.SERVICE_UNAVAILABLE, "core could not store the message.")


def _direct_frame(event: StreamEvent) -> ServerSentEvent:
    if event.event == CHUNK:
        data = {"type": "token", "content": event.data.get("delta", "")}
        return ServerSentEvent(json.dumps(data), event="message", id=event.id)
    if event.event == COMPLETE:
        data = {"type": "complete", **event.data}
        return ServerSentEvent(json.dumps(data), event="message", id=event.id)
    return sse_frame(event)


@router.post(
    "/conversations/{conversation_id}/messages",
    dependencies=[JsonBody],
    responses={**SSE_RESPONSES, **error_responses(400, 401, 403, 404, 413, 415, 429, 503)},
)
async def send_direct(
    request: Request,
    conversation_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    body: DirectMessage,
    user: CurrentUser,
    settings: SettingsDep,
    redis: RedisDep,
    store: VectorStoreDep,
    core: CoreClientDep,
) -> EventSourceResponse:
    """The seed's direct chat: the turn is stored through core (you must own
    the conversation) and answered in this response as `event: message`
    frames `{type: start|token|complete}` (`error` frames as on the stream).
    Every frame after `start` has an id: if the connection drops, resume on
    GET .../stream?message_id=... with that id as Last-Event-ID. A dropped
    connection never stops the answer. Each message counts against the
    reader's message rate limit on core (10 a minute, shared with core's
    send route): 429 with core's Retry-After once it is spent."""
    check_model(settings, body.model)
    try:
        turn = await core.turn_create(
            conversation_id.lower(),
            TurnCreate(
                user_id=user.sub, content=body.content, model=body.model, character=body.character
            ),
        )
    except CoreUnavailable as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "core is unavailable; try again shortly."
        ) from exc
    except CoreResponseError as exc:
        raise _relay(exc) from exc
    try:
        await queue_generation(settings, redis, store, core, turn)
    except AppError:
        # The user's message is stored; its answer is failed so regenerate works.
        with contextlib.suppress(CoreError):
            await core.persist_message(
                str(turn.conversation_id),
                AssistantMessageResult(
                    message_id=turn.assistant_message_id,
                    status="failed",
                    attempt=turn.attempt,
                    error_code=ErrorCode.AI_UNAVAILABLE.value,
                ),
            )
        raise
    message_id = str(turn.assistant_message_id)
    start = {
        "type": "start",
        "message_id": message_id,
        "user_message_id": str(turn.user_message_id),
        "conversation_id": str(turn.conversation_id),
    }

    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(json.dumps(start), event="message")
        async for event in guarded(tail(settings, redis, message_id, None)):
            yield _direct_frame(event)

    return sse_response(events())
