"""Liveness, readiness, and the internal health route."""

from __future__ import annotations

from datetime import datetime

from gaji_contracts.health import Readiness, ServiceHealth

from gaji_ai.main import create_app

from support import SERVICE_AUTH, running, unused_url


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "ai"}


async def test_readyz_ready_when_all_checks_pass(client, core_stub):
    response = await client.get("/readyz")
    assert response.status_code == 200
    readiness = Readiness.model_validate(response.json())
    assert readiness.status == "ready"
    assert readiness.service == "ai"
    assert set(readiness.checks) == {"redis", "vector_store", "core"}
    assert all(check.ok and check.error is None for check in readiness.checks.values())
    # Core was really asked, with our service token.
    [headers] = core_stub.requests_to("/api/internal/health")
    assert headers["authorization"] == SERVICE_AUTH["Authorization"]


async def _assert_not_ready(response, failing: str) -> dict:
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    checks = body["details"]
    assert set(checks) == {"redis", "vector_store", "core"}
    assert checks[failing]["ok"] is False
    assert checks[failing]["error"]
    assert all(checks[name]["ok"] for name in checks if name != failing)
    return checks


async def test_readyz_503_when_core_unreachable(make_client):
    async with make_client(core_base_url=unused_url()) as client:
        response = await client.get("/readyz")
    checks = await _assert_not_ready(response, "core")
    assert "CoreUnavailable" in checks["core"]["error"]


async def test_readyz_503_when_core_fails(client, core_stub):
    core_stub.health_status = 500
    await _assert_not_ready(await client.get("/readyz"), "core")


async def test_readyz_503_when_core_refuses_our_token(make_client):
    async with make_client(service_token="a-token-core-does-not-know") as client:
        response = await client.get("/readyz")
    checks = await _assert_not_ready(response, "core")
    assert "CoreResponseError" in checks["core"]["error"]


async def test_readyz_503_when_redis_down(make_client):
    dead_redis = unused_url().replace("http://", "redis://")
    async with make_client(redis_url=dead_redis) as client:
        response = await client.get("/readyz")
    await _assert_not_ready(response, "redis")


async def test_readyz_503_when_vector_store_closed(test_settings):
    app = create_app(test_settings())
    async with running(app) as client:
        await app.state.vector_store.close()
        await _assert_not_ready(await client.get("/readyz"), "vector_store")


async def test_health_routes_carry_no_rate_limit_headers(client):
    for path in ("/healthz", "/readyz"):
        response = await client.get(path)
        assert "x-ratelimit-limit" not in response.headers


async def test_internal_health(client):
    response = await client.get(
        "/api/ai/internal/health", headers={**SERVICE_AUTH, "X-Request-ID": "abc"}
    )
    assert response.status_code == 200
    health = ServiceHealth.model_validate(response.json())
    assert health.service == "ai"
    assert health.status == "ok"
    assert health.request_id == "abc"
    assert health.version
    assert isinstance(health.time, datetime)
    assert health.time.tzinfo is not None
