"""Text of a reader's import: bytes decoded as the ai service decodes them,
HTML/XHTML turned into paragraphs (html.parser: script and style dropped,
nothing executed), the Project Gutenberg header's title."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# The same rules as ai's ingestion (gaji_ai/ingestion/text.py: decode), so
# what core checks is what ai will read.
_ENCODINGS = ("utf-8", "cp1252", "latin-1")
START_MARKER = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
END_MARKER = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
END_LINE = re.compile(r"^\s*End of (the )?Project Gutenberg'?s? .*$", re.I | re.M)
HEADER_FIELD = re.compile(r"^(Title|Author)\s*:\s*(.+)$", re.I | re.M)
# Control characters other than tab, newline, carriage return and form feed:
# a "text" file full of them is a binary file with the wrong name.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode(data: bytes, charset: str | None = None) -> str:
    """Bytes -> text, never failing: the declared charset when it works,
    else UTF-8 (BOM dropped), else Windows-1252, else Latin-1. LF line ends."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    encodings = ((charset,) if charset else ()) + _ENCODINGS
    text = ""
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_binary(text: str) -> bool:
    """More than 1% control characters (NUL and friends): not a text file."""
    sample = text[:100_000]
    return bool(sample) and len(_CONTROL.findall(sample)) > len(sample) / 100


def body_of(text: str) -> str:
    """The text without a Project Gutenberg header and licence (as ai strips them)."""
    start = START_MARKER.search(text)
    body = text[start.end() :] if start else text
    end = END_MARKER.search(body) or END_LINE.search(body)
    if end:
        body = body[: end.start()]
    return body.strip("\n")


def gutenberg_header(text: str) -> dict[str, str]:
    """`Title:` and `Author:` of a Project Gutenberg header (before its START marker)."""
    start = START_MARKER.search(text)
    if not start:
        return {}
    found: dict[str, str] = {}
    for match in HEADER_FIELD.finditer(text[: start.start()]):
        found.setdefault(match.group(1).lower(), match.group(2).strip())
    return found


_BLOCKS = {
    "p", "div", "br", "hr", "li", "ul", "ol", "blockquote", "pre", "section", "article", "tr",
    "table", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "figure", "figcaption", "header", "footer",
}  # fmt: skip
_DROPPED = {"script", "style", "head", "noscript", "template", "svg", "math", "iframe", "object"}
_HEADINGS = {"h1", "h2", "h3"}


class _TextParser(HTMLParser):
    """Paragraphs of an HTML/XHTML document, and its first h1-h3 heading."""

    def __init__(self, *, take_heading: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.take_heading = take_heading
        self.paragraphs: list[str] = []
        self.heading: str | None = None
        self.title = ""
        self._current: list[str] = []
        self._dropped = 0
        self._in_title = False
        self._heading_depth = 0
        self._heading_parts: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.paragraphs.append(text)
        self._current = []

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        if tag in _DROPPED:
            self._dropped += 1
            return
        if tag in _BLOCKS:
            self._flush()
        if self.take_heading and self.heading is None and tag in _HEADINGS and not self._dropped:
            self._heading_depth = 1
            self._heading_parts = []

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in _DROPPED:
            self._dropped = max(0, self._dropped - 1)
            return
        if self._heading_depth and tag in _HEADINGS:
            self._heading_depth = 0
            heading = " ".join("".join(self._heading_parts).split())
            if heading:
                self.heading = heading
                self._current = []  # the heading becomes the chapter's title line
                return
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data):
        if self._in_title and self._dropped:
            self.title += data
        if self._dropped:
            return
        if self._heading_depth:
            self._heading_parts.append(data)
        self._current.append(data)

    def close(self):
        super().close()
        self._flush()


def html_text(markup: str, *, take_heading: bool = False) -> tuple[str | None, str | None, list[str]]:
    """(first h1-h3 heading or None, <title> or None, paragraphs). With
    `take_heading`, the heading is not repeated among the paragraphs."""
    parser = _TextParser(take_heading=take_heading)
    parser.feed(markup)
    parser.close()
    title = " ".join(parser.title.split()) or None
    return parser.heading, title, parser.paragraphs


def html_document_text(markup: str) -> tuple[str | None, str]:
    """An HTML page as (its <title> or None, paragraphs separated by blank lines)."""
    _, title, paragraphs = html_text(markup)
    return title, "\n\n".join(paragraphs)
