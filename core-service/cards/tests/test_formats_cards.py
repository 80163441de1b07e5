"""Character cards: JSON, PNG and CHARX round trips, conversions, refusals."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from cards.formats import (
    LIMITS,
    Asset,
    FormatError,
    FormatTooLarge,
    Limits,
    card_charx,
    card_json,
    card_png,
    png,
    read_card,
    to_v2,
    to_v3,
)
from cards.formats import card as card_module
from cards.formats import charx as charx_module

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> dict:
    return json.loads(fixture(name))


def refused(raw: bytes, *words: str, filename: str = "", kind=FormatError) -> FormatError:
    with pytest.raises(kind) as caught:
        read_card(raw, filename)
    for word in words:
        assert word in caught.value.message
    assert caught.value.field == "file"
    return caught.value


def png_with(texts: dict[str, bytes]) -> bytes:
    chunks = png.read_chunks(png.blank_png())
    return png.write_chunks(png.with_texts(chunks, [png.text_chunk(k, v) for k, v in texts.items()]))


def chunk_texts(raw: bytes) -> dict[str, dict]:
    texts = png.card_texts(png.read_chunks(raw))
    return {k: json.loads(base64.b64decode(v)) for k, v in texts.items()}


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return buffer.getvalue()


# -- JSON ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "spec"),
    [("v1_card.json", "chara_card_v1"), ("v2_card.json", "chara_card_v2"), ("v3_card.json", "chara_card_v3")],
)
def test_json_round_trip_is_exact(name, spec):
    card = read_card(fixture(name), name)
    assert card.spec == spec
    assert card.container == "json"
    assert card.document == doc(name)
    assert json.loads(card_json(card.document)) == doc(name)
    assert read_card(card_json(card.document)).document == doc(name)


def test_v1_fields_and_warning():
    card = read_card(fixture("v1_card.json"))
    assert card.fields.name == "Old Tom"
    assert card.fields.creator_notes == "Made in TavernAI days."
    assert card.fields.character_book is None
    assert card.spec_version == "1.0"
    assert card.warnings == []


def test_v2_fields_keep_html_verbatim_and_unknown_extensions():
    card = read_card(fixture("v2_card.json"))
    assert card.fields.description.startswith("<script>alert('x')</script>")
    assert card.fields.creator_notes == "Try asking about the <b>glade</b>."
    assert card.fields.alternate_greetings == ["*She hums softly.*", "Oh, you're awake!"]
    assert card.fields.character_book["name"] == "Glade lore"
    assert card.document["data"]["extensions"]["someapp/unknown"] == {"nested": [1, 2, {"deep": None}]}
    assert "森" in card_json(card.document).decode("utf-8")  # not \u-escaped


def test_v3_fields():
    card = read_card(fixture("v3_card.json"))
    assert card.fields.nickname == "Kae"
    assert card.fields.group_only_greetings == ["Welcome, all of you."]
    assert card.spec_version == "3.0"
    assert card.warnings == []


def test_missing_optional_fields_warn_and_default():
    card = read_card(
        json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Bare"}}).encode()
    )
    assert card.fields.description == ""
    assert card.fields.tags == []
    assert "description" in card.warnings[0]


def test_newer_minor_v3_imports_with_warning():
    document = doc("v3_card.json")
    document["spec_version"] = "3.4"
    card = read_card(json.dumps(document).encode())
    assert card.warnings == ["spec_version 3.4 is newer than 3.0; imported as 3.0"]


# -- conversions -----------------------------------------------------------


def test_v3_to_v2_to_v3_is_lossless():
    original = doc("v3_card.json")
    v2 = to_v2(original)
    assert v2["spec"] == "chara_card_v2"
    assert v2["spec_version"] == "2.0"
    assert "nickname" not in v2["data"]
    assert "group_only_greetings" not in v2["data"]
    # a V2 app sees content without decorator lines
    assert v2["data"]["character_book"]["entries"][0]["content"] == "The ninth gate opens only at dusk."
    assert read_card(card_json(v2)).spec == "chara_card_v2"
    assert to_v3(v2) == original
    assert original == doc("v3_card.json")  # inputs untouched


def test_newer_v3_keeps_its_version_through_v2():
    original = doc("v3_card.json")
    original["spec_version"] = "3.2"
    assert to_v3(to_v2(original)) == original


def test_v1_to_v2_to_v3():
    v2 = to_v2(doc("v1_card.json"))
    assert v2["spec"] == "chara_card_v2"
    assert v2["data"]["first_mes"] == "*spits into the river* Crossing, are ye?"
    assert v2["data"]["creator_notes"] == "Made in TavernAI days."
    assert v2["data"]["extensions"]["gaji/v1"]["avatar"] == "none"
    v3 = to_v3(doc("v1_card.json"))
    assert v3["spec"] == "chara_card_v3"
    assert v3["data"]["group_only_greetings"] == []
    assert read_card(card_json(v3)).fields.name == "Old Tom"


def test_v2_to_v3_adds_v3_requirements():
    v3 = to_v3(doc("v2_card.json"))
    assert v3["spec_version"] == "3.0"
    assert v3["data"]["group_only_greetings"] == []
    assert all(e["use_regex"] is False for e in v3["data"]["character_book"]["entries"])
    assert v3["data"]["extensions"] == doc("v2_card.json")["data"]["extensions"]
    assert to_v2(doc("v2_card.json")) == doc("v2_card.json")


# -- PNG -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v1_card.json", "v2_card.json", "v3_card.json"])
def test_png_round_trip(name):
    original = doc(name)
    raw = card_png(original, None)
    card = read_card(raw, "card.png")
    assert card.container == "png"
    assert card.document == original
    assert card.image is not None
    assert png.card_texts(png.read_chunks(card.image)) == {}
    again = read_card(card_png(card.document, card.image))
    assert again.document == original
    assert again.image == card.image


def test_png_v3_writes_ccv3_and_a_v2_chara_copy():
    texts = chunk_texts(card_png(doc("v3_card.json"), None))
    assert texts["ccv3"] == doc("v3_card.json")
    assert texts["chara"]["spec"] == "chara_card_v2"
    for entry in texts["chara"]["data"]["character_book"]["entries"]:
        assert "@@" not in entry["content"]
    assert set(chunk_texts(card_png(doc("v2_card.json"), None))) == {"chara"}


def test_png_reader_prefers_ccv3_and_replaces_old_chunks():
    v3, v2 = doc("v3_card.json"), doc("v2_card.json")
    both = png_with(
        {
            "chara": base64.b64encode(json.dumps(v2).encode()),
            "ccv3": base64.b64encode(json.dumps(v3).encode()),
        }
    )
    assert read_card(both).document == v3
    rewritten = card_png(v2, both)  # the image's own card chunks are replaced
    assert chunk_texts(rewritten) == {"chara": v2}


def test_png_keeps_the_image_chunks():
    image = png.write_chunks(
        png.with_texts(png.read_chunks(png.blank_png(8)), [png.text_chunk("Comment", b"made by hand")])
    )
    out = read_card(card_png(doc("v2_card.json"), image))
    kinds = [c[0] for c in png.read_chunks(out.image)]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert any(png.text_keyword(c) == "comment" for c in png.read_chunks(out.image))


def test_png_base64_with_line_breaks_is_read():
    text = base64.encodebytes(json.dumps(doc("v2_card.json")).encode())  # newline every 76 chars
    assert read_card(png_with({"chara": text})).fields.name == "Seraphina"


# -- CHARX -----------------------------------------------------------------


def test_charx_round_trip_with_assets():
    icon = card_png(doc("v2_card.json"), None)
    assets = [
        Asset("assets/icon/images/main.png", png.blank_png(4)),
        Asset("assets/emotion/images/smile.png", icon),
        Asset("assets/other/audio/hello.ogg", b"OggS\0fake"),
    ]
    raw = card_charx(doc("v3_card.json"), assets)
    card = read_card(raw, "kaelen.charx")
    assert card.container == "charx"
    assert card.document == doc("v3_card.json")
    assert [(a.path, a.data) for a in card.assets] == [(a.path, a.data) for a in assets]
    assert card.image == png.blank_png(4)  # the main icon
    again = read_card(card_charx(card.document, card.assets))
    assert again.document == card.document
    assert [(a.path, a.data) for a in again.assets] == [(a.path, a.data) for a in assets]
    assert card_charx(card.document, card.assets) == card_charx(card.document, card.assets)


def test_a_charx_icon_that_is_not_a_png_is_no_image_but_stays_an_asset():
    broken = png.SIGNATURE + b"\0\0\0\rIHDR not really"
    assets = [
        Asset("assets/icon/images/main.png", broken),
        Asset("assets/icon/images/second.png", png.blank_png(4)),
    ]
    document = doc("v3_card.json")
    document["data"]["assets"] = [
        {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"},
        {"type": "icon", "uri": "embeded://assets/icon/images/second.png", "name": "b", "ext": "png"},
    ]
    card = read_card(card_charx(document, assets))
    assert card.image == png.blank_png(4)  # the next icon that is a PNG
    assert [(a.path, a.data) for a in card.assets] == [(a.path, a.data) for a in assets]
    assert read_card(card_charx(document, assets[:1])).image is None


def test_charx_of_v2_card_is_v3():
    card = read_card(card_charx(doc("v2_card.json"), []))
    assert card.spec == "chara_card_v3"
    assert card.document == to_v3(doc("v2_card.json"))


def test_charx_writer_refuses_unsafe_asset_paths():
    for path in ("../evil.png", "/etc/passwd", "card.json", "C:/x.png"):
        with pytest.raises(FormatError):
            card_charx(doc("v3_card.json"), [Asset(path, b"x")])


# -- refusals --------------------------------------------------------------


def test_refuses_non_json():
    refused(b"this is not json", "not valid JSON")
    refused(b"", "not valid JSON")


def test_refuses_invalid_utf8():
    refused(b'{"name": "\xff\xfe"}', "not UTF-8")


def test_refuses_nan():
    refused(b'{"name": "x", "talkativeness": NaN}', "NaN")


def test_refuses_non_object():
    refused(b"[1, 2]", "JSON object")


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"spec": "chara_card_v9", "spec_version": "9.0", "data": {"name": "x"}}, ["Unknown card spec"]),
        ({"spec": "chara_card_v2", "spec_version": "3.0", "data": {"name": "x"}}, ["2.x", "3.0"]),
        ({"spec": "chara_card_v2", "data": {"name": "x"}}, ["2.x"]),
        ({"spec": "chara_card_v3", "spec_version": "4.0", "data": {"name": "x"}}, ["4.0", "newer"]),
        ({"spec": "chara_card_v3", "spec_version": "2.0", "data": {"name": "x"}}, ["3.x"]),
        ({"spec": "chara_card_v3", "spec_version": "three", "data": {"name": "x"}}, ["3.x"]),
        ({"spec": 2, "spec_version": "2.0", "data": {"name": "x"}}, ["Unknown card spec"]),
        ({"description": "no name"}, ["neither a spec nor a name"]),
        ({"spec": "lorebook_v3", "data": {"entries": []}}, ["lorebook"]),
        ({"entries": {}}, ["lorebook"]),
    ],
)
def test_refuses_wrong_or_missing_spec(document, words):
    refused(json.dumps(document).encode(), *words)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, ["name is missing"]),
        ({"name": "   "}, ["name is missing"]),
        ({"name": 5}, ["name is missing"]),
        ({"name": "x" * 201}, ["longer than 200"]),
        ({"name": "x", "description": 12}, ["description must be text"]),
        ({"name": "x", "tags": "a,b"}, ["tags must be a list"]),
        ({"name": "x", "alternate_greetings": ["ok", 3]}, ["alternate_greetings"]),
        ({"name": "x", "extensions": []}, ["extensions must be an object"]),
        ({"name": "x", "character_book": {"entries": "nope"}}, ["character_book", "list of entries"]),
        ({"name": "x", "character_book": {"entries": [{"keys": "dragon"}]}}, ["entry 1", "keys"]),
    ],
)
def test_refuses_missing_or_mistyped_fields(data, words):
    refused(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": data}).encode(), *words)


@pytest.mark.parametrize(
    ("data", "word"),
    [
        ({"group_only_greetings": "hi"}, "group_only_greetings"),
        ({"assets": [{"type": "icon"}]}, "assets"),
        ({"nickname": ["Kae"]}, "nickname"),
        ({"source": "web"}, "source"),
        ({"creation_date": "yesterday"}, "creation_date"),
        ({"creator_notes_multilingual": {"en": 1}}, "creator_notes_multilingual"),
    ],
)
def test_refuses_mistyped_v3_fields(data, word):
    document = doc("v3_card.json")
    document["data"].update(data)
    refused(json.dumps(document).encode(), word)


def test_refuses_v1_with_data_but_no_spec():
    refused(json.dumps({"data": {"name": "x"}}).encode(), "neither a spec nor a name")


def test_refuses_too_big_json():
    raw = b'{"name": "x", "pad": "' + b"a" * LIMITS.card_json_bytes + b'"}'
    refused(raw, "larger than 2 MB", kind=FormatTooLarge)


def test_refuses_too_deep_json():
    deep = "[" * 65 + "]" * 65
    refused(f'{{"name": "x", "n": {deep}}}'.encode(), "nested more than 64")
    refused(("[" * 100_000).encode(), "nested more than 64")
    read_card(f'{{"name": "x", "n": {"[" * 62 + "]" * 62}}}'.encode())  # 64 levels is fine


def test_refuses_huge_strings():
    refused(json.dumps({"name": "x", "description": "a" * 100_001}).encode(), "longer than 100,000")


def test_refuses_png_named_file_that_is_not_png():
    refused(b'{"name": "x"}', "not a PNG", filename="card.png")
    refused(b'{"name": "x"}', "not a zip", filename="card.charx")


def test_refuses_corrupt_png_crc():
    raw = bytearray(card_png(doc("v2_card.json"), None))
    raw[20] ^= 0xFF  # inside IHDR's data
    refused(bytes(raw), "CRC", "IHDR")


def test_refuses_truncated_png():
    raw = card_png(doc("v2_card.json"), None)
    refused(raw[:-20], "truncated")
    refused(raw[:40], "truncated")
    refused(png.SIGNATURE, "truncated")


def test_refuses_png_not_starting_with_ihdr():
    chunks = png.read_chunks(png.blank_png())
    refused(png.write_chunks([chunks[1], chunks[0], chunks[2]]), "IHDR")


def test_refuses_png_without_card():
    refused(png.blank_png(), "no chara or ccv3")


def test_refuses_png_with_bad_base64_or_json():
    refused(png_with({"chara": b"!!!not-base64!!!"}), "base64")
    refused(png_with({"chara": base64.b64encode(b"{not json")}), "not valid JSON")
    refused(png_with({"ccv3": base64.b64encode(b"\xff\xff")}), "not UTF-8")
    refused(png_with({"chara": base64.b64encode(b'{"spec": "chara_card_v2", "spec_version": "1.0"}')}), "2.x")


def test_refuses_too_big_png():
    refused(png.SIGNATURE + b"\0" * LIMITS.png_bytes, "larger than 10 MB", kind=FormatTooLarge)


def test_png_writer_puts_the_card_on_a_blank_png_when_the_image_is_not_a_png():
    broken = png.SIGNATURE + b"\0\0\0\rIHDR not really"  # a PNG signature, then junk
    for image in (b"GIF89a", broken):
        raw = card_png(doc("v2_card.json"), image)
        assert chunk_texts(raw)["chara"] == doc("v2_card.json")
        assert png.without_card(png.read_chunks(raw)) == png.read_chunks(png.blank_png())


def test_refuses_charx_without_card_json():
    refused(zip_of({"assets/icon/images/main.png": b"x", "sub/card.json": b"{}"}), "no card.json")


def test_refuses_corrupt_zip():
    refused(b"PK\x03\x04" + b"\0" * 50, "not a readable zip")


def test_refuses_zip_bomb():
    raw = zip_of(
        {"card.json": json.dumps(doc("v3_card.json")).encode(), "assets/x.bin": b"\0" * (2 * 1024 * 1024)}
    )
    refused(raw, "zip bomb")


def test_refuses_charx_over_uncompressed_total(monkeypatch):
    monkeypatch.setattr(charx_module, "LIMITS", Limits(charx_uncompressed_bytes=5000))
    raw = card_charx(doc("v3_card.json"), [Asset("assets/other/other/a.bin", bytes(range(256)) * 20)])
    refused(raw, "unpacks to more than", kind=FormatTooLarge)


def test_refuses_too_big_charx(monkeypatch):
    monkeypatch.setattr(charx_module, "LIMITS", Limits(charx_bytes=100))
    refused(card_charx(doc("v3_card.json"), []), "larger than", kind=FormatTooLarge)


def test_refuses_too_many_members():
    members = {"card.json": json.dumps(doc("v3_card.json")).encode()}
    members.update({f"assets/other/other/{i}.txt": b"x" for i in range(LIMITS.charx_members)})
    refused(zip_of(members), "more than 500 members")


def test_refuses_encrypted_member():
    raw = bytearray(zip_of({"card.json": json.dumps(doc("v3_card.json")).encode()}))
    central = raw.find(b"PK\x01\x02")
    flags = struct.unpack("<H", raw[central + 8 : central + 10])[0] | 0x1
    raw[central + 8 : central + 10] = struct.pack("<H", flags)
    refused(bytes(raw), "encrypted")


@pytest.mark.parametrize("path", ["../card.json", "/abs/card.json", "assets/../../x", "C:/win.txt"])
def test_refuses_unsafe_member_paths(path):
    raw = zip_of({"card.json": json.dumps(doc("v3_card.json")).encode(), path: b"x"})
    refused(raw, "unsafe path")


def test_refuses_charx_with_lying_sizes():
    raw = bytearray(zip_of({"card.json": json.dumps(doc("v3_card.json")).encode()}))
    central = raw.find(b"PK\x01\x02")
    raw[central + 16 : central + 20] = struct.pack("<I", 0xDEADBEEF)  # CRC
    raw[4 + 10 : 4 + 14] = struct.pack("<I", 0xDEADBEEF)
    refused(bytes(raw), "corrupt")


def test_refuses_charx_with_bad_card_json():
    refused(zip_of({"card.json": b"{oops"}), "card.json", "not valid JSON")
    refused(
        zip_of({"card.json": json.dumps({"spec": "chara_card_v3", "spec_version": "5.0"}).encode()}), "newer"
    )


def test_too_big_png_card_text(monkeypatch):
    monkeypatch.setattr(card_module, "LIMITS", Limits(card_json_bytes=100))
    refused(card_png(doc("v2_card.json"), None), "larger than", kind=FormatTooLarge)


def test_blank_png_is_a_valid_png():
    raw = png.blank_png(3)
    ctype, ihdr = png.read_chunks(raw)[0]
    assert ctype == b"IHDR"
    assert struct.unpack(">II", ihdr[:8]) == (3, 3)
    assert zlib.decompress(png.read_chunks(raw)[1][1])[:1] == b"\0"


def test_png_v2_copy_alone_gives_the_v3_card_back():
    texts = png.card_texts(png.read_chunks(card_png(doc("v3_card.json"), None)))
    only_chara = read_card(png_with({"chara": texts["chara"]}))
    assert only_chara.spec == "chara_card_v2"
    assert to_v3(only_chara.document) == doc("v3_card.json")


def test_conversions_refuse_what_is_not_a_card():
    for junk in ([], {"spec": "chara_card_v3", "spec_version": "3.0", "data": "x"}, {"description": "x"}):
        with pytest.raises(FormatError):
            to_v2(junk)
        with pytest.raises(FormatError):
            to_v3(junk)
