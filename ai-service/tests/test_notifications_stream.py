"""A reader's live notifications (GET /api/ai/notifications/stream) and the
`reading` mark that tells core whether anyone saw an answer finish.

The stream: replay after Last-Event-ID (header or query), only new ones
without it, live delivery while connected, the end at the ticket's expiry,
and tickets of its own audience only. The mark: an answer's stream marks
its readers; the turn's last answer tells core whether one was there."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis as sync_redis
from chat_support import FakeCore, Scripted, fill, parse, request, run_turn
from chat_support import ticket as answer_ticket
from gaji_contracts.conversations import AssistantMessageResult
from gaji_contracts.notifications import (
    NotificationEvent,
    NotificationKind,
    notification_stream_key,
)
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.generation import keys, outcome
from gaji_ai.llm import registry
from gaji_ai.main import create_app
from gaji_ai.streams.stream import StreamReader

from support import TEST_REDIS_URL, running

URL = "/api/ai/notifications/stream"


@pytest.fixture
async def api(test_settings, published_key, redis_prefix):
    app = create_app(test_settings())
    async with running(app) as client:
        yield client, published_key, redis_prefix


@pytest.fixture
def rdb():
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    yield client
    client.close()


def reader_of(prefix: str) -> tuple[str, str]:
    """A user id and their stream key, under the test's prefix (core's, in production)."""
    user = str(uuid.uuid4())
    return user, notification_stream_key(prefix, user)


def notification_ticket(key, user: str, stream: str, *, seconds: int = 2, **overrides) -> str:
    now = int(time.time())
    claims = {
        "aud": "gaji-notifications",
        "token_type": "notification_ticket",
        "sub": user,
        "stream": stream,
        "iat": now,
        "exp": now + seconds,
        **overrides,
    }
    return key.token(**claims)


def push(rdb, stream: str, text: str, unread: int = 1) -> str:
    """What core appends once a notification is committed."""
    event = NotificationEvent(
        notification={
            "id": uuid.uuid4(),
            "kind": NotificationKind.FOLLOWED,
            "actor": {"id": uuid.uuid4(), "username": "darcy"},
            "text": text,
            "read": False,
            "created_at": datetime.now(UTC),
        },
        unread_count=unread,
    )
    return rdb.xadd(
        stream, {"event": "notification", "data": event.model_dump_json()}, maxlen=200
    ).decode()


def texts(frames: list[dict]) -> list[str]:
    return [json.loads(f["data"])["notification"]["text"] for f in frames]


async def test_replays_after_the_last_event_id_then_ends_with_the_ticket(api, rdb):
    client, key, prefix = api
    user, stream = reader_of(prefix)
    ids = [push(rdb, stream, f"n{i}", unread=i + 1) for i in range(3)]
    params = {"ticket": notification_ticket(key, user, stream)}
    started = time.monotonic()
    response = await client.get(URL, params=params, headers={"Last-Event-ID": ids[0]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = parse(response.text)
    assert [f["event"] for f in frames] == ["notification", "notification"]
    assert [f["id"] for f in frames] == ids[1:]
    assert texts(frames) == ["n1", "n2"]
    body = json.loads(frames[-1]["data"])
    assert body["unread_count"] == 3 and body["notification"]["actor"]["username"] == "darcy"
    assert time.monotonic() - started < 5  # ended when the ticket expired
    again = {"ticket": notification_ticket(key, user, stream, seconds=1), "last_event_id": ids[1]}
    by_query = await client.get(URL, params=again)
    assert [f["id"] for f in parse(by_query.text)] == ids[2:]


async def test_without_a_last_event_id_only_new_notifications_come(api, rdb):
    client, key, prefix = api
    user, stream = reader_of(prefix)
    push(rdb, stream, "old news")
    params = {"ticket": notification_ticket(key, user, stream, seconds=3)}
    request_task = asyncio.create_task(client.get(URL, params=params))
    await asyncio.sleep(1.0)  # connected and tailing
    live = push(rdb, stream, "live", unread=2)
    response = await request_task
    frames = parse(response.text)
    assert texts(frames) == ["live"] and frames[0]["id"] == live


async def test_a_stream_that_does_not_exist_yet_delivers_its_first_entry(api, rdb):
    client, key, prefix = api
    user, stream = reader_of(prefix)
    params = {"ticket": notification_ticket(key, user, stream, seconds=3)}
    request_task = asyncio.create_task(client.get(URL, params=params))
    await asyncio.sleep(1.0)
    push(rdb, stream, "first ever")
    assert texts(parse((await request_task).text)) == ["first ever"]


async def test_a_malformed_entry_is_skipped(api, rdb):
    client, key, prefix = api
    user, stream = reader_of(prefix)
    first = push(rdb, stream, "before")
    rdb.xadd(stream, {"event": "notification", "data": '{"notification": 1}'})
    rdb.xadd(stream, {"event": "something_else", "data": "{}"})
    push(rdb, stream, "after")
    params = {"ticket": notification_ticket(key, user, stream, seconds=1)}
    response = await client.get(URL, params=params, headers={"Last-Event-ID": first})
    assert texts(parse(response.text)) == ["after"]


async def test_only_a_notification_ticket_of_the_reader_opens_it(api, rdb):
    client, key, prefix = api
    user, stream = reader_of(prefix)
    push(rdb, stream, "secret")

    async def status_of(**params) -> tuple[int, str]:
        response = await client.get(URL, params={"last_event_id": "0-0", **params})
        body = response.json() if response.status_code != 200 else {"code": ""}
        return response.status_code, body["code"]

    assert await status_of() == (401, "NOT_AUTHENTICATED")
    now = int(time.time())
    refused = {
        "expired": notification_ticket(key, user, stream, iat=now - 600, exp=now - 300),
        "expired, within the clock skew": notification_ticket(key, user, stream, exp=now - 1),
        "an answer's stream ticket": answer_ticket(key, str(uuid.uuid4()), str(uuid.uuid4())),
        "an access token": key.token(sub=user),
        "wrong audience": notification_ticket(key, user, stream, aud="gaji-stream"),
        "wrong type": notification_ticket(key, user, stream, token_type="stream_ticket"),
        "another reader's stream": notification_ticket(
            key, str(uuid.uuid4()), notification_stream_key(prefix, user)
        ),
        "tampered": notification_ticket(key, user, stream)[:-4] + "AAAA",
    }
    for label, token in refused.items():
        status, code = await status_of(ticket=token)
        assert (status, code) == (401, "TOKEN_INVALID"), label
    # The control: the reader's own ticket opens it.
    own = notification_ticket(key, user, stream, seconds=1)
    response = await client.get(URL, params={"ticket": own, "last_event_id": "0-0"})
    assert texts(parse(response.text)) == ["secret"]


async def test_a_notification_ticket_does_not_open_an_answer_stream(api):
    client, key, prefix = api
    user, stream = reader_of(prefix)
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())
    fill(prefix, message, ["x"])
    response = await client.get(
        f"/api/ai/conversations/{conversation}/stream",
        params={"message_id": message, "ticket": notification_ticket(key, user, stream)},
    )
    assert response.status_code == 401 and response.json()["code"] == "TOKEN_INVALID"


# -- the reading mark -----------------------------------------------------------------


async def test_reading_an_answer_stream_marks_it(api, rdb):
    client, key, prefix = api
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())
    fill(prefix, message, ["Once ", "upon."])
    response = await client.get(
        f"/api/ai/conversations/{conversation}/stream",
        params={"message_id": message, "ticket": answer_ticket(key, conversation, message)},
    )
    assert response.status_code == 200
    assert 0 < rdb.ttl(keys.reading(prefix, message)) <= 6


async def test_the_last_answer_tells_core_whether_anyone_was_reading(env):
    settings, client, prefix = env
    registry._providers["main"] = Scripted(["Indeed."])
    core = FakeCore()
    alone = request()
    assert await run_turn(settings, alone, redis_client=client, core=core) == "completed"
    assert core.saved[-1].reader_attached is False

    watched = request()
    aredis = AsyncRedis.from_url(TEST_REDIS_URL)
    try:
        await StreamReader(aredis, prefix).mark_reading(str(watched.assistant_message_id))
    finally:
        await aredis.aclose()
    assert await run_turn(settings, watched, redis_client=client, core=core) == "completed"
    assert core.saved[-1].reader_attached is True


async def test_only_the_turns_last_answer_says_so(env):
    settings, client, _ = env
    registry._providers["main"] = Scripted(["Well."])
    core = FakeCore()
    narrator = {"kind": "narrator", "name": "Narrator"}
    lead = uuid.uuid4()
    turn = request(
        assistant_message_id=lead,
        answers=[
            {"message_id": lead, "speaker": narrator},
            {"message_id": uuid.uuid4(), "speaker": narrator},
        ],
    )
    assert await run_turn(settings, turn, redis_client=client, core=core) == "completed"
    assert [s.reader_attached for s in core.saved] == [None, False]


async def test_the_reaper_asks_too(redis_prefix):
    """An answer the reaper ends (a lost worker, or saved once core is back)."""
    redis = AsyncRedis.from_url(TEST_REDIS_URL)
    try:
        message = str(uuid.uuid4())
        sink = outcome.StreamSink(redis, redis_prefix, message)
        core = FakeCore()
        result = AssistantMessageResult(message_id=message, status="completed", content="Yes.")
        assert await outcome.end(core, sink, str(uuid.uuid4()), result)
        assert core.saved[-1].reader_attached is False
        await StreamReader(redis, redis_prefix).mark_reading(message)
        assert await outcome.end(core, sink, str(uuid.uuid4()), result)
        assert core.saved[-1].reader_attached is True
    finally:
        await redis.aclose()
