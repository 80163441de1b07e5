"""Bring your own, on the real services: a reader imports a story as an EPUB
and another from a URL, watches them ingest and keeps them private; exports
the cast as a Character Card and the places as a lorebook (with passage
sources, from ai's real lore route); imports a card and a SillyTavern World
Info file, puts the card character in a scene and talks to it: the real
model is prompted with the card's texts and the lore entry that fired (the
prompt inspector says so); then takes the conversation out as Gaji JSON and
SillyTavern JSONL and brings each back as a new conversation."""

from __future__ import annotations

import base64
import http.server
import io
import json
import struct
import threading
import zipfile
import zlib
from pathlib import Path

from test_conversations_journey import bearer, read_stream
from test_ingestion_journey import wait_for_job

NOVELS = Path(__file__).resolve().parents[1] / "data" / "novels"


def excerpt(name: str, start: int, parts: int, size: int = 5000) -> list[str]:
    """`parts` consecutive slices of a bundled novel, cut at paragraph ends."""
    text = (NOVELS / name).read_text(encoding="utf-8")
    body = text[text.index("One morning") :] if "One morning" in text else text
    chunks, at = [], start
    for _ in range(parts):
        end = body.index("\n\n", at + size)
        chunks.append(body[at:end].strip())
        at = end
    return chunks


def epub(title: str, chapters: list[str]) -> bytes:
    """A minimal EPUB 3: its spine lists the chapters in reading order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
            for i in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        z.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{title}</dc:title><dc:creator>Franz Kafka</dc:creator></metadata>"
            f"<manifest>{items}</manifest><spine>{spine}</spine></package>",
        )
        for i, text in enumerate(chapters):
            paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
            z.writestr(
                f"OEBPS/c{i}.xhtml",
                f'<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Chapter {i + 1}</h1>'
                f"{paragraphs}<script>alert(1)</script></body></html>",
            )
    return buffer.getvalue()


def png_card(card: dict) -> bytes:
    """A 1x1 PNG with the card in a `chara` tEXt chunk, as SillyTavern writes it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    payload = b"chara\x00" + base64.b64encode(json.dumps(card).encode())
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", payload)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Captain Vane",
        "description": "{{char}} is a privateer captain who lodges with the Samsas.",
        "personality": "blunt",
        "scenario": "",
        "first_mes": "Ahoy.",
        "mes_example": "",
        "creator_notes": "<b>not for prompts</b>",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "tags": ["sea"],
        "creator": "e2e",
        "character_version": "1",
        "extensions": {"talkativeness": "0.5", "depth_prompt": {"prompt": "x", "depth": 4, "role": "system"}},
    },
}
WORLD_INFO = {
    "entries": {
        "0": {
            "uid": 0,
            "key": ["Gregor"],
            "keysecondary": [],
            "comment": "Gregor",
            "content": "Gregor Samsa is a travelling salesman who woke up as an insect.",
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
            "sticky": 0,
        }
    }
}


