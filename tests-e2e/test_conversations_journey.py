"""A reader's conversation over HTTP against the real services: start it,
send a message, fork, like, memo, tree; the persisted answer arriving
through core's internal API as the ai worker will deliver it."""

from __future__ import annotations


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


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
    # The ai service does not take chat turns yet (no generation endpoint):
    # core answers 503 AI_UNAVAILABLE and keeps the message.
    assert sent.status_code == 503, sent.text
    assert sent.json()["code"] == "AI_UNAVAILABLE"
    assert int(sent.headers["X-RateLimit-Limit"]) == 10 * 1000  # the messages limit, scaled by the stack
    turn = sent.json()

    # The answer arrives through the internal API, idempotently.
    answer = {
        "message_id": turn["assistant_message_id"],
        "role": "assistant",
        "content": "Regret is a luxury, Lizzy.",
        "status": "completed",
        "model": "e2e",
        "total_tokens": 7,
        "degraded": False,
    }
    for _ in range(2):
        stored = core.post(
            f"/api/internal/conversations/{conversation_id}/messages",
            json=answer,
            headers=bearer(stack.service_token),
        )
        assert stored.status_code == 200, stored.text
    history = core.get(f"/api/v1/conversations/{conversation_id}/messages").json()
    assert [(m["role"], m["status"]) for m in history["content"]] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    assert history["content"][0]["content"] == "Do you regret it, Charlotte?"
    assert history["content"][1]["content"] == "Regret is a luxury, Lizzy."

    fork = core.post(f"/api/v1/conversations/{conversation_id}/fork", json={"title": "Refusal"}, headers=me)
    assert fork.status_code == 201, fork.text
    assert [m["id"] for m in fork.json()["messages"]] == [m["id"] for m in history["content"]]
    again = core.post(f"/api/v1/conversations/{fork.json()['id']}/fork", json={}, headers=me)
    assert again.status_code == 400 and again.json()["code"] == "FORK_DEPTH_EXCEEDED"

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
