"""From a novel's bytes to clean text, its header metadata and its chapters.

Every shape in the Gutenberg sample is handled: UTF-8 (with or without a
BOM) or a legacy 8-bit encoding (Windows-1252, then Latin-1, which decodes
any byte), CRLF or LF, with or without the `*** START OF ... ***` /
`*** END OF ... ***` markers, and chapter headings such as `CHAPTER I.`,
`Chapter 1`, `Letter 1`, `[Illustration: ... Chapter I.]` or a bare roman
numeral on its own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gaji_contracts.gutenberg import split_gutenberg

HEADER_FIELD = re.compile(r"^(Title|Author|Language|Original publication)\s*:\s*(.+)$", re.I | re.M)
YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")

LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "latin": "la",
}

ROMAN = r"[IVXLCDM]+"
HEADING = re.compile(
    rf"^[ \t]*(?:\[Illustration:[^\n]*?)?"
    rf"(?P<kind>CHAPTER|Chapter|LETTER|Letter|BOOK|Book|STAVE|Stave)[ \t]+"
    rf"(?P<number>{ROMAN}|\d+)\b\.?\]?(?P<rest>[^\n]*)$",
    re.M,
)
BARE_ROMAN = re.compile(rf"(?:^|\n)[ \t]*\n[ \t]*(?P<number>{ROMAN})\.?[ \t]*\n[ \t]*\n")
# A "section" shorter than this (non-space characters) is a table-of-contents
# line, not a chapter.
MIN_SECTION_CHARS = 200


def decode(data: bytes) -> str:
    """Bytes -> text, never failing: UTF-8 (BOM dropped), else Windows-1252,
    else Latin-1. Line endings become LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\x00", "")


@dataclass(frozen=True)
class HeaderMetadata:
    title: str | None = None
    author: str | None = None
    language: str | None = None
    publication_year: int | None = None


def _header_metadata(header: str) -> HeaderMetadata:
    found: dict[str, str] = {}
    for match in HEADER_FIELD.finditer(header):
        found.setdefault(match.group(1).lower(), match.group(2).strip())
    language = found.get("language", "").lower()
    year = YEAR.search(found.get("original publication", ""))
    return HeaderMetadata(
        title=found.get("title") or None,
        author=found.get("author") or None,
        language=LANGUAGES.get(language) if language else None,
        publication_year=int(year.group(1)) if year else None,
    )


@dataclass(frozen=True)
class Document:
    """A novel's body (header and licence removed) with what the header said."""

    body: str
    metadata: HeaderMetadata
    had_header: bool


def strip_gutenberg(text: str) -> Document:
    """Remove the Project Gutenberg header and licence footer when present."""
    parts = split_gutenberg(text)
    return Document(
        body=parts.body, metadata=_header_metadata(parts.header), had_header=parts.had_header
    )


def roman_to_int(value: str) -> int | None:
    numerals = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total, previous = 0, 0
    for char in reversed(value.upper()):
        number = numerals.get(char)
        if number is None:
            return None
        total = total - number if number < previous else total + number
        previous = max(previous, number)
    return total or None


def _number(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else roman_to_int(raw)


@dataclass
class Chapter:
    number: int  # 1, 2, ... in reading order (0: front matter before the first chapter)
    title: str  # the heading as written, e.g. "Letter 1", "CHAPTER II. The Pool of Tears"
    start: int  # offset of the chapter's text in the body
    end: int
    text: str = field(repr=False, default="")


@dataclass(frozen=True)
class _Heading:
    start: int  # where the heading line starts
    text_start: int  # where its chapter's text starts (after the heading line)
    number: int
    title: str


def _headings(body: str) -> list[_Heading]:
    found = [
        _Heading(
            m.start(),
            m.end(),
            n,
            " ".join(f"{m.group('kind')} {m.group('number')}{m.group('rest')}".split()),
        )
        for m in HEADING.finditer(body)
        if (n := _number(m.group("number")))
    ]
    if len(found) < 2:
        # No worded headings: chapters may be bare roman numerals on their own lines.
        bare = [
            _Heading(m.start("number"), m.end(), n, m.group("number"))
            for m in BARE_ROMAN.finditer(body)
            if (n := _number(m.group("number")))
        ]
        if len(bare) >= 2:
            found = bare
    found.sort(key=lambda h: h.start)
    # Drop table-of-contents entries: a "chapter" with almost no text.
    kept = []
    for i, heading in enumerate(found):
        next_start = found[i + 1].start if i + 1 < len(found) else len(body)
        if len("".join(body[heading.text_start : next_start].split())) >= MIN_SECTION_CHARS:
            kept.append(heading)
    return kept


def split_chapters(body: str) -> list[Chapter]:
    """The body cut at its chapter headings. Text before the first heading is
    chapter 1 when that heading is numbered 2 (a file that starts inside its
    first chapter), else front matter (number 0) if it has any substance."""
    headings = _headings(body)
    if not headings:
        return [Chapter(number=1, title="", start=0, end=len(body), text=body)]
    chapters: list[Chapter] = []
    preamble = body[: headings[0].start]
    if len("".join(preamble.split())) >= MIN_SECTION_CHARS:
        missing_first = headings[0].number == 2
        chapters.append(
            Chapter(
                number=1 if missing_first else 0,
                title="Chapter I" if missing_first else "Front matter",
                start=0,
                end=headings[0].start,
            )
        )
    first_number = 2 if chapters and chapters[0].number == 1 else 1
    for i, heading in enumerate(headings):
        end = headings[i + 1].start if i + 1 < len(headings) else len(body)
        chapters.append(
            Chapter(number=first_number + i, title=heading.title, start=heading.text_start, end=end)
        )
    for chapter in chapters:
        chapter.text = body[chapter.start : chapter.end]
    return chapters
