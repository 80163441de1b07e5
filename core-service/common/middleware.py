"""Cross-cutting middleware: request ids and access log, body size, rate
limits, and the envelope for errors Django itself produces."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from gaji_contracts import cors
from gaji_contracts.conventions import clean_request_id, current_request_id
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import REQUEST_ID_HEADER, RETRY_AFTER
from gaji_contracts.ratelimit import RateLimitDecision

from common import ratelimit
from common.exceptions import json_error

access_log = logging.getLogger("gaji.access")

AVATAR_PATH = "/api/v1/users/profile/avatar"
REQUEST_ID_META = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class CorsMiddleware:
    """CORS for the browser apps in WEB_ORIGINS (gaji_contracts.cors): exact
    origins, no credentials. Outermost, so every answer an allowed origin
    gets carries Access-Control-Allow-Origin, errors and 429s included; a
    preflight is answered here, before rate limits and authentication (a
    refused one is a 400 envelope, code CORS_REJECTED). The reader web app is
    served by core itself (same origin); this is for apps served elsewhere,
    such as Vite's dev server."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.origins = frozenset(settings.WEB_ORIGINS)
        self.methods = ", ".join(cors.ALLOW_METHODS)
        self.allowed_headers = {h.lower() for h in cors.ALLOW_HEADERS}
        self.expose = ", ".join(cors.EXPOSE_HEADERS)

    def __call__(self, request):
        # META, not request.headers: that parses every header on first use.
        origin = request.META.get("HTTP_ORIGIN")
        if origin is None or not self.origins:
            return self.get_response(request)
        allowed = origin.lower() in self.origins
        method = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if request.method == "OPTIONS" and method is not None:
            return self._preflight(request, origin, allowed, method)
        response = self.get_response(request)
        patch_vary_headers(response, ["Origin"])
        if allowed:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = self.expose
        return response

    def _preflight(self, request, origin: str, allowed: bool, method: str):
        request.request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        asked = request.headers.get("Access-Control-Request-Headers", "")
        headers = {h.strip().lower() for h in asked.split(",") if h.strip()}
        if not allowed or method.upper() not in cors.ALLOW_METHODS or not headers <= self.allowed_headers:
            response = json_error(
                request, status=400, message="Cross-origin request refused.", code=cors.CORS_REJECTED
            )
        else:
            response = HttpResponse(status=200)
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = self.methods
            response["Access-Control-Allow-Headers"] = ", ".join(cors.ALLOW_HEADERS)
            response["Access-Control-Max-Age"] = str(cors.MAX_AGE_SECONDS)
        patch_vary_headers(response, ["Origin"])
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class RequestIdMiddleware:
    """Takes or mints X-Request-ID, exposes it to logs and internal clients,
    echoes it on the response, and writes one JSON access-log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.META.get(REQUEST_ID_META))
        request.request_id = request_id
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if access_log.isEnabledFor(logging.INFO):
                self.log(request, response, started)
            return response
        finally:
            current_request_id.reset(token)

    @staticmethod
    def log(request, response, started: float) -> None:
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "client": ratelimit.client_ip(request),
            },
        )


def upload_limit(path: str) -> int | None:
    """The routes that take files bigger than MAX_BODY_BYTES, and their caps
    (each view checks its own file kinds again, with a 413 envelope)."""
    if path == AVATAR_PATH:
        return settings.AVATAR_MAX_BYTES
    if path == "/api/v1/characters/import":
        return settings.CARD_UPLOAD_MAX_BYTES
    if path == "/api/v1/lorebooks/import":
        return settings.LOREBOOK_UPLOAD_MAX_BYTES
    if path == "/api/v1/novels/imports":
        return settings.NOVEL_IMPORT_MAX_BYTES
    if path == "/api/v1/conversations/import":
        return settings.CONVERSATION_IMPORT_MAX_BYTES
    return None


class BodySizeLimitMiddleware:
    """413 from Content-Length before a byte of the body is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            return json_error(
                request, status=400, message="Invalid Content-Length header.", code=ErrorCode.VALIDATION_ERROR
            )
        limit = settings.MAX_BODY_BYTES
        upload = upload_limit(request.path)
        if upload is not None:
            limit = upload + MULTIPART_OVERHEAD_BYTES
        if length > limit:
            return json_error(
                request,
                status=413,
                message=f"Request body exceeds {limit} bytes.",
                code=ErrorCode.PAYLOAD_TOO_LARGE,
            )
        return self.get_response(request)


class RateLimitMiddleware:
    """Counts the request in Redis and adds X-RateLimit-* to the response;
    429 with Retry-After once the window's budget is spent. A write is
    counted before it runs; a read's count travels to Redis while the read
    runs (ratelimit.begin/finish), and a read over the limit is answered 429
    all the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ratelimit.SAFE_METHODS:
            pending = ratelimit.begin(request)
            if isinstance(pending, RateLimitDecision) and not pending.allowed:
                decision, response = pending, None  # refused before it runs
            else:
                try:
                    response = self.get_response(request)
                finally:
                    decision = ratelimit.finish(pending)
        else:
            decision = ratelimit.check(request)
            response = None if decision is not None and not decision.allowed else self.get_response(request)
        if decision is not None and not decision.allowed:
            response = json_error(
                request,
                status=429,
                message=f"Rate limit exceeded. Retry in {decision.retry_after} seconds.",
                code=ErrorCode.RATE_LIMITED,
                headers={RETRY_AFTER: str(decision.retry_after)},
            )
        if decision is not None:
            for name, value in decision.headers().items():
                response[name] = value
        return response


class AdminOnlyMiddleware:
    """Runs ADMIN_MIDDLEWARE (sessions, CSRF, session users, messages) for
    the Django admin only. The API authenticates with JWTs and never reads a
    session; passing every API request through those layers cost time on
    each one for nothing."""

    def __init__(self, get_response):
        from django.utils.module_loading import import_string

        self.get_response = get_response
        chain = get_response
        for dotted in reversed(settings.ADMIN_MIDDLEWARE):
            chain = import_string(dotted)(chain)
        self.admin = chain

    def __call__(self, request):
        if request.path_info.startswith(settings.ADMIN_PREFIX):
            return self.admin(request)
        return self.get_response(request)


class ErrorEnvelopeMiddleware:
    """Turns any non-JSON error response (Django's 404/403/400 pages, CSRF
    failures, DEBUG pages) into the envelope, so no client ever gets HTML."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400:
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json"):
            return response
        # Error bodies from other layers (even WhiteNoise's streamed ones) are
        # replaced whole; the body of an error is never worth streaming.
        status = response.status_code
        code, message = _DEFAULTS.get(
            status, (ErrorCode.INTERNAL_ERROR if status >= 500 else "HTTP_ERROR", None)
        )
        converted = json_error(request, status=status, message=message or response.reason_phrase, code=code)
        for header in ("Allow", RETRY_AFTER, "WWW-Authenticate"):
            if header in response:
                converted[header] = response[header]
        return converted


_DEFAULTS: dict[int, tuple[ErrorCode | str, str]] = {
    400: (ErrorCode.VALIDATION_ERROR, "Bad request."),
    403: (ErrorCode.PERMISSION_DENIED, "Forbidden."),
    404: (ErrorCode.NOT_FOUND, "No route or resource matches this URL."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed on this URL."),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "Request body too large."),
    500: (ErrorCode.INTERNAL_ERROR, "Internal server error."),
}
