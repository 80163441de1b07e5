"""GET /api/v1/scenarios/{id}/timeline, and the same brief in every chat turn."""

from __future__ import annotations

import uuid

import pytest
from gaji_contracts.timeline import TIMELINE_BRIEF_TOKENS, estimate_tokens, step_summary

from conftest import assert_envelope
from scenarios.models import Scenario
from scenarios.tests.helpers import CHARACTER, EVENT, SCENARIOS, SETTING, make_fork, make_scenario

pytestmark = pytest.mark.django_db


def soft_delete(scenario: Scenario) -> None:
    from django.utils import timezone

    Scenario.objects.filter(id=scenario.id).update(deleted_at=timezone.now())


def test_a_root_is_a_one_step_timeline(api, user):
    root = make_scenario(user)
    data = api.get(f"{SCENARIOS}/{root.id}/timeline").json()
    assert data["scenario_id"] == str(root.id) and data["total_steps"] == 1
    (only,) = data["steps"]
    assert only == {
        "scenario_id": str(root.id),
        "scenario_type": "CHARACTER_CHANGE",
        "summary": step_summary("CHARACTER_CHANGE", CHARACTER),
        "parameters": CHARACTER,
        "creator": {"id": str(user.id), "username": user.username},
        "is_deleted": False,
        "position": 1,
    }
    assert data["brief"] == only["summary"]
    assert (data["condensed_steps"], data["counted_steps"]) == (0, 0)
    assert data["brief_tokens"] == estimate_tokens(data["brief"])


def test_a_fork_of_a_fork_carries_every_ancestor_in_order(
    api, user, make_user, django_assert_max_num_queries
):
    other = make_user()
    root = make_scenario(user)
    middle = make_fork(root, other, "EVENT_ALTERATION")
    leaf = make_fork(middle, user, "SETTING_MODIFICATION")
    with django_assert_max_num_queries(2):
        data = api.get(f"{SCENARIOS}/{leaf.id}/timeline").json()
    assert [s["scenario_id"] for s in data["steps"]] == [str(root.id), str(middle.id), str(leaf.id)]
    assert [s["position"] for s in data["steps"]] == [1, 2, 3]
    assert [s["creator"]["username"] for s in data["steps"]] == [user.username, other.username, user.username]
    assert [s["parameters"] for s in data["steps"]] == [CHARACTER, EVENT, SETTING]
    brief = data["brief"]
    assert brief.startswith("This timeline departs from the novel in 3 changes")
    assert brief.index("Hermione Granger's house were Slytherin") < brief.index("Hermione and Draco form")
    assert brief.index("Hermione and Draco form") < brief.index("Spells need spoken contracts")
    assert "Latest change (this scenario): " + step_summary("SETTING_MODIFICATION", SETTING) in brief


def test_a_deleted_ancestor_still_contributes_and_is_marked(api, user):
    root = make_scenario(user)
    middle = make_fork(root, user, "EVENT_ALTERATION")
    leaf = make_fork(middle, user)
    soft_delete(middle)
    data = api.get(f"{SCENARIOS}/{leaf.id}/timeline").json()
    assert [s["is_deleted"] for s in data["steps"]] == [False, True, False]
    assert data["steps"][1]["parameters"] == EVENT
    assert "Hermione and Draco form unlikely alliance" in data["brief"]
    # The deleted scenario itself is gone (404), like its other reads.
    assert_envelope(api.get(f"{SCENARIOS}/{middle.id}/timeline"), 404, "NOT_FOUND")
    assert_envelope(api.get(f"{SCENARIOS}/{uuid.uuid4()}/timeline"), 404, "NOT_FOUND")


def test_a_deep_chain_fits_the_budget_and_counts_what_it_condenses(api, user):
    node = make_scenario(user)
    for _ in range(11):
        node = make_fork(node, user, "EVENT_ALTERATION")
    data = api.get(f"{SCENARIOS}/{node.id}/timeline").json()
    assert data["total_steps"] == len(data["steps"]) == 12
    assert data["brief_tokens"] <= TIMELINE_BRIEF_TOKENS
    assert data["condensed_steps"] + data["counted_steps"] >= 1
    assert f"{data['condensed_steps']} older changes are condensed" in data["brief"]
