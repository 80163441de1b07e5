"""Fixed-window rate limits in Redis, with the spec's table.

| request                                   | rule     |
| POST /api/v1/auth/login, /admin/login/    | login    |  per client IP
| POST /api/v1/auth/register                | register |  per client IP
| POST /api/v1/conversations/{id}/messages  | messages |  per user (IP if anonymous)
|   and .../messages/{id}/regenerate        |          |
| other POST/PUT/PATCH/DELETE               | write    |  per user (IP if anonymous)
| GET/HEAD/OPTIONS                          | read     |  per user (IP if anonymous)

Health probes, static files (the web app's hashed assets too) and the
internal service API are not limited.
If Redis is unreachable the limiter fails OPEN (the request is served
without rate-limit headers and a warning is logged): losing the limiter for
a moment is better than refusing every reader; login still costs an Argon2
hash per attempt, which bounds guessing.
"""

from __future__ import annotations

import functools
import logging
import re
import time

import redis
from django.conf import settings
from gaji_contracts.conventions import bearer_token, client_address, is_service_token
from gaji_contracts.ratelimit import (
    DEFAULT_RATE_LIMITS,
    FIXED_WINDOW_LUA,
    RateLimitDecision,
    RateLimitRule,
    decide,
    scaled,
    window_key,
)
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from common.redis import get_redis

logger = logging.getLogger("gaji.ratelimit")

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/api/internal/", "/static/", "/assets/")
# Sending a message and regenerating an answer both start a generation.
MESSAGES_PATH = re.compile(r"^/api/v1/conversations/[^/]+/messages(?:/[^/]+/regenerate)?/?$")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# The admin's login form guesses staff passwords as well as the API does.
LOGIN_PATHS = {"/api/v1/auth/login", "/admin/login/"}


def client_ip(request) -> str:
    return client_address(
        request.META.get("REMOTE_ADDR"),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        settings.TRUSTED_PROXY_COUNT,
    )


def scope_of(request) -> str | None:
    path = request.path
    if path.startswith(EXEMPT_PREFIXES):
        return None
    method = request.method
    if method == "POST" and path in LOGIN_PATHS:
        return "login"
    if method == "POST" and path == "/api/v1/auth/register":
        return "register"
    if method == "POST" and MESSAGES_PATH.match(path):
        return "messages"
    return "read" if method in SAFE_METHODS else "write"


def rule_for(scope: str) -> RateLimitRule:
    return _scaled_rule(scope, settings.RATE_LIMIT_SCALE)


@functools.lru_cache(maxsize=64)
def _scaled_rule(scope: str, scale: float) -> RateLimitRule:
    # Built once per scope and scale, not on every request (a pydantic copy).
    return scaled(DEFAULT_RATE_LIMITS[scope], scale)


def subject_of(request, scope: str) -> str:
    if scope not in {"login", "register"}:
        raw = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if raw and not is_service_token(raw, settings.SERVICE_TOKEN):
            try:
                token = AccessToken(raw)
                subject = f"user:{token['sub']}"
            except (TokenError, KeyError):
                pass  # an invalid token is refused later; count it by IP
            else:
                # Decoded once per request: authentication reuses it.
                request.gaji_access_token = (raw, token)
                return subject
    return f"ip:{client_ip(request)}"


@functools.cache
def _script():
    # EVALSHA with automatic EVAL fallback: the script body is sent once per process.
    return get_redis().register_script(FIXED_WINDOW_LUA)


def check(request) -> RateLimitDecision | None:
    if not settings.RATE_LIMIT_ENABLED:
        return None
    scope = scope_of(request)
    if scope is None:
        return None
    rule = rule_for(scope)
    key = window_key(settings.REDIS_KEY_PREFIX, scope, subject_of(request, scope))
    try:
        count, ttl = _script()(keys=[key], args=[rule.window_seconds])
    except redis.RedisError as exc:
        logger.warning("rate limiter unavailable, failing open: %s", exc.__class__.__name__)
        return None
    return decide(rule=rule, count=count, ttl=ttl, now_epoch=int(time.time()))
