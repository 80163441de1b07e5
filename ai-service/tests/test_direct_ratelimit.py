"""Hole 1 of issue 26: the direct chat endpoint stores its turn through
core's internal route, which charges the reader's own message budget (the
one core's send route spends). A 429 from core reaches the reader as a 429
with core's Retry-After, and nothing is queued."""

from __future__ import annotations

import uuid

from gaji_ai.main import create_app
from gaji_ai.taskqueue import celery_app

from support import bearer, running


async def test_a_core_429_is_relayed_with_its_retry_after(
    test_settings, published_key, core_stub, monkeypatch
):
    queued = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: queued.append(args))
    owner, conversation = str(uuid.uuid4()), str(uuid.uuid4())
    turns = f"/api/internal/conversations/{conversation}/turns"
    refused = {
        "status": 429,
        "code": "RATE_LIMITED",
        "message": "Rate limit exceeded. Retry in 42 seconds.",
    }
    core_stub.routes[turns] = lambda method, body: (429, refused, {"Retry-After": "42"})
    async with running(create_app(test_settings())) as api:
        response = await api.post(
            f"/api/ai/conversations/{conversation}/messages",
            json={"content": "One more"},
            headers=bearer(published_key.token(sub=owner)),
        )
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "42"
    body = response.json()
    assert body["status"] == 429 and body["code"] == "RATE_LIMITED" and body["trace_id"]
    assert body["message"] == "Rate limit exceeded. Retry in 42 seconds."
    assert queued == []  # nothing queued
    assert len(core_stub.requests_to(turns)) == 1


async def test_a_429_without_a_usable_retry_after_still_says_when(
    test_settings, published_key, core_stub, monkeypatch
):
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: None)
    conversation = str(uuid.uuid4())
    core_stub.routes[f"/api/internal/conversations/{conversation}/turns"] = lambda method, body: (
        429,
        {"code": "RATE_LIMITED"},
        {"Retry-After": "soon"},
    )
    async with running(create_app(test_settings())) as api:
        response = await api.post(
            f"/api/ai/conversations/{conversation}/messages",
            json={"content": "One more"},
            headers=bearer(published_key.token()),
        )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert response.json()["code"] == "RATE_LIMITED"
