"""CORS as both services keep it for the browser apps in WEB_ORIGINS: exact
origins only (never `*`), no credentials (the apps send Bearer tokens or a
stream ticket, never cookies), these methods and headers, and these response
headers readable by the app."""

from __future__ import annotations

import re

from gaji_contracts.headers import (
    AUTHORIZATION,
    RATE_LIMIT_LIMIT,
    RATE_LIMIT_REMAINING,
    RATE_LIMIT_RESET,
    REQUEST_ID_HEADER,
    RETRY_AFTER,
)

DEFAULT_WEB_ORIGINS = "http://127.0.0.1:8080,http://localhost:8080"
ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOW_HEADERS = (AUTHORIZATION, "Content-Type", REQUEST_ID_HEADER, "Last-Event-ID")
EXPOSE_HEADERS = (REQUEST_ID_HEADER, RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET, RETRY_AFTER)
MAX_AGE_SECONDS = 600
CORS_REJECTED = "CORS_REJECTED"

_ORIGIN = re.compile(r"https?://[^/\s*?#@,]+", re.IGNORECASE)


def parse_web_origins(value: str) -> list[str]:
    """`a, b/` -> exact origins as browsers send them (lower-cased, no trailing
    slash); ValueError for anything that is not scheme://host[:port]."""
    origins = []
    for raw in value.split(","):
        origin = raw.strip().rstrip("/").lower()
        if not origin:
            continue
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"WEB_ORIGINS: {raw.strip()!r} is not an origin like "
                "https://app.example.com or http://127.0.0.1:8080 (no path, no wildcard)"
            )
        origins.append(origin)
    return origins
