"""Fixtures: the app with its real lifespan (real Redis db 13, real Qdrant Edge
in a tmp folder) and a real HTTP server standing in for core (JWKS + health)."""

from __future__ import annotations

import os

# Before gaji_ai is imported: its modules build settings at import time.
os.environ.setdefault("GAJI_ENV", "test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
# The smallest real model, always: child processes (the staff LLM check, the
# self-test) read the environment, where `make` exports the default model,
# which a fresh machine has not fetched (only `make run` does).
os.environ["LLM_LOCAL_MODEL"] = "smollm2-135m-instruct"

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from gaji_ai.config import Settings
from gaji_ai.main import create_app

from support import (
    SERVICE_TOKEN,
    TEST_REDIS_URL,
    CoreStub,
    SigningKey,
    build_settings,
    running,
    serving,
)

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def core_stub() -> Iterator[CoreStub]:
    with serving(CoreStub()) as stub:
        yield stub


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate("core-key-1")


@pytest.fixture(scope="session")
def foreign_key() -> SigningKey:
    """Same kid as `signing_key`, another key: what a forger would try."""
    return SigningKey.generate("core-key-1")


@pytest.fixture
def published_key(core_stub: CoreStub, signing_key: SigningKey) -> SigningKey:
    core_stub.jwks = {"keys": [signing_key.jwk()]}
    return signing_key


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards."""
    prefix = f"gaji:ai:test:{uuid.uuid4().hex}"
    yield prefix
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
def test_settings(
    core_stub: CoreStub, tmp_path: Path, redis_prefix: str
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        fields: dict[str, Any] = {
            "gaji_env": "test",
            "service_token": SERVICE_TOKEN,
            "core_base_url": core_stub.url,
            "jwks_url": None,
            "redis_url": TEST_REDIS_URL,
            "celery_broker_url": None,
            "qdrant_url": None,
            "qdrant_path": tmp_path / "qdrant",
            "rate_limit_enabled": True,
            "rate_limit_scale": 1.0,
            "rate_limit_prefix": redis_prefix,
            "http_timeout_seconds": 2.0,
            "max_body_bytes": 1_048_576,
            "embeddings_preload": False,
            # The periodic novel check calls core; tests that want it turn it on.
            "novel_check_enabled": False,
            # The smallest real model, in-process; the engine's own tests
            # start a real llama-server (tests/test_engine.py).
            "llm_local_engine": "inprocess",
            "llm_local_model": "smollm2-135m-instruct",
        }
        fields.update(overrides)
        return build_settings(**fields)

    return make


@pytest.fixture
def make_client(test_settings: Callable[..., Settings]) -> ClientFactory:
    """`async with make_client(max_body_bytes=10) as client:` for settings overrides."""

    def make(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running(create_app(test_settings(**overrides)))

    return make


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
def env(test_settings, redis_prefix, monkeypatch):
    """For the chat-turn tests: settings, a Redis client and the test's key
    prefix; no persistence retry delays, the cancel flag read before every
    token, no provider left over from another test."""
    from gaji_ai.generation import outcome, turn
    from gaji_ai.llm import registry

    monkeypatch.setattr(outcome, "PERSIST_DELAYS", (0, 0, 0))
    monkeypatch.setattr(turn, "CANCEL_POLL_SECONDS", 0)  # check before every token
    registry.clear()
    settings = test_settings()
    client = SyncRedis.from_url(TEST_REDIS_URL)
    yield settings, client, redis_prefix
    registry.clear()
    client.close()
