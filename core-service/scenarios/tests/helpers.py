"""Payloads and builders shared by the scenario tests (not a test module)."""

from __future__ import annotations

from rest_framework.test import APIClient

from conftest import bearer_for
from scenarios import services
from scenarios.models import Scenario

SCENARIOS = "/api/v1/scenarios"

CHARACTER = {
    "character": "Hermione Granger",
    "property": "house",
    "original_value": "Gryffindor",
    "new_value": "Slytherin",
    "change_point": "Sorting Hat ceremony",
    "ripple_effects": ["Different friend group", "Changed house dynamics"],
}
EVENT = {
    "event": "Hermione befriends Draco in Slytherin common room",
    "timeline_point": "Year 1, October",
    "alteration_type": "outcome_change",
    "original_outcome": "Hermione isolated from Slytherin clique",
    "new_outcome": "Hermione and Draco form unlikely alliance",
    "affected_characters": ["Hermione Granger", "Draco Malfoy"],
}
SETTING = {
    "setting_element": "magic_system",
    "scope": "global",
    "change_description": "Spells need spoken contracts",
    "impact_level": "major",
}
PARAMETERS = {"CHARACTER_CHANGE": CHARACTER, "EVENT_ALTERATION": EVENT, "SETTING_MODIFICATION": SETTING}


def body(scenario_type: str = "CHARACTER_CHANGE", base_story: str = "harry_potter", **extra) -> dict:
    return {
        "base_story": base_story,
        "scenario_type": scenario_type,
        "parameters": PARAMETERS[scenario_type],
        **extra,
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    return client


def make_scenario(
    creator, scenario_type: str = "CHARACTER_CHANGE", base_story: str = "harry_potter", **fields
):
    """A root scenario through the service (validation and novel linking
    included); `fields` are then written as they are (e.g. quality_score)."""
    scenario = services.scenario_create(
        creator=creator,
        base_story=base_story,
        scenario_type=scenario_type,
        parameters=fields.pop("parameters", PARAMETERS[scenario_type]),
    )
    if fields:
        Scenario.objects.filter(id=scenario.id).update(**fields)
        scenario.refresh_from_db()
    return scenario


def make_fork(parent, creator, scenario_type: str | None = None, parameters: dict | None = None):
    kind = scenario_type or parent.scenario_type
    return services.scenario_fork(
        parent=parent, creator=creator, scenario_type=kind, parameters=parameters or PARAMETERS[kind]
    )


def soft_delete(scenario) -> None:
    services.scenario_delete(scenario=scenario, user=scenario.creator)


def fetch(scenario_id) -> Scenario:
    return Scenario.objects.get(id=scenario_id)
