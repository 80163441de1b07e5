"""A conversation's memory on the real services: after a turn answered by
the real local model, the chat worker writes entries (the model through
the engine's structured output, else the rule) on core; a reader's pin
reaches the next prompt; a fork inherits the memory and the two sides
stay apart."""

from __future__ import annotations

import time

from test_conversations_journey import bearer, read_stream


def wait_for_memory(core, conversation_id: str, headers: dict, timeout: float = 180) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = core.get(f"/api/v1/conversations/{conversation_id}/memory", headers=headers).json()[
            "content"
        ]
        written = [e for e in entries if e["source"] in ("model", "rule")]
        if written:
            return entries
        time.sleep(1)
    raise AssertionError("no memory written after the turn")


def turn(core, conversation_id: str, text: str, headers: dict) -> dict:
    sent = core.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": text}, headers=headers
    )
    assert sent.status_code == 202, sent.text
    events = read_stream(sent.json()["stream_url"], timeout=300)
    assert events[-1][0] == "message_complete" and events[-1][1]["status"] == "completed", events[-3:]
    return sent.json()


def test_memory_is_written_after_a_turn_pinned_into_the_next_and_forked(core, reader, make_reader):
    me = bearer(reader["tokens"]["access_token"])
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {
                "character": "Elizabeth Bennet",
                "property": "personality",
                "new_value": "reckless",
            },
        },
        headers=me,
    ).json()
    conversation_id = core.post(
        "/api/v1/conversations", json={"scenario_id": scenario["id"]}, headers=me
    ).json()["id"]
    first = turn(core, conversation_id, "Elizabeth, I hid the silver brooch under the stairs.", me)

    entries = wait_for_memory(core, conversation_id, me)
    written = [e for e in entries if e["source"] in ("model", "rule")]
    assert all(e["source_message_id"] == first["assistant_message_id"] for e in written)
    assert all(e["known_by"] for e in written if e["kind"] != "relationship")  # those in the scene

    pin = core.post(
        f"/api/v1/conversations/{conversation_id}/memory",
        json={"text": "Lydia never eloped with Wickham."},
        headers=me,
    )
    assert pin.status_code == 201, pin.text
    second = turn(core, conversation_id, "What do you think of Lydia?", me)
    prompt = core.get(
        f"/api/v1/conversations/{conversation_id}/messages/{second['assistant_message_id']}/prompt",
        headers=me,
    ).json()
    memory = next(s for s in prompt["sections"] if s["name"] == "memory")
    assert "Lydia never eloped with Wickham." in memory["text"] and memory["tokens"] > 0

    other = make_reader()
    theirs = bearer(other["tokens"]["access_token"])
    fork = core.post(f"/api/v1/conversations/{conversation_id}/fork", json={}, headers=theirs).json()
    inherited = core.get(f"/api/v1/conversations/{fork['id']}/memory", headers=theirs).json()["content"]
    assert "Lydia never eloped with Wickham." in {e["text"] for e in inherited}
    assert all(e["inherited"] for e in inherited)
    core.post(
        f"/api/v1/conversations/{fork['id']}/memory", json={"text": "Only in the fork."}, headers=theirs
    )
    root = core.get(f"/api/v1/conversations/{conversation_id}/memory", headers=me).json()["content"]
    assert "Only in the fork." not in {e["text"] for e in root}
    refused = core.get(f"/api/v1/conversations/{conversation_id}/memory", headers=theirs)
    assert refused.status_code == 403
