"""Small helpers both services use for the cross-cutting conventions:
request ids, service-token comparison, JSON logs."""

from __future__ import annotations

import contextvars
import hmac
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from gaji_contracts.headers import BEARER_PREFIX, REQUEST_ID_MAX_LENGTH

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]+$")

# The current request id, read by the log formatter and by the internal
# HTTP clients that forward it.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("current_request_id", default="-")


def clean_request_id(value: str | None) -> str:
    """Keep a caller's X-Request-ID if it is short and plain; otherwise mint one."""
    if value and len(value) <= REQUEST_ID_MAX_LENGTH and _REQUEST_ID_OK.match(value):
        return value
    return str(uuid.uuid4())


def outgoing_request_id() -> str:
    """The id to send on an internal call: the current request's, or a fresh
    one outside any request (workers, start-up)."""
    # get(None) skips the "-" default: None means "not inside a request".
    return current_request_id.get(None) or str(uuid.uuid4())


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client's address for rate limiting. With no trusted proxy the TCP
    peer is the client and X-Forwarded-For is ignored (anyone can write it);
    with N trusted proxies it is the N-th entry from the right, the one the
    outermost trusted proxy appended."""
    peer = peer or "unknown"
    if trusted_proxies <= 0:
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    return hops[-trusted_proxies] if len(hops) >= trusted_proxies else peer


def bearer_token(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith(BEARER_PREFIX):
        return None
    token = authorization[len(BEARER_PREFIX) :].strip()
    return token or None


def is_service_token(candidate: str | None, expected: str) -> bool:
    """Constant-time comparison; never true for an empty configuration."""
    if not candidate or not expected:
        return False
    return hmac.compare_digest(candidate.encode(), expected.encode())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the current request."""

    _RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in self._RESERVED and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
