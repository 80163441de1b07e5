"""The rate-limit table of the API spec, shared so both services count alike.

Each service may scale the limits from its environment (tests and benchmarks
need higher ones); these are the defaults.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RateLimitRule(BaseModel):
    scope: str
    limit: int = Field(ge=1)
    window_seconds: int = Field(ge=1)


DEFAULT_RATE_LIMITS: dict[str, RateLimitRule] = {
    rule.scope: rule
    for rule in (
        RateLimitRule(scope="login", limit=5, window_seconds=15 * 60),
        RateLimitRule(scope="register", limit=3, window_seconds=60 * 60),
        RateLimitRule(scope="messages", limit=10, window_seconds=60),
        RateLimitRule(scope="write", limit=100, window_seconds=60),
        RateLimitRule(scope="read", limit=300, window_seconds=60),
    )
}


def scaled(rule: RateLimitRule, scale: float) -> RateLimitRule:
    """The rule with its limit multiplied by `scale` (RATE_LIMIT_SCALE), never below 1."""
    return rule.model_copy(update={"limit": max(1, int(rule.limit * scale))})


# Fixed-window counter, atomic in Redis: INCR the window's key, set its TTL on
# the first hit, and return (count, ttl). Run with EVAL/EVALSHA by either
# service's Redis client (sync in core, asyncio in ai).
FIXED_WINDOW_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RateLimitDecision(BaseModel):
    limit: int
    remaining: int
    reset_epoch: int = Field(description="Unix time at which the window resets")
    retry_after: int = Field(description="Seconds until the window resets")
    allowed: bool

    def headers(self) -> dict[str, str]:
        from gaji_contracts.headers import (
            RATE_LIMIT_LIMIT,
            RATE_LIMIT_REMAINING,
            RATE_LIMIT_RESET,
        )

        return {
            RATE_LIMIT_LIMIT: str(self.limit),
            RATE_LIMIT_REMAINING: str(self.remaining),
            RATE_LIMIT_RESET: str(self.reset_epoch),
        }


def decide(*, rule: RateLimitRule, count: int, ttl: int, now_epoch: int) -> RateLimitDecision:
    """Turn the Lua script's (count, ttl) into the headers' numbers."""
    ttl = max(int(ttl), 1)
    return RateLimitDecision(
        limit=rule.limit,
        remaining=max(rule.limit - int(count), 0),
        reset_epoch=now_epoch + ttl,
        retry_after=ttl,
        allowed=int(count) <= rule.limit,
    )


def window_key(prefix: str, scope: str, subject: str) -> str:
    return f"{prefix}:rl:{scope}:{subject}"
