"""Lorebooks: standalone `lorebook_v3` files, SillyTavern World Info files and
character books, read into the card-book shape; written back as lorebook_v3
or World Info. World Info → book → World Info is lossless: the fields the
book shape lacks wait under each entry's extensions, named as SillyTavern
names them when it converts (plus "gaji/worldinfo" for the rest)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .base import LIMITS, FormatError, is_number, is_str_list, load_json

WI_KEPT = "gaji/worldinfo"
# World Info field -> the extensions key SillyTavern gives it in a character book.
WI_TO_EXTENSION = {
    "excludeRecursion": "exclude_recursion",
    "displayIndex": "display_index",
    "probability": "probability",
    "useProbability": "useProbability",
    "depth": "depth",
    "selectiveLogic": "selectiveLogic",
    "outletName": "outlet_name",
    "group": "group",
    "groupOverride": "group_override",
    "groupWeight": "group_weight",
    "preventRecursion": "prevent_recursion",
    "delayUntilRecursion": "delay_until_recursion",
    "scanDepth": "scan_depth",
    "matchWholeWords": "match_whole_words",
    "useGroupScoring": "use_group_scoring",
    "caseSensitive": "case_sensitive",
    "automationId": "automation_id",
    "role": "role",
    "vectorized": "vectorized",
    "sticky": "sticky",
    "cooldown": "cooldown",
    "delay": "delay",
    "matchPersonaDescription": "match_persona_description",
    "matchCharacterDescription": "match_character_description",
    "matchCharacterPersonality": "match_character_personality",
    "matchCharacterDepthPrompt": "match_character_depth_prompt",
    "matchScenario": "match_scenario",
    "matchCreatorNotes": "match_creator_notes",
    "triggers": "triggers",
    "ignoreBudget": "ignore_budget",
}
# World Info fields that map onto the book entry itself.
WI_DIRECT = {
    "uid": "id",
    "key": "keys",
    "keysecondary": "secondary_keys",
    "comment": "comment",
    "content": "content",
    "constant": "constant",
    "selective": "selective",
    "order": "insertion_order",
}
# A new World Info entry's fields and defaults (SillyTavern's template).
WI_DEFAULTS: dict[str, Any] = {
    "key": [],
    "keysecondary": [],
    "comment": "",
    "content": "",
    "constant": False,
    "vectorized": False,
    "selective": True,
    "selectiveLogic": 0,
    "addMemo": False,
    "order": 100,
    "position": 0,
    "disable": False,
    "ignoreBudget": False,
    "excludeRecursion": False,
    "preventRecursion": False,
    "matchPersonaDescription": False,
    "matchCharacterDescription": False,
    "matchCharacterPersonality": False,
    "matchCharacterDepthPrompt": False,
    "matchScenario": False,
    "matchCreatorNotes": False,
    "delayUntilRecursion": False,
    "probability": 100,
    "useProbability": True,
    "depth": 4,
    "outletName": "",
    "group": "",
    "groupOverride": False,
    "groupWeight": 100,
    "scanDepth": None,
    "caseSensitive": None,
    "matchWholeWords": None,
    "useGroupScoring": None,
    "automationId": "",
    "role": 0,
    "sticky": None,
    "cooldown": None,
    "delay": None,
    "triggers": [],
}


@dataclass
class ImportedBook:
    document: dict
    kind: str  # "lorebook_v3" | "worldinfo" | "character_book"
    book: dict
    warnings: list[str] = field(default_factory=list)


def _check_entry(entry: Any, where: str, types: dict[str, tuple[Any, str]]) -> None:
    if not isinstance(entry, dict):
        raise FormatError(f"{where} must be an object.")
    for key, (ok, kind) in types.items():
        value = entry.get(key)
        if value is not None and not ok(value):
            raise FormatError(f"{where}: {key} must be {kind}.")


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


TEXTS = (is_str_list, "a list of texts")
BOOK_ENTRY_TYPES = {
    "keys": TEXTS,
    "secondary_keys": TEXTS,
    "content": (_is_str, "text"),
    "name": (_is_str, "text"),
    "comment": (_is_str, "text"),
    "enabled": (_is_bool, "true or false"),
    "constant": (_is_bool, "true or false"),
    "selective": (_is_bool, "true or false"),
    "case_sensitive": (_is_bool, "true or false"),
    "use_regex": (_is_bool, "true or false"),
    "insertion_order": (is_number, "a number"),
    "priority": (is_number, "a number"),
    "position": (_is_str, "text"),
    "extensions": (lambda v: isinstance(v, dict), "an object"),
}
WI_ENTRY_TYPES = {
    "key": TEXTS,
    "keysecondary": TEXTS,
    "content": (_is_str, "text"),
    "comment": (_is_str, "text"),
    "disable": (_is_bool, "true or false"),
    "constant": (_is_bool, "true or false"),
    "selective": (_is_bool, "true or false"),
    "order": (is_number, "a number"),
    "position": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "extensions": (lambda v: isinstance(v, dict), "an object"),
}


def check_book(book: Any, where: str = "The lorebook") -> None:
    """Refuse a card-book shaped lorebook with a wrong shape or too many entries."""
    if not isinstance(book, dict):
        raise FormatError(f"{where} must be a JSON object.")
    entries = book.get("entries")
    if not isinstance(entries, list):
        raise FormatError(f"{where} must have a list of entries.")
    if len(entries) > LIMITS.lorebook_entries:
        raise FormatError(f"{where} has more than {LIMITS.lorebook_entries:,} entries.")
    for key in ("scan_depth", "token_budget"):
        if book.get(key) is not None and not is_number(book[key]):
            raise FormatError(f"{where}: {key} must be a number.")
    for i, entry in enumerate(entries):
        _check_entry(entry, f"{where}, entry {i + 1}", BOOK_ENTRY_TYPES)


def _check_worldinfo(doc: dict) -> None:
    entries = doc["entries"]
    if len(entries) > LIMITS.lorebook_entries:
        raise FormatError(f"The World Info file has more than {LIMITS.lorebook_entries:,} entries.")
    for uid, entry in entries.items():
        _check_entry(entry, f"The World Info entry {uid[:50]!r}", WI_ENTRY_TYPES)


def read_lorebook(raw: bytes, filename: str = "") -> ImportedBook:
    """A lorebook from a lorebook_v3 file, a World Info file, a bare character
    book, or a V2/V3 card's character_book."""
    doc = load_json(raw, limit=LIMITS.lorebook_bytes, what="lorebook")
    if not isinstance(doc, dict):
        raise FormatError("A lorebook must be a JSON object.")
    spec = doc.get("spec")
    if spec == "lorebook_v3":
        check_book(doc.get("data"))
        kind, book = "lorebook_v3", copy.deepcopy(doc["data"])
    elif spec in ("chara_card_v2", "chara_card_v3"):
        data = doc.get("data")
        book = data.get("character_book") if isinstance(data, dict) else None
        if book is None:
            raise FormatError("This character card holds no lorebook (character_book).")
        check_book(book, "The card's character_book")
        kind, book = "character_book", copy.deepcopy(book)
    elif spec is not None:
        raise FormatError(f"Unknown lorebook spec {str(spec)[:50]!r}: expected lorebook_v3.")
    elif isinstance(doc.get("entries"), dict):
        _check_worldinfo(doc)
        kind, book = "worldinfo", book_from_worldinfo(doc)
    elif isinstance(doc.get("entries"), list):
        check_book(doc)
        kind, book = "character_book", copy.deepcopy(doc)
    else:
        raise FormatError(
            "This is not a lorebook: expected a lorebook_v3 file, a SillyTavern World Info file "
            "or a character book."
        )
    warnings = [] if book["entries"] else ["The lorebook has no entries."]
    return ImportedBook(document=doc, kind=kind, book=book, warnings=warnings)


