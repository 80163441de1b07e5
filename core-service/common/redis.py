"""One Redis client per process, created on first use."""

from __future__ import annotations

import contextlib
import functools

import redis
from django.conf import settings


@functools.cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=30,
        decode_responses=True,
    )


def shared_get(key: str) -> tuple[str | None, bool]:
    """(a value shared by every process or None, whether Redis answered).
    Callers compute a missing value themselves, and share it only when Redis
    answered (so an outage costs one timeout per request, not two)."""
    try:
        return get_redis().get(key), True
    except redis.RedisError:
        return None, False


def shared_set(key: str, value: str | bytes | int, seconds: int) -> None:
    """Share a value for `seconds`; an unreachable Redis only loses the sharing."""
    with contextlib.suppress(redis.RedisError):
        get_redis().set(key, value, ex=seconds)


def shared_claim(key: str, seconds: int) -> bool:
    """Claim `key` for `seconds` across processes: True for the first caller
    (and when Redis is unreachable: the work may then be done twice, never
    not at all)."""
    try:
        return bool(get_redis().set(key, "1", nx=True, ex=seconds))
    except redis.RedisError:
        return True
