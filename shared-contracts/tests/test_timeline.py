"""The timeline brief: every change in order, deep chains fitted to the
budget by condensing (never silently dropping) the oldest."""

from __future__ import annotations

import pytest
from gaji_contracts.timeline import (
    TIMELINE_BRIEF_TOKENS,
    BriefStep,
    estimate_tokens,
    step_headline,
    step_summary,
    timeline_brief,
)

COLLINS = {
    "event": "Mr. Collins's proposal to Elizabeth",
    "alteration_type": "outcome_change",
    "original_outcome": "Elizabeth refused him",
    "new_outcome": "Elizabeth accepted Mr. Collins",
}
BINGLEY = {
    "event": "Bingley's departure from Netherfield",
    "alteration_type": "prevent",
    "new_outcome": "Jane married Bingley at once",
}
LONDON = {
    "setting_element": "era",
    "scope": "global",
    "change_description": "The story is set in 2025 London",
    "impact_level": "major",
}


def step(kind: str, parameters: dict, position: int) -> BriefStep:
    return BriefStep(scenario_type=kind, parameters=parameters, position=position)


def test_one_step_is_the_scenario_summary_alone():
    brief = timeline_brief([step("EVENT_ALTERATION", COLLINS, 1)])
    assert brief.text == step_summary("EVENT_ALTERATION", COLLINS)
    assert brief.text.startswith("What if Mr. Collins's proposal to Elizabeth ended differently?")
    assert "Now: Elizabeth accepted Mr. Collins." in brief.text
    assert (brief.condensed, brief.counted) == (0, 0)


def test_each_type_says_what_changed_and_what_it_led_to():
    character = step_summary(
        "CHARACTER_CHANGE",
        {"character": "Mr. Darcy", "property": "personality", "new_value": "humble", "ripple_effects": ["a"]},
    )
    assert character == "What if Mr. Darcy's personality were humble? It led to: a."
    setting = step_summary("SETTING_MODIFICATION", LONDON)
    assert "era changed (global scope, major impact): The story is set in 2025 London." in setting
    assert step_summary("UNKNOWN", {}) == "What if the story went differently?"


def test_a_fork_keeps_every_ancestor_in_order():
    brief = timeline_brief([step("EVENT_ALTERATION", COLLINS, 1), step("EVENT_ALTERATION", BINGLEY, 2)]).text
    assert brief.startswith("This timeline departs from the novel in 2 changes, in order")
    collins, bingley = brief.index("Collins"), brief.index("Jane married Bingley")
    assert collins < bingley
    assert "\n1. What if Mr. Collins's proposal" in brief
    assert "\nLatest change (this scenario): What if Bingley's departure" in brief
    assert "condensed" not in brief


def test_a_deep_chain_fits_the_budget_and_says_what_was_condensed():
    steps = [step("EVENT_ALTERATION", {**COLLINS, "event": f"Event number {i}"}, i + 1) for i in range(40)]
    full = sum(estimate_tokens(step_summary(s.scenario_type, s.parameters)) for s in steps)
    assert full > 3 * TIMELINE_BRIEF_TOKENS
    brief = timeline_brief(steps)
    assert estimate_tokens(brief.text) <= TIMELINE_BRIEF_TOKENS
    # The first change and the scenario's own stay; the latest in full.
    assert "\n1. Event number 0" in brief.text
    assert (
        f"Latest change (this scenario): {step_summary('EVENT_ALTERATION', steps[-1].parameters)}"
        in brief.text
    )
    assert brief.condensed > 0 and brief.counted > 0
    assert (
        f"({brief.condensed} older changes are condensed to one line each; {brief.counted} are only counted.)"
        in (brief.text)
    )
    shown = sum(1 for line in brief.text.splitlines() if line[:1].isdigit() or line.startswith("Latest"))
    assert shown + brief.counted == 40  # nothing silently dropped
    assert f"[{brief.counted} further changes in between, counted only]" in brief.text


def test_steps_left_out_between_are_counted_from_their_positions():
    steps = [step("EVENT_ALTERATION", COLLINS, 1), step("EVENT_ALTERATION", BINGLEY, 500)]
    brief = timeline_brief(steps, total=500)
    assert "in 500 changes" in brief.text
    assert "[498 further changes in between, counted only]" in brief.text
    assert brief.counted == 498 and "498 are only counted" in brief.text


@pytest.mark.parametrize("kind", ["CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION"])
def test_a_headline_is_one_short_line(kind):
    long = " ".join(["word"] * 200)
    parameters = {
        "CHARACTER_CHANGE": {"character": "X", "property": "skill", "new_value": long},
        "EVENT_ALTERATION": {"event": long, "alteration_type": "prevent", "new_outcome": long},
        "SETTING_MODIFICATION": {**LONDON, "change_description": long},
    }[kind]
    headline = step_headline(kind, parameters)
    assert "\n" not in headline and len(headline.split()) <= 15 and headline.endswith("…")