def lorebook_v3(book: dict) -> dict:
    return {"spec": "lorebook_v3", "data": copy.deepcopy(book)}


# -- World Info ------------------------------------------------------------


def _book_entry(uid_key: str, wi: dict) -> dict:
    wi = copy.deepcopy(wi)
    own = wi.get("extensions")
    extensions: dict[str, Any] = dict(own) if isinstance(own, dict) else {}
    entry: dict[str, Any] = {"keys": [], "content": "", "enabled": True, "insertion_order": 100}
    extra: dict[str, Any] = {}
    for key, value in wi.items():
        if key in WI_DIRECT:
            entry[WI_DIRECT[key]] = value
        elif key == "disable":
            entry["enabled"] = not value
        elif key == "position":
            entry["position"] = "before_char" if value == 0 else "after_char"
            extensions["position"] = value
        elif key in WI_TO_EXTENSION:
            extensions[WI_TO_EXTENSION[key]] = value
        elif key != "extensions":
            extra[key] = value
    entry["use_regex"] = True  # as SillyTavern converts: its keys may be /regex/
    kept: dict[str, Any] = {"fields": list(wi)}
    if extra:
        kept["extra"] = extra
    if "extensions" in wi:
        kept["extensions"] = own
    if uid_key != str(wi.get("uid")):
        kept["uid_key"] = uid_key
    extensions[WI_KEPT] = kept
    entry["extensions"] = extensions
    return entry


