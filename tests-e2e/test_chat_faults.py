"""Chat turns when things go wrong, against the real processes: the chat
worker killed mid-answer (the answer ends `failed` on core within a bounded
time, and regenerate works once a worker is back), and a cancel mid-answer
(the partial text is kept as `cancelled`). Also the ai direct endpoint."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
from test_conversations_journey import bearer, read_stream

REAP_BOUND_SECONDS = 60  # heartbeat grace 15 s + reaper period 5 s, with room


def _conversation(core, me) -> str:
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {
                "character": "Charlotte Lucas",
                "property": "personality",
                "new_value": "romantic",
            },
        },
        headers=me,
    ).json()
    conversation = core.post("/api/v1/conversations", json={"scenario_id": scenario["id"]}, headers=me)
    assert conversation.status_code == 201, conversation.text
    return conversation.json()["id"]


def _first_chunk(url: str) -> None:
    """Read until the first delta has been streamed, then hang up."""
    with httpx.stream("GET", url, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("event: message_chunk"):
                return
    raise AssertionError("the stream ended before its first delta")


def _assistant(core, me, conversation_id: str) -> dict:
    history = core.get(f"/api/v1/conversations/{conversation_id}/messages", headers=me).json()
    return history["content"][-1]


def _regenerated(core, me, conversation_id: str, message_id: str) -> list[tuple[str, dict]]:
    """Regenerate a failed answer; its stream ends `completed`."""
    again = core.post(
        f"/api/v1/conversations/{conversation_id}/messages/{message_id}/regenerate", json={}, headers=me
    )
    assert again.status_code == 202, again.text
    events = read_stream(again.json()["stream_url"], timeout=180)
    assert events[-1][0] == "message_complete" and events[-1][1]["status"] == "completed", events[-3:]
    return events


def test_a_killed_worker_ends_the_answer_failed_and_regenerate_works(stack, core, reader):
    me = bearer(reader["tokens"]["access_token"])
    conversation_id = _conversation(core, me)
    sent = core.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": "Tell me the whole story of your marriage, in detail."},
        headers=me,
    )
    assert sent.status_code == 202, sent.text
    turn = sent.json()
    _first_chunk(turn["stream_url"])
    stack.stop("worker-chat", kill=True)  # SIGKILL mid-answer: no goodbye
    try:
        deadline = time.monotonic() + REAP_BOUND_SECONDS
        while (answer := _assistant(core, me, conversation_id))["status"] != "failed":
            assert answer["status"] in {"pending", "streaming"}, answer
            assert time.monotonic() < deadline, f"still {answer['status']} after {REAP_BOUND_SECONDS}s"
            time.sleep(1)
        # A subscriber is told too, and the stream ends.
        events = read_stream(turn["stream_url"], timeout=30)
        assert [name for name, _ in events][-2:] == ["error", "message_complete"]
        assert events[-2][1]["code"] == "WORKER_LOST" and events[-1][1]["status"] == "failed"
    finally:
        stack.start_worker("chat")
    events = _regenerated(core, me, conversation_id, turn["assistant_message_id"])
    final = _assistant(core, me, conversation_id)
    assert (final["status"], final["content"]) == ("completed", events[-1][1]["content"])


def pool_processes(parent: int) -> list[int]:
    """The Celery pool processes (children) of a worker's main process."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry))
    return children


def test_a_model_crash_mid_answer_is_survived_and_the_next_turn_answered(stack, core, reader):
    """The local model crashing its process (SIGSEGV, as llama.cpp did on
    Sapphire Rapids; forced here by sending the signal): the worker's main
    process stays, a new pool process becomes ready however long its models
    take, the turn in hand ends `failed` (regenerate works) and the next
    turn is answered."""
    me = bearer(reader["tokens"]["access_token"])
    conversation_id = _conversation(core, me)
    worker = stack.procs["worker-chat"]
    [pool] = pool_processes(worker.pid)
    turn = core.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": "Tell me everything about Hunsford, every room."},
        headers=me,
    ).json()
    _first_chunk(turn["stream_url"])
    os.kill(pool, signal.SIGSEGV)
    crashed = time.monotonic()
    events = read_stream(turn["stream_url"], timeout=REAP_BOUND_SECONDS)
    assert [name for name, _ in events][-2:] == ["error", "message_complete"], events[-3:]
    assert events[-2][1]["code"] == "WORKER_LOST" and events[-1][1]["status"] == "failed"
    failed_after = time.monotonic() - crashed
    assert _assistant(core, me, conversation_id)["status"] == "failed"

    _regenerated(core, me, conversation_id, turn["assistant_message_id"])
    answered_after = time.monotonic() - crashed
    follow = core.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": "And the garden?"}, headers=me
    ).json()
    events = read_stream(follow["stream_url"], timeout=180)
    assert events[-1][1]["status"] == "completed" and events[-1][1]["content"]
    assert worker.poll() is None  # the same worker, with a new pool process
    [replacement] = pool_processes(worker.pid)
    assert replacement != pool
    print(f"\nmodel crash: turn failed after {failed_after:.1f} s, next answer after {answered_after:.1f} s")


