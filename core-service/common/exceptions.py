"""One application error type, one DRF exception handler, one envelope.

Views and services raise `ApplicationError` (or DRF/Django's own
exceptions); everything is rendered by `exception_handler` as the envelope
defined in gaji_contracts.errors.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from gaji_contracts.errors import ErrorCode, build_error
from gaji_contracts.headers import RETRY_AFTER
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken

from common.request_id import request_id_of

logger = logging.getLogger("gaji.errors")


class ApplicationError(Exception):
    """An error the client can act on: status, machine code, message, details."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: ErrorCode | str = ErrorCode.VALIDATION_ERROR,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        # Top-level fields added to the envelope (e.g. the ids a 503 kept).
        self.extra = extra or {}
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.headers = headers or {}


def envelope(request, *, status: int, message: str, code: ErrorCode | str, details=None) -> dict:
    return build_error(
        status=status,
        message=message,
        path=request.path,
        trace_id=request_id_of(request),
        code=code,
        details=details,
    )


def json_error(request, *, status: int, message: str, code: ErrorCode | str, details=None, headers=None):
    response = JsonResponse(
        envelope(request, status=status, message=message, code=code, details=details), status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"field.sub": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                name = f"{prefix}.{index}" if prefix else str(index)
                for k, v in _flatten(value, name).items():
                    out.setdefault(k, []).extend(v)
            else:
                out.setdefault(prefix or "non_field_errors", []).append(str(value))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def validation_message(details: dict[str, list[str]]) -> str:
    if not details:
        return "Validation failed."
    field, messages = next(iter(details.items()))
    if field == "non_field_errors":
        return f"Validation failed: {messages[0]}"
    return f"Validation failed for field '{field}': {messages[0]}"


_DRF_CODES: list[tuple[type[Exception], int, ErrorCode]] = [
    (drf.ParseError, 400, ErrorCode.MALFORMED_JSON),
    (drf.UnsupportedMediaType, 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (drf.NotAuthenticated, 401, ErrorCode.NOT_AUTHENTICATED),
    (InvalidToken, 401, ErrorCode.TOKEN_INVALID),
    (drf.AuthenticationFailed, 401, ErrorCode.TOKEN_INVALID),
    (drf.PermissionDenied, 403, ErrorCode.PERMISSION_DENIED),
    (drf.NotFound, 404, ErrorCode.NOT_FOUND),
    (drf.MethodNotAllowed, 405, ErrorCode.METHOD_NOT_ALLOWED),
    (drf.NotAcceptable, 406, ErrorCode.NOT_ACCEPTABLE),
    (drf.Throttled, 429, ErrorCode.RATE_LIMITED),
]


def exception_handler(exc: Exception, context: dict) -> Response:
    request = context["request"]

    def respond(status: int, message: str, code, details=None, headers=None, extra=None) -> Response:
        body = envelope(request, status=status, message=message, code=code, details=details)
        for key, value in (extra or {}).items():
            body.setdefault(key, value)
        return Response(body, status=status, headers=headers)

    if isinstance(exc, ApplicationError):
        return respond(exc.status, exc.message, exc.code, exc.details, exc.headers, exc.extra)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.ValidationError):
        details = _flatten(exc.detail)
        return respond(400, validation_message(details), ErrorCode.VALIDATION_ERROR, details)
    for exc_type, status, code in _DRF_CODES:
        if isinstance(exc, exc_type):
            message = exc.detail if isinstance(exc.detail, str) else "Request refused."
            if isinstance(exc, InvalidToken):
                message = "Token is invalid or expired."
            if isinstance(exc, drf.ParseError):
                message = "Malformed JSON body."
            headers = {}
            if isinstance(exc, drf.Throttled) and exc.wait:
                headers[RETRY_AFTER] = str(int(exc.wait))
            if status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return respond(status, str(message), code, headers=headers)
    if isinstance(exc, drf.APIException):
        return respond(exc.status_code, str(exc.detail), exc.default_code.upper())
    if isinstance(exc, RequestDataTooBig):
        return respond(413, "Request body too large.", ErrorCode.PAYLOAD_TOO_LARGE)
    if isinstance(exc, (SuspiciousOperation, DataError)):
        # Too many multipart fields/files, bytes PostgreSQL refuses, ...:
        # the request is at fault, not the server.
        logger.info("refused suspicious input on %s %s: %s", request.method, request.path, type(exc).__name__)
        return respond(400, "Malformed request.", ErrorCode.VALIDATION_ERROR)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # PostgreSQL restarting or unreachable: a clear, retryable answer.
        logger.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        message = "The database is temporarily unavailable. Retry shortly."
        return respond(503, message, ErrorCode.SERVICE_UNAVAILABLE, headers={RETRY_AFTER: "5"})
    # Unhandled: log with traceback, answer without internals.
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return respond(500, "Internal server error.", ErrorCode.INTERNAL_ERROR)
