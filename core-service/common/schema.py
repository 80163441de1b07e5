"""OpenAPI helpers: every route documents its error responses."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelopeSerializer = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "timestamp": serializers.DateTimeField(),
        "status": serializers.IntegerField(),
        "error": serializers.CharField(),
        "message": serializers.CharField(),
        "path": serializers.CharField(),
        "trace_id": serializers.CharField(),
        "code": serializers.CharField(),
        "details": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)

_DESCRIPTIONS = {
    400: "Validation failed or malformed request",
    401: "Missing or invalid authentication",
    403: "Authenticated but not allowed",
    404: "Not found",
    409: "Conflict with an existing resource",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Rate limit exceeded (see Retry-After)",
    503: "A dependency is unavailable",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error responses for extend_schema(responses=...). 400/429 always apply."""
    wanted = sorted(set(statuses) | {400, 429})
    return {s: OpenApiResponse(ErrorEnvelopeSerializer, description=_DESCRIPTIONS.get(s, "Error")) for s in wanted}
