"""The stream's event payloads and the one clean-text rule."""

from __future__ import annotations

import uuid

import pytest
from gaji_contracts.conversations import AssistantMessageResult
from gaji_contracts.streams import (
    ERRORS_BEFORE_COMPLETE,
    STREAM_ERROR_MESSAGES,
    MessageChunk,
    MessageComplete,
    StreamError,
    StreamErrorCode,
    stream_error,
)
from gaji_contracts.text import CleanText, clean_text, no_nul
from pydantic import BaseModel, ValidationError


def test_every_error_code_has_the_message_readers_see():
    assert set(STREAM_ERROR_MESSAGES) == set(StreamErrorCode)
    for code in StreamErrorCode:
        error = stream_error(code)
        assert error.code == code and error.message == STREAM_ERROR_MESSAGES[code]


def test_which_errors_are_followed_by_message_complete():
    assert {c.value for c in ERRORS_BEFORE_COMPLETE} == {"PROVIDER_ERROR", "WORKER_LOST", "PERSIST_FAILED"}
    assert not stream_error(StreamErrorCode.PROVIDER_ERROR).ends_stream
    assert stream_error(StreamErrorCode.NOT_STARTED).ends_stream
    assert stream_error(StreamErrorCode.STREAM_UNAVAILABLE).ends_stream


def test_payloads_as_json():
    assert MessageChunk(content="Hello there", delta=" there").model_dump(mode="json") == {
        "content": "Hello there",
        "delta": " there",
        "message_id": None,
        "speaker": None,
    }
    lost = StreamError.model_validate({"code": "WORKER_LOST", "message": "x"})
    assert lost.code is StreamErrorCode.WORKER_LOST
    with pytest.raises(ValidationError):
        StreamError.model_validate({"code": "SOMETHING_ELSE", "message": "x"})
    message_id = uuid.uuid4()
    result = AssistantMessageResult(message_id=message_id, status="completed", content="Yes.", total_tokens=2)
    complete = MessageComplete.of(result).model_dump(mode="json")
    assert complete["message_id"] == str(message_id) and complete["citations"] == []


class Body(BaseModel):
    text: CleanText


def test_clean_text_refuses_nul_and_blank_and_strips():
    assert Body(text="  Lizzy \n").text == "Lizzy"
    for bad, why in (("a\x00b", "NUL"), ("   ", "blank"), ("", "blank")):
        with pytest.raises(ValidationError, match=why):
            Body(text=bad)
    assert clean_text(" x ") == "x"
    assert no_nul(" kept as is ") == " kept as is "
    with pytest.raises(ValueError, match="NUL"):
        no_nul("\x00")


def test_the_clean_text_pattern_and_the_rule_agree_on_every_character():
    """ECMA's \\s and Python's differ (U+001C-U+001F, U+0085): the pattern
    spells the whitespace out, so a document's readers and the server agree."""
    import re

    from gaji_contracts.text import CLEAN_TEXT_PATTERN, clean_text

    pattern = re.compile(CLEAN_TEXT_PATTERN)
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        try:
            clean_text(char)
            accepted = True
        except ValueError:
            accepted = False
        assert bool(pattern.match(char)) == accepted, hex(code)
