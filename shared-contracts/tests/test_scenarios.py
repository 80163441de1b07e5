"""Scenario parameters: one pydantic schema per type. Required fields,
enums, string and list limits, unknown keys, whitespace, error paths."""

from __future__ import annotations

import pytest
from gaji_contracts.scenarios import (
    PARAMETER_SCHEMAS,
    CharacterChangeParameters,
    EventAlterationParameters,
    ParameterErrors,
    ScenarioType,
    SettingModificationParameters,
    validate_parameters,
)
from pydantic import ValidationError

CHARACTER = {
    "character": "Hermione Granger",
    "property": "house",
    "original_value": "Gryffindor",
    "new_value": "Slytherin",
    "change_point": "Sorting Hat ceremony",
    "ripple_effects": ["Different friend group", "Changed house dynamics"],
}
EVENT = {
    "event": "Hermione befriends Draco",
    "timeline_point": "Year 1, October",
    "alteration_type": "outcome_change",
    "original_outcome": "Hermione isolated",
    "new_outcome": "An unlikely alliance",
    "affected_characters": ["Hermione Granger", "Draco Malfoy"],
}
SETTING = {
    "setting_element": "magic_system",
    "scope": "global",
    "change_description": "Magic requires spoken contracts",
    "impact_level": "major",
}
VALID = {
    ScenarioType.CHARACTER_CHANGE: CHARACTER,
    ScenarioType.EVENT_ALTERATION: EVENT,
    ScenarioType.SETTING_MODIFICATION: SETTING,
}
REQUIRED = {
    ScenarioType.CHARACTER_CHANGE: {"character", "property", "new_value"},
    ScenarioType.EVENT_ALTERATION: {"event", "alteration_type", "new_outcome"},
    ScenarioType.SETTING_MODIFICATION: {"setting_element", "scope", "change_description", "impact_level"},
}
LIST_FIELDS = {"ripple_effects", "affected_characters"}


def errors_of(scenario_type, parameters) -> dict[str, list[str]]:
    with pytest.raises(ParameterErrors) as caught:
        validate_parameters(scenario_type, parameters)
    assert caught.value.details, "ParameterErrors without details"
    return caught.value.details


def test_three_types_each_with_a_schema():
    assert {t.value for t in ScenarioType} == {"CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION"}
    assert PARAMETER_SCHEMAS == {
        ScenarioType.CHARACTER_CHANGE: CharacterChangeParameters,
        ScenarioType.EVENT_ALTERATION: EventAlterationParameters,
        ScenarioType.SETTING_MODIFICATION: SettingModificationParameters,
    }


@pytest.mark.parametrize("scenario_type", list(ScenarioType))
def test_valid_parameters_round_trip(scenario_type):
    assert validate_parameters(scenario_type, VALID[scenario_type]) == VALID[scenario_type]
    # The type may be given as its string value.
    assert validate_parameters(scenario_type.value, VALID[scenario_type]) == VALID[scenario_type]


@pytest.mark.parametrize("scenario_type", list(ScenarioType))
def test_required_fields(scenario_type):
    required = REQUIRED[scenario_type]
    for name in VALID[scenario_type]:
        parameters = {k: v for k, v in VALID[scenario_type].items() if k != name}
        if name in required:
            details = errors_of(scenario_type, parameters)
            assert set(details) == {f"parameters.{name}"}, details
            assert details[f"parameters.{name}"] == ["Field required"]
        else:
            # Optional: accepted; a list defaults to empty, anything else is absent.
            result = validate_parameters(scenario_type, parameters)
            if name in LIST_FIELDS:
                assert result[name] == []
            else:
                assert name not in result
    details = errors_of(scenario_type, {})
    assert set(details) == {f"parameters.{name}" for name in required}


@pytest.mark.parametrize(
    "scenario_type,field,allowed",
    [
        (ScenarioType.CHARACTER_CHANGE, "property", ["house", "personality", "skill", "backstory"]),
        (
            ScenarioType.EVENT_ALTERATION,
            "alteration_type",
            ["prevent", "accelerate", "relocate", "outcome_change"],
        ),
        (
            ScenarioType.SETTING_MODIFICATION,
            "setting_element",
            ["location", "era", "magic_system", "technology"],
        ),
        (ScenarioType.SETTING_MODIFICATION, "scope", ["global", "regional", "local"]),
        (ScenarioType.SETTING_MODIFICATION, "impact_level", ["minor", "moderate", "major"]),
    ],
)
def test_enums(scenario_type, field, allowed):
    for value in allowed:
        assert validate_parameters(scenario_type, {**VALID[scenario_type], field: value})[field] == value
    for bad in ["HOUSE", "wand", "", None, 1, ["house"], allowed[0] + "s"]:
        details = errors_of(scenario_type, {**VALID[scenario_type], field: bad})
        assert set(details) == {f"parameters.{field}"}, (bad, details)


NAME_FIELDS = [
    (ScenarioType.CHARACTER_CHANGE, "character"),
    (ScenarioType.EVENT_ALTERATION, "timeline_point"),
]
TEXT_FIELDS = [
    (ScenarioType.CHARACTER_CHANGE, "original_value"),
    (ScenarioType.CHARACTER_CHANGE, "new_value"),
    (ScenarioType.CHARACTER_CHANGE, "change_point"),
    (ScenarioType.EVENT_ALTERATION, "event"),
    (ScenarioType.EVENT_ALTERATION, "original_outcome"),
    (ScenarioType.EVENT_ALTERATION, "new_outcome"),
    (ScenarioType.SETTING_MODIFICATION, "change_description"),
]


