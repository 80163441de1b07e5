"""One application error type, rendered as the shared error envelope.

Every error the service answers with (ours, Starlette's 404/405, FastAPI's
validation errors, middleware refusals) goes through `error_response`, so the
body is always `gaji_contracts.errors.build_error` JSON, never HTML.
Unhandled exceptions are turned into 500s by `RequestContextMiddleware`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from gaji_contracts.conventions import current_request_id
from gaji_contracts.errors import ErrorCode, ErrorEnvelope, build_error, error_details
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """An error with an HTTP status and a machine-readable code, safe to show."""

    def __init__(
        self,
        status: int,
        code: ErrorCode | str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


def error_response(
    *,
    status: int,
    code: ErrorCode | str,
    message: str,
    path: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = build_error(
        status=status,
        message=message,
        path=path,
        trace_id=current_request_id.get(),
        code=code,
        details=details,
    )
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry declaring that these statuses answer the envelope."""
    return {status: {"model": ErrorEnvelope} for status in statuses}


# Codes for errors raised by Starlette/FastAPI themselves (router, HTTPException).
_CODE_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

_PARAM_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def field_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """FastAPI/pydantic errors -> `{"field.path": ["message", ...]}`."""
    return error_details(errors, skip_sources=_PARAM_SOURCES, empty="body")


def _path(request: Request) -> str:
    """The decoded request path, as in the middlewares' errors (`request.url.path`
    re-quotes some characters of it, e.g. `#` as `%23`)."""
    return request.scope["path"]


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    return error_response(
        status=exc.status,
        code=exc.code,
        message=exc.message,
        path=_path(request),
        details=exc.details,
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _CODE_BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
    message = exc.detail if isinstance(exc.detail, str) else code.value
    return error_response(
        status=exc.status_code,
        code=code,
        message=message,
        path=_path(request),
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(
            status=400,
            code=ErrorCode.MALFORMED_JSON,
            message="Request body is not valid JSON",
            path=_path(request),
        )
    return error_response(
        status=400,
        code=ErrorCode.VALIDATION_ERROR,
        message="Request validation failed",
        path=_path(request),
        details=field_errors(errors),
    )


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
