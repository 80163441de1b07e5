"""Fixtures for core tests: real PostgreSQL (pytest-django's test database)
and real Redis (db 14, flushed per test)."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from common.redis import get_redis

_counter = itertools.count()
PASSWORD = "Sup3rSecret"


@pytest.fixture(autouse=True)
def _clean_redis(settings):
    # Only this run's keys (settings.test gives each run its own prefix), so
    # parallel runs never reset each other's rate-limit windows.
    redis = get_redis()
    keys = list(redis.scan_iter(f"{settings.REDIS_KEY_PREFIX}:*", count=1000))
    if keys:
        redis.delete(*keys)
    yield


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db):
    def _make(**fields) -> User:
        n = next(_counter)
        fields.setdefault("email", f"user{n}@example.com")
        fields.setdefault("username", f"user_{n}")
        password = fields.pop("password", PASSWORD)
        return User.objects.create_user(password=password, **fields)

    return _make


@pytest.fixture
def user(make_user) -> User:
    return make_user()


def bearer_for(user: User) -> str:
    from accounts.tokens import tokens_for

    return f"Bearer {tokens_for(user)['access_token']}"


@pytest.fixture
def auth_api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    return client


@pytest.fixture
def redis_down(settings):
    """Point the service at a closed Redis port; yields the real URL. The
    cached client and script are dropped on both sides of the test."""
    from common import ratelimit

    original = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    get_redis.cache_clear()
    ratelimit._script.cache_clear()
    yield original
    get_redis.cache_clear()
    ratelimit._script.cache_clear()


ENVELOPE_FIELDS = {"timestamp", "status", "error", "message", "path", "trace_id", "code"}


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    """The error body every endpoint answers with; returns the parsed body."""
    import re
    from http import HTTPStatus

    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert ENVELOPE_FIELDS <= body.keys(), body
    assert body["status"] == status
    assert body["error"] == HTTPStatus(status).phrase
    assert body["trace_id"] == response["X-Request-ID"]
    assert body["path"] == re.sub(r"[\x00-\x1f\x7f]", "", response.request["PATH_INFO"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"]), body["timestamp"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body
