"""What every route for the ai service shares (service token, /api/internal/...):
the view base, contract parsing, and the health route."""

from __future__ import annotations

from typing import TypeVar

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from gaji_contracts.errors import ErrorCode, error_details
from gaji_contracts.health import ServiceHealth
from pydantic import BaseModel, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.auth import IsInternalService, ServiceTokenAuthentication
from common.exceptions import ApplicationError, validation_message
from common.request_id import request_id_of
from common.schema import errors

VERSION = "0.1.0"
M = TypeVar("M", bound=BaseModel)


def parse_contract(model: type[M], data) -> M:
    """A request body as its shared-contracts model, or a 400 envelope with per-field details."""
    if not isinstance(data, dict):
        raise ApplicationError(
            "Expected a JSON object.", details={"non_field_errors": ["Expected a JSON object."]}
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = error_details(exc.errors())
        raise ApplicationError(
            validation_message(details), code=ErrorCode.VALIDATION_ERROR, details=details
        ) from None


class InternalApiView(APIView):
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [IsInternalService]


class InternalHealthApi(InternalApiView):
    @extend_schema(
        operation_id="internal_health",
        responses={
            200: ServiceHealth,
            **errors(401, 403),
        },
        description="Proves the caller holds the service token. Service token only.",
    )
    def get(self, request):
        body = ServiceHealth(
            service="core", version=VERSION, time=timezone.now(), request_id=request_id_of(request)
        )
        return Response(body.model_dump(mode="json"))
