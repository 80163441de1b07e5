"""Lorebooks: lorebook_v3, World Info and character books; decorators."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cards.formats import (
    FormatError,
    FormatTooLarge,
    book_from_worldinfo,
    lorebook_v3,
    parse_decorators,
    read_lorebook,
    worldinfo,
)
from cards.formats.lorebook import WI_DEFAULTS, WI_KEPT

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> dict:
    return json.loads(fixture(name))


def refused(value, *words: str) -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    with pytest.raises(FormatError) as caught:
        read_lorebook(raw)
    for word in words:
        assert word in caught.value.message


# -- World Info ------------------------------------------------------------


def test_worldinfo_reads_as_sillytavern_converts():
    imported = read_lorebook(fixture("worldinfo.json"), "eldoria.json")
    assert imported.kind == "worldinfo"
    assert imported.document == doc("worldinfo.json")
    book = imported.book
    assert book["name"] == "Eldoria"
    first, second, third = book["entries"]
    assert first["id"] == 0
    assert first["keys"] == ["Eldoria", "/capital city/i"]
    assert first["secondary_keys"] == ["king", "throne"]
    assert first["insertion_order"] == 100
    assert first["enabled"] is True
    assert first["position"] == "before_char"
    assert first["use_regex"] is True
    assert first["extensions"]["group"] == "places"
    assert first["extensions"]["selectiveLogic"] == 0
    assert first["extensions"]["otherapp"] == {"pin": True}  # the entry's own extensions, spread
    assert second["extensions"]["selectiveLogic"] == 2
    assert second["extensions"]["probability"] == 35
    assert second["extensions"]["depth"] == 2
    assert second["extensions"]["role"] == 1
    assert (
        second["extensions"]["sticky"],
        second["extensions"]["cooldown"],
        second["extensions"]["delay"],
    ) == (3, 2, 1)
    assert second["extensions"]["vectorized"] is True
    assert second["extensions"]["position"] == 4
    assert second["position"] == "after_char"
    assert third["enabled"] is False
    assert third["constant"] is True
    assert first["extensions"][WI_KEPT]["extra"]["someFutureField"] == [1, "two", {"three": 3}]


def test_worldinfo_round_trip_is_lossless():
    original = doc("worldinfo.json")
    assert worldinfo(book_from_worldinfo(original)) == original
    assert original == doc("worldinfo.json")


def test_worldinfo_through_lorebook_v3_file_is_lossless():
    book = read_lorebook(fixture("worldinfo.json")).book
    v3_file = json.dumps(lorebook_v3(book)).encode()
    again = read_lorebook(v3_file)
    assert again.kind == "lorebook_v3"
    assert worldinfo(again.book) == doc("worldinfo.json")


def test_worldinfo_keeps_odd_dict_keys():
    original = {"entries": {"abc": {"uid": 3, "key": ["x"], "content": "y"}, "9": {"key": ["z"]}}}
    assert worldinfo(book_from_worldinfo(original)) == original


def test_worldinfo_from_a_card_book_uses_sillytavern_defaults():
    book = doc("lorebook_v3.json")["data"]
    book["entries"][0]["extensions"] = {"probability": 40, "group": "g", "position": 5, "custom": 1}
    before = copy.deepcopy(book)
    out = worldinfo(book)
    assert list(out["entries"]) == ["1", "2", "3"]  # ids kept; the string id "lh" gets a free number
    first, lighthouse, tavern = out["entries"].values()
    assert set(WI_DEFAULTS) <= set(first)
    assert first["uid"] == 1
    assert first["key"] == ["harbour", "harbor"]
    assert first["order"] == 10
    assert first["probability"] == 40
    assert first["group"] == "g"
    assert first["position"] == 5
    assert first["extensions"] == {"custom": 1}
    assert first["disable"] is False
    assert first["comment"] == "Harbour"
    assert lighthouse["uid"] == 2
    assert lighthouse["key"] == ["/light ?house/i"]
    assert lighthouse["position"] == 0
    assert lighthouse["probability"] == 100
    assert lighthouse["extensions"] == {"x": [1]}
    assert tavern["disable"] is True
    assert book == before  # input untouched


def test_worldinfo_uids_stay_unique():
    book = {
        "entries": [
            {"id": 1, "keys": ["a"], "content": "a"},
            {"id": 1, "keys": ["b"], "content": "b"},
            {"id": "x", "keys": ["c"], "content": "c"},
        ]
    }
    out = worldinfo(book)
    assert [(k, e["uid"], e["content"]) for k, e in out["entries"].items()] == [
        ("1", 1, "a"),
        ("2", 2, "b"),
        ("3", 3, "c"),
    ]


# -- lorebook_v3 / character book -----------------------------------------


def test_lorebook_v3_round_trip():
    imported = read_lorebook(fixture("lorebook_v3.json"))
    assert imported.kind == "lorebook_v3"
    assert imported.book == doc("lorebook_v3.json")["data"]
    assert lorebook_v3(imported.book) == doc("lorebook_v3.json")
    assert imported.warnings == []


def test_reads_a_bare_character_book_and_a_card_book():
    book = doc("v2_card.json")["data"]["character_book"]
    bare = read_lorebook(json.dumps(book).encode())
    assert bare.kind == "character_book"
    assert bare.book == book
    from_card = read_lorebook(fixture("v2_card.json"))
    assert from_card.kind == "character_book"
    assert from_card.book == book


def test_empty_book_warns():
    assert read_lorebook(b'{"spec": "lorebook_v3", "data": {"entries": []}}').warnings == [
        "The lorebook has no entries."
    ]


def test_refusals():
    refused(b"nope", "not valid JSON")
    refused(b"\xff", "not UTF-8")
    refused([], "JSON object")
    refused({"name": "x"}, "not a lorebook")
    refused({"spec": "lorebook_v9", "data": {}}, "Unknown lorebook spec")
    refused({"spec": "lorebook_v3"}, "JSON object")
    refused({"spec": "lorebook_v3", "data": {"entries": {}}}, "list of entries")
    refused({"spec": "lorebook_v3", "data": {"entries": ["x"]}}, "entry 1", "object")
    refused({"spec": "lorebook_v3", "data": {"entries": [{"keys": [1]}]}}, "keys")
    refused({"spec": "lorebook_v3", "data": {"entries": [{"content": 5}]}}, "content must be text")
    refused({"spec": "lorebook_v3", "data": {"entries": [{"enabled": "yes"}]}}, "enabled")
    refused({"spec": "lorebook_v3", "data": {"scan_depth": "4", "entries": []}}, "scan_depth")
    refused({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "x"}}, "no lorebook")
    refused({"entries": {"0": "x"}}, "World Info entry '0'")
    refused({"entries": {"0": {"key": "dragon"}}}, "key must be a list")
    refused({"entries": {"0": {"position": "after"}}}, "position")
    refused({"entries": {"0": {"disable": 1}}}, "disable")


def test_refuses_too_many_entries():
    refused({"spec": "lorebook_v3", "data": {"entries": [{}] * 2001}}, "more than 2,000 entries")
    refused({"entries": {str(i): {} for i in range(2001)}}, "more than 2,000 entries")


def test_refuses_too_big_or_deep():
    with pytest.raises(FormatTooLarge):
        read_lorebook(b" " * (2 * 1024 * 1024 + 1))
    refused(('{"entries": ' + "[" * 70 + "]" * 70 + "}").encode(), "nested")


# -- decorators ------------------------------------------------------------


def test_parse_decorators():
    decorators, content = parse_decorators(
        "@@depth 2\n@@@position after_desc\n@@activate\nBody\n@@not a decorator"
    )
    assert [(d.name, d.value) for d in decorators] == [("depth", "2"), ("activate", "")]
    assert [(f.name, f.value) for f in decorators[0].fallbacks] == [("position", "after_desc")]
    assert content == "Body\n@@not a decorator"


def test_decorator_chains_of_five_and_args():
    text = "@@a 1\n@@@b 2\n@@@c 3\n@@@d 4\n@@@e 5\n@@additional_keys x, y ,z\nText"
    decorators, content = parse_decorators(text)
    assert [f.name for f in decorators[0].fallbacks] == ["b", "c", "d", "e"]
    assert decorators[1].args == ["x", "y", "z"]
    assert content == "Text"


def test_no_decorators_leaves_content_alone():
    assert parse_decorators("Plain @@ text") == ([], "Plain @@ text")
    assert parse_decorators("") == ([], "")
    assert parse_decorators("@@activate")[1] == ""
