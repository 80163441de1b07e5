"""Liveness and readiness probes."""

from __future__ import annotations

import pytest

from conftest import assert_envelope


def test_healthz(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "core"}
    assert "X-RateLimit-Limit" not in response


@pytest.mark.django_db
def test_readyz_ok(api):
    response = api.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["service"] == "core"
    assert set(body["checks"]) == {"postgres", "redis"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert check["error"] is None
        assert check["latency_ms"] >= 0


@pytest.mark.django_db
def test_readyz_redis_down(api, redis_down):
    response = api.get("/readyz")
    body = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert body["details"]["redis"]["ok"] is False
    assert body["details"]["redis"]["error"]
    assert body["details"]["postgres"]["ok"] is True
    assert "redis" in body["message"]


@pytest.mark.django_db
def test_readyz_postgres_down(api, monkeypatch):
    from common import health

    def broken():
        raise ConnectionError("no database")

    monkeypatch.setattr(health, "_postgres", broken)
    body = assert_envelope(api.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    assert body["details"]["postgres"] == {
        "ok": False,
        "latency_ms": body["details"]["postgres"]["latency_ms"],
        "error": "ConnectionError",
    }
    assert "no database" not in str(body)
    assert body["details"]["redis"]["ok"] is True
