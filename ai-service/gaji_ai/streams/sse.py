"""Reading an answer's stream as Server-Sent Events: replay after a
`Last-Event-ID`, then tail until the stream ends."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator

from gaji_contracts.streams import NOT_RESUMABLE, StreamErrorCode
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from gaji_ai.config import Settings
from gaji_ai.streams.stream import (
    ERROR,
    READING_MARK_SECONDS,
    StreamEvent,
    StreamReader,
    comes_after,
    ends_stream,
    error,
)

HEARTBEAT_SECONDS = 15
# Each blocking read stays well under the Redis client's socket timeout.
POLL_SECONDS = 1
# The reaper ends a turn no worker started (GENERATION_START_TIMEOUT_SECONDS
# without a live worker, GENERATION_QUEUE_TIMEOUT_SECONDS at most); a stream
# still empty this much later ends by itself (reaper not running).
START_GRACE_SECONDS = 60
SSE_HEADERS = {"Cache-Control": "no-store"}
SSE_RESPONSES = {200: {"content": {"text/event-stream": {}}}}


def _event(name: str, code: StreamErrorCode) -> StreamEvent:
    return StreamEvent("", name, error(code).model_dump(mode="json"))


async def tail(
    settings: Settings, redis: AsyncRedis, message_id: str, after: str | None
) -> AsyncIterator[StreamEvent]:
    """A generation's events after `after`, then new ones as they come, until
    the stream ends. An expired stream yields one `not_resumable` event; a
    turn no worker ever started yields an `error` (NOT_STARTED)."""
    reader = StreamReader(redis, settings.rate_limit.rate_limit_prefix)
    give_up = settings.llm.generation_queue_timeout_seconds + START_GRACE_SECONDS
    waited = 0.0
    marked_at = -math.inf
    while True:
        # Someone is reading: a turn ending now needs no "answer ready" notification.
        if time.monotonic() - marked_at >= READING_MARK_SECONDS:
            await reader.mark_reading(message_id)
            marked_at = time.monotonic()
        batch = await reader.read(message_id, after, block_ms=POLL_SECONDS * 1000)
        if not batch:
            latest = await reader.last(message_id)
            if latest is not None:
                if ends_stream(latest) and not comes_after(latest.id, after):
                    return  # resumed after the end: nothing more will come
                # Alive with nothing new (the ping keeps the connection open),
                # or events landed between the read and this look: read them.
                continue
            if not await reader.queued(message_id):
                yield _event(NOT_RESUMABLE, StreamErrorCode.NOT_RESUMABLE)
                return
            waited += POLL_SECONDS
            if waited >= give_up:
                yield _event(ERROR, StreamErrorCode.NOT_STARTED)
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
        yield _event(ERROR, StreamErrorCode.STREAM_UNAVAILABLE)


def sse_frame(event: StreamEvent) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(event.data), event=event.event, id=event.id or None)


def sse_response(frames: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """Frames with a heartbeat (a comment, no id) every HEARTBEAT_SECONDS."""
    return EventSourceResponse(frames, ping=HEARTBEAT_SECONDS, headers=SSE_HEADERS)
