"""What-If scenario parameters, one schema per scenario type.

Core validates every scenario body against these (422 with the failing
paths); the ai service reads the same models to render a scenario as a
plain-language brief. Unknown keys are refused, strings are bounded.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from gaji_contracts.errors import error_details
from gaji_contracts.text import CLEAN_TEXT_PATTERN

# Stripped, then 1-200 / 1-1000 characters; the pattern (not blank, no NUL)
# documents the rest of the rule in JSON Schema.
_NOT_BLANK = Field(json_schema_extra={"pattern": CLEAN_TEXT_PATTERN})
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _NOT_BLANK]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), _NOT_BLANK]


class ScenarioType(StrEnum):
    CHARACTER_CHANGE = "CHARACTER_CHANGE"
    EVENT_ALTERATION = "EVENT_ALTERATION"
    SETTING_MODIFICATION = "SETTING_MODIFICATION"


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CharacterChangeParameters(_Parameters):
    """A character is different: their house, personality, skill or backstory."""

    character: Name
    property: Literal["house", "personality", "skill", "backstory"]
    original_value: Text | None = None
    new_value: Text
    change_point: Text | None = None
    ripple_effects: list[Text] = Field(default_factory=list, max_length=10)


class EventAlterationParameters(_Parameters):
    """A key event is prevented, hastened, moved or ends differently."""

    event: Text
    timeline_point: Name | None = None
    alteration_type: Literal["prevent", "accelerate", "relocate", "outcome_change"]
    original_outcome: Text | None = None
    new_outcome: Text
    affected_characters: list[Name] = Field(default_factory=list, max_length=20)


class SettingModificationParameters(_Parameters):
    """The world itself changes: a place, the era, magic or technology."""

    setting_element: Literal["location", "era", "magic_system", "technology"]
    scope: Literal["global", "regional", "local"]
    change_description: Text
    impact_level: Literal["minor", "moderate", "major"]


PARAMETER_SCHEMAS: dict[ScenarioType, type[_Parameters]] = {
    ScenarioType.CHARACTER_CHANGE: CharacterChangeParameters,
    ScenarioType.EVENT_ALTERATION: EventAlterationParameters,
    ScenarioType.SETTING_MODIFICATION: SettingModificationParameters,
}


class ParameterErrors(ValueError):
    """Parameters that fail their type's schema: `details` maps each failing
    path (e.g. `parameters.ripple_effects.2`) to its messages."""

    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__("Scenario parameters do not match their schema.")
        self.details = details


def validate_parameters(scenario_type: ScenarioType | str, parameters: Any) -> dict[str, Any]:
    """The parameters, normalised (whitespace stripped, unset optionals
    dropped), or ParameterErrors. `scenario_type` must be a valid type."""
    schema = PARAMETER_SCHEMAS[ScenarioType(scenario_type)]
    if not isinstance(parameters, dict):
        raise ParameterErrors({"parameters": ["Must be a JSON object."]})
    try:
        model = schema.model_validate(parameters)
    except ValidationError as exc:
        raise ParameterErrors(error_details(exc.errors(), prefix="parameters")) from None
    return model.model_dump(exclude_none=True)
