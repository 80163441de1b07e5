"""The ai half of the chat turn.

POST /api/ai/internal/generations                       core hands over a turn (service token)
POST /api/ai/internal/generations/{message_id}/cancel   core relays a user's cancel
GET  /api/ai/conversations/{conversation_id}/stream     SSE: replay from Last-Event-ID, then tail
GET  /api/ai/models                                     the models a request may choose
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from gaji_contracts.conventions import bearer_token
from gaji_contracts.conversations import GenerationAccepted, GenerationRequest
from gaji_contracts.errors import ErrorCode
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gaji_ai.auth.dependencies import ServiceCaller, current_user
from gaji_ai.auth.jwks import JwksUnavailable, TokenInvalid
from gaji_ai.common.dependencies import JsonBody, RedisDep, SettingsDep
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.generation.streams import StreamReader, valid_event_id
from gaji_ai.llm.providers import LOCAL_MODEL

router = APIRouter(tags=["chat"])
internal_router = APIRouter(tags=["internal"])
GENERATE_TASK = "gaji.generation.generate"
UUID = r"^[0-9a-fA-F-]{36}$"
HEARTBEAT_SECONDS = 15
# Each blocking read stays well under the Redis client's socket timeout.
POLL_SECONDS = 1
# A stream nobody has started within this long after the turn was queued
# (worker down, queue lost) ends with an error instead of hanging.
START_TIMEOUT_SECONDS = 120


def _ends(event) -> bool:
    """A model failure is followed by its message_complete (status failed);
    any other error, or the completion, ends the stream."""
    return event.event == "message_complete" or (
        event.event == "error" and event.data.get("code") != "PROVIDER_ERROR"
    )


def configured_models(settings) -> list[str]:
    if settings.llm.llm_provider == "local":
        return [LOCAL_MODEL]
    return settings.llm.model_list()


class Models(BaseModel):
    provider: str
    default: str
    models: list[str]


@router.get("/models", response_model=Models, responses=error_responses(429))
async def models(settings: SettingsDep) -> Models:
    available = configured_models(settings)
    return Models(
        provider=settings.llm.llm_provider,
        default=available[0] if available else "",
        models=available,
    )


def queued_key(prefix: str, message_id: str) -> str:
    return f"{prefix}:gen:{message_id}:queued"


@internal_router.post(
    "/generations",
    status_code=202,
    response_model=GenerationAccepted,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 403, 415, 503),
)
async def enqueue(
    body: GenerationRequest, caller: ServiceCaller, settings: SettingsDep, redis: RedisDep
):
    """Queue the generation (Celery queue `generation`) and answer at once."""
    available = configured_models(settings)
    if body.model and body.model not in available:
        raise AppError(
            400,
            "INVALID_MODEL",
            f"Unknown model. Available: {', '.join(available)}.",
            {"model": [f"Must be one of: {', '.join(available)}."]},
        )
    from gaji_ai.worker import celery_app

    prefix = settings.rate_limit.rate_limit_prefix
    try:
        await redis.set(queued_key(prefix, str(body.assistant_message_id)), "1", ex=3600)
        await asyncio.to_thread(
            celery_app.send_task, GENERATE_TASK, args=[body.model_dump(mode="json")]
        )
    except Exception as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "The generation queue is unavailable."
        ) from exc
    return GenerationAccepted(message_id=body.assistant_message_id)


@internal_router.post(
    "/generations/{message_id}/cancel", responses=error_responses(400, 401, 403, 503)
)
async def cancel(
    message_id: Annotated[str, PathParam(pattern=UUID)],
    caller: ServiceCaller,
    settings: SettingsDep,
    redis: RedisDep,
) -> dict:
    """Ask the worker to stop; it persists the partial text as `cancelled`."""
    await StreamReader(redis, settings.rate_limit.rate_limit_prefix).request_cancel(
        message_id.lower()
    )
    return {"message_id": message_id.lower(), "cancel_requested": True}


async def _authorize(
    request: Request, conversation_id: str, message_id: str, ticket: str | None
) -> None:
    """A ticket bound to this conversation and message; or the owner's Bearer
    token (checked against the ticket's claims is impossible, so against core)."""
    verifier = request.app.state.jwks_verifier
    if ticket:
        try:
            claims = await verifier.verify_stream_ticket(ticket)
        except TokenInvalid as exc:
            raise AppError(
                401, ErrorCode.TOKEN_INVALID, "The stream ticket is invalid or expired."
            ) from exc
        except JwksUnavailable as exc:
            raise AppError(
                503, ErrorCode.SERVICE_UNAVAILABLE, "Cannot verify tickets right now."
            ) from exc
        if claims.conversation_id != conversation_id or claims.message_id != message_id:
            raise AppError(403, ErrorCode.PERMISSION_DENIED, "This ticket is for another stream.")
        return
    if bearer_token(request.headers.get("Authorization")) is None:
        raise AppError(
            401, ErrorCode.NOT_AUTHENTICATED, "A stream ticket or a Bearer token is required."
        )
    user = await current_user(request)
    core = request.app.state.core_client
    owner = await core.conversation_owner(conversation_id)
    if owner is None:
        raise AppError(404, ErrorCode.NOT_FOUND, "No such conversation.")
    if owner != user.sub:
        raise AppError(
            403, ErrorCode.PERMISSION_DENIED, "Only the conversation's owner can stream it."
        )


@router.get(
    "/conversations/{conversation_id}/stream",
    responses={
        200: {"content": {"text/event-stream": {}}},
        **error_responses(400, 401, 403, 404, 429, 503),
    },
)
async def stream(
    request: Request,
    conversation_id: Annotated[str, PathParam(pattern=UUID)],
    settings: SettingsDep,
    redis: RedisDep,
    message_id: Annotated[str, Query(pattern=UUID)],
    ticket: Annotated[str | None, Query(max_length=4096)] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> EventSourceResponse:
    """Events: `message_chunk {content, delta}`, `message_complete {message_id,
    role, content, total_tokens, model, degraded, status}`, `error {code,
    message}`, `not_resumable` when the stream has expired. Resume with the
    `Last-Event-ID` header or `last_event_id`; heartbeats carry no id."""
    conversation_id, message_id = conversation_id.lower(), message_id.lower()
    await _authorize(request, conversation_id, message_id, ticket)
    prefix = settings.rate_limit.rate_limit_prefix
    reader = StreamReader(redis, prefix)
    after = valid_event_id(request.headers.get("last-event-id") or last_event_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal after
        waited = 0.0
        while True:
            batch = await reader.read(message_id, after, block_ms=POLL_SECONDS * 1000)
            if not batch:
                latest = await reader.last(message_id)
                if latest is not None:
                    if _ends(latest):
                        return  # resumed after the end: nothing more will come
                    continue  # alive, nothing new: the ping keeps the connection open
                if not await redis.exists(queued_key(prefix, message_id)):
                    yield ServerSentEvent(
                        json.dumps(
                            {"code": "NOT_RESUMABLE", "message": "This stream has expired."}
                        ),
                        event="not_resumable",
                    )
                    return
                waited += POLL_SECONDS
                if waited >= START_TIMEOUT_SECONDS:
                    yield ServerSentEvent(
                        json.dumps(
                            {
                                "code": "NOT_STARTED",
                                "message": "The answer has not started; retry later.",
                            }
                        ),
                        event="error",
                    )
                    return
                continue
            for event in batch:
                after = event.id
                yield ServerSentEvent(json.dumps(event.data), event=event.event, id=event.id)
                if _ends(event):
                    return

    return EventSourceResponse(
        events(), ping=HEARTBEAT_SECONDS, headers={"Cache-Control": "no-store"}
    )
