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
import json
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from gaji_contracts.conversations import (
    AssistantMessageResult,
    MessageComplete,
    PlannedAnswer,
    Speaker,
)
from gaji_contracts.streams import StreamErrorCode
from pydantic import BaseModel
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

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

    async def reading(self) -> bool | None:
        """Whether a reader is attached to the stream (None: cannot tell)."""
        ...


class StreamSink:
    """A turn's stream written from the API process (async Redis)."""

    def __init__(self, redis: AsyncRedis, prefix: str, message_id: str) -> None:
        self._stream = StreamReader(redis, prefix)
        self._message_id = message_id

    async def append(self, event: str, data: BaseModel) -> None:
        await self._stream.append(self._message_id, event, data)

    async def finish(self) -> None:
        await self._stream.finish(self._message_id)

    async def reading(self) -> bool | None:
        try:
            return await self._stream.reading(self._message_id)
        except RedisError:
            return None


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
    sink: Sink,
    result: AssistantMessageResult,
    code: StreamErrorCode | None = None,
    *,
    speaker: Speaker | None = None,
    more: bool = False,
) -> None:
    """An answer's last events: the error (if any), then the answer as
    saved; the stream is finished after the turn's last answer (`more`
    false)."""
    if code is not None:
        await sink.append(ERROR, error(code))
    await sink.append(COMPLETE, MessageComplete.of(result, speaker=speaker, more=more))
    if not more:
        await sink.finish()


async def end(
    core: CoreClient,
    sink: Sink,
    conversation_id: str,
    result: AssistantMessageResult,
    *,
    code: StreamErrorCode | None = None,
    delays: tuple[float, ...] = (),
    speaker: Speaker | None = None,
    more: bool = False,
) -> bool:
    """Save, then publish. False (nothing published) while core is away.
    The turn's last answer tells core whether anyone is reading the stream
    (nobody: core notifies the owner that the answer is ready)."""
    if not more and result.reader_attached is None:
        result = result.model_copy(update={"reader_attached": await sink.reading()})
    if await save(core, conversation_id, result, delays) is Saved.UNAVAILABLE:
        return False
    await publish(sink, result, code, speaker=speaker, more=more)
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


async def remember_answers(
    redis: AsyncRedis, prefix: str, message_id: str, attempt: int, answers: list[PlannedAnswer]
) -> None:
    """At enqueue, for a turn of several answers: the reaper ends each."""
    if len(answers) > 1:
        payload = json.dumps([a.model_dump(mode="json") for a in answers])
        await redis.set(keys.answers(prefix, message_id, attempt), payload, ex=UNSAVED_TTL_SECONDS)


async def _answers_of(redis: AsyncRedis, prefix: str, turn: tracking.Turn) -> list[PlannedAnswer]:
    raw = await redis.get(keys.answers(prefix, turn.message_id, turn.attempt))
    if raw is None:
        return [
            PlannedAnswer(
                message_id=turn.message_id,
                attempt=turn.attempt,
                speaker=Speaker.narrator(),  # unknown here; core keeps the message's own
            )
        ]
    return [PlannedAnswer.model_validate(a) for a in json.loads(raw)]


@dataclass
class _Heard:
    """What a turn's stream holds of one answer."""

    content: str = ""
    chunks: int = 0
    complete: bool = False


async def _heard(reader: StreamReader, stream_id: str, first: str) -> dict[str, _Heard]:
    """Per answer id (chunks without an id are the first answer's), what
    the stream holds."""
    heard: dict[str, _Heard] = {}
    after = None
    while batch := await reader.read(stream_id, after, count=1000):
        for event in batch:
            answer = str(event.data.get("message_id") or first)
            state = heard.setdefault(answer, _Heard())
            if event.event == CHUNK:
                state.chunks += 1
                state.content = str(event.data.get("content", ""))
            elif event.event == COMPLETE:
                state.complete = True
        after = batch[-1].id
    return heard


async def end_lost(redis: AsyncRedis, prefix: str, core: CoreClient, turn: tracking.Turn) -> bool:
    """A turn whose worker is gone: end each of its answers not ended yet,
    in order: save an answer core could not take earlier, or else end it
    `failed` (WORKER_LOST) with the partial text the stream holds. False
    when core could not be reached (try again later)."""
    sink = StreamSink(redis, prefix, turn.message_id)
    answers = await _answers_of(redis, prefix, turn)
    heard = await _heard(StreamReader(redis, prefix), turn.message_id, turn.message_id)
    left = [a for a in answers if not heard.get(str(a.message_id), _Heard()).complete]
    known = len(answers) > 1
    for i, answer in enumerate(left):
        message_id = str(answer.message_id)
        more = i < len(left) - 1
        speaker = answer.speaker if known else None
        unsaved_key = keys.unsaved(prefix, message_id, answer.attempt)
        unsaved = await redis.get(unsaved_key)
        if unsaved is not None:
            result = AssistantMessageResult.model_validate_json(unsaved)
            if not await end(core, sink, turn.conversation_id, result, speaker=speaker, more=more):
                return False
            await redis.delete(unsaved_key)
            logger.info("answer %s saved on core after its worker gave up", message_id)
            continue
        state = heard.get(message_id, _Heard())
        result = AssistantMessageResult(
            message_id=message_id,
            content=state.content,
            status="failed",
            total_tokens=state.chunks,
            attempt=answer.attempt,
            error_code=StreamErrorCode.WORKER_LOST.value,
        )
        if not await end(
            core,
            sink,
            turn.conversation_id,
            result,
            code=StreamErrorCode.WORKER_LOST,
            speaker=speaker,
            more=more,
        ):
            return False
        logger.warning("generation %s attempt %s: worker lost", message_id, answer.attempt)
    return True


async def end_or_retry_later(
    redis: AsyncRedis, prefix: str, core: CoreClient, turn: tracking.Turn
) -> bool:
    """`end_lost`, or the turn is tried again CORE_RETRY_SECONDS later."""
    if await end_lost(redis, prefix, core, turn):
        return True
    await tracking.retry_later(redis, prefix, turn, delay=CORE_RETRY_SECONDS)
    return False
