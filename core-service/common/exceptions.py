"""One application error type, one DRF exception handler, one envelope.

Views and services raise `ApplicationError` (or DRF/Django's own
exceptions); everything is rendered by `exception_handler` as the envelope
defined in gaji_contracts.errors.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
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
    ) -> None:
        super().__init__(message)
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


def _validation_message(details: dict[str, list[str]]) -> str:
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
    if isinstance(exc, ApplicationError):
        body = envelope(request, status=exc.status, message=exc.message, code=exc.code, details=exc.details)
        return Response(body, status=exc.status, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.ValidationError):
        details = _flatten(exc.detail)
        body = envelope(
            request,
            status=400,
            message=_validation_message(details),
            code=ErrorCode.VALIDATION_ERROR,
            details=details,
        )
        return Response(body, status=400)
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
            return Response(
                envelope(request, status=status, message=str(message), code=code),
                status=status,
                headers=headers,
            )
    if isinstance(exc, drf.APIException):
        status = exc.status_code
        return Response(
            envelope(request, status=status, message=str(exc.detail), code=exc.default_code.upper()),
            status=status,
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        # PostgreSQL restarting or unreachable: a clear, retryable answer.
        logger.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        return Response(
            envelope(
                request,
                status=503,
                message="The database is temporarily unavailable. Retry shortly.",
                code=ErrorCode.SERVICE_UNAVAILABLE,
            ),
            status=503,
            headers={RETRY_AFTER: "5"},
        )
    # Unhandled: log with traceback, answer without internals.
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return Response(
        envelope(request, status=500, message="Internal server error.", code=ErrorCode.INTERNAL_ERROR),
        status=500,
    )
