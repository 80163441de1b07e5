"""The only code that ends a chat turn.

Ending a turn is always the same three steps, whoever does it (the worker
at the end of an answer, the reaper for a dead worker's turn or an answer
core could not take, the direct endpoint when the queue is away):

1. save the answer on core (idempotent by message id and attempt);
2. tell the stream's readers: an `error` first when there is one, then
   `message_complete` with the answer as saved;
3. finish the stream (it expires STREAM_TTL_SECONDS later).

While core is unreachable the answer is not published as complete: the
worker keeps it in Redis (`stash`) and the reaper saves it later
(`end_lost`); the turn stays tracked meanwhile."""

from __future__ import annotations

import asyncio
import inspect
import logging
from enum import Enum
from typing import Protocol

from gaji_contracts.conversations import AssistantMessageResult, MessageComplete
from gaji_contracts.streams import StreamErrorCode
from pydantic import BaseModel
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable
from gaji_ai.generation import keys, tracking
from gaji_ai.streams.stream import CHUNK, COMPLETE, ERROR, StreamReader, error

logger = logging.getLogger("gaji_ai.generation.outcome")
# The worker's retries while core is unreachable (about a minute in all).
PERSIST_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)
UNSAVED_TTL_SECONDS = 3600
# How long the reaper waits before trying a turn again when core is away.
CORE_RETRY_SECONDS = 10.0


class Saved(Enum):
    SAVED = "saved"
    REFUSED = "refused"  # core answered no (the conversation was deleted): nothing to retry
    UNAVAILABLE = "unavailable"  # core did not answer: try again later


class Sink(Protocol):
    """Where a turn's events go (the live stream of the worker, or Redis directly)."""

    async def append(self, event: str, data: BaseModel) -> None: ...

    async def finish(self) -> None: ...


class StreamSink:
    """A turn's stream written from the API process (async Redis)."""

    def __init__(self, redis: AsyncRedis, prefix: str, message_id: str) -> None:
        self._stream = StreamReader(redis, prefix)
        self._message_id = message_id

    async def append(self, event: str, data: BaseModel) -> None:
        await self._stream.append(self._message_id, event, data)

    async def finish(self) -> None:
        await self._stream.finish(self._message_id)


async def save(
    core: CoreClient,
    conversation_id: str,
    result: AssistantMessageResult,
    delays: tuple[float, ...] = (),
) -> Saved:
    """Save on core, retrying after each of `delays` while it is unreachable."""
    for delay in (*delays, None):
        try:
            await core.persist_message(conversation_id, result)
            return Saved.SAVED
        except CoreResponseError as exc:
            logger.warning("core refused answer %s: HTTP %s", result.message_id, exc.status)
            return Saved.REFUSED
        except CoreUnavailable:
            if delay is None:
                return Saved.UNAVAILABLE
            await asyncio.sleep(delay)
    return Saved.UNAVAILABLE


async def publish(
    sink: Sink, result: AssistantMessageResult, code: StreamErrorCode | None = None
) -> None:
    """The stream's last events: the error (if any), then the answer as saved."""
    if code is not None:
        await sink.append(ERROR, error(code))
    await sink.append(COMPLETE, MessageComplete.of(result))
    await sink.finish()


async def end(
    core: CoreClient,
    sink: Sink,
    conversation_id: str,
    result: AssistantMessageResult,
    *,
    code: StreamErrorCode | None = None,
    delays: tuple[float, ...] = (),
) -> bool:
    """Save, then publish. False (nothing published) while core is away."""
    if await save(core, conversation_id, result, delays) is Saved.UNAVAILABLE:
        return False
    await publish(sink, result, code)
    return True


async def stash(redis: AsyncRedis | SyncRedis, prefix: str, result: AssistantMessageResult) -> None:
    """Keep an answer core did not take, for the reaper (`end_lost` saves it)."""
    done = redis.set(
        keys.unsaved(prefix, str(result.message_id), result.attempt or 1),
        result.model_dump_json(),
        ex=UNSAVED_TTL_SECONDS,
    )
    if inspect.isawaitable(done):
        await done


async def _partial(reader: StreamReader, message_id: str) -> tuple[str, int, str | None]:
    """The text streamed so far, its delta count, and the stream's last event kind."""
    last = await reader.last(message_id)
    if last is None:
        return "", 0, None
    if last.event != CHUNK:
        return "", 0, last.event
    chunks = 0
    after = None
    while batch := await reader.read(message_id, after, count=1000):
        chunks += sum(1 for e in batch if e.event == CHUNK)
        after = batch[-1].id
    return str(last.data.get("content", "")), chunks, last.event


async def end_lost(redis: AsyncRedis, prefix: str, core: CoreClient, turn: tracking.Turn) -> bool:
    """A turn whose worker is gone: save an answer core could not take
    earlier, or else end it `failed` (WORKER_LOST) with the partial text the
    stream holds. False when core could not be reached (try again later)."""
    sink = StreamSink(redis, prefix, turn.message_id)
    unsaved = await redis.get(keys.unsaved(prefix, turn.message_id, turn.attempt))
    if unsaved is not None:
        result = AssistantMessageResult.model_validate_json(unsaved)
        if not await end(core, sink, turn.conversation_id, result):
            return False
        await redis.delete(keys.unsaved(prefix, turn.message_id, turn.attempt))
        logger.info("answer %s saved on core after its worker gave up", turn.message_id)
        return True
    content, tokens, last_event = await _partial(StreamReader(redis, prefix), turn.message_id)
    if last_event == COMPLETE:
        return True  # the worker finished and died before leaving the set
    result = AssistantMessageResult(
        message_id=turn.message_id,
        content=content,
        status="failed",
        total_tokens=tokens,
        attempt=turn.attempt,
        error_code=StreamErrorCode.WORKER_LOST.value,
    )
    if not await end(core, sink, turn.conversation_id, result, code=StreamErrorCode.WORKER_LOST):
        return False
    logger.warning("generation %s attempt %s: worker lost", turn.message_id, turn.attempt)
    return True


async def end_or_retry_later(
    redis: AsyncRedis, prefix: str, core: CoreClient, turn: tracking.Turn
) -> bool:
    """`end_lost`, or the turn is tried again CORE_RETRY_SECONDS later."""
    if await end_lost(redis, prefix, core, turn):
        return True
    await tracking.retry_later(redis, prefix, turn, delay=CORE_RETRY_SECONDS)
    return False
