"""Text of a reader's import: bytes decoded as the ai service decodes them,
HTML/XHTML turned into paragraphs (html.parser: script and style dropped,
nothing executed), the Project Gutenberg header's title.

Everything here is linear in the input's size: readers choose the input."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from gaji_contracts.gutenberg import split_gutenberg

# The same rules as ai's ingestion (gaji_ai/ingestion/text.py: decode), so
# what core checks is what ai will read.
_ENCODINGS = ("utf-8", "cp1252", "latin-1")
# Codecs that are "text encodings" to Python but no charset a document is
# written in: they turn escapes into any code point (lone surrogates
# included) or fail with a bare UnicodeError.
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "utf-7", "undefined", "charmap"}
HEADER_FIELD = re.compile(r"^(Title|Author)\s*:\s*(.+)$", re.I | re.M)
# Control characters other than tab, newline, carriage return and form feed:
# a "text" file full of them is a binary file with the wrong name.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# NUL (PostgreSQL cannot store it) and lone surrogates (not encodable as UTF-8).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Every C0/C1 control character and lone surrogate: none belongs in a title.
_NOT_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _charset_codec(charset: str | None) -> str | None:
    """The codec for a declared charset, or None when it names no real text encoding."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):
        return None
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        return None
    return info.name


def storable(text: str) -> str:
    """The text without NUL and lone surrogates."""
    return _UNSTORABLE.sub("", text)


def one_line(text: str) -> str:
    """A title or name: control characters and lone surrogates gone, spaces collapsed."""
    return " ".join(_NOT_IN_A_LINE.sub(" ", text).split())


def decode(data: bytes, charset: str | None = None) -> str:
    """Bytes -> text, never failing: the declared charset when it is a real
    text encoding and works, else UTF-8 (BOM dropped), else Windows-1252,
    else Latin-1. LF line ends; no NUL, no lone surrogates."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    codec = _charset_codec(charset)
    encodings = ((codec,) if codec else ()) + _ENCODINGS
    text = ""
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except (UnicodeError, LookupError, ValueError):
            continue
    return storable(text.replace("\r\n", "\n").replace("\r", "\n"))


def looks_binary(text: str) -> bool:
    """More than 1% control characters (NUL and friends): not a text file."""
    sample = text[:100_000]
    return bool(sample) and len(_CONTROL.findall(sample)) > len(sample) / 100


def body_of(text: str) -> str:
    """The text without a Project Gutenberg header and licence (as ai strips them)."""
    return split_gutenberg(text).body


def gutenberg_header(text: str) -> dict[str, str]:
    """`Title:` and `Author:` of a Project Gutenberg header (before its START marker)."""
    parts = split_gutenberg(text)
    if not parts.had_header:
        return {}
    found: dict[str, str] = {}
    for match in HEADER_FIELD.finditer(parts.header):
        found.setdefault(match.group(1).lower(), match.group(2).strip())
    return found


# html.parser (CPython <= 3.11) rescans the rest of the document for every
# construct that never closes ("<a" * 200_000: minutes). _closed_markup()
# hands it only constructs that close, so every scan ends where the parser
# resumes: a `<` with no `>` after it (what the parser would show as text in
# the end anyway), a comment with no `-->` and a marked section with no `]]>`
# (or `]>`), or with a name the parser refuses (it raises), become text.
_COMMENT_CLOSE = re.compile(r"--\s*>")
_SECTION_CLOSE = re.compile(r"]\s*]\s*>")
_MS_SECTION_CLOSE = re.compile(r"]\s*>")
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*")
_SECTIONS = {"temp": _SECTION_CLOSE, "cdata": _SECTION_CLOSE, "ignore": _SECTION_CLOSE,
             "include": _SECTION_CLOSE, "rcdata": _SECTION_CLOSE, "if": _MS_SECTION_CLOSE,
             "else": _MS_SECTION_CLOSE, "endif": _MS_SECTION_CLOSE}  # fmt: skip
_DECLARATION = re.compile(r"<!(--|\[)")


class _Ahead:
    """Whether `pattern` matches at or after a position, asked for positions
    in increasing order: each part of the text is searched at most once."""

    def __init__(self, text: str, pattern: re.Pattern) -> None:
        self.text = text
        self.pattern = pattern
        self.found = -1  # start of the last match found
        self.exhausted = False

    def after(self, position: int) -> bool:
        if self.found >= position:
            return True
        if self.exhausted:
            return False
        match = self.pattern.search(self.text, position)
        if match is None:
            self.exhausted = True
            return False
        self.found = match.start()
        return True


def _closed_markup(markup: str) -> str:
    """The markup with every `<` that opens nothing that closes escaped (linear)."""
    last = markup.rfind(">")
    head, tail = markup[: last + 1], markup[last + 1 :].replace("<", "&lt;")
    closes = {
        pattern: _Ahead(head, pattern) for pattern in (_COMMENT_CLOSE, _SECTION_CLOSE, _MS_SECTION_CLOSE)
    }
    parts: list[str] = []
    done = 0
    for opening in _DECLARATION.finditer(head):
        at = opening.start()
        if opening.group(1) == "--":
            closed = closes[_COMMENT_CLOSE].after(at + 4)
        else:
            name = _SECTION_NAME.match(head, at + 3)
            close = _SECTIONS.get(name.group().lower()) if name else None
            closed = close is not None and closes[close].after(at + 3)
        if not closed:
            parts += [head[done:at], "&lt;"]
            done = at + 1
    parts += [head[done:], tail]
    return "".join(parts)


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
    parser.feed(_closed_markup(markup))
    parser.close()
    title = " ".join(parser.title.split()) or None
    return parser.heading, title, parser.paragraphs


def html_document_text(markup: str) -> tuple[str | None, str]:
    """An HTML page as (its <title> or None, paragraphs separated by blank lines)."""
    _, title, paragraphs = html_text(markup)
    return title, "\n\n".join(paragraphs)
