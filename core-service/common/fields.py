"""Serializer fields shared by the apps' API documentation.

`contract_field` documents a field with a shared-contracts pydantic model's
own JSON schema (its limits, patterns and `additionalProperties: false`
included), so a model is never restated field by field here."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from gaji_contracts.conversations import MAX_CITATIONS, Citation
from pydantic import BaseModel
from rest_framework import serializers

# The contract models referenced by fields here; common.schema.contract_components
# adds each as a component of the document.
CONTRACT_COMPONENTS: tuple[type[BaseModel], ...] = (Citation,)


def contract_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A flat model's JSON schema (no nested models: nothing to reference)."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, f"{model.__name__} nests models: document it as a component"
    return schema


@extend_schema_field(
    {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Citation"},
        "maxItems": MAX_CITATIONS,
        "description": "The passages of the novel the answer's prompt held, in the order it numbered "
        "them ([1], [2], ...); [] for user messages and answers without grounding",
    }
)
class CitationsField(serializers.ListField):
    """gaji_contracts.conversations.Citation, a list of them (documentation of responses)."""
