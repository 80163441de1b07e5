"""Character Cards V1/V2/V3 in JSON, PNG and CHARX: read (validated, kept
exactly as read), written back, and converted between versions."""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass, field
from typing import Any

from . import charx, png
from .base import LIMITS, MB, FormatError, FormatTooLarge, dump_json, is_number, is_str_list, load_json
from .charx import Asset
from .decorators import parse_decorators
from .lorebook import check_book

V1, V2, V3 = "chara_card_v1", "chara_card_v2", "chara_card_v3"
V1_TEXTS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
V2_TEXTS = (
    *V1_TEXTS,
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
V2_LISTS = ("alternate_greetings", "tags")
V3_ONLY = (
    "group_only_greetings",
    "assets",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "creation_date",
    "modification_date",
)
# Where a V3 card's own fields wait inside a V2 copy (to_v2), so to_v3 restores them.
V3_KEPT = "gaji/v3"
# Where a V1 card's keys beyond the six texts wait in its V2 form.
V1_KEPT = "gaji/v1"


@dataclass
class CardFields:
    name: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    group_only_greetings: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    nickname: str = ""
    character_book: dict | None = None


@dataclass
class ImportedCard:
    document: dict
    spec: str
    container: str
    fields: CardFields
    warnings: list[str] = field(default_factory=list)
    image: bytes | None = None
    assets: list[Asset] = field(default_factory=list)

    @property
    def spec_version(self) -> str:
        return "1.0" if self.spec == V1 else str(self.document.get("spec_version", ""))


# -- reading ---------------------------------------------------------------


def read_card(raw: bytes, filename: str = "") -> ImportedCard:
    """A card from a .json, .png or .charx file, sniffed by its first bytes."""
    image: bytes | None = None
    assets: list[Asset] = []
    if raw.startswith(png.SIGNATURE):
        container = "png"
        document, image = _from_png(raw)
    elif raw.startswith(charx.ZIP_MAGIC):
        container = "charx"
        document, assets = _from_charx(raw)
        image = _main_icon(document, assets)
    else:
        name = filename.lower()
        if name.endswith(".png"):
            raise FormatError("The file is named .png but is not a PNG image (bad signature).")
        if name.endswith(".charx"):
            raise FormatError("The file is named .charx but is not a zip archive.")
        container = "json"
        document = load_json(raw, limit=LIMITS.card_json_bytes, what="card")
    spec, warnings = check_card(document)
    return ImportedCard(
        document=document,
        spec=spec,
        container=container,
        fields=card_fields(document, spec),
        warnings=warnings,
        image=image,
        assets=assets,
    )


def _decode_text(text: bytes, keyword: str) -> Any:
    try:
        decoded = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"The PNG's {keyword} chunk is not valid base64.") from None
    if len(decoded) > LIMITS.card_json_bytes:
        raise FormatTooLarge(f"The card in the PNG is larger than {LIMITS.card_json_bytes // MB} MB.")
    return load_json(decoded, limit=LIMITS.card_json_bytes, what=f"card in the PNG's {keyword} chunk")


def _from_png(raw: bytes) -> tuple[Any, bytes]:
    if len(raw) > LIMITS.png_bytes:
        raise FormatTooLarge(f"The PNG file is larger than {LIMITS.png_bytes // MB} MB.")
    chunks = png.read_chunks(raw)
    texts = png.card_texts(chunks)
    keyword = "ccv3" if "ccv3" in texts else "chara" if "chara" in texts else None
    if keyword is None:
        raise FormatError("The PNG image holds no character card (no chara or ccv3 chunk).")
    return _decode_text(texts[keyword], keyword), png.write_chunks(png.without_card(chunks))


def _from_charx(raw: bytes) -> tuple[Any, list[Asset]]:
    members = charx.read_members(raw)
    if charx.CARD_MEMBER not in members:
        raise FormatError("The CHARX file has no card.json at its root.")
    document = load_json(members.pop(charx.CARD_MEMBER), limit=LIMITS.card_json_bytes, what="card.json")
    return document, [Asset(path=p, data=d) for p, d in members.items()]


def _is_png(blob: bytes) -> bool:
    try:
        png.read_chunks(blob)
    except FormatError:
        return False
    return True


def _main_icon(document: Any, assets: list[Asset]) -> bytes | None:
    """The PNG of a CHARX card's main icon (`embeded://` asset), if any; an
    icon that is not a readable PNG is not the card's image (it stays an asset)."""
    data = document.get("data") if isinstance(document, dict) else None
    listed = data.get("assets") if isinstance(data, dict) else None
    by_path = {a.path: a.data for a in assets}
    icons = [a for a in listed or [] if isinstance(a, dict) and a.get("type") == "icon"]
    icons.sort(key=lambda a: a.get("name") != "main")
    for icon in icons:
        uri = icon.get("uri")
        if isinstance(uri, str) and uri.startswith("embeded://"):
            blob = by_path.get(uri.removeprefix("embeded://"))
            if blob and _is_png(blob):
                return blob
    return None


