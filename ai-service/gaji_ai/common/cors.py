"""CORS for the browser apps named in WEB_ORIGINS (the reader web app is served
from core's origin and calls this API cross-origin).

Starlette's CORSMiddleware, outermost of all (see `main.create_app`), so that
every answer an allowed origin gets carries `Access-Control-Allow-Origin`:
the routes' own, the error envelopes of the middlewares inside it (429, 413,
the 500 of RequestContextMiddleware) and the SSE stream. Exact origins only,
never `*`, and no credentials: the app sends Bearer tokens (or a stream
ticket in the URL), never cookies.

A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
answered here, before authentication and rate limiting; it carries an
X-Request-ID and gets its access-log line like any request, and a refused one
(unknown origin, method or header) is a 400 error envelope instead of
Starlette's plain text.
"""

from __future__ import annotations

import logging
import time

from gaji_contracts.conventions import clean_request_id, current_request_id
from gaji_contracts.cors import (
    ALLOW_HEADERS,
    ALLOW_METHODS,
    CORS_REJECTED,
    EXPOSE_HEADERS,
    MAX_AGE_SECONDS,
)
from gaji_contracts.headers import REQUEST_ID_HEADER
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gaji_ai.common.errors import error_response
from gaji_ai.common.logging import ACCESS_LOGGER

access_logger = logging.getLogger(ACCESS_LOGGER)

# Starlette's preflight headers a refusal keeps (the body is ours).
_DROPPED_ON_REFUSAL = frozenset({"content-type", "content-length"})


class WebCorsMiddleware(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            allow_credentials=False,
            expose_headers=EXPOSE_HEADERS,
            max_age=MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                await self._preflight(scope, receive, send, headers)
                return
        await super().__call__(scope, receive, send)

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers
    ) -> None:
        started = time.perf_counter()
        request_id = clean_request_id(headers.get(REQUEST_ID_HEADER))
        token = current_request_id.set(request_id)
        try:
            response = self.preflight_response(request_headers=headers)
            if response.status_code != 200:
                reason = bytes(response.body).decode()  # "Disallowed CORS origin, headers"
                kept = {
                    name: value
                    for name, value in response.headers.items()
                    if name not in _DROPPED_ON_REFUSAL
                }
                response = error_response(
                    status=400,
                    code=CORS_REJECTED,
                    message=f"{reason}.",
                    path=scope["path"],
                    headers=kept,
                )
            response.headers[REQUEST_ID_HEADER] = request_id
            await response(scope, receive, send)
            access_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                response.status_code,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "request_id": request_id,
                    "cors_preflight": True,
                },
            )
        finally:
            current_request_id.reset(token)
