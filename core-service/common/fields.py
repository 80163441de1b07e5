"""Serializer fields shared by the apps' API documentation.

`contract_field` documents a field with a shared-contracts pydantic model's
own JSON schema (its limits, patterns and `additionalProperties: false`
included), so a model is never restated field by field here."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from gaji_contracts.conversations import MAX_CITATIONS, Citation
from gaji_contracts.novels import SLUG_MAX_CHARS, SLUG_PATTERN
from gaji_contracts.scenarios import PARAMETER_SCHEMAS
from pydantic import BaseModel
from rest_framework import serializers

# The contract models referenced by fields here; common.schema.contract_components
# adds each as a component of the document.
CONTRACT_COMPONENTS: tuple[type[BaseModel], ...] = (Citation, *PARAMETER_SCHEMAS.values())


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


BASE_STORY_SCHEMA = {
    "type": "string",
    "pattern": SLUG_PATTERN,
    "maxLength": SLUG_MAX_CHARS,
    "description": "The novel's slug, such as pride-and-prejudice",
}


def typed_scenario_body(*, base_story: bool | None) -> dict[str, Any]:
    """A scenario request body: one branch per scenario type, each with its
    `scenario_type` and that type's parameters (the shared-contracts model).
    `base_story`: True required, False optional, None absent."""
    branches = []
    for kind, model in PARAMETER_SCHEMAS.items():
        properties: dict[str, Any] = {}
        required = ["scenario_type", "parameters"]
        if base_story is not None:
            properties["base_story"] = BASE_STORY_SCHEMA
            if base_story:
                required.insert(0, "base_story")
        properties["scenario_type"] = {"type": "string", "enum": [kind.value]}
        properties["parameters"] = {"$ref": f"#/components/schemas/{model.__name__}"}
        branches.append(
            {
                "type": "object",
                "title": kind.value,
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        )
    return {"application/json": {"oneOf": branches}}