def _version(value: Any) -> tuple[int, int] | None:
    """(major, minor) of a spec_version such as "3.0", "3" or 2.0, else None."""
    if not (is_number(value) or isinstance(value, str)):
        return None
    match = re.fullmatch(r"\s*(\d{1,6})(?:\.(\d{1,6}))?[\d.]*\s*", str(value))
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def spec_of(document: Any) -> tuple[str, list[str]]:
    """The card's spec and warnings, refusing what is not a card we read."""
    if not isinstance(document, dict):
        raise FormatError("A character card must be a JSON object.")
    spec = document.get("spec")
    if spec is None:
        if "entries" in document:
            raise FormatError("This is a lorebook, not a character card.")
        if "name" not in document:
            raise FormatError("This is not a character card: it has neither a spec nor a name.")
        return V1, []
    if spec == "lorebook_v3":
        raise FormatError("This is a lorebook, not a character card.")
    version = _version(document.get("spec_version"))
    shown = str(document.get("spec_version"))[:20]
    if spec == V2:
        if version is None or version[0] != 2:
            raise FormatError(f"A chara_card_v2 card must have spec_version 2.x; this one has {shown!r}.")
        return V2, []
    if spec == V3:
        if version is None or version[0] < 3:
            raise FormatError(f"A chara_card_v3 card must have spec_version 3.x; this one has {shown!r}.")
        if version[0] > 3:
            raise FormatError(f"spec_version {shown} is newer than this app reads (3.x).")
        if version > (3, 0):
            return V3, [f"spec_version {shown} is newer than 3.0; imported as 3.0"]
        return V3, []
    raise FormatError(f"Unknown card spec {str(spec)[:50]!r}: expected chara_card_v2 or chara_card_v3.")


def data_of(document: dict) -> dict:
    """A card's fields: V2/V3 under `data`, V1 flat."""
    return document["data"] if "spec" in document else document