class _Text(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def serve(text: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("Story", (_Text,), {"body": text.encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/story.txt"


def test_a_reader_brings_a_story_a_card_and_lore_and_takes_everything_out(
    stack, core, ai, reader, make_reader
):
    me = bearer(reader["tokens"]["access_token"])
    someone = bearer(make_reader()["tokens"]["access_token"])

    # -- a story in: an EPUB, ingested, private ------------------------------------
    chapters = excerpt("metamorphosis.txt", 0, 3)
    imported = core.post(
        "/api/v1/novels/imports",
        files={"file": ("kafka.epub", epub("The Metamorphosis (opening)", chapters), "application/epub+zip")},
        headers=me,
    )
    assert imported.status_code == 202, imported.text
    novel = imported.json()["novel"]
    assert novel["visibility"] == "private" and novel["title"] == "The Metamorphosis (opening)"
    job = wait_for_job(ai, reader["tokens"]["access_token"], imported.json()["job_id"])[-1]
    assert job["status"] == "completed", job
    assert job["novel_id"] == novel["id"] and job["progress"]["passages_total"] > 5
    mine = core.get("/api/v1/users/me/novels", headers=me).json()
    assert [n["id"] for n in mine["content"]] == [novel["id"]] and mine["quota"]["used_count"] == 1
    assert core.get(f"/api/v1/novels/{novel['id']}", headers=me).json()["ingestion_status"] == "completed"
    assert core.get(f"/api/v1/novels/{novel['id']}", headers=someone).status_code == 404
    assert ai.get(f"/api/ai/novels/{novel['id']}/characters", headers=someone).status_code == 404
    cast = ai.get(f"/api/ai/novels/{novel['id']}/characters", headers=me)
    assert cast.status_code == 200 and cast.json(), cast.text
    assert "Gregor" in [c["name"] for c in cast.json()][:3]

    # -- and one from a URL (loopback allowed for this stack only) ---------------------
    server, url = serve("\n\n".join(excerpt("metamorphosis.txt", 20000, 2)))
    try:
        by_url = core.post("/api/v1/novels/imports", json={"url": url, "title": "Kafka, later"}, headers=me)
        assert by_url.status_code == 202, by_url.text
        assert (
            wait_for_job(ai, reader["tokens"]["access_token"], by_url.json()["job_id"])[-1]["status"]
            == "completed"
        )
    finally:
        server.shutdown()

    # -- the cast and lore out, with the passages they come from ---------------------------
    book = core.get(f"/api/v1/novels/{novel['id']}/lorebook", headers=me)
    assert book.status_code == 200, book.text
    entries = book.json()["data"]["entries"]
    gregor = next(e for e in entries if e["name"].startswith("Gregor"))
    assert gregor["extensions"]["gaji/sources"], "each entry keeps its passages"
    assert gregor["extensions"]["gaji/sources"][0]["quote"]
    assert core.get(f"/api/v1/novels/{novel['id']}/lorebook", headers=someone).status_code == 404
    gregor_id = next(c["id"] for c in cast.json() if c["name"].startswith("Gregor"))
    card_png = core.get(
        f"/api/v1/novels/{novel['id']}/characters/{gregor_id}/card", params={"format": "png"}, headers=me
    )
    assert card_png.status_code == 200 and card_png.content.startswith(b"\x89PNG")
    assert b"ccv3" in card_png.content and b"chara" in card_png.content

    # -- a card and a lorebook in ---------------------------------------------------------
    card = core.post(
        "/api/v1/characters/import", files={"file": ("vane.png", png_card(CARD), "image/png")}, headers=me
    )
    assert card.status_code == 201, card.text
    card = card.json()
    assert card["name"] == "Captain Vane" and card["creator_notes"] == "<b>not for prompts</b>"
    back = core.get(f"/api/v1/characters/{card['id']}/export", params={"format": "json"}, headers=me)
    assert back.json() == CARD  # every field and extension as it came in
    assert core.get(f"/api/v1/characters/{card['id']}", headers=someone).status_code == 404
    lore = core.post(
        "/api/v1/lorebooks/import",
        files={"file": ("world.json", json.dumps(WORLD_INFO).encode(), "application/json")},
        headers=me,
    )
    assert lore.status_code == 201, lore.text
    exported = core.get(f"/api/v1/lorebooks/{lore.json()['id']}/export", headers=me)
    assert exported.json() == WORLD_INFO

    # -- the card character in a scene, the lore firing ----------------------------------------
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": novel["slug"],
            "scenario_type": "SETTING_MODIFICATION",
            "parameters": {
                "setting_element": "location",
                "scope": "global",
                "change_description": "The Samsas' flat is aboard a ship at sea",
                "impact_level": "major",
            },
        },
        headers=me,
    )
    assert scenario.status_code == 201, scenario.text
    conversation = core.post("/api/v1/conversations", json={"scenario_id": scenario.json()["id"]}, headers=me)
    assert conversation.status_code == 201, conversation.text
    conversation = conversation.json()
    assert conversation["visibility"] == "private"  # never more visible than the private novel
    cid = conversation["id"]
    member = {"character_id": f"card:{card['id']}", "name": "Captain Vane", "talkativeness": 0.5}
    put = core.put(
        f"/api/v1/conversations/{cid}/cast", json={"narrator": False, "members": [member]}, headers=me
    )
    assert put.status_code == 200, put.text
    linked = core.put(
        f"/api/v1/conversations/{cid}/lorebooks", json={"lorebook_ids": [lore.json()["id"]]}, headers=me
    )
    assert linked.status_code == 200, linked.text
    sent = core.post(
        f"/api/v1/conversations/{cid}/messages",
        json={
            "content": "Captain, what do you make of Gregor?",
            "speakers": [{"kind": "character", "character_id": f"card:{card['id']}"}],
        },
        headers=me,
    )
    assert sent.status_code == 202, sent.text
    turn = sent.json()
    events = read_stream(turn["stream_url"])
    assert events[-1][0] == "message_complete" and events[-1][1]["status"] == "completed", events[-3:]
    prompt = core.get(
        f"/api/v1/conversations/{cid}/messages/{turn['assistant_message_id']}/prompt", headers=me
    )
    assert prompt.status_code == 200, prompt.text
    record = prompt.json()
    assert [(e["name"], e["reason"]) for e in record["lore"]] == [("Gregor", "key: Gregor")]
    sections = {s["name"]: s["text"] for s in record["sections"]}
    assert "travelling salesman who woke up as an insect" in sections["lore"]
    assert "Captain Vane is a privateer captain who lodges with the Samsas." in sections["persona"]

    # -- the conversation out and back in -------------------------------------------------------
    ours = core.get(f"/api/v1/conversations/{cid}/export", params={"format": "gaji"}, headers=me)
    assert ours.status_code == 200 and ours.headers["Content-Disposition"].startswith("attachment")
    tavern = core.get(f"/api/v1/conversations/{cid}/export", params={"format": "sillytavern"}, headers=me)
    assert tavern.status_code == 200
    lines = [json.loads(line) for line in tavern.text.splitlines() if line.strip()]
    assert lines[0]["character_name"] and [m["is_user"] for m in lines[1:]] == [True, False]
    assert lines[2]["name"] == "Captain Vane"
    original = [(m["role"], m["content"]) for m in ours.json()["messages"]]
    for filename, content in (("chat.json", ours.content), ("chat.jsonl", tavern.content)):
        again = core.post(
            "/api/v1/conversations/import",
            files={"file": (filename, content, "application/octet-stream")},
            data={"scenario_id": scenario.json()["id"]},
            headers=me,
        )
        assert again.status_code == 201, again.text
        copy = again.json()
        assert copy["id"] != cid
        messages = core.get(f"/api/v1/conversations/{copy['id']}/messages", headers=me).json()["content"]
        assert [(m["role"], m["content"]) for m in messages] == original
        assert messages[1]["speaker"]["name"] == "Captain Vane"
