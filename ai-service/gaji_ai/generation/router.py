"""The ai half of the chat turn.

POST /api/ai/internal/generations                       core hands over a turn (service token)
POST /api/ai/internal/generations/{message_id}/cancel   core relays a user's cancel
GET  /api/ai/conversations/{conversation_id}/stream     SSE: replay from Last-Event-ID, then tail
POST /api/ai/conversations/{conversation_id}/messages   the seed's direct endpoint: stores the
                                                        turn through core, streams the answer
GET  /api/ai/models                                     the models a request may choose
POST /api/ai/llm/test                                   staff: is the configured provider answering?
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from gaji_contracts.conventions import bearer_token
from gaji_contracts.conversations import (
    MAX_CHARACTER_NAME_CHARS,
    MAX_USER_MESSAGE_CHARS,
    AssistantMessageResult,
    CancelAccepted,
    GenerationAccepted,
    GenerationRequest,
    ModelList,
    TurnCreate,
)
from gaji_contracts.errors import ErrorCode
from pydantic import BaseModel, Field, field_validator
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gaji_ai.auth.dependencies import CurrentUser, ServiceCaller, StaffUser, current_user
from gaji_ai.auth.jwks import JwksUnavailable, TokenInvalid
from gaji_ai.clients.core import CoreError, CoreResponseError, CoreUnavailable
from gaji_ai.common.dependencies import JsonBody, RedisDep, SettingsDep
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.config import Settings
from gaji_ai.generation import tracking
from gaji_ai.generation.streams import (
    CHUNK,
    COMPLETE,
    ERROR,
    StreamEvent,
    StreamReader,
    comes_after,
    ends_stream,
    valid_event_id,
)
from gaji_ai.llm.providers import ChatMessage, LocalProvider, ProviderError

router = APIRouter(tags=["chat"])
internal_router = APIRouter(tags=["internal"])
GENERATE_TASK = "gaji.generation.generate"
HEARTBEAT_SECONDS = 15
# Each blocking read stays well under the Redis client's socket timeout.
POLL_SECONDS = 1
# The reaper ends a turn no worker started (GENERATION_START_TIMEOUT_SECONDS
# without a live worker, GENERATION_QUEUE_TIMEOUT_SECONDS at most); a stream
# still empty this much later ends by itself (reaper not running).
START_GRACE_SECONDS = 60
LLM_TEST_TOKENS = 16
SSE_HEADERS = {"Cache-Control": "no-store"}
# RFC 7235: every 401 names the scheme, as the other routes' 401s do.
_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}
SSE_RESPONSES = {200: {"content": {"text/event-stream": {}}}}


def configured_models(settings: Settings) -> list[str]:
    if settings.llm.llm_provider == "local":
        return [settings.llm.llm_local_model]
    return settings.llm.model_list()


def check_model(settings: Settings, model: str | None) -> None:
    available = configured_models(settings)
    if model and model not in available:
        raise AppError(
            400,
            ErrorCode.INVALID_MODEL,
            f"Unknown model. Available: {', '.join(available)}.",
            {"model": [f"Must be one of: {', '.join(available)}."]},
        )


@router.get("/models", response_model=ModelList, responses=error_responses(429))
async def models(settings: SettingsDep) -> ModelList:
    available = configured_models(settings)
    return ModelList(
        provider=settings.llm.llm_provider,
        default=available[0] if available else "",
        models=available,
    )


def queued_key(prefix: str, message_id: str) -> str:
    return f"{prefix}:gen:{message_id}:queued"


_background: set[asyncio.Task] = set()


def start_pre_grounding(request: Request, settings: Settings, body: GenerationRequest) -> None:
    """Ground the turn here, now, while it travels to a worker (runner.pre_ground)."""
    if body.novel_id is None:
        return
    from gaji_ai.generation.runner import pre_ground

    state = request.app.state
    task = asyncio.create_task(pre_ground(settings, state.redis, state.vector_store, body))
    _background.add(task)  # keep a reference until it is done
    task.add_done_callback(_background.discard)


async def queue_generation(
    settings: Settings, redis: AsyncRedis, body: GenerationRequest, request: Request | None = None
) -> None:
    """A fresh stream, the turn registered for the reaper, its grounding
    started, then the Celery task (queue `generation`). 503 when Redis or
    the broker is away."""
    from gaji_ai.worker import celery_app

    prefix = settings.rate_limit.rate_limit_prefix
    message_id = str(body.assistant_message_id)
    try:
        await StreamReader(redis, prefix).reset(message_id)
        await redis.set(queued_key(prefix, message_id), "1", ex=3600)
        await tracking.register(
            redis,
            prefix,
            tracking.Turn(message_id, body.attempt, str(body.conversation_id)),
            start_timeout=settings.llm.generation_start_timeout_seconds,
        )
        if request is not None:
            start_pre_grounding(request, settings, body)
        await asyncio.to_thread(
            celery_app.send_task, GENERATE_TASK, args=[body.model_dump(mode="json")]
        )
    except Exception as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "The generation queue is unavailable."
        ) from exc


@internal_router.post(
    "/generations",
    status_code=202,
    response_model=GenerationAccepted,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 403, 415, 503),
)
async def enqueue(
    request: Request,
    body: GenerationRequest,
    caller: ServiceCaller,
    settings: SettingsDep,
    redis: RedisDep,
):
    """Queue the generation (Celery queue `generation`) and answer at once."""
    check_model(settings, body.model)
    await queue_generation(settings, redis, body, request)
    return GenerationAccepted(message_id=body.assistant_message_id)


@internal_router.post(
    "/generations/{message_id}/cancel",
    response_model=CancelAccepted,
    responses=error_responses(400, 401, 403, 503),
)
async def cancel(
    message_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    caller: ServiceCaller,
    settings: SettingsDep,
    redis: RedisDep,
) -> CancelAccepted:
    """Ask the worker to stop; it persists the partial text as `cancelled`."""
    await StreamReader(redis, settings.rate_limit.rate_limit_prefix).request_cancel(
        message_id.lower()
    )
    return CancelAccepted(message_id=message_id.lower())


async def _authorize(
    request: Request, conversation_id: str, message_id: str, ticket: str | None
) -> None:
    """A ticket bound to this conversation and message; or the owner's Bearer
    token (checked against core, which knows the owner)."""
    verifier = request.app.state.jwks_verifier
    if ticket:
        try:
            claims = await verifier.verify_stream_ticket(ticket)
        except TokenInvalid as exc:
            raise AppError(
                401,
                ErrorCode.TOKEN_INVALID,
                "The stream ticket is invalid or expired.",
                headers=_AUTHENTICATE,
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
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "A stream ticket or a Bearer token is required.",
            headers=_AUTHENTICATE,
        )
    user = await current_user(request)
    core = request.app.state.core_client
    try:
        owner = await core.conversation_owner(conversation_id)
    except CoreError as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "Cannot check the conversation right now."
        ) from exc
    if owner is None:
        raise AppError(404, ErrorCode.NOT_FOUND, "No such conversation.")
    if owner != user.sub:
        raise AppError(
            403, ErrorCode.PERMISSION_DENIED, "Only the conversation's owner can stream it."
        )


async def tail(
    settings: Settings, redis: AsyncRedis, message_id: str, after: str | None
) -> AsyncIterator[StreamEvent]:
    """A generation's events after `after`, then new ones as they come, until
    the stream ends. An expired stream yields one `not_resumable` event; a
    turn no worker ever started yields an `error` (NOT_STARTED)."""
    prefix = settings.rate_limit.rate_limit_prefix
    reader = StreamReader(redis, prefix)
    give_up = settings.llm.generation_queue_timeout_seconds + START_GRACE_SECONDS
    waited = 0.0
    while True:
        batch = await reader.read(message_id, after, block_ms=POLL_SECONDS * 1000)
        if not batch:
            latest = await reader.last(message_id)
            if latest is not None:
                if ends_stream(latest) and not comes_after(latest.id, after):
                    return  # resumed after the end: nothing more will come
                # Alive with nothing new (the ping keeps the connection open),
                # or events landed between the read and this look: read them.
                continue
            if not await redis.exists(queued_key(prefix, message_id)):
                yield StreamEvent(
                    "",
                    "not_resumable",
                    {"code": "NOT_RESUMABLE", "message": "This stream has expired."},
                )
                return
            waited += POLL_SECONDS
            if waited >= give_up:
                yield StreamEvent(
                    "",
                    ERROR,
                    {"code": "NOT_STARTED", "message": "The answer has not started; retry later."},
                )
                return
            continue
        for event in batch:
            after = event.id
            yield event
            if ends_stream(event):
                return


async def guarded(events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    """A Redis outage mid-stream ends the stream with an `error` event (the
    answer is still saved on core: see it in the history, or reconnect
    later with Last-Event-ID) instead of a connection cut mid-body."""
    try:
        async for event in events:
            yield event
    except RedisError:
        yield StreamEvent(
            "",
            ERROR,
            {
                "code": "STREAM_UNAVAILABLE",
                "message": "The live stream is unavailable; the answer will be in the history.",
            },
        )


@router.get(
    "/conversations/{conversation_id}/stream",
    responses={**SSE_RESPONSES, **error_responses(400, 401, 403, 404, 429, 503)},
)
async def stream(
    request: Request,
    conversation_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    settings: SettingsDep,
    redis: RedisDep,
    message_id: Annotated[str, Query(pattern=UUID_PATTERN)],
    ticket: Annotated[str | None, Query(max_length=4096)] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> EventSourceResponse:
    """Events: `message_chunk {content, delta}`, `message_complete {message_id,
    role, content, total_tokens, model, degraded, grounded, status,
    citations}`, `error {code, message}`, `not_resumable` when the stream
    has expired. Resume with the `Last-Event-ID` header or `last_event_id`;
    heartbeats carry no id."""
    conversation_id, message_id = conversation_id.lower(), message_id.lower()
    await _authorize(request, conversation_id, message_id, ticket)
    after = valid_event_id(request.headers.get("last-event-id") or last_event_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for event in guarded(tail(settings, redis, message_id, after)):
            yield ServerSentEvent(json.dumps(event.data), event=event.event, id=event.id or None)

    return EventSourceResponse(events(), ping=HEARTBEAT_SECONDS, headers=SSE_HEADERS)


class DirectMessage(BaseModel):
    content: str = Field(min_length=1, max_length=MAX_USER_MESSAGE_CHARS)
    model: str | None = Field(default=None, max_length=100, description="From GET /api/ai/models")
    character: str | None = Field(
        default=None,
        max_length=MAX_CHARACTER_NAME_CHARS,
        description="The character you address; default: the scenario's character, "
        "else the narrator",
    )
    scenario_id: UUID | None = Field(
        default=None,
        description="Accepted for the seed's clients; the conversation's own scenario is used",
    )

    @field_validator("content", "character")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def _relay(exc: CoreResponseError) -> AppError:
    """core's refusal of the turn, as our own envelope (same status and code)."""
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
    return ServerSentEvent(json.dumps(event.data), event=event.event, id=event.id or None)


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
) -> EventSourceResponse:
    """The seed's direct chat: the turn is stored through core (you must own
    the conversation) and answered in this response as `event: message`
    frames `{type: start|token|complete}` (`error` frames as on the stream).
    Every frame after `start` has an id: if the connection drops, resume on
    GET .../stream?message_id=... with that id as Last-Event-ID. A dropped
    connection never stops the answer."""
    check_model(settings, body.model)
    core = request.app.state.core_client
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
        await queue_generation(settings, redis, turn, request)
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

    return EventSourceResponse(events(), ping=HEARTBEAT_SECONDS, headers=SSE_HEADERS)


