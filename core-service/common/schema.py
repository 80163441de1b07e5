"""OpenAPI helpers: every route documents its error responses."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, get_doc
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from gaji_contracts.text import CLEAN_TEXT_PATTERN, NO_NUL_PATTERN
from rest_framework import serializers

from common.fields import CONTRACT_COMPONENTS, contract_schema
from common.serializers import StrictSerializer


class GajiAutoSchema(AutoSchema):
    """Views nest their serializers (`RegisterApi.InputSerializer`); name each
    component after its full path so two views' `InputSerializer`s never
    collapse into one component."""

    def get_serializer_name(self, serializer, direction) -> str:
        qualname = serializer.__class__.__qualname__
        if "." not in qualname or "<locals>" in qualname:
            return super().get_serializer_name(serializer, direction)
        return "".join(part.removesuffix("Serializer") for part in qualname.split("."))

    def _get_request_body(self, direction="request"):
        """A view whose body may be any JSON object (a card, a lorebook) still
        needs one: `openapi_body_required = True` says so."""
        body = super()._get_request_body(direction)
        if body and getattr(self.view, "openapi_body_required", False):
            body["required"] = True
        return body

    def _map_basic_serializer(self, serializer, direction):
        """Request bodies state what the serializer refuses: unknown keys
        (StrictSerializer), NUL characters and blank text (every CharField),
        rules of validators that carry an `openapi_pattern`, and an empty
        body where at least one field is needed (`openapi_min_properties`)."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        serializer = force_instance(serializer)
        if isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        if getattr(serializer, "openapi_min_properties", None):  # "at least one of these fields"
            schema["minProperties"] = serializer.openapi_min_properties
            if schema.get("description") == get_doc(StrictSerializer):
                del schema["description"]  # the base class's docstring, not this body's
        for name, field in serializer.fields.items():
            prop = schema.get("properties", {}).get(name)
            if isinstance(prop, dict) and "oneOf" in prop:  # blank allowed: [the rule, {maxLength: 0}]
                prop = prop["oneOf"][0]
            pattern = text_pattern(field)
            if isinstance(prop, dict) and prop.get("type") == "string" and pattern and "enum" not in prop:
                if "pattern" not in prop or getattr(field, "openapi_pattern", None):
                    prop["pattern"] = pattern
                    prop.pop("format", None)  # the pattern is the stricter, exact rule
        return schema


def strict_inline(name: str, fields: dict) -> StrictSerializer:
    """inline_serializer for a body whose view refuses unknown keys (a
    StrictSerializer): the document says so (additionalProperties: false)."""
    return type(name, (StrictSerializer,), {"__doc__": "Unknown keys are refused.", **fields})()


def text_pattern(field) -> str | None:
    """The JSON Schema pattern of what a DRF text field accepts, or None
    (choices, formats and regex fields document themselves, unless the field
    carries an `openapi_pattern` of its own)."""
    if getattr(field, "openapi_pattern", None):
        return field.openapi_pattern
    if not isinstance(field, serializers.CharField) or isinstance(
        field, serializers.EmailField | serializers.URLField | serializers.UUIDField | serializers.RegexField
    ):
        return None
    for validator in field.validators:
        if getattr(validator, "openapi_pattern", None):
            return validator.openapi_pattern
    if not field.allow_blank and field.trim_whitespace:
        return CLEAN_TEXT_PATTERN
    return NO_NUL_PATTERN


class UserJWTScheme(SimpleJWTScheme):
    target_class = "common.auth.UserJWTAuthentication"
    name = "jwtAuth"


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "common.auth.ServiceTokenAuthentication"
    name = "serviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The shared service token (ai service only; internal routes).",
        }


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
    return {
        s: OpenApiResponse(ErrorEnvelopeSerializer, description=_DESCRIPTIONS.get(s, "Error")) for s in wanted
    }


def document_empty_query_values(result, generator, request, public):
    """Postprocessing hook: DRF reads an optional query parameter sent empty
    (`?q=`) as left out, so every one of them says it allows an empty value."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result


def _nullable(node):
    """pydantic's JSON Schema as OpenAPI 3.0: `anyOf: [X, {type: null}]` as `X` +
    `nullable`, `const` as a one-value enum, numeric exclusive bounds as flags."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if "const" in node and "type" in node:  # JSON Schema's const is a one-value enum in 3.0
        node["enum"] = [node.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node[bound], bool):
            node[plain], node[bound] = node[bound], True
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**rest[0], **node}
        else:
            node["anyOf" if len(rest) > 1 else "allOf"] = rest
        node["nullable"] = True
    return node


def contract_components(result, generator, request, public):
    """Postprocessing hook: the shared-contracts models fields refer to
    (common.fields) are components, and pydantic's null unions read as
    OpenAPI 3.0 (`nullable`)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for model in CONTRACT_COMPONENTS:
        schemas.setdefault(model.__name__, contract_schema(model))
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            _require_typed_bodies(operation.get("requestBody"))
    return _nullable(result)


def _require_typed_bodies(body) -> None:
    """A body given as one branch per type (common.fields.typed_scenario_body),
    each branch with required fields, is itself required."""
    for media in (body or {}).get("content", {}).values():
        branches = media.get("schema", {}).get("oneOf")
        if branches and all(branch.get("required") for branch in branches):
            body["required"] = True
