"""CoreClient against a real HTTP server standing in for core."""

from __future__ import annotations

import uuid

import httpx
import pytest
from gaji_contracts.conventions import current_request_id

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable

from support import SERVICE_TOKEN, unused_url


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient() as client:
        yield client


def _client(http: httpx.AsyncClient, base_url: str, token: str = SERVICE_TOKEN) -> CoreClient:
    return CoreClient(http, base_url=base_url, service_token=token, timeout_seconds=2)


async def test_health_sends_service_token_and_request_id(http, core_stub):
    reset = current_request_id.set("req-from-user")
    try:
        health = await _client(http, core_stub.url + "/").health()
    finally:
        current_request_id.reset(reset)

    assert health.service == "core"
    [headers] = core_stub.requests_to("/api/internal/health")
    assert headers["authorization"] == f"Bearer {SERVICE_TOKEN}"
    assert headers["x-request-id"] == "req-from-user"
    assert health.request_id == "req-from-user"


async def test_outside_a_request_a_fresh_request_id_is_sent(http, core_stub):
    await _client(http, core_stub.url).health()
    [headers] = core_stub.requests_to("/api/internal/health")
    uuid.UUID(headers["x-request-id"])


async def test_unreachable_core_is_core_unavailable(http):
    with pytest.raises(CoreUnavailable):
        await _client(http, unused_url()).health()


async def test_5xx_is_core_unavailable(http, core_stub):
    core_stub.health_status = 502
    with pytest.raises(CoreUnavailable):
        await _client(http, core_stub.url).health()


async def test_refused_token_is_a_response_error(http, core_stub):
    with pytest.raises(CoreResponseError) as raised:
        await _client(http, core_stub.url, token="wrong").health()
    assert raised.value.status == 403
    assert not isinstance(raised.value, CoreUnavailable)


async def test_unexpected_body_is_a_response_error(http, core_stub):
    core_stub.health_body = {"hello": "world"}
    with pytest.raises(CoreResponseError) as raised:
        await _client(http, core_stub.url).health()
    assert raised.value.status == 200
