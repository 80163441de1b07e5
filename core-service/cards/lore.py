"""Which lorebook entries fire on a turn (pure Python, no Django).

Rules (FORMATS.md; Character Card V2/V3 and SillyTavern World Info):
- each book scans its `scan_depth` newest messages (default 4; an entry's
  World Info `scan_depth` extension overrides it);
- keys match case-insensitively unless `case_sensitive`, whole words unless
  World Info's `match_whole_words` is false (word edges are ASCII letters,
  digits and `_`, so keys in scripts without spaces still match inside words);
- with `use_regex`, `/pattern/flags` keys are regular expressions, run by
  the `regex` module with a timeout (readers write them, and a pattern such
  as `((a)+)+$` backtracks for hours): pattern ≤ 500 characters, small
  fixed repeats only (`regex` unrolls `x{m}` when compiling), the newest
  10,000 characters scanned, 50 ms per key and 300 ms per call; a bad
  pattern, or one that runs out of time, does not fire (one that timed out
  is skipped from then on), nor do regex keys once the call's time is spent;
- `selective` with `secondary_keys`: a key from each list (World Info's
  `selectiveLogic` 0-3 when present; a World Info entry without `selective`
  is selective, SillyTavern's default); V3 ignores secondary keys under
  `use_regex` unless the entry carries World Info's logic;
- `constant` always fires; `enabled: false` never; decorators
  @@activate, @@dont_activate, @@exclude_keys, @@additional_keys,
  @@activate_only_after N, @@activate_only_every N (on `turn`), @@position;
  others (and their fallbacks when unsupported) are kept and ignored;
- each entry adds its content once; empty content adds nothing; decorator
  lines never reach the prompt;
- over budget (the book's `token_budget` when smaller, then `budget_tokens`
  over all books) the lowest `priority` goes first, then the lowest
  `insertion_order`; the result is in `insertion_order`.
Not done: recursive scanning, probability, groups, sticky/cooldown/delay.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex

from cards.formats.base import is_number
from cards.formats.decorators import choose, parse_decorators
from cards.formats.lorebook import WI_KEPT

DEFAULT_SCAN_DEPTH = 4
MAX_PATTERN_CHARS = 500
MAX_REGEX_TEXT_CHARS = 10_000
# `regex` unrolls a repeat's fixed part when it compiles (((.{100}){100}){100}
# takes 300 MB): a pattern that could unroll past this many items is refused.
MAX_UNROLLED = 2_000
REGEX_KEY_SECONDS = 0.05
REGEX_CALL_SECONDS = 0.3
SUPPORTED = frozenset(
    {
        "activate",
        "dont_activate",
        "exclude_keys",
        "additional_keys",
        "activate_only_after",
        "activate_only_every",
        "position",
    }
)
# @@position values (V3) onto the two places Gaji's prompt has.
POSITIONS = {
    "before_char": "before_char",
    "before_desc": "before_char",
    "after_char": "after_char",
    "after_desc": "after_char",
    "personality": "after_char",
    "scenario": "after_char",
}
_REGEX_KEY = re.compile(r"^/(.+)/([a-z]*)$", re.S)
# A repeat's fixed count: {m}, {m,} or {m,n}, spaces allowed (verbose mode).
_FIXED_COUNT = re.compile(r"\{\s*([0-9]+)\s*[,}]")
# An inline flag group turning on verbose mode, where counts may hide in comments.
_VERBOSE = re.compile(r"\(\?[a-zA-Z^-]*x")
_FLAGS = {"i": regex.I, "m": regex.M, "s": regex.S, "g": 0, "u": 0, "y": 0}
# Regex keys that ran out of time: skipped from then on (cleared when full).
_TIMED_OUT: set[str] = set()
_TIMED_OUT_MAX = 4096


@dataclass
class BookRef:
    book_id: str
    name: str
    book: dict


@dataclass
class Fired:
    book_id: str
    book_name: str
    entry_id: str
    name: str
    content: str
    position: str  # "before_char" | "after_char"
    insertion_order: int
    priority: int
    reason: str  # "constant" | "key: <matched key>" | "decorator: @@activate"


def _unrolled_size(pattern: str) -> int:
    """A bound on how many items `regex` makes of `pattern` when it compiles
    (it copies a repeat's fixed part: `x{3}` is `xxx`): each character counts
    once times every fixed count after it, as a count repeats only what comes
    before it. Needs no parsing, so a pattern cannot slip past it. Capped just
    past MAX_UNROLLED."""
    size, times, end = 0, 1, len(pattern)
    for count in reversed(list(_FIXED_COUNT.finditer(pattern))):
        size += (end - count.end()) * times
        times = min(times * max(int(count.group(1)), 1), MAX_UNROLLED + 1)
        end = count.start()
    return min(size + end * times, MAX_UNROLLED + 1)


@lru_cache(maxsize=512)
def _regex(key: str) -> regex.Pattern | None:
    match = _REGEX_KEY.match(key)
    if not match:
        return None
    pattern, letters = match.groups()
    if len(pattern) > MAX_PATTERN_CHARS or (_VERBOSE.search(pattern) and "{" in pattern):
        return None
    if _unrolled_size(pattern) > MAX_UNROLLED:
        return None
    flags = 0
    for letter in letters:
        if letter not in _FLAGS:
            return None
        flags |= _FLAGS[letter]
    try:
        return regex.compile(pattern, flags, cache_pattern=False)
    except (regex.error, RecursionError, OverflowError, ValueError, TypeError, IndexError, KeyError):
        return None


class _Clock:
    """The time regex keys may still take in one select_entries call
    (compiling and searching; plain keys do not count)."""

    def __init__(self, seconds: float):
        self.left = seconds


def _regex_hit(key: str, text: str, clock: _Clock) -> bool:
    """Whether regex key `key` matches `text` in its time (REGEX_KEY_SECONDS,
    at most what the call has left); a key that runs out of its own time is
    remembered and skipped from then on."""
    if key in _TIMED_OUT or clock.left <= 0:
        return False
    start = time.monotonic()
    try:
        pattern = _regex(key)
        timeout = min(REGEX_KEY_SECONDS, clock.left - (time.monotonic() - start))
        if pattern is None or timeout <= 0:
            return False
        return pattern.search(text, timeout=timeout) is not None
    except TimeoutError:
        if timeout >= REGEX_KEY_SECONDS:  # its own fault, not the call's time running out
            if len(_TIMED_OUT) >= _TIMED_OUT_MAX:
                _TIMED_OUT.clear()
            _TIMED_OUT.add(key)
        return False
    except (RecursionError, MemoryError, ValueError):
        return False
    finally:
        clock.left -= time.monotonic() - start


@lru_cache(maxsize=4096)
def _plain(key: str, case_sensitive: bool, whole_words: bool) -> re.Pattern:
    body = re.escape(key)
    if whole_words:
        body = rf"(?<![A-Za-z0-9_]){body}(?![A-Za-z0-9_])"
    return re.compile(body, 0 if case_sensitive else re.I)


class _Scan:
    """The newest messages joined, per scan depth (and lower-cased, for a
    quick substring test before the whole-word regex)."""

    def __init__(self, messages: list[str]):
        self.messages = [m for m in messages if isinstance(m, str)]
        self._texts: dict[int, tuple[str, str]] = {}

    def text(self, depth: int) -> tuple[str, str]:
        if depth not in self._texts:
            text = "\n".join(self.messages[-depth:]) if depth > 0 else ""
            self._texts[depth] = (text, text.lower())
        return self._texts[depth]


@dataclass
class _Matcher:
    text: str
    lowered: str
    case_sensitive: bool
    whole_words: bool
    use_regex: bool
    clock: _Clock

    def __call__(self, key: Any) -> bool:
        if not isinstance(key, str) or not key.strip():
            return False
        if self.use_regex and _REGEX_KEY.match(key):
            return _regex_hit(key, self.text[-MAX_REGEX_TEXT_CHARS:], self.clock)
        if (key not in self.text) if self.case_sensitive else (key.lower() not in self.lowered):
            return False
        return bool(_plain(key, self.case_sensitive, self.whole_words).search(self.text))


def _int(value: Any, default: int) -> int:
    return int(value) if is_number(value) and value == value and abs(value) < 2**53 else default


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _first_bool(*values: Any, default: bool) -> bool:
    return next((v for v in values if isinstance(v, bool)), default)


def _secondary_ok(entry: dict, extensions: dict, matches: _Matcher) -> bool:
    secondary = [k for k in _list(entry.get("secondary_keys")) if isinstance(k, str) and k.strip()]
    world_info = "selectiveLogic" in extensions or WI_KEPT in extensions
    selective = entry.get("selective")
    if not isinstance(selective, bool):  # SillyTavern's default for a World Info entry
        selective = WI_KEPT in extensions
    if not selective or not secondary or (matches.use_regex and not world_info):
        return True
    found = [matches(k) for k in secondary]
    logic = _int(extensions.get("selectiveLogic"), 0)
    return {1: not all(found), 2: not any(found), 3: all(found)}.get(logic, any(found))


def _fire(entry: Any, scan: _Scan, depth: int, turn: int, clock: _Clock) -> tuple[str, str, str] | None:
    """(reason, content, position) when `entry` fires, else None."""
    if not isinstance(entry, dict) or entry.get("enabled", True) is False:
        return None
    raw = entry.get("content")
    decorators, body = parse_decorators(raw if isinstance(raw, str) else "")
    active: dict[str, list] = {}
    for decorator in decorators:
        chosen = choose(decorator, SUPPORTED)
        if chosen:
            active.setdefault(chosen.name, []).append(chosen)
    content = body.strip()
    if not content or "dont_activate" in active:
        return None
    for after in active.get("activate_only_after", []):
        if turn < _int(_number(after.value), 0):
            return None
    for every in active.get("activate_only_every", []):
        step = _int(_number(every.value), 0)
        if step > 0 and turn % step:
            return None
    extensions = entry.get("extensions") if isinstance(entry.get("extensions"), dict) else {}
    text, lowered = scan.text(_int(extensions.get("scan_depth"), depth))
    matches = _Matcher(
        text=text,
        lowered=lowered,
        case_sensitive=_first_bool(
            entry.get("case_sensitive"), extensions.get("case_sensitive"), default=False
        ),
        whole_words=_first_bool(extensions.get("match_whole_words"), default=True),
        use_regex=entry.get("use_regex") is True,
        clock=clock,
    )
    if any(matches(k) for d in active.get("exclude_keys", []) for k in d.args):
        return None
    if "activate" in active:
        reason = "decorator: @@activate"
    elif entry.get("constant") is True:
        reason = "constant"
    else:
        keys = [*_list(entry.get("keys")), *(k for d in active.get("additional_keys", []) for k in d.args)]
        hit = next((k for k in keys if matches(k)), None)
        if hit is None or not _secondary_ok(entry, extensions, matches):
            return None
        reason = f"key: {hit}"
    position = entry.get("position")
    position = position if isinstance(position, str) and position in POSITIONS else "before_char"
    for place in active.get("position", []):
        position = place.value.strip() if place.value.strip() in POSITIONS else position
    return reason, content, POSITIONS[position]


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _fit(fired: list[Fired], budget: int, cost: Callable[[Fired], int]) -> list[Fired]:
    """`fired` without the lowest priority (then lowest insertion_order, then
    latest) entries until the rest costs at most `budget`."""
    total = sum(cost(f) for f in fired)
    dropped: set[int] = set()
    ranked = sorted(range(len(fired)), key=lambda i: (fired[i].priority, fired[i].insertion_order, -i))
    for i in ranked:
        if total <= budget:
            break
        dropped.add(i)
        total -= cost(fired[i])
    return [f for i, f in enumerate(fired) if i not in dropped]


def select_entries(
    books: list[BookRef],
    messages: list[str],
    *,
    budget_tokens: int = 400,
    count_tokens: Callable[[str], int] = lambda s: (len(s) + 3) // 4,
    turn: int = 0,
) -> list[Fired]:
    """The entries of `books` that fire on `messages` (oldest first), within
    the budget, in insertion order."""
    costs: dict[int, int] = {}

    def cost(f: Fired) -> int:
        if id(f) not in costs:
            costs[id(f)] = count_tokens(f.content)
        return costs[id(f)]

    scan = _Scan(messages)
    clock = _Clock(REGEX_CALL_SECONDS)
    chosen: list[Fired] = []
    seen: set[tuple[str, int]] = set()
    for ref in books:
        book = ref.book if isinstance(ref.book, dict) else {}
        entries = book.get("entries") if isinstance(book.get("entries"), list) else []
        depth = _int(book.get("scan_depth"), DEFAULT_SCAN_DEPTH)
        fired: list[Fired] = []
        for index, entry in enumerate(entries):
            result = _fire(entry, scan, depth, turn, clock)
            if result is None:
                continue
            if (ref.book_id, index) in seen:  # the same book linked twice
                continue
            seen.add((ref.book_id, index))
            entry_id = str(entry["id"]) if entry.get("id") is not None else str(index)
            name = entry.get("name") or entry.get("comment") or ""
            fired.append(
                Fired(
                    book_id=ref.book_id,
                    book_name=ref.name,
                    entry_id=entry_id,
                    name=name if isinstance(name, str) else "",
                    content=result[1],
                    position=result[2],
                    insertion_order=_int(entry.get("insertion_order"), 100),
                    priority=_int(entry.get("priority"), 0),
                    reason=result[0],
                )
            )
        own = _int(book.get("token_budget"), 0)
        chosen.extend(_fit(fired, min(budget_tokens, own) if own > 0 else budget_tokens, cost))
    kept = _fit(chosen, budget_tokens, cost)
    order = {id(f): i for i, f in enumerate(kept)}
    return sorted(kept, key=lambda f: (f.insertion_order, order[id(f)]))
