"""A scenario's timeline: every change from the novel down to it, and the
brief the model is told (GET /api/v1/scenarios/{id}/timeline shows the same
text, and core sends it in every GenerationRequest).

A fork is a change on top of its parent's timeline, so a conversation on
"…and Jane married Bingley at once" must also know that Elizabeth accepted
Mr. Collins. Each step is rendered from its typed parameters
(`step_summary`); a long chain is fitted to TIMELINE_BRIEF_TOKENS by
condensing the oldest steps to one line, then (the first change kept)
counting the oldest of those only. Nothing is dropped silently: the brief
says how many changes were condensed and how many are only counted.

Tokens are estimated (about four characters each), so both services and the
endpoint render the very same text; the prompt inspector shows the model's
own count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from gaji_contracts.scenarios import ScenarioType

# What the brief may cost in the prompt (estimated tokens).
TIMELINE_BRIEF_TOKENS = 320
# The steps a timeline read returns in full detail: the root and the nearest
# ones; any between are counted (`total_steps`) and in the brief.
MAX_TIMELINE_STEPS = 200
MAX_BRIEF_CHARS = 8000
HEADLINE_WORDS = 14

ALTERATIONS = {
    "prevent": "never happened",
    "accelerate": "happened earlier",
    "relocate": "happened somewhere else",
    "outcome_change": "ended differently",
}


def estimate_tokens(text: str) -> int:
    """About four characters a token (English prose, common tokenizers)."""
    return (len(text) + 3) // 4


def _join(items: list[str]) -> str:
    return ", ".join(str(i) for i in items if i)


def _end(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def step_summary(scenario_type: str, parameters: dict[str, Any]) -> str:
    """One change as a plain-language what-if: what changed and what it led to."""
    p = parameters
    if scenario_type == ScenarioType.CHARACTER_CHANGE:
        was = f" instead of {p['original_value']}" if p.get("original_value") else ""
        when = f", starting at {p['change_point']}" if p.get("change_point") else ""
        text = f"What if {p['character']}'s {p['property']} were {p['new_value']}{was}{when}?"
        if p.get("ripple_effects"):
            text += f" It led to: {_end(_join(p['ripple_effects']))}"
        return text
    if scenario_type == ScenarioType.EVENT_ALTERATION:
        when = f" ({p['timeline_point']})" if p.get("timeline_point") else ""
        how = ALTERATIONS.get(p.get("alteration_type", ""), "changed")
        text = f"What if {p['event']}{when} {how}? Now: {_end(p['new_outcome'])}"
        if p.get("original_outcome"):
            text += f" In the original story: {_end(p['original_outcome'])}"
        if p.get("affected_characters"):
            text += f" Most affected: {_join(p['affected_characters'])}."
        return text
    if scenario_type == ScenarioType.SETTING_MODIFICATION:
        element = str(p.get("setting_element", "setting")).replace("_", " ")
        return (
            f"What if the story's {element} changed ({p.get('scope', 'global')} scope, "
            f"{p.get('impact_level', 'moderate')} impact): {_end(p['change_description'])}"
        )
    return "What if the story went differently?"


def _clip(text: str, words: int = HEADLINE_WORDS) -> str:
    parts = str(text).split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def step_headline(scenario_type: str, parameters: dict[str, Any]) -> str:
    """The same change in one short line (a condensed step)."""
    p = parameters
    if scenario_type == ScenarioType.CHARACTER_CHANGE:
        return _clip(f"{p['character']}'s {p['property']} became {p['new_value']}")
    if scenario_type == ScenarioType.EVENT_ALTERATION:
        return _clip(f"{p['event']}: {p['new_outcome']}")
    if scenario_type == ScenarioType.SETTING_MODIFICATION:
        element = str(p.get("setting_element", "setting")).replace("_", " ")
        return _clip(f"the {element} changed: {p['change_description']}")
    return "the story went differently"


class StepCreator(BaseModel):
    id: UUID
    username: str


class TimelineStep(BaseModel):
    """One change of the chain, oldest first; the last is the scenario itself."""

    scenario_id: UUID
    scenario_type: ScenarioType
    summary: str = Field(description="The change as the brief states it in full")
    parameters: dict[str, Any]
    creator: StepCreator | None
    is_deleted: bool = Field(
        default=False,
        description="Deleted by its creator: it still shaped the forks below it, so it stays in the timeline",
    )
    position: int = Field(ge=1, description="1 for the root (the first change from the novel)")


class Timeline(BaseModel):
    """GET /api/v1/scenarios/{id}/timeline."""

    scenario_id: UUID
    total_steps: int = Field(ge=1, description="Changes from the novel to this scenario, both included")
    steps: list[TimelineStep] = Field(
        description=f"Oldest first: the root and the {MAX_TIMELINE_STEPS - 1} nearest changes at most "
        "(`position` tells where each sits when some between are left out)"
    )
    condensed_steps: int = Field(ge=0, description="Changes the brief shortens to one line")
    counted_steps: int = Field(ge=0, description="Changes the brief only counts (very deep chains)")
    brief: str = Field(description="The timeline as the model is told it")
    brief_tokens: int = Field(ge=0, description="Estimated tokens of the brief (about 4 characters each)")


class ChainStep(Protocol):
    """What the brief needs of a step (a TimelineStep has it)."""

    scenario_type: str
    parameters: dict[str, Any]
    position: int


class BriefStep(BaseModel):
    scenario_type: str
    parameters: dict[str, Any]
    position: int


class Brief(BaseModel):
    text: str
    condensed: int = 0
    counted: int = 0


def _render(
    steps: Sequence[ChainStep], total: int, detail: list[str], hidden: set[int], condensed: int
) -> str:
    """The brief's lines: the steps shown, a line for each run of steps only
    counted (left out of `steps`, or `hidden` to fit), and what was shortened."""
    lines = [
        f"This timeline departs from the novel in {total} changes, in order; each builds on the ones before:"
    ]
    last = len(steps) - 1
    previous = 0
    for i, step in enumerate(steps):
        if i in hidden:
            continue
        if step.position > previous + 1:
            lines.append(f"[{step.position - previous - 1} further changes in between, counted only]")
        previous = step.position
        if i == last:
            lines.append(f"Latest change (this scenario): {detail[i]}")
        else:
            lines.append(f"{step.position}. {detail[i]}")
    notes = []
    if condensed:
        notes.append(f"{condensed} older changes are condensed to one line each")
    counted = total - len(steps) + len(hidden)
    if counted:
        notes.append(f"{counted} are only counted")
    if notes:
        lines.append(f"({'; '.join(notes)}.)")
    return "\n".join(lines)


def timeline_brief(
    steps: Sequence[ChainStep], *, total: int | None = None, budget: int = TIMELINE_BRIEF_TOKENS
) -> Brief:
    """The brief of a chain (oldest first, the scenario last). `total` counts
    every step of the chain when `steps` leaves some out between the root
    and the nearest ones (their positions tell where)."""
    if not steps:
        return Brief(text="What if the story went differently?")
    total = max(total or len(steps), len(steps))
    if total == 1:
        return Brief(text=step_summary(steps[0].scenario_type, steps[0].parameters)[:MAX_BRIEF_CHARS])
    detail = [step_summary(s.scenario_type, s.parameters) for s in steps]
    hidden: set[int] = set()
    last = len(steps) - 1
    condensed = 0

    def fits() -> bool:
        return estimate_tokens(_render(steps, total, detail, hidden, condensed)) <= budget

    # 1. Condense the oldest full steps to one line (the scenario's own stays whole).
    for i in range(last):
        if fits():
            break
        detail[i] = step_headline(steps[i].scenario_type, steps[i].parameters)
        condensed += 1
    # 2. Count the oldest condensed ones only (the first change is kept).
    for i in range(1, last):
        if fits():
            break
        hidden.add(i)
        condensed -= 1
    text = _render(steps, total, detail, hidden, condensed)
    counted = total - len(steps) + len(hidden)
    return Brief(text=text[:MAX_BRIEF_CHARS], condensed=condensed, counted=counted)
