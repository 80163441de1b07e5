"""Hostile input on the chat routes: every answer is the error envelope
with a 4xx, never a 500, and nothing reaches core or the queue."""

from __future__ import annotations

import uuid

from gaji_ai.main import create_app
from gaji_ai.taskqueue import celery_app

from support import SERVICE_AUTH, bearer, running


async def test_hostile_bodies_on_the_direct_endpoint(
    test_settings, published_key, core_stub, monkeypatch
):
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append(args))
    conversation = str(uuid.uuid4())
    turns = f"/api/internal/conversations/{conversation}/turns"
    core_stub.routes[turns] = lambda method, body: (500, {"code": "INTERNAL_ERROR"})
    url = f"/api/ai/conversations/{conversation}/messages"
    me = {**bearer(published_key.token()), "Content-Type": "application/json"}
    nested = "[" * 5000 + "]" * 5000
    cases = [
        (b'{"content": "\xff\xfe hi"}', 400),  # not UTF-8
        (nested.encode(), 400),  # deeply nested, and not an object
        (b'{"content": "a\\u0000b"}', 400),  # NUL
        (b'{"content": "hi", "character": "\\u0000"}', 400),
        (b'{"content": "hi", "character": "' + b"x" * 101 + b'"}', 400),
        (b'{"content": ["hi"]}', 400),
        (b"null", 400),
        (b'{"content": "' + b"x" * 2_000_000 + b'"}', 413),  # over MAX_BODY_BYTES
    ]
    async with running(create_app(test_settings())) as api:
        for body, status in cases:
            response = await api.post(url, content=body, headers=me)
            assert response.status_code == status, (body[:40], response.text[:200])
            envelope = response.json()
            assert envelope["status"] == status and envelope["code"] and envelope["trace_id"]
        for bad_id in ("not-a-uuid", "1" * 36 + "x", "%00"):
            response = await api.post(
                f"/api/ai/conversations/{bad_id}/messages", json={"content": "hi"}, headers=me
            )
            assert response.status_code in (400, 404), bad_id
        stream = await api.get(
            f"/api/ai/conversations/{conversation}/stream",
            params={"message_id": "'; DROP TABLE messages; --", "ticket": "x"},
        )
        assert stream.status_code == 400 and stream.json()["code"] == "VALIDATION_ERROR"
        huge_ticket = await api.get(
            f"/api/ai/conversations/{conversation}/stream",
            params={"message_id": str(uuid.uuid4()), "ticket": "x" * 5000},
        )
        assert huge_ticket.status_code == 400
        cancel = await api.post(
            "/api/ai/internal/generations/..%2F..%2Fetc/cancel", headers=SERVICE_AUTH
        )
        assert cancel.status_code in (400, 404)
    assert sent == []  # nothing was queued
    assert not [path for path, _ in core_stub.requests if path == turns]  # nor stored
