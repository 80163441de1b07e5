"""Fixed-window rate limits in Redis, with the spec's table.

| request                                   | rule     |
| POST /api/v1/auth/login, /admin/login/    | login    |  per client IP
| POST /api/v1/auth/register                | register |  per client IP
| POST /api/v1/conversations/{id}/messages  | messages |  per user (IP if anonymous)
|   and .../messages/{id}/regenerate        |          |
| other POST/PUT/PATCH/DELETE               | write    |  per user (IP if anonymous)
| GET/HEAD/OPTIONS                          | read     |  per user (IP if anonymous)

Health probes, static files (the web app's hashed assets too) and the
internal service API are not limited by this middleware; a route that acts
for a user elsewhere charges that user's budget itself (`enforce`): ai's
direct chat stores turns through POST /api/internal/conversations/{id}/turns,
which counts against the user's `messages` budget exactly as the public send.
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
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import RETRY_AFTER
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

from common.exceptions import ApplicationError
from common.redis import get_redis

logger = logging.getLogger("gaji.ratelimit")

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/api/internal/", "/static/", "/assets/")
# Sending a message and regenerating an answer both start a generation.
MESSAGES_PATH = re.compile(r"^/api/v1/conversations/[^/]+/(?:messages(?:/[^/]+/regenerate)?|continue)/?$")
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
                subject = user_subject(token["sub"])
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


def _rule_and_key(request) -> tuple[RateLimitRule, str] | None:
    if not settings.RATE_LIMIT_ENABLED:
        return None
    scope = scope_of(request)
    if scope is None:
        return None
    rule = rule_for(scope)
    return rule, window_key(settings.REDIS_KEY_PREFIX, scope, subject_of(request, scope))


def _unavailable(exc: Exception) -> None:
    logger.warning("rate limiter unavailable, failing open: %s", exc.__class__.__name__)


def check(request) -> RateLimitDecision | None:
    """Count the request now and decide (writes wait for this before they run)."""
    found = _rule_and_key(request)
    if found is None:
        return None
    return _count_now(*found)


def _count_now(rule: RateLimitRule, key: str) -> RateLimitDecision | None:
    try:
        count, ttl = _script()(keys=[key], args=[rule.window_seconds])
    except redis.RedisError as exc:
        _unavailable(exc)
        return None
    return decide(rule=rule, count=count, ttl=ttl, now_epoch=int(time.time()))


def user_subject(user_id) -> str:
    """The subject a signed-in user is counted as (subject_of reads it from the token)."""
    return f"user:{user_id}"


def enforce(scope: str, subject: str) -> RateLimitDecision | None:
    """Count one request of `scope` for `subject` outside the middleware and
    raise the same 429 (envelope, Retry-After, X-RateLimit-*) once the
    window's budget is spent; returns the decision (None: limits off, or
    Redis unreachable: fail open as the middleware does)."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    decision = _count_now(rule_for(scope), window_key(settings.REDIS_KEY_PREFIX, scope, subject))
    if decision is not None and not decision.allowed:
        raise ApplicationError(
            f"Rate limit exceeded. Retry in {decision.retry_after} seconds.",
            status=429,
            code=ErrorCode.RATE_LIMITED,
            headers={RETRY_AFTER: str(decision.retry_after), **decision.headers()},
        )
    return decision


# Windows this process saw refused: key -> when the window ends. A subject
# over its limit is checked before its reads run again, so a flood of
# refused reads costs one wasted query per process and window, not one each.
_refused: dict[str, float] = {}
_REFUSED_MAX = 10_000


class Pending:
    """A count sent to Redis whose answer is read later (begin/finish)."""

    def __init__(self, rule: RateLimitRule, key: str, connection) -> None:
        self.rule, self.key, self.connection = rule, key, connection


def begin(request) -> Pending | RateLimitDecision | None:
    """Send the count without waiting for Redis's answer, so a read's own
    work (its database query) runs during the round trip; finish() reads
    the answer. Only for safe methods: a read over the limit has done a
    query for nothing and is still answered 429, a write must not run at
    all (it uses check()). Profiled (issue 14): waiting for the limiter was
    a quarter of GET /api/v1/scenarios/{id}."""
    found = _rule_and_key(request)
    if found is None:
        return None
    rule, key = found
    if _refused.get(key, 0) > time.time():
        return _count_now(rule, key)
    pool = get_redis().connection_pool
    try:
        connection = pool.get_connection()
    except redis.RedisError as exc:
        _unavailable(exc)
        return None
    try:
        connection.send_command("EVALSHA", _script().sha, 1, key, rule.window_seconds)
    except redis.RedisError as exc:
        pool.release(connection)
        _unavailable(exc)
        return None
    return Pending(rule, key, connection)


def finish(pending: Pending | RateLimitDecision | None) -> RateLimitDecision | None:
    if not isinstance(pending, Pending):
        return pending
    rule, key, connection = pending.rule, pending.key, pending.connection
    pool = get_redis().connection_pool
    try:
        count, ttl = connection.read_response()
    except redis.exceptions.NoScriptError:
        # Redis lost its scripts (a restart, SCRIPT FLUSH): nothing was counted; count once now.
        pool.release(connection)
        decision = _count_now(rule, key)
    except redis.RedisError as exc:
        connection.disconnect()
        pool.release(connection)
        _unavailable(exc)
        return None
    else:
        pool.release(connection)
        decision = decide(rule=rule, count=count, ttl=ttl, now_epoch=int(time.time()))
    if decision is None:
        return None
    if not decision.allowed:
        if len(_refused) >= _REFUSED_MAX:
            _refused.clear()
        _refused[key] = time.time() + decision.retry_after
    return decision
