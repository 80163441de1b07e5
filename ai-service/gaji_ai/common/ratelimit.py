"""Fixed-window rate limits kept in Redis, so they hold across processes.

GET/HEAD/OPTIONS count against the "read" rule, other methods against "write"
(`gaji_contracts.ratelimit.DEFAULT_RATE_LIMITS`, scaled by RATE_LIMIT_SCALE).
The subject is the client address (`gaji_contracts.conventions.client_address`:
the TCP peer, or with TRUSTED_PROXY_COUNT set the entry the outermost trusted
proxy appended to X-Forwarded-For). Internal routes (service token only) and
health probes are not limited.
"""

from __future__ import annotations

import logging
import time

from gaji_contracts.conventions import client_address
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
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gaji_ai.common.errors import error_response

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
# Internal routes answer only the service token (core's calls, e.g. every
# chat turn): limiting them would throttle the platform as a whole, as on core.
EXEMPT_PREFIXES = ("/api/ai/internal/", "/docs-assets/")


def scaled_rule(scope: str, scale: float) -> RateLimitRule:
    return scaled(DEFAULT_RATE_LIMITS[scope], scale)


class RateLimiter:
    """Counts hits in Redis with the shared fixed-window Lua script (EVALSHA)."""

    def __init__(self, redis: Redis, *, prefix: str, scale: float) -> None:
        self._script = redis.register_script(FIXED_WINDOW_LUA)
        self.prefix = prefix
        self.rules = {scope: scaled_rule(scope, scale) for scope in ("read", "write")}

    def rule_for(self, method: str) -> RateLimitRule:
        return self.rules["read" if method in READ_METHODS else "write"]

    async def hit(self, rule: RateLimitRule, subject: str) -> RateLimitDecision:
        key = window_key(self.prefix, rule.scope, subject)
        count, ttl = await self._script(keys=[key], args=[rule.window_seconds])
        return decide(rule=rule, count=int(count), ttl=int(ttl), now_epoch=int(time.time()))


def rate_limit_subject(scope: Scope, trusted_proxies: int) -> str:
    # uvicorn runs with --no-proxy-headers, so scope["client"] is the TCP
    # peer; X-Forwarded-For counts only through TRUSTED_PROXY_COUNT.
    client = scope.get("client")
    forwarded = Headers(scope=scope).get("x-forwarded-for")
    return f"ip:{client_address(client[0] if client else None, forwarded, trusted_proxies)}"


class RateLimitMiddleware:
    """429 over the limit; X-RateLimit-* headers on every limited response.

    Reads the limiter from `app.state.rate_limiter` (opened by the lifespan).
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: int = 0) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter: RateLimiter | None = None
        if (
            scope["type"] == "http"
            and scope["path"] not in EXEMPT_PATHS
            and not scope["path"].startswith(EXEMPT_PREFIXES)
        ):
            limiter = scope["app"].state.rate_limiter
        if limiter is None:
            await self.app(scope, receive, send)
            return

        rule = limiter.rule_for(scope["method"])
        try:
            decision = await limiter.hit(rule, rate_limit_subject(scope, self.trusted_proxies))
        except (RedisError, OSError) as exc:
            # Fail OPEN: a Redis outage must not take the whole API down with
            # it; /readyz reports Redis as failing meanwhile, so it is seen.
            logger.warning("rate limiter unavailable, request not counted: %r", exc)
            await self.app(scope, receive, send)
            return

        headers = decision.headers()
        if not decision.allowed:
            response = error_response(
                status=429,
                code=ErrorCode.RATE_LIMITED,
                message="Too many requests, retry later",
                path=scope["path"],
                headers={**headers, RETRY_AFTER: str(decision.retry_after)},
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
