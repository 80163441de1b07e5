"""Limits on guessing and mailing through the account routes, counted in the
same Redis fixed windows as the request limits (common.ratelimit).

- Asking for a password reset is limited like login (5 per 15 min per client
  IP, scaled by RATE_LIMIT_SCALE) but in a window of its own: a reader who
  just failed to log in five times must still be able to ask for a reset.
- One address receives at most RESET_MAILS_PER_HOUR reset mails an hour,
  whoever asks: nobody can bomb an inbox from many addresses. Past the cap the
  request is still answered 202 (the answer never depends on the address).
- Wrong passwords given to the account routes (email change, password change,
  deletion) are counted per user like login attempts: a stolen access token
  is not an oracle for guessing the password behind it. Once the window's
  budget is spent, those routes answer 429 without checking.

Like the request limiter, these fail open when Redis is unreachable.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import RETRY_AFTER
from gaji_contracts.ratelimit import RateLimitRule, scaled, window_key

from common import ratelimit
from common.exceptions import ApplicationError
from common.redis import get_redis

logger = logging.getLogger("gaji.ratelimit")

RESET_REQUESTS = "password_reset"
RESET_MAILS = "password_reset_mail"
PASSWORD_FAILURES = "password_check"
RESET_MAILS_PER_HOUR = 3


def _rule(scope: str) -> RateLimitRule:
    if scope == RESET_MAILS:
        return scaled(
            RateLimitRule(scope=scope, limit=RESET_MAILS_PER_HOUR, window_seconds=3600),
            settings.RATE_LIMIT_SCALE,
        )
    return ratelimit.rule_for("login").model_copy(update={"scope": scope})


def _key(scope: str, subject: str) -> str:
    return window_key(settings.REDIS_KEY_PREFIX, scope, subject)


def _too_many(retry_after: int) -> ApplicationError:
    return ApplicationError(
        f"Too many attempts. Retry in {retry_after} seconds.",
        status=429,
        code=ErrorCode.RATE_LIMITED,
        headers={RETRY_AFTER: str(retry_after)},
    )


def count(scope: str, subject: str) -> bool:
    """Count one event in the subject's window; False once over the limit."""
    if not settings.RATE_LIMIT_ENABLED:
        return True
    decision = ratelimit._count_now(_rule(scope), _key(scope, subject))
    return decision is None or decision.allowed


def reset_request_allowed(client_ip: str) -> None:
    """429 (with Retry-After) once this client has asked too often."""
    if not settings.RATE_LIMIT_ENABLED:
        return
    decision = ratelimit._count_now(_rule(RESET_REQUESTS), _key(RESET_REQUESTS, f"ip:{client_ip}"))
    if decision is not None and not decision.allowed:
        raise _too_many(decision.retry_after)


def password_guesses_left(user_id) -> None:
    """429 when this user's wrong passwords have spent the window's budget
    (read only: a correct password costs nothing)."""
    if not settings.RATE_LIMIT_ENABLED:
        return
    key = _key(PASSWORD_FAILURES, f"user:{user_id}")
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        failures, ttl = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("rate limiter unavailable, failing open: %s", exc.__class__.__name__)
        return
    if failures is not None and int(failures) >= _rule(PASSWORD_FAILURES).limit:
        raise _too_many(max(int(ttl), 1))


def password_failed(user_id) -> None:
    count(PASSWORD_FAILURES, f"user:{user_id}")
