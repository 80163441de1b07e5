"""Contracts shared by Gaji's core and ai services.

Every model that crosses the wire between the two services (or that both
services must render identically, like the error envelope) lives here, so a
contract changes in one place or not at all.
"""

from gaji_contracts.auth import JWT_ALGORITHM, JWT_AUDIENCE, JWT_ISSUER, Jwk, Jwks, TokenClaims, WhoAmI
from gaji_contracts.errors import ErrorCode, ErrorEnvelope, build_error, envelope_problems, reason_phrase
from gaji_contracts.headers import (
    RATE_LIMIT_LIMIT,
    RATE_LIMIT_REMAINING,
    RATE_LIMIT_RESET,
    REQUEST_ID_HEADER,
    RETRY_AFTER,
)
from gaji_contracts.health import CheckResult, Liveness, Readiness, ServiceHealth
from gaji_contracts.pagination import Page, PageInfo
from gaji_contracts.ratelimit import DEFAULT_RATE_LIMITS, RateLimitRule

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "JWT_ALGORITHM",
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "RATE_LIMIT_LIMIT",
    "RATE_LIMIT_REMAINING",
    "RATE_LIMIT_RESET",
    "REQUEST_ID_HEADER",
    "RETRY_AFTER",
    "CheckResult",
    "ErrorCode",
    "ErrorEnvelope",
    "Jwk",
    "Jwks",
    "Liveness",
    "Page",
    "PageInfo",
    "RateLimitRule",
    "Readiness",
    "ServiceHealth",
    "TokenClaims",
    "WhoAmI",
    "build_error",
    "envelope_problems",
    "reason_phrase",
]
