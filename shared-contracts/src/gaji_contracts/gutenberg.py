"""Where a Project Gutenberg file's header and licence end, as both services
read it: ai strips them before ingesting, core reads the header's title and
checks the body's length before handing a reader's import to ai, so what
core checks is what ai will read.

Every search here is linear in the text's size (readers choose the text).
A marker line may be indented (`^[^\\S\\n]*`: whitespace within its line);
`^\\s*` would be quadratic on a run of blank lines (every line start rescans
the run), so find_marker() widens a match back over the blank lines before
it, where `^\\s*` would have started it: the same spans, in linear time."""

from __future__ import annotations

import re
from dataclasses import dataclass

START_MARKER = re.compile(r"^[^\S\n]*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
END_MARKER = re.compile(r"^[^\S\n]*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
# Older files end with a plain line instead of the starred marker.
END_LINE = re.compile(r"^[^\S\n]*End of (the )?Project Gutenberg'?s? .*$", re.I | re.M)


def find_marker(pattern: re.Pattern, text: str) -> tuple[int, int] | None:
    """(start, end) of the first match of a marker pattern, the start
    widened back to the first of the blank lines right before it."""
    match = pattern.search(text)
    if match is None:
        return None
    start = match.start()
    blank = len(text[:start].rstrip())  # where the whitespace before the marker starts
    if blank == 0:
        return 0, match.end()
    newline = text.find("\n", blank, start)
    return (newline + 1 if newline >= 0 else start), match.end()


@dataclass(frozen=True)
class GutenbergParts:
    header: str  # before the START marker ("" without one)
    body: str  # the story: between the markers, blank lines at its ends removed
    had_header: bool


def split_gutenberg(text: str) -> GutenbergParts:
    """The header, and the body without the licence footer, when present."""
    start = find_marker(START_MARKER, text)
    header, body = (text[: start[0]], text[start[1] :]) if start else ("", text)
    end = find_marker(END_MARKER, body) or find_marker(END_LINE, body)
    if end:
        body = body[: end[0]]
    return GutenbergParts(header=header, body=body.strip("\n"), had_header=bool(start))
