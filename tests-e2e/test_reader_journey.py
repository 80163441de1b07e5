"""The whole reader journey in one go, as a front-end drives it, against the
real processes: register, log in, pick an ingested novel, imagine a what-if,
fork it twice, find it, talk to its character (a grounded answer from the
real local model, read with EventSource semantics and resumed after a drop
with Last-Event-ID), fork the conversation, like it, keep a memo, log out."""

from __future__ import annotations

import re
import uuid

from test_conversations_journey import bearer, read_events, read_stream
from test_ingestion_journey import wait_for_job

# Where a condensed passage may join sentences that were apart in the novel
# (ai's gaji_ai.generation.prompt.SENTENCE): each piece between is verbatim.
SENTENCE_END = re.compile(r"(?:(?<=[.!?;])|(?<=[.!?;][\"'\u2019\u201d)]))\s+")


def test_a_reader_from_sign_up_to_sign_out(stack, core, ai, staff_token):
    # Staff ingest a short novel (Kafka's Metamorphosis) so the story is grounded.
    job = ai.post(
        "/api/ai/novels/ingest",
        json={
            "novel_file_path": "metamorphosis.txt",
            "metadata": {"title": "Metamorphosis", "author": "Franz Kafka"},
        },
        headers=bearer(staff_token),
    )
    assert job.status_code == 202, job.text
    final = wait_for_job(ai, staff_token, job.json()["job_id"])[-1]
    assert final["status"] == "completed", final

    tag = uuid.uuid4().hex[:10]
    password = "Journey1Passw0rd"
    registered = core.post(
        "/api/v1/auth/register",
        json={"email": f"journey_{tag}@example.com", "username": f"journey_{tag}", "password": password},
    )
    assert registered.status_code == 201, registered.text
    login = core.post(
        "/api/v1/auth/login", json={"email": f"journey_{tag}@example.com", "password": password}
    )
    assert login.status_code == 200, login.text
    tokens = login.json()["tokens"]
    me = bearer(tokens["access_token"])

    novels = core.get("/api/v1/novels", params={"size": 50}).json()["content"]
    novel = next(n for n in novels if n["id"] == final["novel_id"])
    assert novel["ingestion_status"] == "completed" and novel["total_passages"] > 0

    word = f"umbrella{tag}"
    root = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": novel["slug"],
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {
                "character": "Gregor Samsa",
                "property": "backstory",
                "new_value": f"wakes up human with an {word}",
            },
        },
        headers=me,
    )
    assert root.status_code == 201, root.text
    root = root.json()
    assert root["novel_id"] == novel["id"]
    child = core.post(
        f"/api/v1/scenarios/{root['id']}/fork",
        json={
            "scenario_type": "EVENT_ALTERATION",
            "parameters": {
                "event": "The apple",
                "alteration_type": "prevent",
                "new_outcome": "Father relents",
            },
        },
        headers=me,
    )
    assert child.status_code == 201, child.text
    grandchild = core.post(
        f"/api/v1/scenarios/{child.json()['id']}/fork",
        json={
            "parameters": {"event": "The lodgers", "alteration_type": "prevent", "new_outcome": "They stay"}
        },
        headers=me,
    )
    assert grandchild.status_code == 201, grandchild.text
    tree = core.get(f"/api/v1/scenarios/{root['id']}/fork-tree").json()
    assert (tree["depth"], tree["total_descendants"]) == (2, 2)
    path = core.get(f"/api/v1/scenarios/{grandchild.json()['id']}/ancestors").json()["path"]
    assert [n["id"] for n in path] == [root["id"], child.json()["id"], grandchild.json()["id"]]
    found = core.get("/api/v1/scenarios/search", params={"q": word}).json()
    assert [s["id"] for s in found["content"]] == [root["id"]]
    assert found["facets"]["scenario_types"]["CHARACTER_CHANGE"] == 1

    conversation = core.post("/api/v1/conversations", json={"scenario_id": root["id"]}, headers=me)
    assert conversation.status_code == 201, conversation.text
    conversation_id = conversation.json()["id"]
    sent = core.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"content": "Gregor, what did you see when you woke up?"},
        headers=me,
    )
    assert sent.status_code == 202, sent.text
    turn = sent.json()

    # The connection drops after three deltas; EventSource reconnects with
    # the last id it saw and gets the rest: no gap, no duplicate.
    before = read_events(turn["stream_url"], stop_after=3)
    last_id = before[-1]["id"]
    after = read_events(turn["stream_url"], headers={"Last-Event-ID": last_id})
    assert after[-1]["event"] == "message_complete", after[-3:]
    ids = [f["id"] for f in before + after]
    assert len(ids) == len(set(ids)) and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    deltas = [f["data"]["delta"] for f in before + after if f["event"] == "message_chunk"]
    answer = after[-1]["data"]
    assert answer["status"] == "completed" and "".join(deltas) == answer["content"]
    assert answer["total_tokens"] == len(deltas)
    # A late subscriber replays the whole answer from the start.
    assert read_stream(turn["stream_url"])[-1][1]["content"] == answer["content"]

    history = core.get(f"/api/v1/conversations/{conversation_id}/messages", headers=me).json()["content"]
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "Gregor, what did you see when you woke up?"),
        ("assistant", answer["content"]),
    ]
    # The answer cites the passages of the novel its prompt held: on the
    # stream, on the stored answer and at /citations, each quoting the novel.
    citations = core.get(
        f"/api/v1/conversations/{conversation_id}/messages/{turn['assistant_message_id']}/citations"
    ).json()["citations"]
    assert citations and citations == answer["citations"] == history[-1]["citations"], answer
    for cited in citations:
        passage = ai.post(
            "/api/ai/internal/vectors/novel_passages/get",
            json={"id": cited["passage_id"]},
            headers=bearer(stack.service_token),
        ).json()["hit"]["payload"]
        assert (cited["chapter"], cited["chunk_index"]) == (passage["chapter"], passage["chunk_index"])
        assert cited["chapter_title"] == passage["chapter_title"] and cited["quote"].strip()
        for piece in SENTENCE_END.split(cited["quote"].removesuffix("…")):
            assert piece in passage["text"], (piece, passage["text"])
    fork = core.post(f"/api/v1/conversations/{conversation_id}/fork", json={}, headers=me)
    assert fork.status_code == 201, fork.text
    assert [m["id"] for m in fork.json()["messages"]] == [m["id"] for m in history]
    assert core.post(f"/api/v1/conversations/{conversation_id}/like", headers=me).json()["total_likes"] == 1
    memo = core.post(
        f"/api/v1/conversations/{conversation_id}/memo", json={"memo_text": "He woke up."}, headers=me
    )
    assert memo.status_code == 201, memo.text

    out = core.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=me)
    assert out.status_code == 200
    refused = core.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refused.status_code == 403 and refused.json()["code"] == "TOKEN_BLACKLISTED"
