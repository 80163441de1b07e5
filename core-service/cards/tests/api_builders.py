"""Card and lorebook files for the API tests, built here byte by byte (not
with cards.formats, whose writers the tests check), and readers of what the
API gives back (not a test module)."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib

from rest_framework.test import APIClient

from conftest import bearer_for

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

V1 = {
    "name": "Old Tom",
    "description": "A ferryman.",
    "personality": "gruff",
    "scenario": "On the river.",
    "first_mes": "Fare, please.",
    "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Hm.",
}

V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Elizabeth",
        "description": "<script>alert('x')</script> A sharp wit from Longbourn.",
        "personality": "witty, proud",
        "scenario": "Netherfield ball",
        "first_mes": "Do you dance, {{user}}?",
        "mes_example": "",
        "creator_notes": "for people",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": ["Good evening."],
        "tags": ["regency", "romance"],
        "creator": "jane",
        "character_version": "1.2",
        "extensions": {"talkativeness": 0.7, "fav": True, "world": "Regency", "x_app": {"kept": [1, 2]}},
        "character_book": {
            "name": "Longbourn",
            "extensions": {},
            "entries": [
                {
                    "keys": ["Darcy"],
                    "content": "Mr Darcy is proud.",
                    "extensions": {},
                    "enabled": True,
                    "insertion_order": 10,
                    "id": 1,
                    "priority": 5,
                }
            ],
        },
    },
    "unknown_top_level": {"survives": True},
}

V3 = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        "name": "Mira",
        "description": "A cartographer.",
        "personality": "curious",
        "scenario": "The edge of the map.",
        "first_mes": "Hold the lantern.",
        "mes_example": "",
        "creator_notes": "",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "group_only_greetings": ["Hello, all of you."],
        "tags": [],
        "creator": "",
        "character_version": "",
        "nickname": "Mi",
        "extensions": {"depth_prompt": {"prompt": "Mira maps.", "depth": 4, "role": "system"}},
        "assets": [
            {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"}
        ],
        "creation_date": 1700000000,
        "modification_date": 0,
        "source": ["https://example.com/mira"],
    },
}

LOREBOOK_V3 = {
    "spec": "lorebook_v3",
    "data": {
        "name": "The Shire",
        "description": "Hobbit country",
        "scan_depth": 4,
        "token_budget": 300,
        "recursive_scanning": False,
        "extensions": {"x_app": "kept"},
        "entries": [
            {
                "keys": ["Bag End"],
                "content": "A hobbit hole under the Hill.",
                "extensions": {},
                "enabled": True,
                "insertion_order": 1,
                "use_regex": False,
                "id": 7,
                "name": "Bag End",
                "priority": 3,
                "position": "before_char",
                "constant": False,
            },
            {
                "keys": ["/ring/i"],
                "content": "@@activate\nThe One Ring.",
                "extensions": {},
                "enabled": False,
                "insertion_order": 2,
                "use_regex": True,
                "id": "ring",
                "comment": "the ring",
                "constant": True,
            },
        ],
    },
}

WORLDINFO = {
    "entries": {
        "0": {
            "uid": 0,
            "key": ["Rivendell"],
            "keysecondary": [],
            "comment": "the valley",
            "content": "The Last Homely House.",
            "constant": False,
            "selective": True,
            "selectiveLogic": 0,
            "order": 100,
            "position": 0,
            "disable": False,
            "probability": 100,
            "useProbability": True,
            "depth": 4,
            "group": "",
            "groupOverride": False,
            "groupWeight": 100,
            "scanDepth": None,
            "caseSensitive": None,
            "matchWholeWords": None,
            "useGroupScoring": None,
            "automationId": "",
            "role": 0,
            "vectorized": False,
            "sticky": 0,
            "cooldown": 0,
            "delay": 0,
        },
        "1": {
            "uid": 1,
            "key": ["Elrond"],
            "keysecondary": ["council"],
            "comment": "",
            "content": "Lord of Rivendell.",
            "constant": True,
            "selective": True,
            "selectiveLogic": 3,
            "order": 50,
            "position": 1,
            "disable": True,
            "probability": 80,
            "useProbability": True,
            "depth": 2,
            "group": "elves",
            "groupOverride": False,
            "groupWeight": 100,
            "role": 1,
            "vectorized": False,
        },
    }
}


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    return client


def chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def text_chunk(keyword: str, document: dict) -> bytes:
    payload = base64.b64encode(json.dumps(document).encode())
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + payload)


IMAGE_ONLY = (
    PNG_SIGNATURE
    + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + chunk(b"IEND", b"")
)


def png_card(document: dict, keyword: str = "chara") -> bytes:
    """A 1x1 PNG holding `document` in a tEXt chunk (before IDAT)."""
    body = IMAGE_ONLY[len(PNG_SIGNATURE) :]
    ihdr_end = 8 + 13 + 4
    return PNG_SIGNATURE + body[:ihdr_end] + text_chunk(keyword, document) + body[ihdr_end:]


def png_chunks(raw: bytes) -> list[tuple[bytes, bytes]]:
    assert raw.startswith(PNG_SIGNATURE)
    out, at = [], len(PNG_SIGNATURE)
    while at < len(raw):
        (length,) = struct.unpack(">I", raw[at : at + 4])
        kind = raw[at + 4 : at + 8]
        out.append((kind, raw[at + 8 : at + 8 + length]))
        at += 12 + length
    return out


def png_texts(raw: bytes) -> dict[str, dict]:
    """The card documents in a PNG's tEXt chunks, by keyword."""
    found = {}
    for kind, data in png_chunks(raw):
        if kind == b"tEXt":
            keyword, _, payload = data.partition(b"\x00")
            found[keyword.decode("latin-1")] = json.loads(base64.b64decode(payload))
    return found


def charx(document: dict | None, assets: dict[str, bytes], *, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if document is not None:
            archive.writestr("card.json", json.dumps(document))
        for path, data in {**assets, **(extra or {})}.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def zip_members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


class Routes:
    """The import, read and export requests of one kind (`characters` or
    `lorebooks`), as a client sends them."""

    def __init__(self, kind: str) -> None:
        self.list = f"/api/v1/{kind}"
        self.import_ = f"{self.list}/import"

    def post_file(self, client, name: str, data: bytes):
        return client.post(self.import_, {"file": upload(name, data)}, format="multipart")

    def post_json(self, client, document):
        return client.post(self.import_, json.dumps(document), content_type="application/json")

    def export(self, client, item_id, fmt: str | None = None):
        query = f"?format={fmt}" if fmt else ""
        return client.get(f"{self.list}/{item_id}/export{query}")
