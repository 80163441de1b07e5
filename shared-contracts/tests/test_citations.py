"""An answer's citations: on the saved answer (AssistantMessageResult) and on
the stream's `message_complete` (MessageComplete), bounded, and [] by default
so an older sender or reader still fits."""

from __future__ import annotations

import uuid

import pytest
from gaji_contracts.conversations import (
    MAX_CITATIONS,
    AssistantMessageResult,
    Citation,
    MessageComplete,
)
from gaji_contracts.errors import error_details
from pydantic import ValidationError

CITATION = {
    "passage_id": "6f1c2b8e-8f52-5d8e-9a57-1d1b0e4c9a01",
    "chapter": 22,
    "chapter_title": "Chapter 22",
    "chunk_index": 388,
    "quote": "I am not romantic, you know; I never was. I ask only a comfortable home…",
}


def result(**overrides) -> dict:
    return {"message_id": str(uuid.uuid4()), "status": "completed", "content": "Yes.", **overrides}


def test_citations_default_to_none_and_round_trip_in_order():
    assert AssistantMessageResult.model_validate(result()).citations == []
    second = {**CITATION, "passage_id": "p-2", "chapter": 0, "chapter_title": "", "chunk_index": 0}
    parsed = AssistantMessageResult.model_validate(result(citations=[CITATION, second]))
    assert [c.passage_id for c in parsed.citations] == [CITATION["passage_id"], "p-2"]
    again = AssistantMessageResult.model_validate_json(parsed.model_dump_json())
    assert again == parsed
    assert again.model_dump(mode="json")["citations"][0] == CITATION


def test_message_complete_is_the_saved_answer_with_its_citations():
    saved = AssistantMessageResult.model_validate(
        result(citations=[CITATION], grounded=True, model="m", total_tokens=5)
    )
    event = MessageComplete.of(saved).model_dump(mode="json")
    assert event == {
        "message_id": str(saved.message_id),
        "role": "assistant",
        "content": "Yes.",
        "total_tokens": 5,
        "model": "m",
        "degraded": False,
        "grounded": True,
        "status": "completed",
        "citations": [CITATION],
        "speaker": None,
        "more": False,
    }
    ungrounded = MessageComplete.of(AssistantMessageResult.model_validate(result()))
    assert ungrounded.citations == [] and ungrounded.grounded is None


@pytest.mark.parametrize(
    "citations, where",
    [
        ([CITATION] * (MAX_CITATIONS + 1), "citations"),
        ("nope", "citations"),
        ([{**CITATION, "quote": ""}], "citations.0.quote"),
        ([{**CITATION, "quote": "q" * 301}], "citations.0.quote"),
        ([{**CITATION, "quote": "a\x00b"}], "citations.0.quote"),
        ([{**CITATION, "chapter_title": "t" * 301}], "citations.0.chapter_title"),
        ([{**CITATION, "passage_id": ""}], "citations.0.passage_id"),
        ([{**CITATION, "passage_id": "p" * 101}], "citations.0.passage_id"),
        ([{**CITATION, "chapter": -1}], "citations.0.chapter"),
        ([{**CITATION, "chunk_index": "x"}], "citations.0.chunk_index"),
        ([{k: v for k, v in CITATION.items() if k != "quote"}], "citations.0.quote"),
        ([{**CITATION, "extra": 1}], "citations.0.extra"),
    ],
)
def test_malformed_citations_are_refused_with_their_path(citations, where):
    with pytest.raises(ValidationError) as caught:
        AssistantMessageResult.model_validate(result(citations=citations))
    assert where in error_details(caught.value.errors())


def test_the_longest_citation_fits():
    longest = Citation(
        passage_id="p" * 100, chapter=1, chapter_title="t" * 300, chunk_index=1, quote="q" * 300
    )
    parsed = AssistantMessageResult.model_validate(result(citations=[longest.model_dump()] * MAX_CITATIONS))
    assert len(parsed.citations) == MAX_CITATIONS
