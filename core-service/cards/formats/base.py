"""What every format reader shares: the refusal type, the size limits, and a
JSON loader that refuses what could hurt (too big, too deep, huge strings)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024


class FormatError(ValueError):
    """A file we refuse to read, with a message for the reader; `field` names
    the request field it came in (the API answers 400 on it)."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.message = message
        self.field = field


class FormatTooLarge(FormatError):
    """A FormatError for a size limit (the API answers 413 rather than 400)."""


@dataclass(frozen=True)
class Limits:
    card_json_bytes: int = 2 * MB
    png_bytes: int = 10 * MB
    charx_bytes: int = 20 * MB
    charx_uncompressed_bytes: int = 50 * MB
    charx_members: int = 500
    zip_ratio: int = 100  # a member unpacking to more than this many times its size...
    zip_ratio_min_bytes: int = 1 * MB  # ...and to more than this is a zip bomb
    lorebook_bytes: int = 2 * MB
    lorebook_entries: int = 2000
    string_chars: int = 100_000
    json_depth: int = 64
    name_chars: int = 200


LIMITS = Limits()


def _no_constant(name: str):
    raise FormatError(f"The file is not valid JSON ({name} is not a JSON value).")


def load_json(raw: bytes, *, limit: int, what: str) -> Any:
    """`raw` as JSON: UTF-8 (a BOM is allowed), at most `limit` bytes, nesting
    and strings within LIMITS. `what` names the thing in messages."""
    if len(raw) > limit:
        raise FormatTooLarge(f"The {what} is larger than {limit // MB} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"The {what} is not UTF-8 text (bad byte at position {exc.start}).") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(f"The {what} is nested more than {LIMITS.json_depth} levels deep.") from None
    except ValueError as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise FormatError(f"The {what} is not valid JSON ({detail}).") from None
    check_tree(value, what)
    return value


def check_tree(value: Any, what: str) -> None:
    """Refuse nesting deeper than LIMITS.json_depth and any string (key or
    value) longer than LIMITS.string_chars."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if len(item) > LIMITS.string_chars:
                raise FormatError(
                    f"A text in the {what} is longer than {LIMITS.string_chars:,} characters ({len(item):,})."
                )
        elif isinstance(item, dict | list):
            if depth > LIMITS.json_depth:
                raise FormatError(f"The {what} is nested more than {LIMITS.json_depth} levels deep.")
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def dump_json(value: Any) -> bytes:
    """UTF-8 JSON, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
