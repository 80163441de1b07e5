"""A reader's conversation over HTTP against the real services: start it,
send a message and read the answer the real local model streams (through
the worker, Redis and the SSE endpoint, saved on core), fork, like, memo, tree."""

from __future__ import annotations

import json

import httpx


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def read_events(
    url: str, headers: dict | None = None, stop_after: int | None = None, timeout: float = 180
) -> list[dict]:
    """SSE frames {id, event, data} as EventSource parses them; with
    `stop_after`, hang up after that many `message_chunk` frames."""
    frames: list[dict] = []
    frame: dict = {}
    chunks = 0
    with httpx.stream("GET", url, headers=headers or {}, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line:
                if "event" in frame:
                    frame["data"] = json.loads(frame.get("data", "{}"))
                    frames.append(frame)
                    if frame["event"] == "message_chunk":
                        chunks += 1
                        if stop_after is not None and chunks >= stop_after:
                            return frames
                frame = {}
            elif line.startswith(":"):
                continue  # a heartbeat comment
            else:
                name, _, value = line.partition(":")
                frame[name] = value.strip()
    return frames


def read_stream(url: str, timeout: float = 120) -> list[tuple[str, dict]]:
    """Read an SSE stream as a browser EventSource would, until it ends: (event, data) pairs."""
    return [(frame["event"], frame["data"]) for frame in read_events(url, timeout=timeout)]


def test_reader_converses_forks_likes_and_keeps_a_memo(stack, core, reader):
    me = bearer(reader["tokens"]["access_token"])
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": "pride-and-prejudice",
            "scenario_type": "EVENT_ALTERATION",
            "parameters": {
                "event": "Mr. Collins proposes",
                "alteration_type": "outcome_change",
                "new_outcome": "Elizabeth accepts",
            },
        },
        headers=me,
    ).json()
    conversation = core.post(
        "/api/v1/conversations", json={"scenario_id": scenario["id"], "title": "Mrs. Collins"}, headers=me
    )
    assert conversation.status_code == 201, conversation.text
    conversation_id = conversation.json()["id"]

    sent = core.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": "Do you regret it, Charlotte?"},
        headers=me,
    )
    # ai takes the turn; the worker answers with the real local model.
    assert sent.status_code == 202, sent.text
    assert int(sent.headers["X-RateLimit-Limit"]) == 10 * 1000  # the messages limit, scaled by the stack
    turn = sent.json()
    assert turn["stream_url"].startswith(stack.ai_url)
    events = read_stream(turn["stream_url"])
    assert events[-1][0] == "message_complete", events[-3:]
    chunks = [data for name, data in events if name == "message_chunk"]
    assert chunks and "".join(c["delta"] for c in chunks) == chunks[-1]["content"]
    answer = events[-1][1]
    assert answer["message_id"] == turn["assistant_message_id"] and answer["status"] == "completed"
    assert answer["content"] == chunks[-1]["content"] and answer["total_tokens"] > 0

    # Persisting again (a worker retry) changes nothing.
    again = core.post(
        f"/api/internal/conversations/{conversation_id}/messages",
        json={
            "message_id": turn["assistant_message_id"],
            "role": "assistant",
            "content": "other",
            "status": "completed",
            "model": "x",
            "total_tokens": 1,
            "degraded": False,
        },
        headers=bearer(stack.service_token),
    )
    assert again.status_code == 200 and again.json()["applied"] is False
    history = core.get(f"/api/v1/conversations/{conversation_id}/messages").json()
    assert [(m["role"], m["status"]) for m in history["content"]] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    assert history["content"][0]["content"] == "Do you regret it, Charlotte?"
    assert history["content"][1]["content"] == answer["content"]

    fork = core.post(f"/api/v1/conversations/{conversation_id}/fork", json={"title": "Refusal"}, headers=me)
    assert fork.status_code == 201, fork.text
    assert [m["id"] for m in fork.json()["messages"]] == [m["id"] for m in history["content"]]
    again = core.post(f"/api/v1/conversations/{fork.json()['id']}/fork", json={}, headers=me)
    assert again.status_code == 409 and again.json()["code"] == "FORK_DEPTH_EXCEEDED"

    liked = core.post(f"/api/v1/conversations/{conversation_id}/like", headers=me).json()
    assert liked["total_likes"] == 1
    assert core.post(f"/api/v1/conversations/{conversation_id}/like", headers=me).json()["total_likes"] == 1
    memo = core.post(
        f"/api/v1/conversations/{conversation_id}/memo",
        json={"memo_text": "**Charlotte** is *wise*"},
        headers=me,
    )
    assert memo.status_code == 201 and memo.json()["memo_text"] == "**Charlotte** is *wise*"

    tree = core.get(f"/api/v1/conversations/{conversation_id}/tree").json()
    assert (tree["depth"], tree["total_descendants"], tree["like_count"]) == (1, 1, 1)
    assert tree["children"][0]["message_count"] == 2
    assert core.get(f"/api/v1/scenarios/{scenario['id']}").json()["conversation_count"] == 2
    profile = core.get(f"/api/v1/users/{reader['user']['username']}").json()
    assert (profile["scenario_count"], profile["conversation_count"]) == (1, 2)