def check_card(document: Any) -> tuple[str, list[str]]:
    """(spec, warnings) of a card, refusing missing or mistyped fields."""
    spec, warnings = spec_of(document)
    data = data_of(document)
    if not isinstance(data, dict):
        raise FormatError("The card's data must be a JSON object.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FormatError("The card's name is missing or empty.")
    if len(name) > LIMITS.name_chars:
        raise FormatError(f"The card's name is longer than {LIMITS.name_chars} characters.")
    missing: list[str] = []

    def need(key: str, ok, kind: str, required: bool = True) -> None:
        value = data.get(key)
        if value is None:
            if required:
                missing.append(key)
        elif not ok(value):
            raise FormatError(f"The card's {key} must be {kind}.")

    for key in V1_TEXTS if spec == V1 else V2_TEXTS:
        need(key, lambda v: isinstance(v, str), "text")
    if spec != V1:
        for key in V2_LISTS:
            need(key, is_str_list, "a list of texts")
        need("extensions", lambda v: isinstance(v, dict), "an object")
    if spec == V3:
        need("group_only_greetings", is_str_list, "a list of texts")
        need("nickname", lambda v: isinstance(v, str), "text", False)
        need("source", is_str_list, "a list of texts", False)
        need("creation_date", is_number, "a number", False)
        need("modification_date", is_number, "a number", False)
        need(
            "creator_notes_multilingual",
            lambda v: isinstance(v, dict) and all(isinstance(t, str) for t in v.values()),
            "an object of texts",
            False,
        )
        need("assets", _assets_ok, "a list of {type, uri, name, ext} objects", False)
    book = data.get("character_book") if spec != V1 else None
    if book is not None:
        check_book(book, "The card's character_book")
    if missing:
        warnings.append(f"The card lacks {', '.join(missing)}; empty values were assumed.")
    return spec, warnings


def _assets_ok(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(a, dict) and all(isinstance(a.get(k), str) for k in ("type", "uri", "name", "ext"))
        for a in value
    )


def card_fields(document: dict, spec: str | None = None) -> CardFields:
    """The normalized view of a (checked) card."""
    spec = spec or spec_of(document)[0]
    data = data_of(document)
    texts = {k: data[k] for k in V2_TEXTS if isinstance(data.get(k), str)}
    lists = {k: data[k] for k in (*V2_LISTS, "group_only_greetings") if is_str_list(data.get(k))}
    if spec == V1 and "creator_notes" not in texts and isinstance(data.get("creatorcomment"), str):
        texts["creator_notes"] = data["creatorcomment"]
    book = data.get("character_book") if spec != V1 else None
    return CardFields(
        **texts,
        **lists,
        nickname=data["nickname"] if isinstance(data.get("nickname"), str) else "",
        character_book=book if isinstance(book, dict) else None,
    )


# -- conversions -----------------------------------------------------------


def _strip_book(book: dict) -> dict:
    """`book` with decorator lines taken out of every entry's content."""
    out = copy.deepcopy(book)
    for entry in out.get("entries") or []:
        if isinstance(entry, dict) and isinstance(entry.get("content"), str):
            entry["content"] = parse_decorators(entry["content"])[1]
    return out


def to_v2(document: dict) -> dict:
    """A V2 card. From V1: the six texts plus empty V2 fields (other V1 keys
    under extensions["gaji/v1"]). From V3: V3-only fields (and the book, when
    decorators had to be stripped) under extensions["gaji/v3"], so to_v3
    gives the V3 card back unchanged."""
    spec = check_card(document)[0]
    if spec == V1:
        data: dict[str, Any] = {
            k: document.get(k) if isinstance(document.get(k), str) else "" for k in V1_TEXTS
        }
        data.update(
            creator_notes=card_fields(document, V1).creator_notes,
            system_prompt="",
            post_history_instructions="",
            alternate_greetings=[],
            tags=[],
            creator="",
            character_version="",
            extensions={},
        )
        extra = {k: copy.deepcopy(v) for k, v in document.items() if k not in V1_TEXTS}
        if extra:
            data["extensions"][V1_KEPT] = extra
        return {"spec": V2, "spec_version": "2.0", "data": data}
    doc = copy.deepcopy(document)
    if spec == V2:
        return doc
    data = doc["data"]
    kept: dict[str, Any] = {k: data.pop(k) for k in V3_ONLY if k in data}
    book = data.get("character_book")
    if isinstance(book, dict):
        stripped = _strip_book(book)
        if stripped != book:
            kept["character_book"] = book
            data["character_book"] = stripped
    kept["spec_version"] = doc.get("spec_version")
    if not isinstance(data.get("extensions"), dict):
        kept["no_extensions"] = True
        data["extensions"] = {}
    data["extensions"][V3_KEPT] = kept
    doc["spec"], doc["spec_version"] = V2, "2.0"
    return doc


def to_v3(document: dict) -> dict:
    """A V3 card; a V2 copy made by to_v2 gets its V3 fields back."""
    spec = check_card(document)[0]
    if spec == V3:
        return copy.deepcopy(document)
    doc = to_v2(document) if spec == V1 else copy.deepcopy(document)
    data = doc["data"]
    extensions = data.get("extensions")
    kept = extensions.pop(V3_KEPT, None) if isinstance(extensions, dict) else None
    version: Any = "3.0"
    if isinstance(kept, dict):
        version = kept.pop("spec_version", None) or "3.0"
        if kept.pop("no_extensions", False):
            data.pop("extensions", None)
        data.update(kept)
    else:
        data.setdefault("group_only_greetings", [])
        book = data.get("character_book")
        for entry in book.get("entries") or [] if isinstance(book, dict) else []:
            if isinstance(entry, dict):
                entry.setdefault("use_regex", False)
    doc["spec"], doc["spec_version"] = V3, version
    return doc


# -- writing ---------------------------------------------------------------


def card_json(document: dict) -> bytes:
    """The card as UTF-8 JSON."""
    return dump_json(document)


def _b64(document: dict) -> bytes:
    return base64.b64encode(dump_json(document))


def card_png(document: dict, image: bytes | None) -> bytes:
    """`image` (or a small generated PNG) carrying the card: a V3 card in
    `ccv3` plus a V2 copy (decorators stripped) in `chara`; V1/V2 in `chara`.
    Card chunks already in the image are replaced; an image that is not a
    readable PNG (one stored before icons were checked) gives way to the
    generated one."""
    try:
        chunks = png.read_chunks(image if image else png.blank_png())
    except FormatError:
        chunks = png.read_chunks(png.blank_png())
    if spec_of(document)[0] == V3:
        texts = [png.text_chunk("chara", _b64(to_v2(document))), png.text_chunk("ccv3", _b64(document))]
    else:
        texts = [png.text_chunk("chara", _b64(document))]
    return png.write_chunks(png.with_texts(chunks, texts))


def card_charx(document: dict, assets: list[Asset]) -> bytes:
    """A CHARX zip: card.json (as V3) at the root, then the assets by path."""
    members = [(charx.CARD_MEMBER, dump_json(to_v3(document)))]
    seen = {charx.CARD_MEMBER}
    for asset in assets:
        charx.check_path(asset.path)
        if asset.path in seen:
            raise FormatError(f"Two assets share the path {asset.path[:200]!r}.")
        seen.add(asset.path)
        members.append((asset.path, asset.data))
    return charx.write_members(members)