class LlmTestBody(BaseModel):
    prompt: str = Field(default="Say hello in five words.", min_length=1, max_length=500)


class LlmTestResult(BaseModel):
    ok: bool
    provider: str
    model: str
    preview: str = Field(description=f"The first ~{LLM_TEST_TOKENS} tokens of the answer")
    latency_ms: float


@router.post(
    "/llm/test",
    response_model=LlmTestResult,
    responses=error_responses(400, 401, 403, 415, 429, 502),
)
async def llm_test(
    request: Request, user: StaffUser, settings: SettingsDep, body: LlmTestBody | None = None
) -> LlmTestResult:
    """Staff: ask the configured provider a short question. 502 with the
    provider's error (never its key) when it fails or times out."""
    from gaji_ai.generation.runner import provider_for

    prompt = (body or LlmTestBody()).prompt
    started = time.monotonic()
    try:
        provider = provider_for(settings)

        def ask() -> str:
            deltas = provider.stream([ChatMessage("user", prompt)], max_tokens=LLM_TEST_TOKENS)
            return "".join(itertools.islice(deltas, LLM_TEST_TOKENS))

        if isinstance(provider, LocalProvider):
            # Native code that can crash runs in a child process: never in
            # the API process, which owns the vector store (the engine is a
            # process of its own already).
            from gaji_ai.llm.selftest import ask_in_child

            try:
                preview = await ask_in_child(
                    prompt, LLM_TEST_TOKENS, timeout=settings.llm.llm_timeout_seconds + 5
                )
            except RuntimeError as exc:
                raise ProviderError(str(exc)) from exc
        else:
            preview = await asyncio.wait_for(
                asyncio.to_thread(ask), timeout=settings.llm.llm_timeout_seconds + 5
            )
    except (ProviderError, ValueError) as exc:
        raise AppError(
            502,
            ErrorCode.UPSTREAM_ERROR,
            f"The {settings.llm.llm_provider} provider failed: {exc}"[:600],
        ) from exc
    except TimeoutError as exc:
        raise AppError(
            502, ErrorCode.UPSTREAM_ERROR, f"The {settings.llm.llm_provider} provider timed out."
        ) from exc
    return LlmTestResult(
        ok=True,
        provider=provider.name,
        model=provider.default_model,
        preview=preview,
        latency_ms=round((time.monotonic() - started) * 1000, 1),
    )
