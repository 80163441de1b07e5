"""The memory contracts: who may know an entry, what the model and the
reader may write, and the JSON schema the model must follow."""

from __future__ import annotations

import uuid

import pytest
from gaji_contracts.conversations import GenerationRequest
from gaji_contracts.memory import (
    MAX_DRAFTS_PER_TURN,
    MODEL_DRAFTS,
    MemoryEntryCreate,
    MemoryItem,
    MemoryWrite,
    WrittenDraft,
    drafts_schema,
    knower_key,
    words,
)
from pydantic import ValidationError


def test_knower_keys_are_the_cast_id_else_the_normalised_name():
    assert knower_key("c-darcy", "Mr. Darcy") == "c-darcy"
    assert knower_key(None, "  Mr.   Darcy ") == "name:mr. darcy" == knower_key("", "mr. darcy")


def test_an_entry_is_known_to_everyone_the_narrator_or_those_listed():
    everyone = MemoryItem(id=uuid.uuid4(), kind="fact", text="x")
    listed = MemoryItem(id=uuid.uuid4(), kind="fact", text="x", known_by=["c-darcy"])
    assert everyone.known_to("c-eliza") and everyone.known_to(None)
    assert listed.known_to("c-darcy") and listed.known_to(None) and not listed.known_to("c-eliza")


def test_the_models_schema_allows_only_what_a_turn_may_write():
    schema = drafts_schema()
    entries = schema["properties"]["entries"]
    assert entries["maxItems"] == MODEL_DRAFTS <= MAX_DRAFTS_PER_TURN
    assert entries["items"]["properties"]["text"]["maxLength"] == 160
    assert entries["items"]["properties"]["kind"]["enum"] == [
        "fact",
        "event",
        "character_knowledge",
        "relationship",
    ]
    assert schema["required"] == ["entries"] and schema["additionalProperties"] is False
    change = entries["items"]["properties"]["change"]
    assert (change["minimum"], change["maximum"]) == (-30, 30)


@pytest.mark.parametrize(
    "draft",
    [
        {"kind": "fact", "subject": "world", "text": "x", "source": "reader"},
        {"kind": "pin", "subject": "world", "text": "x", "source": "model"},
        {"kind": "summary", "subject": "world", "text": "x", "source": "rule"},
        {"kind": "fact", "subject": "world", "text": "", "source": "rule"},
        {"kind": "relationship", "subject": "a", "target": "b", "text": "x", "change": 31, "source": "rule"},
    ],
)
def test_ai_cannot_write_reader_entries_pins_summaries_or_big_swings(draft):
    with pytest.raises(ValidationError):
        WrittenDraft.model_validate(draft)


def test_a_write_holds_a_bounded_number_of_entries():
    draft = {"kind": "event", "subject": "world", "text": "x", "source": "rule"}
    body = {"source_message_id": str(uuid.uuid4()), "position": 0}
    MemoryWrite.model_validate({**body, "entries": [draft] * MAX_DRAFTS_PER_TURN})
    with pytest.raises(ValidationError):
        MemoryWrite.model_validate({**body, "entries": [draft] * (MAX_DRAFTS_PER_TURN + 1)})


@pytest.mark.parametrize(
    "body",
    [
        {"text": " "},
        {"text": "a\x00b"},
        {"text": "x" * 501},
        {"text": "ok", "kind": "summary"},
        {"text": "ok", "value": 101, "kind": "relationship"},
        {"text": "ok", "extra": 1},
    ],
)
def test_a_readers_entry_is_checked(body):
    with pytest.raises(ValidationError):
        MemoryEntryCreate.model_validate(body)


def test_a_generation_request_carries_memory_and_an_older_one_none():
    request = {
        "conversation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "assistant_message_id": str(uuid.uuid4()),
        "scenario": {"id": str(uuid.uuid4()), "base_story": "x", "scenario_type": "X", "parameters": {}},
    }
    assert GenerationRequest.model_validate(request).memory is None
    with_memory = GenerationRequest.model_validate({**request, "memory": {"canon_chapter": 3}})
    assert with_memory.memory.canon_chapter == 3 and with_memory.memory.entries == []


def test_words_leave_out_short_and_common_ones():
    assert words("Where is the brooch, Mr. Darcy?") == {"where", "brooch", "darcy"}
