"""A chat turn in the worker and its SSE stream, with a scripted provider
(unit tests only) and real Redis: order, cancel, core down, fallback,
tickets, resume from Last-Event-ID, expiry."""

from __future__ import annotations

import uuid

import pytest
import redis as sync_redis
from chat_support import FakeCore, Scripted, fill, parse, request, run_turn, stream_of, ticket

from gaji_ai.generation import keys
from gaji_ai.llm import registry
from gaji_ai.main import create_app
from gaji_ai.streams.stream import StreamReader, StreamWriter
from gaji_ai.taskqueue import celery_app

from support import SERVICE_TOKEN, TEST_REDIS_URL, bearer, running


async def test_tokens_stream_in_order_then_complete_after_the_save(env):
    settings, client, prefix = env
    provider = registry._providers["main"] = Scripted(["I ", "do ", "not."])
    core = FakeCore()
    turn = request()
    assert await run_turn(settings, turn, redis_client=client, core=core) == "completed"
    events = stream_of(client, prefix, turn.assistant_message_id)
    assert [e for e, _ in events] == ["message_chunk"] * 3 + ["message_complete"]
    assert '"delta": "do "' in events[1][1] and '"content": "I do not."' in events[3][1]
    saved = core.saved[0]
    assert (saved.content, saved.status, saved.total_tokens, saved.degraded) == (
        "I do not.",
        "completed",
        3,
        False,
    )
    system = provider.prompts[0][0].content
    assert "Charlotte Lucas" in system and "romantic" in system
    assert 0 < client.ttl(f"{prefix}:gen:{turn.assistant_message_id}") <= 3600


async def test_cancel_stops_between_tokens_and_keeps_the_partial_text(env):
    settings, client, prefix = env
    turn = request()
    writer = StreamWriter(client, prefix)

    def cancel_at(i):
        if i == 2:
            client.set(f"{prefix}:gen:{turn.assistant_message_id}:cancel", "1")

    registry._providers["main"] = Scripted(["a ", "b ", "c ", "d "], on_token=cancel_at)
    core = FakeCore()
    assert await run_turn(settings, turn, redis_client=client, core=core) == "cancelled"
    assert (core.saved[0].status, core.saved[0].content) == ("cancelled", "a b ")
    assert stream_of(client, prefix, turn.assistant_message_id)[-1][0] == "message_complete"
    assert not writer.cancelled(str(turn.assistant_message_id))


async def test_core_down_is_retried_then_reported(env):
    settings, client, prefix = env
    registry._providers["main"] = Scripted(["ok"])
    core = FakeCore(down=2)
    turn = request()
    assert await run_turn(settings, turn, redis_client=client, core=core) == "completed"
    assert (
        len(core.saved) == 1
        and stream_of(client, prefix, turn.assistant_message_id)[-1][0] == "message_complete"
    )
    never = FakeCore(down=99)
    lost = request()
    assert await run_turn(settings, lost, redis_client=client, core=never) == "unsaved"
    events = stream_of(client, prefix, lost.assistant_message_id)
    assert events[-1][0] == "error" and "PERSIST_FAILED" in events[-1][1]
    assert "message_complete" not in [e for e, _ in events]
    # The answer is kept for the reaper to save once core is back.
    kept = client.get(keys.unsaved(prefix, str(lost.assistant_message_id), 1))
    assert b'"content":"ok"' in kept


async def test_remote_failure_before_the_first_token_falls_back_to_local_degraded(env):
    settings, client, _ = env
    remote = Scripted([], fail_first=True)
    remote.name = "openai"
    registry._providers["main"] = remote
    registry._providers["local"] = Scripted(["local ", "answer"])
    core = FakeCore()
    assert await run_turn(settings, request(), redis_client=client, core=core) == "completed"
    assert core.saved[0].degraded is True and core.saved[0].content == "local answer"


async def test_provider_failure_marks_the_answer_failed(env):
    settings, client, prefix = env
    failing = registry._providers["main"] = Scripted([], fail_first=True)
    failing.name = "local"  # the local model itself failed: nothing to fall back to
    core = FakeCore()
    turn = request()
    assert await run_turn(settings, turn, redis_client=client, core=core) == "failed"
    assert core.saved[0].error_code == "PROVIDER_ERROR"
    assert [e for e, _ in stream_of(client, prefix, turn.assistant_message_id)] == [
        "error",
        "message_complete",
    ]


# -- the API side ---------------------------------------------------------------


@pytest.fixture
async def api(test_settings, published_key, redis_prefix):
    app = create_app(test_settings())
    async with running(app) as client:
        yield client, published_key, redis_prefix


async def test_stream_with_a_ticket_replays_and_resumes_without_gaps(api):
    client, key, prefix = api
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())
    fill(prefix, message, ["Once ", "upon ", "a ", "time."])
    url = f"/api/ai/conversations/{conversation}/stream"
    params = {"message_id": message, "ticket": ticket(key, conversation, message)}
    whole = parse((await client.get(url, params=params)).text)
    assert [f["event"] for f in whole] == ["message_chunk"] * 4 + ["message_complete"]
    for cut in range(len(whole)):
        rest = parse(
            (await client.get(url, params=params, headers={"Last-Event-ID": whole[cut]["id"]})).text
        )
        assert [f["id"] for f in rest] == [f["id"] for f in whole[cut + 1 :]]
    by_query = parse(
        (await client.get(url, params={**params, "last_event_id": whole[1]["id"]})).text
    )
    assert [f["id"] for f in by_query] == [f["id"] for f in whole[2:]]