@pytest.mark.parametrize(
    "scenario_type,field,limit",
    [(t, f, 200) for t, f in NAME_FIELDS] + [(t, f, 1000) for t, f in TEXT_FIELDS],
)
def test_string_limits(scenario_type, field, limit):
    at_limit = {**VALID[scenario_type], field: "x" * limit}
    assert validate_parameters(scenario_type, at_limit)[field] == "x" * limit
    details = errors_of(scenario_type, {**VALID[scenario_type], field: "x" * (limit + 1)})
    assert set(details) == {f"parameters.{field}"}
    assert str(limit) in details[f"parameters.{field}"][0]
    # Empty, blank (empty once stripped) and non-strings are refused too.
    for bad in ["", "   ", 5, True, {"a": "b"}]:
        details = errors_of(scenario_type, {**VALID[scenario_type], field: bad})
        assert set(details) == {f"parameters.{field}"}, (bad, details)


@pytest.mark.parametrize(
    "scenario_type,field,limit,item_limit",
    [
        (ScenarioType.CHARACTER_CHANGE, "ripple_effects", 10, 1000),
        (ScenarioType.EVENT_ALTERATION, "affected_characters", 20, 200),
    ],
)
def test_list_limits_and_item_paths(scenario_type, field, limit, item_limit):
    items = [f"item {i}" for i in range(limit)]
    assert validate_parameters(scenario_type, {**VALID[scenario_type], field: items})[field] == items
    details = errors_of(scenario_type, {**VALID[scenario_type], field: [*items, "one more"]})
    assert set(details) == {f"parameters.{field}"}
    assert str(limit) in details[f"parameters.{field}"][0]

    # A bad item is reported with its index.
    details = errors_of(
        scenario_type, {**VALID[scenario_type], field: ["ok", "fine", "x" * (item_limit + 1)]}
    )
    assert set(details) == {f"parameters.{field}.2"}
    details = errors_of(scenario_type, {**VALID[scenario_type], field: ["ok", "", 7]})
    assert set(details) == {f"parameters.{field}.1", f"parameters.{field}.2"}
    details = errors_of(scenario_type, {**VALID[scenario_type], field: "not a list"})
    assert set(details) == {f"parameters.{field}"}


def test_ripple_effects_error_path_example():
    parameters = {**CHARACTER, "ripple_effects": ["a", "b", "c" * 1001]}
    assert set(errors_of(ScenarioType.CHARACTER_CHANGE, parameters)) == {"parameters.ripple_effects.2"}


@pytest.mark.parametrize("scenario_type", list(ScenarioType))
def test_unknown_keys_refused(scenario_type):
    details = errors_of(scenario_type, {**VALID[scenario_type], "quality_score": 1.0, "sneaky": "x"})
    assert set(details) == {"parameters.quality_score", "parameters.sneaky"}
    # Another type's fields are unknown keys here.
    other = next(t for t in ScenarioType if t is not scenario_type)
    details = errors_of(scenario_type, {**VALID[scenario_type], **VALID[other]})
    assert set(details) == {f"parameters.{name}" for name in set(VALID[other]) - set(VALID[scenario_type])}


def test_whitespace_stripped_everywhere():
    parameters = {
        "character": "  Hermione Granger\n",
        "property": "house",
        "new_value": "\tSlytherin  ",
        "ripple_effects": ["  one ", "two\n"],
    }
    assert validate_parameters(ScenarioType.CHARACTER_CHANGE, parameters) == {
        "character": "Hermione Granger",
        "property": "house",
        "new_value": "Slytherin",
        "ripple_effects": ["one", "two"],
    }
    # Stripping happens before the length check: 200 characters plus padding fit.
    padded = {**CHARACTER, "character": "   " + "x" * 200 + "   "}
    assert validate_parameters(ScenarioType.CHARACTER_CHANGE, padded)["character"] == "x" * 200
    event = {**EVENT, "affected_characters": ["  Harry  "]}
    assert validate_parameters(ScenarioType.EVENT_ALTERATION, event)["affected_characters"] == ["Harry"]


def test_null_optionals_are_dropped_and_null_required_refused():
    result = validate_parameters(
        ScenarioType.CHARACTER_CHANGE, {**CHARACTER, "original_value": None, "change_point": None}
    )
    assert "original_value" not in result and "change_point" not in result
    details = errors_of(ScenarioType.CHARACTER_CHANGE, {**CHARACTER, "new_value": None})
    assert set(details) == {"parameters.new_value"}


@pytest.mark.parametrize("parameters", [None, [], "x", 3, [CHARACTER]])
def test_parameters_must_be_an_object(parameters):
    assert errors_of(ScenarioType.CHARACTER_CHANGE, parameters) == {"parameters": ["Must be a JSON object."]}


def test_several_errors_reported_together():
    details = errors_of(
        ScenarioType.SETTING_MODIFICATION,
        {"setting_element": "weather", "scope": "galactic", "change_description": "", "impact_level": "huge"},
    )
    assert set(details) == {
        "parameters.setting_element",
        "parameters.scope",
        "parameters.change_description",
        "parameters.impact_level",
    }
    assert all(isinstance(m, list) and m and all(isinstance(s, str) for s in m) for m in details.values())


def test_unknown_type_is_not_a_parameter_error():
    with pytest.raises(ValueError) as caught:
        validate_parameters("TIME_TRAVEL", CHARACTER)
    assert not isinstance(caught.value, ParameterErrors)


def test_models_usable_directly():
    model = CharacterChangeParameters.model_validate(CHARACTER)
    assert model.property == "house"
    with pytest.raises(ValidationError):
        SettingModificationParameters.model_validate({**SETTING, "extra": 1})
    with pytest.raises(ValidationError):
        EventAlterationParameters.model_validate({**EVENT, "alteration_type": "undo"})
