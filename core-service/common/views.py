"""Handlers for errors raised outside DRF views (unknown URLs, admin, ...)."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from gaji_contracts.errors import ErrorCode

from common.exceptions import json_error

logger = logging.getLogger("gaji.errors")


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return json_error(
            request, status=413, message="Request body too large.", code=ErrorCode.PAYLOAD_TOO_LARGE
        )
    if isinstance(exception, TooManyFieldsSent):
        return json_error(request, status=400, message="Too many fields.", code=ErrorCode.VALIDATION_ERROR)
    return json_error(request, status=400, message="Bad request.", code=ErrorCode.VALIDATION_ERROR)


def permission_denied(request, exception=None):
    return json_error(request, status=403, message="Forbidden.", code=ErrorCode.PERMISSION_DENIED)


def not_found(request, exception=None):
    return json_error(
        request, status=404, message="No route or resource matches this URL.", code=ErrorCode.NOT_FOUND
    )


def server_error(request):
    return json_error(request, status=500, message="Internal server error.", code=ErrorCode.INTERNAL_ERROR)
