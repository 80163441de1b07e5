"""Generation events in real Redis Streams: exactly-once replay from every
position, tailing, bounded lifetime, the cancel flag."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis
from redis.asyncio import Redis

from gaji_ai.generation import keys
from gaji_ai.streams.stream import (
    CHUNK,
    COMPLETE,
    StreamReader,
    StreamWriter,
    comes_after,
    valid_event_id,
)

from support import TEST_REDIS_URL


@pytest.fixture
async def pair(redis_prefix):
    sync_client = redis.Redis.from_url(TEST_REDIS_URL)
    async_client = Redis.from_url(TEST_REDIS_URL)
    yield (
        StreamWriter(sync_client, redis_prefix),
        StreamReader(async_client, redis_prefix),
        sync_client,
    )
    sync_client.close()
    await async_client.aclose()


async def test_every_delta_exactly_once_from_any_resume_point(pair):
    writer, reader, _ = pair
    words = [f"w{i} " for i in range(30)]
    text = ""
    for word in words:
        text += word
        writer.append("m1", CHUNK, {"content": text, "delta": word})
    writer.append("m1", COMPLETE, {"message_id": "m1", "content": text})
    everything = await reader.read("m1", None)
    assert [e.data.get("delta") for e in everything[:-1]] == words and everything[
        -1
    ].event == COMPLETE
    for cut in range(len(everything)):
        rest = await reader.read("m1", everything[cut].id)
        assert [e.id for e in rest] == [e.id for e in everything[cut + 1 :]]


async def test_a_reader_waiting_receives_what_is_appended_later(pair):
    writer, reader, _ = pair
    first = writer.append("m2", CHUNK, {"delta": "a"})
    timer = threading.Timer(0.2, lambda: writer.append("m2", CHUNK, {"delta": "b"}))
    timer.start()
    events = await reader.read("m2", first, block_ms=3000)
    timer.join()
    assert [e.data["delta"] for e in events] == ["b"]
    assert await asyncio.wait_for(reader.read("m2", events[-1].id, block_ms=100), 2) == []


async def test_finished_streams_expire_and_cancel_is_a_flag(pair, redis_prefix):
    writer, reader, client = pair
    writer.append("m3", CHUNK, {"delta": "x"})
    assert not writer.cancelled("m3")
    await reader.request_cancel("m3")
    assert writer.cancelled("m3")
    writer.finish("m3", ttl_seconds=30)
    assert 0 < client.ttl(keys.stream(redis_prefix, "m3")) <= 30 and not writer.cancelled("m3")
    # A regenerated answer is queued with a fresh stream and no stale cancel.
    await reader.request_cancel("m3")
    await reader.reset("m3")
    assert not await reader.exists("m3") and not writer.cancelled("m3")


def test_event_ids_from_clients_are_checked():
    assert valid_event_id("1700000000000-0") == "1700000000000-0"
    for bad in (None, "", "abc", "1-2-3", "0-0; DROP", "9" * 30 + "-0"):
        assert valid_event_id(bad) is None


def test_stream_ids_are_ordered_as_number_pairs():
    assert comes_after("10-0", None)
    assert comes_after("10-1", "10-0") and comes_after("11-0", "9-5")
    assert comes_after("100-0", "99-9")  # not as text
    assert not comes_after("10-0", "10-0") and not comes_after("9-9", "10-0")


async def test_a_tail_never_misses_an_end_that_lands_between_its_read_and_its_look(
    pair, redis_prefix
):
    """The blocking read times out empty; before the tail looks at the latest
    entry, the whole answer lands. The tail must still deliver it: before
    the fix it saw `message_complete` as the latest entry and ended silently."""
    from gaji_ai.streams.sse import tail

    from support import build_settings

    writer, _, _ = pair
    settings = build_settings(rate_limit_prefix=redis_prefix)
    real_read = StreamReader.read
    calls = 0

    async def racing_read(self, message_id, after, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            events = await real_read(self, message_id, after)  # nothing yet
            writer.append("m9", CHUNK, {"content": "Hi", "delta": "Hi"})
            writer.append("m9", COMPLETE, {"message_id": "m9", "content": "Hi"})
            return events
        return await real_read(self, message_id, after, **kwargs)

    async with Redis.from_url(TEST_REDIS_URL) as client:
        await client.set(f"{redis_prefix}:gen:m9:queued", "1", ex=60)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(StreamReader, "read", racing_read)
            events = [e async for e in tail(settings, client, "m9", None)]
    assert [e.event for e in events] == [CHUNK, COMPLETE]