def book_from_worldinfo(doc: dict) -> dict:
    """A SillyTavern World Info file as a card-book shaped lorebook."""
    entries = doc.get("entries") if isinstance(doc.get("entries"), dict) else {}
    book: dict[str, Any] = {
        "name": doc["name"] if isinstance(doc.get("name"), str) else "",
        "entries": [_book_entry(str(k), v) for k, v in entries.items() if isinstance(v, dict)],
        "extensions": {WI_KEPT: {k: copy.deepcopy(v) for k, v in doc.items() if k != "entries"}},
    }
    return book


def _wi_values(entry: dict, extensions: dict, index: int, uid: Any) -> dict[str, Any]:
    """Every World Info field of a book entry (defaults where it has none)."""
    values = dict(WI_DEFAULTS)
    for wi_key, ext_key in WI_TO_EXTENSION.items():
        if ext_key in extensions:
            values[wi_key] = extensions[ext_key]
    values.update(
        uid=uid,
        key=entry.get("keys") or [],
        keysecondary=entry.get("secondary_keys") or [],
        comment=entry.get("comment") or entry.get("name") or "",
        content=entry.get("content") or "",
        constant=bool(entry.get("constant", False)),
        selective=bool(entry.get("selective", False)),
        order=entry.get("insertion_order", 100),
        disable=not entry.get("enabled", True),
        addMemo=bool(entry.get("comment") or entry.get("name")),
    )
    values.setdefault("displayIndex", index)
    if "position" in extensions:
        values["position"] = extensions["position"]
    else:
        values["position"] = 0 if entry.get("position", "before_char") == "before_char" else 1
    if values["caseSensitive"] is None and isinstance(entry.get("case_sensitive"), bool):
        values["caseSensitive"] = entry["case_sensitive"]
    return values


def worldinfo(book: dict) -> dict:
    """A lorebook as a SillyTavern World Info file: entries that came from World
    Info come back exactly; others get SillyTavern's defaults, with the fields
    SillyTavern keeps under extensions restored."""
    entries: dict[str, Any] = {}
    used: set[Any] = set()
    for index, entry in enumerate(book.get("entries") or []):
        if not isinstance(entry, dict):
            continue
        extensions = dict(entry.get("extensions") or {})
        kept = extensions.pop(WI_KEPT, None)
        uid = entry.get("id")
        if not isinstance(uid, int) or isinstance(uid, bool) or uid in used:
            uid = index
            while uid in used:
                uid += 1
        used.add(uid)
        values = _wi_values(entry, extensions, index, entry.get("id") if isinstance(kept, dict) else uid)
        if isinstance(kept, dict):
            extra = kept.get("extra") or {}
            wi = {}
            for key in kept.get("fields") or []:
                if key == "extensions":
                    wi[key] = copy.deepcopy(kept.get("extensions"))
                elif key in extra:
                    wi[key] = copy.deepcopy(extra[key])
                else:
                    wi[key] = copy.deepcopy(values.get(key))
            uid_key = str(kept.get("uid_key", wi.get("uid", uid)))
        else:
            mapped = {*WI_TO_EXTENSION.values(), "position"}
            wi = copy.deepcopy(values)
            wi["extensions"] = {k: copy.deepcopy(v) for k, v in extensions.items() if k not in mapped}
            uid_key = str(uid)
        entries[uid_key] = wi
    doc: dict[str, Any] = {"entries": entries}
    kept_top = (book.get("extensions") or {}).get(WI_KEPT)
    if isinstance(kept_top, dict):
        doc.update(copy.deepcopy(kept_top))
    return doc