async def test_tickets_are_checked(api):
    client, key, prefix = api
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())
    fill(prefix, message, ["x"])
    url = f"/api/ai/conversations/{conversation}/stream"
    other = await client.get(
        url, params={"message_id": message, "ticket": ticket(key, conversation, str(uuid.uuid4()))}
    )
    assert other.status_code == 403
    expired = ticket(key, conversation, message, exp=1000, iat=900)
    assert (
        await client.get(url, params={"message_id": message, "ticket": expired})
    ).status_code == 401
    access = key.token()  # an access token is not a ticket
    assert (
        await client.get(url, params={"message_id": message, "ticket": access})
    ).status_code == 401
    good = ticket(key, conversation, message)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert (
        await client.get(url, params={"message_id": message, "ticket": tampered})
    ).status_code == 401
    assert (await client.get(url, params={"message_id": message})).status_code == 401


async def test_a_bearer_opens_only_its_own_conversations_messages(api, core_stub):
    """Core knows the owner and which messages a conversation shows: owning
    one conversation opens none of another's answers (nor sets its reading
    mark, which would keep its owner's answer_ready notification away), and
    someone else's conversation is a 404 exactly like a missing one."""
    client, key, prefix = api
    reader, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    own_answer, their_answer = str(uuid.uuid4()), str(uuid.uuid4())
    shown = {mine: (reader, {own_answer}), theirs: (stranger, {their_answer})}
    asked: list[dict] = []

    def context_of(conversation):
        def answer(method, body, query):
            asked.append(query)
            owner, messages = shown[conversation]
            if "message_id" in query and query["message_id"] not in messages:  # as core does
                return 404, {"code": "NOT_FOUND", "message": "Not found."}
            return 200, {"owner": {"id": owner, "username": "x"}}

        return answer

    for conversation in shown:
        core_stub.routes[f"/api/internal/conversations/{conversation}/context"] = context_of(
            conversation
        )
    fill(prefix, own_answer, ["Mine."])
    fill(prefix, their_answer, ["A private answer."])
    me = bearer(key.token(sub=reader))

    def stream(conversation, message):
        return client.get(
            f"/api/ai/conversations/{conversation}/stream",
            params={"message_id": message},
            headers=me,
        )

    ok = await stream(mine, own_answer)
    assert ok.status_code == 200
    assert [f["event"] for f in parse(ok.text)] == ["message_chunk", "message_complete"]
    assert asked[-1]["message_id"] == own_answer
    refused = {
        "their message through my conversation": await stream(mine, their_answer),
        "their conversation": await stream(theirs, their_answer),
        "a missing conversation": await stream(str(uuid.uuid4()), their_answer),
    }
    for label, response in refused.items():
        assert response.status_code == 404, (label, response.text[:200])
        envelope = response.json()
        assert (envelope["code"], envelope["message"]) == (
            "NOT_FOUND",
            "No such message in your conversations.",
        ), label
        assert "A private answer" not in response.text
    rdb = sync_redis.Redis.from_url(TEST_REDIS_URL)
    try:
        assert not rdb.exists(keys.reading(prefix, their_answer))
    finally:
        rdb.close()


async def test_an_expired_stream_says_not_resumable(api):
    client, key, _ = api
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())
    response = await client.get(
        f"/api/ai/conversations/{conversation}/stream",
        params={"message_id": message, "ticket": ticket(key, conversation, message)},
    )
    assert [f["event"] for f in parse(response.text)] == ["not_resumable"]


async def test_enqueue_checks_the_model_and_queues(api, monkeypatch):
    client, _, _ = api
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append((name, args)))
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    body = request().model_dump(mode="json")
    accepted = await client.post("/api/ai/internal/generations", json=body, headers=service)
    assert (
        accepted.status_code == 202
        and accepted.json()["message_id"] == body["assistant_message_id"]
    )
    assert (
        sent[0][0] == "gaji.generation.generate"
        and sent[0][1][0]["request"]["user_message"] == "Do you regret it?"
    )
    wrong = await client.post(
        "/api/ai/internal/generations", json={**body, "model": "gpt-9"}, headers=service
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "INVALID_MODEL"
    assert "smollm2-135m-instruct" in wrong.json()["message"]
    assert (await client.post("/api/ai/internal/generations", json=body)).status_code == 401
    models = (await client.get("/api/ai/models")).json()
    assert models == {
        "provider": "local",
        "default": "smollm2-135m-instruct",
        "models": ["smollm2-135m-instruct"],
    }


async def test_cancel_sets_the_flag(api):
    client, _, prefix = api
    message = str(uuid.uuid4())
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    response = await client.post(f"/api/ai/internal/generations/{message}/cancel", headers=service)
    assert response.status_code == 200
    writer = StreamWriter(sync_redis.Redis.from_url(TEST_REDIS_URL), prefix)
    assert writer.cancelled(message)


async def test_enqueue_says_503_and_queues_nothing_when_the_stream_cannot_be_prepared(
    api, monkeypatch
):
    client, _, _ = api
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append((name, args)))

    async def redis_away(self, message_id):
        raise ConnectionError("Redis went away")

    # The stream is prepared while the turn is grounded: its failure is the answer.
    monkeypatch.setattr(StreamReader, "reset", redis_away)
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    body = request().model_dump(mode="json")
    response = await client.post("/api/ai/internal/generations", json=body, headers=service)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert sent == []
