"""A chat turn's life beyond the happy path, on real Redis: a worker that
dies (the reaper ends its turn `failed`, a redelivered task is skipped,
regenerate works), a cancel sent before a worker starts, the direct
endpoint, the staff LLM check, the addressed character, and 50 streams at
once with no delta lost."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid

import pytest
import redis as sync_redis
from chat_support import FakeCore, Scripted, parse, request, run_turn, stream_of, ticket
from gaji_contracts.conversations import AssistantMessageResult, GenerationRequest
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.generation import grounding, keys, outcome, reaper, tracking
from gaji_ai.generation import turn as worker_turn
from gaji_ai.generation import turns as api_turns
from gaji_ai.generation.prompt import persona_name
from gaji_ai.generation.task import TurnTask
from gaji_ai.llm import registry
from gaji_ai.llm.providers import ProviderError
from gaji_ai.main import create_app
from gaji_ai.streams.stream import StreamReader
from gaji_ai.taskqueue import GENERATE_TASK, celery_app

from support import SERVICE_AUTH, TEST_REDIS_URL, bearer, running


@pytest.fixture
async def aredis():
    client = AsyncRedis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


def turn_of(req: GenerationRequest) -> tracking.Turn:
    return tracking.Turn(str(req.assistant_message_id), req.attempt, str(req.conversation_id))


# -- a worker that dies ------------------------------------------------------------


async def test_a_silent_worker_is_reaped_failed_with_its_partial_text(env, aredis):
    settings, client, prefix = env
    req = request()
    turn = turn_of(req)
    await tracking.register(aredis, prefix, turn, start_timeout=60)
    # The worker claims the turn, streams two deltas, then dies: no more beats.
    dead = tracking.Heartbeat(client, prefix, turn, interval=3600, grace=0.2)
    assert dead.claim()
    writer = StreamReader(aredis, prefix)
    await writer.append(turn.message_id, "message_chunk", {"content": "I ", "delta": "I "})
    await writer.append(turn.message_id, "message_chunk", {"content": "I was", "delta": "was"})
    core = FakeCore()
    assert await reaper.reap_once(aredis, prefix, core) == 0  # still within its grace
    await asyncio.sleep(0.3)
    assert await reaper.reap_once(aredis, prefix, core) == 1
    saved = core.saved[0]
    assert (saved.status, saved.error_code, saved.content, saved.total_tokens) == (
        "failed",
        "WORKER_LOST",
        "I was",
        2,
    )
    assert saved.attempt == 1
    events = stream_of(client, prefix, turn.message_id)
    assert [e for e, _ in events][-2:] == ["error", "message_complete"]
    assert '"status": "failed"' in events[-1][1]
    assert 0 < client.ttl(f"{prefix}:gen:{turn.message_id}") <= 3600
    # Celery redelivers the dead worker's task: it is skipped, not generated twice.
    assert not tracking.Heartbeat(client, prefix, turn).claim()
    registry._providers["main"] = Scripted(["never"])
    assert worker_turn.run_generation(settings, req.model_dump(mode="json")) == "skipped"
    assert registry._providers["main"].prompts == []
    # Regenerate (the next attempt) is claimed normally.
    again = tracking.Heartbeat(
        client, prefix, tracking.Turn(turn.message_id, 2, turn.conversation_id)
    )
    assert again.claim()
    again.stop()
    assert await reaper.reap_once(aredis, prefix, core) == 0
    assert len(core.saved) == 1


def _claimed_by(monkeypatch, client, prefix, turn, pid: int) -> tracking.Heartbeat:
    """A pool process `pid` of this host claims the turn (and never beats)."""
    import socket

    with monkeypatch.context() as patched:
        patched.setattr(tracking, "this_process", lambda: f"{socket.gethostname()}:{pid}")
        claim = tracking.Heartbeat(client, prefix, turn, interval=3600, grace=60)
        assert claim.claim()
    return claim


async def test_a_redelivered_turn_of_a_crashed_process_ends_lost_at_once(env, aredis, monkeypatch):
    """A model that crashes its pool process: Celery redelivers the turn to
    the replacement process, which must not run it again (it would crash
    again, and double the text) but end it `failed` without waiting for the
    reaper, so regenerate works and the next turn is answered."""
    import subprocess
    import sys

    settings, client, prefix = env
    req = request()
    turn = turn_of(req)
    await tracking.register(aredis, prefix, turn, start_timeout=60)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid no longer exists
    _claimed_by(monkeypatch, client, prefix, turn, gone.pid)
    await StreamReader(aredis, prefix).append(
        turn.message_id, "message_chunk", {"content": "I was", "delta": "I was"}
    )
    context = worker_turn.worker_context(settings)
    core = FakeCore()
    monkeypatch.setattr(context, "core", core)
    registry._providers["main"] = Scripted(["never"])
    payload = req.model_dump(mode="json")
    waited = []  # the models are not even waited for: the turn ends at once
    lost = await asyncio.to_thread(
        worker_turn.run_generation, settings, payload, ready=lambda: waited.append(1)
    )
    assert lost == "lost" and waited == []
    assert registry._providers["main"].prompts == []
    saved = core.saved[0]
    assert (saved.status, saved.error_code, saved.content) == ("failed", "WORKER_LOST", "I was")
    events = stream_of(client, prefix, turn.message_id)
    assert [e for e, _ in events] == ["message_chunk", "error", "message_complete"]
    # Nothing is left for the reaper, and a further redelivery is skipped.
    assert await reaper.reap_once(aredis, prefix, core) == 0
    assert await asyncio.to_thread(worker_turn.run_generation, settings, payload) == "skipped"
    assert len(core.saved) == 1
    await asyncio.to_thread(worker_turn.close_worker_context)


async def test_a_claimed_turn_waits_for_the_models_before_generating(env, aredis, monkeypatch):
    settings, _client, prefix = env
    req = request()
    await tracking.register(aredis, prefix, turn_of(req), start_timeout=60)
    context = worker_turn.worker_context(settings)
    monkeypatch.setattr(context, "core", FakeCore())
    provider = registry._providers["main"] = Scripted(["Yes."])
    seen_before = []
    payload = req.model_dump(mode="json")
    done = await asyncio.to_thread(
        worker_turn.run_generation,
        settings,
        payload,
        ready=lambda: seen_before.append(len(provider.prompts)),
    )
    assert done == "completed" and seen_before == [0] and len(provider.prompts) == 1
    await asyncio.to_thread(worker_turn.close_worker_context)


async def test_a_redelivered_turn_whose_process_lives_is_left_to_it(env, aredis, monkeypatch):
    import subprocess
    import sys

    settings, client, prefix = env
    req = request()
    turn = turn_of(req)
    await tracking.register(aredis, prefix, turn, start_timeout=60)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _claimed_by(monkeypatch, client, prefix, turn, alive.pid)
        registry._providers["main"] = Scripted(["never"])
        payload = req.model_dump(mode="json")
        assert await asyncio.to_thread(worker_turn.run_generation, settings, payload) == "skipped"
        assert registry._providers["main"].prompts == []
        # Still in flight: its owner's heartbeat (or the reaper) decides.
        assert await aredis.zscore(keys.inflight(prefix), turn.member) is not None
    finally:
        alive.kill()
        alive.wait()
        await asyncio.to_thread(worker_turn.close_worker_context)


def test_owner_checks_never_end_a_turn_they_cannot_prove_dead():
    import os
    import socket

    assert tracking.owner_is_gone(f"{socket.gethostname()}:{os.getpid()}") is False
    assert tracking.owner_is_gone("another-host:1") is False
    assert tracking.owner_is_gone(f"{socket.gethostname()}:not-a-pid") is False


async def test_a_beating_worker_is_left_alone(env, aredis):
    _, client, prefix = env
    turn = turn_of(request())
    alive = tracking.Heartbeat(client, prefix, turn, interval=0.05, grace=0.3)
    assert alive.claim()
    core = FakeCore()
    try:
        for _ in range(8):
            await asyncio.sleep(0.1)
            assert await reaper.reap_once(aredis, prefix, core) == 0
    finally:
        alive.stop()
    assert core.saved == []
    assert await aredis.zscore(keys.inflight(prefix), turn.member) is None


async def test_a_turn_no_worker_started_ends_failed_after_the_start_timeout(env, aredis):
    _, _client, prefix = env
    turn = turn_of(request())
    await tracking.register(aredis, prefix, turn, start_timeout=0)
    core = FakeCore()
    assert await reaper.reap_once(aredis, prefix, core) == 1
    assert (core.saved[0].status, core.saved[0].content) == ("failed", "")


async def test_a_turn_queued_behind_a_live_worker_waits_instead_of_failing(env, aredis):
    _, client, prefix = env
    turn = turn_of(request())
    await tracking.register(aredis, prefix, turn, start_timeout=0)
    beat = tracking.WorkerBeat(client, prefix, "chat@test:1")
    beat.start()
    core = FakeCore()
    try:
        # Deadline passed, but a chat worker lives: the queue is busy, not lost.
        assert await reaper.reap_once(aredis, prefix, core, queue_timeout=60) == 0
        assert core.saved == []
        score = await aredis.zscore(keys.inflight(prefix), turn.member)
        assert score > time.time() + 10  # looked at again later
        # A worker then claims it: from now on only its heartbeat counts.
        claimed = tracking.Heartbeat(client, prefix, turn, interval=3600, grace=0)
        assert claimed.claim()
        assert await aredis.hget(keys.queued_at(prefix), turn.member) is None
        assert await reaper.reap_once(aredis, prefix, core, queue_timeout=60) == 1
    finally:
        beat.stop()
    # Waiting longer than the queue timeout fails even behind a live worker.
    late = turn_of(request())
    await tracking.register(aredis, prefix, late, start_timeout=0)
    beat.start()
    try:
        assert await reaper.reap_once(aredis, prefix, core, queue_timeout=0) == 1
    finally:
        beat.stop()
    # A stopped worker no longer counts.
    gone = turn_of(request())
    await tracking.register(aredis, prefix, gone, start_timeout=0)
    assert await reaper.reap_once(aredis, prefix, core, queue_timeout=60) == 1
    assert len(core.saved) == 3


async def test_core_down_while_reaping_is_retried_later_and_saved_once(env, aredis, monkeypatch):
    _, client, prefix = env
    monkeypatch.setattr(outcome, "CORE_RETRY_SECONDS", 0)
    turn = turn_of(request())
    await tracking.register(aredis, prefix, turn, start_timeout=0)
    core = FakeCore(down=1)
    assert await reaper.reap_once(aredis, prefix, core) == 0
    assert core.saved == [] and stream_of(client, prefix, turn.message_id) == []
    assert await reaper.reap_once(aredis, prefix, core) == 1
    assert len(core.saved) == 1
    assert await reaper.reap_once(aredis, prefix, core) == 0


async def test_two_reapers_never_end_the_same_turn_twice(env, aredis):
    _, _, prefix = env
    queued = [turn_of(request()) for _ in range(20)]
    for one in queued:
        await tracking.register(aredis, prefix, one, start_timeout=0)
    core = FakeCore()
    counts = await asyncio.gather(*(reaper.reap_once(aredis, prefix, core) for _ in range(4)))
    assert sum(counts) == 20
    assert sorted(str(r.message_id) for r in core.saved) == sorted(t.message_id for t in queued)


def test_a_real_generation_leaves_the_inflight_set(env, core_stub):
    settings, client, prefix = env
    req = request()
    saved = []
    core_stub.routes[f"/api/internal/conversations/{req.conversation_id}/messages"] = (
        lambda method, body: (saved.append(body), (200, {**body, "applied": True}))[1]
    )
    client.zadd(keys.inflight(prefix), {turn_of(req).member: time.time() + 60})
    registry._providers["main"] = Scripted(["Fine."])
    assert worker_turn.run_generation(settings, req.model_dump(mode="json")) == "completed"
    assert [(s["status"], s["content"]) for s in saved] == [
        ("streaming", ""),
        ("completed", "Fine."),
    ]
    assert client.zcard(keys.inflight(prefix)) == 0


# -- cancel before a worker starts --------------------------------------------------


async def test_a_cancel_sent_while_the_turn_is_queued_is_honoured(env, monkeypatch):
    settings, client, prefix = env
    req = request()
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: None)
    app = create_app(settings)
    async with running(app) as api:
        body = req.model_dump(mode="json")
        assert (
            await api.post("/api/ai/internal/generations", json=body, headers=SERVICE_AUTH)
        ).status_code == 202
        message = str(req.assistant_message_id)
        assert (
            await api.post(f"/api/ai/internal/generations/{message}/cancel", headers=SERVICE_AUTH)
        ).json() == {"message_id": message, "cancel_requested": True}
    registry._providers["main"] = Scripted(["a ", "b "])
    core = FakeCore()
    assert await run_turn(settings, req, redis_client=client, core=core) == "cancelled"
    assert (core.saved[0].status, core.saved[0].content) == ("cancelled", "")
    assert [e for e, _ in stream_of(client, prefix, message)] == ["message_complete"]


# -- the direct endpoint ---------------------------------------------------------


@pytest.fixture
async def direct(env, core_stub, published_key, monkeypatch):
    """The app with a core stub that stores turns, and a Celery stand-in that
    runs the queued turn in a thread with a scripted provider."""
    settings, _client, _prefix = env
    owner = str(uuid.uuid4())
    conversation = str(uuid.uuid4())
    stored: list[dict] = []
    saved = FakeCore()

    def turns(method, body):
        if body["user_id"] != owner:
            return 403, {"code": "PERMISSION_DENIED", "message": "Not your conversation."}
        stored.append(body)
        built = request(
            conversation_id=uuid.UUID(conversation),
            user_message=body["content"],
            character=body.get("character"),
        )
        return 201, built.model_dump(mode="json")

    def persist(method, body):
        if body["status"] != "streaming":
            saved.saved.append(AssistantMessageResult.model_validate(body))
        return 200, {"message_id": body["message_id"], "status": body["status"], "applied": True}

    core_stub.routes[f"/api/internal/conversations/{conversation}/turns"] = turns
    core_stub.routes[f"/api/internal/conversations/{conversation}/messages"] = persist
    registry._providers["main"] = Scripted(["Quite ", "so, ", "sir."])

    def send_task(name, args):
        task = TurnTask.parse(args[0])

        def work():
            worker_redis = sync_redis.Redis.from_url(TEST_REDIS_URL)
            asyncio.run(worker_turn.generate(settings, task, redis_client=worker_redis, core=saved))
            worker_redis.close()

        threading.Thread(target=work, daemon=True).start()

    monkeypatch.setattr(celery_app, "send_task", send_task)
    async with running(create_app(settings)) as api:
        yield api, published_key, owner, conversation, stored, saved, core_stub


async def test_the_direct_endpoint_stores_the_turn_and_streams_the_answer(direct):
    api, key, owner, conversation, stored, saved, _ = direct
    response = await api.post(
        f"/api/ai/conversations/{conversation}/messages",
        json={"content": "  Are you proud?  ", "character": "Mr. Darcy"},
        headers=bearer(key.token(sub=owner)),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = parse(response.text)
    assert all(f["event"] == "message" for f in frames)
    data = [json.loads(f["data"]) for f in frames]
    assert data[0]["type"] == "start" and data[0]["conversation_id"] == conversation
    assert [d["content"] for d in data if d["type"] == "token"] == ["Quite ", "so, ", "sir."]
    assert data[-1]["type"] == "complete" and data[-1]["content"] == "Quite so, sir."
    assert data[-1]["message_id"] == data[0]["message_id"]
    assert all(f.get("id") for f in frames[1:])  # resumable on /stream
    assert stored[0]["content"] == "Are you proud?" and stored[0]["character"] == "Mr. Darcy"
    assert saved.saved[0].content == "Quite so, sir."
    assert "You are Mr. Darcy" in registry._providers["main"].prompts[0][0].content


async def test_the_direct_endpoint_refuses_what_it_should(direct):
    api, key, owner, conversation, stored, _, _core_stub = direct
    url = f"/api/ai/conversations/{conversation}/messages"
    mine = bearer(key.token(sub=owner))
    other = await api.post(url, json={"content": "hi"}, headers=bearer(key.token()))
    assert other.status_code == 403 and other.json()["code"] == "PERMISSION_DENIED"
    assert (await api.post(url, json={"content": "hi"})).status_code == 401
    assert (await api.post(url, json={"content": "hi"}, headers=SERVICE_AUTH)).status_code in (
        401,
        403,
    )
    model = await api.post(url, json={"content": "hi", "model": "gpt-9"}, headers=mine)
    assert model.status_code == 400 and model.json()["code"] == "INVALID_MODEL"
    for bad in ({"content": "   "}, {"content": "x" * 4001}, {}, {"content": 5}):
        response = await api.post(url, json=bad, headers=mine)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "VALIDATION_ERROR"
    text = await api.post(url, content="hi", headers={**mine, "Content-Type": "text/plain"})
    assert text.status_code == 415
    missing = str(uuid.uuid4())
    gone = await api.post(
        f"/api/ai/conversations/{missing}/messages", json={"content": "hi"}, headers=mine
    )
    assert gone.status_code == 404
    assert stored == []  # nothing was stored by any refused call


async def test_the_direct_endpoint_says_503_when_core_or_the_queue_is_down(direct, monkeypatch):
    api, key, owner, conversation, stored, saved, core_stub = direct
    url = f"/api/ai/conversations/{conversation}/messages"
    mine = bearer(key.token(sub=owner))

    def broken(name, args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", broken)
    queue_down = await api.post(url, json={"content": "hi"}, headers=mine)
    assert queue_down.status_code == 503
    assert len(stored) == 1  # the user's message is kept...
    assert saved.saved[0].status == "failed"  # ...and its answer can be regenerated
    assert saved.saved[0].error_code == "AI_UNAVAILABLE"

    def core_down(method, body):
        return 503, {"code": "SERVICE_UNAVAILABLE"}

    core_stub.routes[f"/api/internal/conversations/{conversation}/turns"] = core_down
    response = await api.post(url, json={"content": "hi"}, headers=mine)
    assert response.status_code == 503 and response.json()["code"] == "SERVICE_UNAVAILABLE"


# -- the staff LLM check ------------------------------------------------------------


async def test_llm_test_answers_staff_with_a_preview(env, published_key):
    settings, _, _ = env
    registry._providers["main"] = Scripted(["Hello ", "there."])
    async with running(create_app(settings)) as api:
        staff = bearer(published_key.token(is_staff=True))
        ok = await api.post("/api/ai/llm/test", headers=staff)
        assert ok.status_code == 200
        body = ok.json()
        assert (body["ok"], body["provider"], body["model"], body["preview"]) == (
            True,
            "scripted",
            "scripted-1",
            "Hello there.",
        )
        custom = await api.post("/api/ai/llm/test", json={"prompt": "Hi"}, headers=staff)
        assert custom.status_code == 200
        assert registry._providers["main"].prompts[-1][0].content == "Hi"
        reader = bearer(published_key.token())
        assert (await api.post("/api/ai/llm/test", headers=reader)).status_code == 403
        assert (await api.post("/api/ai/llm/test")).status_code == 401
        too_long = await api.post("/api/ai/llm/test", json={"prompt": "x" * 501}, headers=staff)
        assert too_long.status_code == 400


async def test_llm_test_reports_a_failing_provider_as_502_without_the_key(env, published_key):
    settings, _, _ = env

    class Refusing(Scripted):
        def stream(self, messages, **kwargs):
            raise ProviderError("openai provider answered 401: bad key")
            yield  # pragma: no cover

    registry._providers["main"] = Refusing([])
    async with running(create_app(settings)) as api:
        response = await api.post(
            "/api/ai/llm/test", headers=bearer(published_key.token(is_staff=True))
        )
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_ERROR"
    assert "answered 401" in response.json()["message"]


async def test_llm_test_runs_the_local_model_in_a_child_process(env, published_key):
    """The local model is native code that can crash: the staff check runs it
    in a child, so the API process (which owns the vector store) never does."""
    from gaji_ai.llm.providers import LocalProvider

    settings, _, _ = env
    local = LocalProvider(n_ctx=512)
    registry._providers["main"] = local
    async with running(create_app(settings)) as api:
        response = await api.post(
            "/api/ai/llm/test", headers=bearer(published_key.token(is_staff=True))
        )
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "local" and response.json()["preview"].strip()
    assert local._llm is None  # never loaded in this process


async def test_a_local_model_crash_in_the_llm_test_is_a_502_and_the_api_lives(
    env, published_key, monkeypatch, tmp_path
):
    import sys

    from gaji_ai.llm import selftest
    from gaji_ai.llm.providers import LocalProvider

    crash = tmp_path / "crash.py"
    crash.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setattr(selftest, "CHILD", [sys.executable, str(crash), "--child"])
    settings, _, _ = env
    registry._providers["main"] = LocalProvider(n_ctx=512)
    async with running(create_app(settings)) as api:
        response = await api.post(
            "/api/ai/llm/test", headers=bearer(published_key.token(is_staff=True))
        )
        assert response.status_code == 502
        assert response.json()["code"] == "UPSTREAM_ERROR"
        assert "crashed (SIGSEGV)" in response.json()["message"]
        assert (await api.get("/healthz")).status_code == 200


# -- whom the reader talks to ----------------------------------------------------


CAST = [
    {
        "name": "Elizabeth Bennet",
        "aliases": ["Elizabeth", "Lizzy", "Eliza"],
        "description": "The second Bennet daughter.",
        "personality_traits": ["lively", "clever"],
        "mention_count": 600,
    },
    {
        "name": "Mr. Darcy",
        "aliases": ["Darcy", "Fitzwilliam Darcy"],
        "description": "A proud gentleman of Pemberley.",
        "personality_traits": ["proud", "reserved"],
        "mention_count": 400,
    },
]


def test_the_addressed_character_wins_then_the_scenarios_then_the_narrator():
    assert persona_name(request(character="  Lizzy ")) == "Lizzy"
    assert persona_name(request()) == "Charlotte Lucas"
    other = request()
    other.scenario.scenario_type = "EVENT_ALTERATION"
    assert persona_name(other) == "the narrator"


def test_a_name_or_alias_finds_the_profile():
    assert grounding.persona_from("Lizzy", CAST).name == "Elizabeth Bennet"
    darcy = grounding.persona_from("darcy", CAST)
    assert (darcy.name, darcy.traits) == ("Mr. Darcy", ("proud", "reserved"))
    assert "Pemberley" in darcy.description
    assert grounding.persona_from("Fitzwilliam", CAST).name == "Mr. Darcy"
    assert grounding.persona_from("Mr Darcy", CAST).name == "Mr. Darcy"
    assert grounding.persona_from("Captain Nemo", CAST).description == ""
    assert grounding.persona_from("the narrator", CAST).name == "the narrator"


async def test_an_ungrounded_turn_speaks_as_the_addressed_character(env):
    settings, client, _ = env
    provider = registry._providers["main"] = Scripted(["Indeed."])
    turn = request(character="Mr. Bennet")
    assert await run_turn(settings, turn, redis_client=client, core=FakeCore()) == ("completed")
    assert provider.prompts[0][0].content.startswith("You are Mr. Bennet")


# -- many streams at once -------------------------------------------------------------


async def test_fifty_concurrent_streams_all_complete_and_lose_no_delta(env, published_key):
    settings, _client, prefix = env
    words = [f"w{i} " for i in range(40)]
    registry._providers["main"] = Scripted(words)
    turns = [request() for _ in range(50)]

    def worker(req):
        worker_redis = sync_redis.Redis.from_url(TEST_REDIS_URL)
        time.sleep(0.05)  # subscribers are already waiting
        asyncio.run(run_turn(settings, req, redis_client=worker_redis, core=FakeCore()))
        worker_redis.close()

    app = create_app(settings)
    async with running(app) as api:
        for req in turns:  # as the enqueue does: the stream is expected
            await app.state.redis.set(f"{prefix}:gen:{req.assistant_message_id}:queued", "1")

        async def subscribe(req):
            conversation, message = str(req.conversation_id), str(req.assistant_message_id)
            response = await api.get(
                f"/api/ai/conversations/{conversation}/stream",
                params={
                    "message_id": message,
                    "ticket": ticket(published_key, conversation, message),
                },
            )
            return parse(response.text)

        threads = [threading.Thread(target=worker, args=(req,)) for req in turns]
        readers = asyncio.gather(*(subscribe(req) for req in turns))
        for thread in threads:
            thread.start()
        results = await readers
        for thread in threads:
            thread.join()
    for frames in results:
        events = [f["event"] for f in frames if "event" in f]
        assert events == ["message_chunk"] * 40 + ["message_complete"]
        deltas = [
            json.loads(f["data"])["delta"] for f in frames if f.get("event") == "message_chunk"
        ]
        assert deltas == words


# -- grounding, done by the API when it accepts the turn -------------------------------------------


class FakeStore:
    """Answers the cast and passage searches in memory; counts its calls."""

    def __init__(self, *, broken=False):
        self.calls, self.broken = 0, broken

    async def scroll(self, collection, *, novel_id, limit):
        from gaji_ai.vectors.store import Hit

        self.calls += 1
        return [
            Hit(
                "c1",
                1.0,
                {
                    "name": "Charlotte Lucas",
                    "aliases": ["Charlotte"],
                    "description": "Elizabeth's sensible friend.",
                    "personality_traits": ["sensible"],
                    "mention_count": 80,
                },
            )
        ]

    async def search(self, collection, *, dense, sparse, where, limit, fusion=True):
        from gaji_ai.vectors.store import WINDOWS, Hit, VectorStoreError

        if sparse is not None:  # once per passage search (its BM25 half)
            self.calls += 1
        if self.broken:
            raise VectorStoreError("down")
        if collection == WINDOWS:
            return []  # no windows: the search uses the passages' own vectors
        return [Hit("p1", 1.0, {"text": "Charlotte accepted Mr. Collins for a home."}, 1.0)]

    async def close(self):
        pass


class OneVector:
    def embed(self, texts):
        return [[0.1] * 384 for _ in texts]


async def test_the_api_grounds_the_turn_once_and_the_task_carries_it(env, aredis, monkeypatch):
    settings, client, _prefix = env
    monkeypatch.setattr(grounding, "dense_embedder", lambda settings: OneVector())
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append((name, args)))
    req = request(novel_id=uuid.uuid4())
    api_store = FakeStore()
    await api_turns.queue_generation(settings, aredis, api_store, FakeCore(), req)
    assert api_store.calls == 2  # cast and passages, in the API process
    [(name, [payload])] = sent
    assert name == GENERATE_TASK
    task = TurnTask.parse(json.loads(json.dumps(payload)))  # as the broker carries it
    assert task.request == req
    assert [p.passage_id for p in task.grounding.passages] == ["p1"]
    # The worker's side has nothing to ground with: no vector store at all.
    assert "store" not in {f.name for f in dataclasses.fields(worker_turn.WorkerContext)}
    provider = registry._providers["main"] = Scripted(["Yes."])
    core = FakeCore()
    assert await worker_turn.generate(settings, task, redis_client=client, core=core) == "completed"
    system, final = provider.prompts[0][0].content, provider.prompts[0][-1].content
    assert "Elizabeth's sensible friend." in system
    assert "Charlotte accepted Mr. Collins for a home." in final
    assert core.saved[0].grounded is True and core.saved[0].citations[0].passage_id == "p1"


async def test_a_store_outage_or_a_slow_store_answers_from_the_brief(env, aredis, monkeypatch):
    settings, client, _ = env
    monkeypatch.setattr(grounding, "dense_embedder", lambda settings: OneVector())
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append(args[0]))
    broken = request(novel_id=uuid.uuid4())
    await api_turns.queue_generation(settings, aredis, FakeStore(broken=True), FakeCore(), broken)

    class Slow(FakeStore):
        async def search(self, *args, **kwargs):
            await asyncio.sleep(5)

    monkeypatch.setattr(api_turns, "GROUNDING_TIMEOUT_SECONDS", 0.05)
    slow = request(novel_id=uuid.uuid4())
    await api_turns.queue_generation(settings, aredis, Slow(), FakeCore(), slow)
    for payload in sent:
        task = TurnTask.parse(payload)
        assert task.grounding.passages == []
        assert task.grounding.persona.name == "Charlotte Lucas"  # the scenario's character
        registry._providers["main"] = Scripted(["Yes."])
        core = FakeCore()
        status = await worker_turn.generate(settings, task, redis_client=client, core=core)
        assert status == "completed"
        assert core.saved[0].grounded is False


async def test_a_task_queued_by_an_older_api_process_is_still_answered(env):
    """Before an upgrade the task was the bare GenerationRequest: answered
    from the brief rather than lost."""
    settings, client, _prefix = env
    req = request(novel_id=uuid.uuid4())
    task = TurnTask.parse(req.model_dump(mode="json"))
    assert task.request == req and task.grounding.passages == []
    provider = registry._providers["main"] = Scripted(["Yes."])
    status = await worker_turn.generate(settings, task, redis_client=client, core=FakeCore())
    assert status == "completed"
    assert "Charlotte Lucas" in provider.prompts[0][0].content


async def test_redis_lost_mid_answer_still_saves_the_answer_on_core(env):
    settings, client, prefix = env

    class Flaky:
        """The real client until the third stream write, then Redis is gone."""

        def __init__(self, real):
            self.real, self.writes = real, 0

        def xadd(self, *args, **kwargs):
            self.writes += 1
            if self.writes > 2:
                raise sync_redis.ConnectionError("Redis went away")
            return self.real.xadd(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.real, name)

    registry._providers["main"] = Scripted(["It ", "was ", "a ", "fine ", "ball."])
    core = FakeCore()
    req = request()
    flaky = Flaky(client)
    assert await run_turn(settings, req, redis_client=flaky, core=core) == "completed"
    assert (core.saved[0].status, core.saved[0].content) == ("completed", "It was a fine ball.")
    assert flaky.writes == 3  # it stopped writing to the stream after the failure
    assert len(stream_of(client, prefix, req.assistant_message_id)) == 2


async def test_an_answer_core_could_not_take_is_saved_once_core_is_back(env, aredis, core_stub):
    settings, client, prefix = env
    req = request()
    turn = turn_of(req)
    saved = []
    path = f"/api/internal/conversations/{req.conversation_id}/messages"
    core_stub.routes[path] = lambda method, body: (503, {"code": "SERVICE_UNAVAILABLE"})
    await tracking.register(aredis, prefix, turn, start_timeout=60)
    registry._providers["main"] = Scripted(["All ", "is ", "well."])
    # The worker streams the whole answer, but core is down through every retry.
    payload = req.model_dump(mode="json")
    assert await asyncio.to_thread(worker_turn.run_generation, settings, payload) == "unsaved"
    assert await aredis.zscore(keys.inflight(prefix), turn.member) is not None
    await aredis.zadd(keys.inflight(prefix), {turn.member: 0})  # the grace has passed
    down = FakeCore(down=1)
    assert await reaper.reap_once(aredis, prefix, down) == 0  # core still away: later
    assert down.saved == []
    await aredis.zadd(keys.inflight(prefix), {turn.member: 0})
    back = FakeCore()
    assert await reaper.reap_once(aredis, prefix, back) == 1
    assert (back.saved[0].status, back.saved[0].content) == ("completed", "All is well.")
    events = stream_of(client, prefix, turn.message_id)
    assert [e for e, _ in events][-2:] == ["error", "message_complete"]
    assert '"status": "completed"' in events[-1][1]
    assert not client.exists(keys.unsaved(prefix, turn.message_id, 1))
    assert saved == []


async def test_redis_lost_while_streaming_ends_the_stream_with_an_error(
    env, published_key, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    settings, _, _ = env
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())

    async def gone(self, *args, **kwargs):
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(StreamReader, "read", gone)
    async with running(create_app(settings)) as api:
        response = await api.get(
            f"/api/ai/conversations/{conversation}/stream",
            params={"message_id": message, "ticket": ticket(published_key, conversation, message)},
        )
    frames = parse(response.text)
    assert response.status_code == 200
    assert [f["event"] for f in frames] == ["error"]
    assert json.loads(frames[0]["data"])["code"] == "STREAM_UNAVAILABLE"
