"""An answer's events in a Redis Stream keyed by the assistant message id.

The worker appends (`StreamWriter`, sync); the SSE endpoint replays from a
`Last-Event-ID` and tails (`StreamReader`, async). Stream ids are the SSE
event ids, so a reconnect resumes exactly after the last event received:
every delta once, in order. Streams are bounded (MAXLEN) and expire
STREAM_TTL_SECONDS after the generation ends; a cancel is a flag the worker
checks between tokens, and the `queued` flag tells a stream not started yet
from an expired one; the `reading` mark says whether anyone is attached (a
turn that ends with nobody reading has core notify its owner). The events'
payloads are gaji_contracts.streams models."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import redis
from gaji_contracts.conversations import AssistantMessageResult, MessageComplete, Speaker
from gaji_contracts.streams import (
    ERROR,
    ERRORS_BEFORE_COMPLETE,
    MESSAGE_CHUNK,
    MESSAGE_COMPLETE,
    MessageChunk,
    StreamError,
    StreamErrorCode,
    stream_error,
)
from pydantic import BaseModel
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.generation import keys

MAXLEN = 20_000
STREAM_TTL_SECONDS = 3600
QUEUED_TTL_SECONDS = 3600
# A reader attached to a stream marks it every READING_MARK_SECONDS; the mark
# outlives a reader who left by at most READING_TTL_SECONDS.
READING_MARK_SECONDS = 2
READING_TTL_SECONDS = 6
EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
CHUNK, COMPLETE = MESSAGE_CHUNK, MESSAGE_COMPLETE
TERMINAL = {COMPLETE, ERROR}


def ends_stream(event: StreamEvent) -> bool:
    """The turn's last answer is complete (or an error ended the stream)."""
    return (event.event == COMPLETE and not event.data.get("more")) or (
        event.event == ERROR and event.data.get("code") not in ERRORS_BEFORE_COMPLETE
    )


@dataclass(frozen=True)
class StreamEvent:
    id: str
    event: str
    data: dict[str, Any]


def valid_event_id(value: str | None) -> str | None:
    """A client's Last-Event-ID if it is a stream id, else None (start over)."""
    return value if value and EVENT_ID.match(value) else None


def _entry(event: str, data: dict[str, Any] | BaseModel) -> dict[str, str]:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return {"event": event, "data": json.dumps(data)}


def chunk(
    content: str, delta: str, *, message_id: str | None = None, speaker: Speaker | None = None
) -> MessageChunk:
    return MessageChunk(content=content, delta=delta, message_id=message_id, speaker=speaker)


def error(code: StreamErrorCode) -> StreamError:
    """An `error` event's payload with the message readers see for `code`."""
    return stream_error(code)


