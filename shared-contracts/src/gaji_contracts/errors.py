"""The error envelope every endpoint of both services answers with."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field


class ErrorCode(StrEnum):
    """Machine-readable error codes. Clients branch on these, never on `message`."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    PARAMETERS_INVALID = "PARAMETERS_INVALID"  # 422: scenario parameters fail their type's schema
    MALFORMED_JSON = "MALFORMED_JSON"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_BLACKLISTED = "TOKEN_BLACKLISTED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    SERVICE_TOKEN_REQUIRED = "SERVICE_TOKEN_REQUIRED"
    SERVICE_TOKEN_NOT_ALLOWED = "SERVICE_TOKEN_NOT_ALLOWED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    AI_UNAVAILABLE = "AI_UNAVAILABLE"  # 503: core could not hand a chat turn to the ai service
    FORK_DEPTH_EXCEEDED = "FORK_DEPTH_EXCEEDED"  # 409: a conversation fork cannot be forked again
    INVALID_MODEL = "INVALID_MODEL"  # 400: a model not in GET /api/ai/models


class ErrorEnvelope(BaseModel):
    """`{timestamp, status, error, message, path, trace_id}` plus `code` and `details`."""

    timestamp: datetime
    status: int = Field(ge=400, le=599)
    error: str = Field(description="HTTP reason phrase, e.g. 'Bad Request'")
    message: str
    path: str
    trace_id: str = Field(description="The request's X-Request-ID")
    code: ErrorCode | str
    details: dict[str, Any] | None = Field(
        default=None, description="Per-field errors: field path -> list of messages"
    )


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def build_error(
    *,
    status: int,
    message: str,
    path: str,
    trace_id: str,
    code: ErrorCode | str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Render the envelope as a JSON-ready dict (timestamps ISO-8601 UTC, `Z` suffix)."""
    envelope = ErrorEnvelope(
        timestamp=datetime.now(UTC),
        status=status,
        error=reason_phrase(status),
        message=message,
        # The path is echoed back; strip control characters so a hostile URL
        # cannot smuggle NULs or newlines into a JSON client's logs.
        path=_CONTROL_CHARS.sub("", path)[:2048],
        trace_id=trace_id,
        code=code,
        details=details,
    )
    data = envelope.model_dump(mode="json")
    data["timestamp"] = envelope.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if details is None:
        data.pop("details")
    return data


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
_FIELDS = {"timestamp", "status", "error", "message", "path", "trace_id", "code"}


def envelope_problems(
    *, status: int, content_type: str, text: str, request_id: str | None, path: str
) -> list[str]:
    """How an error response breaks the envelope convention (empty when it
    keeps it), for both services' tests and fuzzers: JSON with every field,
    `status`/`error` matching the response, `trace_id` its X-Request-ID,
    `path` the request path as sent (decoded), `details` field -> messages."""
    if not content_type.startswith("application/json"):
        return [f"error answered as {content_type!r}"]
    try:
        body = json.loads(text)
    except ValueError:
        return ["error body is not JSON"]
    if not isinstance(body, dict):
        return [f"error body is not an object: {body!r}"]
    missing = _FIELDS - body.keys()
    if missing:
        return [f"envelope lacks {sorted(missing)}: {body}"]
    checks = {
        "status": body["status"] == status,
        "error": body["error"] == reason_phrase(status),
        "message": isinstance(body["message"], str) and bool(body["message"]),
        "code": isinstance(body["code"], str) and bool(_CODE.fullmatch(body["code"])),
        "timestamp": bool(_TIMESTAMP.fullmatch(str(body["timestamp"]))),
        "trace_id": body["trace_id"] == request_id,
        "path": body["path"] == _CONTROL_CHARS.sub("", path)[:2048],
    }
    problems = [f"{field} is wrong: {body[field]!r}" for field, ok in checks.items() if not ok]
    details = body.get("details")
    if details is not None and not (
        isinstance(details, dict)
        and all(
            isinstance(messages, list) and all(isinstance(m, str) for m in messages)
            for messages in details.values()
        )
    ):
        problems.append(f"details is not field -> list of messages: {details!r}")
    return problems


def error_details(
    errors: Iterable[Mapping[str, Any]],
    *,
    prefix: str = "",
    skip_sources: frozenset[str] = frozenset(),
    empty: str = "non_field_errors",
) -> dict[str, list[str]]:
    """pydantic (or FastAPI) errors -> `details`: `{"field.path": ["message", ...]}`.

    `prefix` is put before every path (e.g. "parameters"); a first path part
    in `skip_sources` (FastAPI's "body", "query", ...) is dropped; an empty
    path is reported under `empty`."""
    details: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if len(loc) > 1 and loc[0] in skip_sources:
            loc = loc[1:]
        path = ".".join([prefix, *loc] if prefix else loc) or empty
        details.setdefault(path, []).append(str(error.get("msg", "Invalid value")))
    return details
