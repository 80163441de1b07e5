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
    get_redis().flushdb()
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