def test_the_engine_killed_mid_answer_fails_the_turn_and_comes_back(stack, core, reader):
    """llama-server dying mid-answer (SIGKILL): the turn ends `failed` with a
    PROVIDER_ERROR, the supervisor restarts the server (ai's /readyz says
    when it is back), regenerate works and the next turn is answered."""
    me = bearer(reader["tokens"]["access_token"])
    conversation_id = _conversation(core, me)
    supervisor = stack.procs["engine"]
    [server] = pool_processes(supervisor.pid)
    turn = core.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": "Tell me everything about Hunsford, every room, every walk."},
        headers=me,
    ).json()
    _first_chunk(turn["stream_url"])
    os.kill(server, signal.SIGKILL)
    killed = time.monotonic()
    events = read_stream(turn["stream_url"], timeout=REAP_BOUND_SECONDS)
    assert [name for name, _ in events][-2:] == ["error", "message_complete"], events[-3:]
    assert events[-2][1]["code"] == "PROVIDER_ERROR" and events[-1][1]["status"] == "failed"
    assert _assistant(core, me, conversation_id)["status"] == "failed"

    deadline = time.monotonic() + 120
    while httpx.get(f"{stack.ai_url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the engine did not come back"
        time.sleep(0.5)
    back_after = time.monotonic() - killed
    [replacement] = pool_processes(supervisor.pid)
    assert replacement != server and supervisor.poll() is None
    _regenerated(core, me, conversation_id, turn["assistant_message_id"])
    follow = core.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": "And the garden?"}, headers=me
    ).json()
    events = read_stream(follow["stream_url"], timeout=180)
    assert events[-1][1]["status"] == "completed" and events[-1][1]["content"]
    assert "exited (killed by SIGKILL)" in stack.log_text("engine")
    print(f"\nengine killed: ready again after {back_after:.1f} s")


def test_cancel_mid_answer_keeps_the_partial_text(stack, core, reader):
    me = bearer(reader["tokens"]["access_token"])
    conversation_id = _conversation(core, me)
    turn = core.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": "Describe Longbourn, room by room."},
        headers=me,
    ).json()
    _first_chunk(turn["stream_url"])
    cancel = core.post(
        f"/api/v1/conversations/{conversation_id}/messages/{turn['assistant_message_id']}/cancel",
        headers=me,
    )
    assert cancel.status_code == 202, cancel.text
    events = read_stream(turn["stream_url"], timeout=60)
    complete = events[-1]
    assert complete[0] == "message_complete" and complete[1]["status"] in {"cancelled", "completed"}
    saved = _assistant(core, me, conversation_id)
    assert (saved["status"], saved["content"]) == (complete[1]["status"], complete[1]["content"])
    if saved["status"] == "cancelled":  # the answer did not finish first
        chunks = [data for name, data in events if name == "message_chunk"]
        assert chunks and saved["content"] == chunks[-1]["content"]


def test_the_ai_direct_endpoint_answers_in_the_same_response(stack, core, ai, reader):
    me = bearer(reader["tokens"]["access_token"])
    conversation_id = _conversation(core, me)
    frames = []
    with httpx.stream(
        "POST",
        f"{stack.ai_url}/api/ai/conversations/{conversation_id}/messages",
        json={"content": "Are you happy, Charlotte?"},
        headers=me,
        timeout=180,
    ) as response:
        assert response.status_code == 200, response.read()
        name = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name == "message":
                frames.append(json.loads(line[5:]))
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "start" and kinds[-1] == "complete" and "token" in kinds
    text = "".join(f["content"] for f in frames if f["type"] == "token")
    assert text == frames[-1]["content"]
    saved = _assistant(core, me, conversation_id)
    assert (saved["id"], saved["content"], saved["status"]) == (frames[0]["message_id"], text, "completed")
