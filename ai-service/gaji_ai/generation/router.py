"""The ai half of the chat turn: its routes (the seed's direct endpoint is in
gaji_ai.generation.direct; the API side of a turn in gaji_ai.generation.turns).

POST /api/ai/internal/generations                       core hands over a turn (service token)
POST /api/ai/internal/generations/{message_id}/cancel   core relays a user's cancel
GET  /api/ai/conversations/{conversation_id}/stream     SSE: replay from Last-Event-ID, then tail
GET  /api/ai/models                                     the models a request may choose
POST /api/ai/llm/test                                   staff: is the configured provider answering?
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from gaji_contracts.conventions import bearer_token
from gaji_contracts.conversations import (
    CancelAccepted,
    GenerationAccepted,
    GenerationRequest,
    ModelList,
)
from gaji_contracts.errors import ErrorCode
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gaji_ai.auth.dependencies import (
    AUTHENTICATE,
    ServiceCaller,
    StaffUser,
    current_user,
    verified_ticket,
)
from gaji_ai.clients.core import CoreError
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import CoreClientDep, JsonBody, RedisDep, SettingsDep, VectorStoreDep
from gaji_ai.generation.turns import (
    check_model,
    configured_models,
    queue_generation,
    request_cancel,
)
from gaji_ai.llm.providers import ChatMessage, LocalProvider, ProviderError
from gaji_ai.llm.registry import provider_for
from gaji_ai.llm.selftest import ask_in_child
from gaji_ai.streams.sse import SSE_RESPONSES, guarded, sse_frame, sse_response, tail
from gaji_ai.streams.stream import valid_event_id

router = APIRouter(tags=["chat"])
internal_router = APIRouter(tags=["internal"])
LLM_TEST_TOKENS = 16
# RFC 7235: every 401 names the scheme, as the other routes' 401s do.


@router.get("/models", response_model=ModelList, responses=error_responses(429))
async def models(settings: SettingsDep) -> ModelList:
    available = configured_models(settings)
    return ModelList(
        provider=settings.llm.llm_provider,
        default=available[0] if available else "",
        models=available,
    )


@internal_router.post(
    "/generations",
    status_code=202,
    response_model=GenerationAccepted,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 403, 415, 503),
)
async def enqueue(
    body: GenerationRequest,
    caller: ServiceCaller,
    settings: SettingsDep,
    redis: RedisDep,
    store: VectorStoreDep,
    core: CoreClientDep,
):
    """Ground the turn and queue it (Celery queue `generation`); the answer streams later."""
    check_model(settings, body.model)
    await queue_generation(settings, redis, store, core, body)
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
    await request_cancel(settings, redis, message_id.lower())
    return CancelAccepted(message_id=message_id.lower())


async def _authorize(
    request: Request, conversation_id: str, message_id: str, ticket: str | None
) -> None:
    """A ticket bound to this conversation and message; or the owner's Bearer
    token, checked against core, which knows the owner and whether the
    conversation shows the message. Owning one conversation opens none of
    another's messages (nor sets their reading mark, which would keep their
    owner's answer_ready notification away), and someone else's conversation
    is a 404 like a missing one: its existence is not told."""
    verifier = request.app.state.jwks_verifier
    if ticket:
        claims = await verified_ticket(verifier.verify_stream_ticket, ticket, what="stream")
        if claims.conversation_id != conversation_id or claims.message_id != message_id:
            raise AppError(403, ErrorCode.PERMISSION_DENIED, "This ticket is for another stream.")
        return
    if bearer_token(request.headers.get("Authorization")) is None:
        raise AppError(
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "A stream ticket or a Bearer token is required.",
            headers=AUTHENTICATE,
        )
    user = await current_user(request)
    core = request.app.state.core_client
    try:
        owner = await core.conversation_owner(conversation_id, message_id=message_id)
    except CoreError as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "Cannot check the conversation right now."
        ) from exc
    if owner is None or owner != user.sub:
        raise AppError(404, ErrorCode.NOT_FOUND, "No such message in your conversations.")


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
            yield sse_frame(event)

    return sse_response(events())


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