class StreamWriter:
    """The worker's side (sync Redis)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def append(self, message_id: str, event: str, data: dict[str, Any] | BaseModel) -> str:
        raw = self._redis.xadd(
            keys.stream(self._prefix, message_id),
            _entry(event, data),
            maxlen=MAXLEN,
            approximate=True,
        )
        return _s(raw)

    def finish(self, message_id: str, ttl_seconds: int = STREAM_TTL_SECONDS) -> None:
        self._redis.expire(keys.stream(self._prefix, message_id), ttl_seconds)
        self._redis.delete(keys.cancel(self._prefix, message_id))

    def cancelled(self, message_id: str) -> bool:
        return bool(self._redis.exists(keys.cancel(self._prefix, message_id)))

    def reading(self, message_id: str) -> bool:
        """Whether a reader is attached to the stream now (StreamReader.mark_reading)."""
        return bool(self._redis.exists(keys.reading(self._prefix, message_id)))


class StreamReader:
    """The API process's side (async Redis): replay and tail, the cancel flag,
    and the few writes it makes itself (a fresh stream at enqueue, the
    reaper's ending of a dead worker's turn)."""

    def __init__(self, client: AsyncRedis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def exists(self, message_id: str) -> bool:
        return bool(await self._redis.exists(keys.stream(self._prefix, message_id)))

    async def read(
        self, message_id: str, after: str | None, *, block_ms: int = 0, count: int = 500
    ) -> list[StreamEvent]:
        """Events after `after` (from the start when None); waits up to
        `block_ms` for new ones when there are none yet."""
        key = keys.stream(self._prefix, message_id)
        result = await self._redis.xread({key: after or "0-0"}, count=count, block=block_ms or None)
        events = []
        for _, entries in result or []:
            for raw_id, fields in entries:
                fields = {_s(k): _s(v) for k, v in fields.items()}
                events.append(
                    StreamEvent(
                        _s(raw_id), fields.get("event", ""), json.loads(fields.get("data", "{}"))
                    )
                )
        return events

    async def last(self, message_id: str) -> StreamEvent | None:
        """The stream's latest event (None when the stream does not exist)."""
        entries = await self._redis.xrevrange(keys.stream(self._prefix, message_id), count=1)
        for raw_id, fields in entries:
            fields = {_s(k): _s(v) for k, v in fields.items()}
            return StreamEvent(
                _s(raw_id), fields.get("event", ""), json.loads(fields.get("data", "{}"))
            )
        return None

    async def mark_reading(self, message_id: str, ttl_seconds: int = READING_TTL_SECONDS) -> None:
        """A reader is attached: refreshed while it stays, gone
        READING_TTL_SECONDS after it left."""
        await self._redis.set(keys.reading(self._prefix, message_id), "1", ex=ttl_seconds)

    async def reading(self, message_id: str) -> bool:
        return bool(await self._redis.exists(keys.reading(self._prefix, message_id)))

    async def mark_queued(self, message_id: str, ttl_seconds: int = QUEUED_TTL_SECONDS) -> None:
        await self._redis.set(keys.queued(self._prefix, message_id), "1", ex=ttl_seconds)

    async def queued(self, message_id: str) -> bool:
        """Whether the turn was queued (an empty stream then waits for its worker)."""
        return bool(await self._redis.exists(keys.queued(self._prefix, message_id)))

    async def request_cancel(self, message_id: str, ttl_seconds: int = 600) -> None:
        await self._redis.set(keys.cancel(self._prefix, message_id), "1", ex=ttl_seconds)

    async def reset(self, message_id: str) -> None:
        """At enqueue: a (re)generated answer starts a fresh stream, with no
        cancel left over (a cancel sent after this, even before a worker
        starts the turn, is honoured)."""
        await self._redis.delete(
            keys.stream(self._prefix, message_id), keys.cancel(self._prefix, message_id)
        )

    async def append(self, message_id: str, event: str, data: dict[str, Any] | BaseModel) -> str:
        """The API process's writes (the reaper ending a dead worker's turn)."""
        raw = await self._redis.xadd(
            keys.stream(self._prefix, message_id),
            _entry(event, data),
            maxlen=MAXLEN,
            approximate=True,
        )
        return _s(raw)

    async def finish(self, message_id: str, ttl_seconds: int = STREAM_TTL_SECONDS) -> None:
        await self._redis.expire(keys.stream(self._prefix, message_id), ttl_seconds)
        await self._redis.delete(keys.cancel(self._prefix, message_id))


def complete_data(result: AssistantMessageResult) -> dict[str, Any]:
    """The `message_complete` event's data (gaji_contracts MessageComplete):
    the answer as saved on core, with the citations of the passages its
    prompt held."""
    return MessageComplete.of(result).model_dump(mode="json")


def comes_after(event_id: str, after: str | None) -> bool:
    """Whether the stream entry `event_id` is later than `after` (None: the
    start). Redis stream ids are `<ms>-<seq>`, ordered as number pairs."""
    if after is None:
        return True

    def key(value: str) -> tuple[int, int]:
        ms, _, seq = value.partition("-")
        return int(ms), int(seq or 0)

    return key(event_id) > key(after)


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
