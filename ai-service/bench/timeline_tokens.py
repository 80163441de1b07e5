#!/usr/bin/env python
"""What a timeline costs in the prompt: the brief of a chain of 1, 2, 5,
10, 20, 50 and 200 what-ifs (each a fork of the one before, written by hand
on Pride and Prejudice, cycling through the three scenario types), counted
with the default local model's own tokenizer, and how many steps the brief
condenses or only counts to stay within its budget.

    .venv/bin/python ai-service/bench/timeline_tokens.py      (or: make bench-timeline)

Prints a table and writes var/bench/timeline_tokens.json. Nothing is
asserted: the budget itself is enforced (and tested) by
gaji_contracts.timeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ai-service"))

from gaji_contracts.timeline import (  # noqa: E402
    TIMELINE_BRIEF_TOKENS,
    BriefStep,
    estimate_tokens,
    timeline_brief,
)

from gaji_ai.config import DEFAULT_LOCAL_MODEL  # noqa: E402
from gaji_ai.llm import models  # noqa: E402

CHANGES = [
    (
        "EVENT_ALTERATION",
        {
            "event": "Mr. Collins's proposal to Elizabeth",
            "alteration_type": "outcome_change",
            "original_outcome": "Elizabeth refused him",
            "new_outcome": "Elizabeth accepted Mr. Collins and moved to Hunsford",
            "affected_characters": ["Elizabeth Bennet", "Charlotte Lucas"],
        },
    ),
    (
        "EVENT_ALTERATION",
        {
            "event": "Bingley's departure from Netherfield",
            "alteration_type": "prevent",
            "new_outcome": "Jane married Bingley at once",
        },
    ),
    (
        "CHARACTER_CHANGE",
        {
            "character": "Mr. Darcy",
            "property": "personality",
            "original_value": "proud and reserved",
            "new_value": "open and warm",
            "ripple_effects": ["Wickham's lies find no listeners"],
        },
    ),
    (
        "SETTING_MODIFICATION",
        {
            "setting_element": "era",
            "scope": "global",
            "change_description": "The story moves to 1920s London",
            "impact_level": "major",
        },
    ),
    (
        "EVENT_ALTERATION",
        {
            "event": "Lydia's elopement with Wickham",
            "alteration_type": "prevent",
            "new_outcome": "Lydia stays at Longbourn and Wickham leaves for the north",
        },
    ),
    (
        "CHARACTER_CHANGE",
        {
            "character": "Charlotte Lucas",
            "property": "skill",
            "new_value": "a gift for business that makes her rich",
        },
    ),
]
LENGTHS = (1, 2, 5, 10, 20, 50, 200)


def chain(length: int) -> list[BriefStep]:
    return [
        BriefStep(
            scenario_type=CHANGES[i % len(CHANGES)][0],
            parameters=CHANGES[i % len(CHANGES)][1],
            position=i + 1,
        )
        for i in range(length)
    ]


def main() -> None:
    import llama_cpp

    vocab = llama_cpp.Llama(
        model_path=models.model_path(DEFAULT_LOCAL_MODEL), vocab_only=True, verbose=False
    )

    def count(text: str) -> int:
        return len(vocab.tokenize(text.encode(), add_bos=False, special=True))

    rows = []
    for length in LENGTHS:
        brief = timeline_brief(chain(length))
        rows.append(
            {
                "steps": length,
                "tokens": count(brief.text),
                "estimated_tokens": estimate_tokens(brief.text),
                "condensed": brief.condensed,
                "counted": brief.counted,
                "chars": len(brief.text),
            }
        )
    print(
        f"brief budget: {TIMELINE_BRIEF_TOKENS} estimated tokens; "
        f"counted with {DEFAULT_LOCAL_MODEL}'s tokenizer"
    )
    print(f"{'steps':>6} {'tokens':>7} {'estimate':>9} {'condensed':>10} {'counted':>8}")
    for row in rows:
        print(
            f"{row['steps']:>6} {row['tokens']:>7} {row['estimated_tokens']:>9} "
            f"{row['condensed']:>10} {row['counted']:>8}"
        )
    out = ROOT / "var" / "bench" / "timeline_tokens.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"model": DEFAULT_LOCAL_MODEL, "budget": TIMELINE_BRIEF_TOKENS, "rows": rows}, indent=2
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
