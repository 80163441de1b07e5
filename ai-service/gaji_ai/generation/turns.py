"""The API side of a chat turn: check the model, ground the turn, queue it,
relay a cancel. The worker side is gaji_ai.generation.turn.

A turn is grounded here, once (gaji_ai.generation.grounding): this process
holds the vector store and a warm embedder, and the grounding travels to
the worker inside the task."""

from __future__ import annotations

import asyncio
import logging
import time

from gaji_contracts.conversations import GenerationRequest
from gaji_contracts.errors import ErrorCode
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.clients.core import CoreClient
from gaji_ai.common.errors import AppError
from gaji_ai.config import Settings
from gaji_ai.generation import outcome, tracking
from gaji_ai.generation.grounding import ground
from gaji_ai.generation.task import Grounding, TurnTask, planned_answers, ungrounded
from gaji_ai.streams.stream import StreamReader
from gaji_ai.taskqueue import GENERATE_TASK, send
from gaji_ai.vectors.store import VectorStore

logger = logging.getLogger("gaji_ai.generation")
# Retrieval takes tens of milliseconds; past this the turn is answered
# from the brief alone rather than kept waiting.
GROUNDING_TIMEOUT_SECONDS = 5.0


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


async def grounded(
    settings: Settings, request: GenerationRequest, store: VectorStore, core: CoreClient
) -> Grounding:
    started = time.monotonic()
    try:
        found = await asyncio.wait_for(
            ground(settings, request, store, core=core), GROUNDING_TIMEOUT_SECONDS
        )
    except TimeoutError:
        logger.warning("grounding %s timed out: answered ungrounded", request.assistant_message_id)
        return ungrounded(request)
    except Exception:  # retrieval must never cost the reader the answer
        logger.exception("grounding %s failed: answered ungrounded", request.assistant_message_id)
        return ungrounded(request)
    logger.info(
        "grounding %s: %d passages in %.0f ms",
        request.assistant_message_id,
        len(found.passages),
        (time.monotonic() - started) * 1000,
    )
    return found


async def queue_generation(
    settings: Settings,
    redis: AsyncRedis,
    store: VectorStore,
    core: CoreClient,
    request: GenerationRequest,
) -> None:
    """A fresh stream and the turn registered for the reaper, while the turn
    is grounded (both at once), then the Celery task (queue `generation`).
    503 when Redis or the broker is away."""
    prefix = settings.rate_limit.rate_limit_prefix
    message_id = str(request.assistant_message_id)

    async def prepare() -> None:
        stream = StreamReader(redis, prefix)
        try:
            await stream.reset(message_id)
            await stream.mark_queued(message_id)
            await outcome.remember_answers(
                redis, prefix, message_id, request.attempt, planned_answers(request)
            )
            await tracking.register(
                redis,
                prefix,
                tracking.Turn(message_id, request.attempt, str(request.conversation_id)),
                start_timeout=settings.llm.generation_start_timeout_seconds,
            )
        except Exception as exc:
            raise AppError(
                503, ErrorCode.SERVICE_UNAVAILABLE, "The generation queue is unavailable."
            ) from exc

    try:
        async with asyncio.TaskGroup() as group:  # grounding never raises: it degrades
            group.create_task(prepare())
            grounding = group.create_task(grounded(settings, request, store, core))
    except* AppError as refused:
        raise refused.exceptions[0] from None
    task = TurnTask(request=request, grounding=grounding.result())
    try:
        await send(GENERATE_TASK, task.model_dump(mode="json"))
    except Exception as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "The generation queue is unavailable."
        ) from exc


async def request_cancel(settings: Settings, redis: AsyncRedis, message_id: str) -> None:
    """The worker stops within a tenth of a second and saves the partial text as `cancelled`."""
    await StreamReader(redis, settings.rate_limit.rate_limit_prefix).request_cancel(message_id)
