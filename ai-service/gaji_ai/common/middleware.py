"""Pure ASGI middlewares (no BaseHTTPMiddleware: it buffers and breaks SSE streams).

Order, outermost first (see `main.create_app`):
WebCorsMiddleware (only with WEB_ORIGINS set; gaji_ai.common.cors) ->
RequestContextMiddleware -> AccessLogMiddleware -> RateLimitMiddleware ->
BodySizeLimitMiddleware -> the FastAPI router.
"""

from __future__ import annotations

import logging
import re
import time

from gaji_contracts.conventions import clean_request_id, current_request_id
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import REQUEST_ID_HEADER
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gaji_ai.common.errors import error_response
from gaji_ai.common.logging import ACCESS_LOGGER

logger = logging.getLogger(__name__)
access_logger = logging.getLogger(ACCESS_LOGGER)


class RequestContextMiddleware:
    """Sets the request id (contextvar + response header) and turns any
    unhandled exception into a 500 envelope, logged with its traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = clean_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            logger.exception(
                "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
            )
            # Once a (streaming) response has started, its status is already on
            # the wire; the connection just ends.
            if not response_started:
                response = error_response(
                    status=500,
                    code=ErrorCode.INTERNAL_ERROR,
                    message="Internal server error",
                    path=scope["path"],
                )
                await response(scope, receive, send_with_request_id)
        finally:
            current_request_id.reset(token)


class AccessLogMiddleware:
    """One log line per request: method, path, status, duration_ms, request_id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_capturing_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capturing_status)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            access_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                    "request_id": current_request_id.get(),
                },
            )


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """413 when the body is larger than `max_bytes`: from Content-Length before
    reading anything, and by counting the bytes of chunked bodies as they arrive."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        per_path: dict[str, int] | None = None,
        per_pattern: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        # Routes with their own limit (a novel upload is larger than any JSON
        # body): by exact path, or by a regular expression of the whole path.
        self.per_path = per_path or {}
        self.per_pattern = [(re.compile(p), limit) for p, limit in (per_pattern or {}).items()]

    def limit_for(self, path: str) -> int:
        if path in self.per_path:
            return self.per_path[path]
        for pattern, limit in self.per_pattern:
            if pattern.fullmatch(path):
                return limit
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])

        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            # The app may turn our exception into its own error (FastAPI makes
            # it a 400); that answer is dropped and replaced by the 413 below.
            if exceeded:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            status=413,
            code=ErrorCode.PAYLOAD_TOO_LARGE,
            message=f"Request body is larger than {limit} bytes",
            path=scope["path"],
        )
        await response(scope, receive, send)
