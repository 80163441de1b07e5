"""novels/textual.py on hostile input: every function is linear in its
input (a reader chooses it), and on real files behaves as before."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from gaji_contracts import gutenberg

from novels import textual
from novels.textual import _closed_markup, body_of, decode, gutenberg_header, html_document_text

NOVELS = Path(__file__).resolve().parents[3] / "data" / "novels"

# The markers as they were (`^\s*`: quadratic on runs of blank lines), to
# check the linear ones find exactly the same spans.
OLD_START = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
OLD_END = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
OLD_END_LINE = re.compile(r"^\s*End of (the )?Project Gutenberg'?s? .*$", re.I | re.M)
PAIRS = [
    (OLD_START, gutenberg.START_MARKER),
    (OLD_END, gutenberg.END_MARKER),
    (OLD_END_LINE, gutenberg.END_LINE),
]


def old_body_of(text: str) -> str:
    start = OLD_START.search(text)
    body = text[start.end() :] if start else text
    end = OLD_END.search(body) or OLD_END_LINE.search(body)
    if end:
        body = body[: end.start()]
    return body.strip("\n")


def old_header(text: str) -> dict[str, str]:
    start = OLD_START.search(text)
    if not start:
        return {}
    found: dict[str, str] = {}
    for match in textual.HEADER_FIELD.finditer(text[: start.start()]):
        found.setdefault(match.group(1).lower(), match.group(2).strip())
    return found


def spans(old: re.Pattern, new: re.Pattern, text: str) -> tuple:
    match = old.search(text)
    return (match.span() if match else None), gutenberg.find_marker(new, text)


# --- Project Gutenberg markers ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in NOVELS.glob("*.txt")))
def test_every_bundled_novel_keeps_its_body_and_header(name):
    text = decode((NOVELS / name).read_bytes())
    assert body_of(text) == old_body_of(text)
    assert gutenberg_header(text) == old_header(text)
    for old, new in PAIRS:
        old_span, new_span = spans(old, new, text)
        assert new_span == old_span


def test_the_markers_find_the_spans_the_old_ones_found():
    pieces = [
        "\n", "\n\n", " ", "\t", "\xa0", "\u3000", "x", "Title: T\n",
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***",
        "***  start of this project gutenberg ebook ***", "*** END OF THE PROJECT GUTENBERG EBOOK X ***",
        "End of the Project Gutenberg's X", "End of Project Gutenberg x", "***", "*** START", " ***\n",
    ]  # fmt: skip
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        for old, new in PAIRS:
            old_span, new_span = spans(old, new, text)
            assert new_span == old_span, (text, old.pattern)
        assert body_of(text) == old_body_of(text)


@pytest.mark.parametrize("blank", ["\n", " \n", "\t\n \n", "\n" * 50 + "x\n"])
def test_markers_are_linear_on_runs_of_blank_lines(blank):
    # `^\s*` took 6.4 s on 40,000 newlines and grew with the square: hours here.
    text = blank * (1_000_000 // len(blank))
    assert gutenberg_header(text) == {}
    assert body_of(text) == text.strip("\n")
    marked = text + "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n" + text + "Body.\n" + text
    body = body_of(marked)
    assert "Body." in body and "GUTENBERG" not in body


# --- HTML ---------------------------------------------------------------------------------


def plain_parse(markup: str) -> tuple[str | None, str]:
    """html_document_text without the escaping (for documents that close)."""
    parser = textual._TextParser(take_heading=False)
    HTMLParser.feed(parser, markup)
    parser.close()
    return (" ".join(parser.title.split()) or None), "\n\n".join(parser.paragraphs)


@pytest.mark.parametrize(
    "markup",
    [
        "<a" * 200_000,
        "<p>Text</p>" + "<a" * 600_000,
        "<!-- >" * 100_000,
        "<![if x>" * 100_000,
        "<![CDATA[ ]>" * 100_000,
        "</" * 200_000,
        "<?" * 200_000,
        "<!" * 200_000,
        "<a x='>" * 100_000,
        "<" * 1_000_000,
    ],
)
def test_unclosed_markup_is_read_in_linear_time(markup):
    # html.parser rescans the rest for each construct that never closes:
    # 71 s for "<a" * 200_000, far longer for the others; now well under a second.
    title, text = html_document_text(markup)
    assert title is None and len(text) <= len(markup)


def test_unclosed_tags_read_as_the_text_they_are():
    assert html_document_text("<p>One</p><p>Two < three <b") == (None, "One\n\nTwo < three <b")
    assert html_document_text("<a" * 1000) == (None, "<a" * 1000)
    assert html_document_text("<p>x</p><!-- never closed <p>y</p>") == (None, "x\n\n<!-- never closed\n\ny")


def test_a_marked_section_html_parser_refuses_is_text_not_an_error():
    # html.parser raised AssertionError ("unknown status keyword") on these: a 500.
    for markup in ("<p>a</p><![foo[ x ]]><p>b</p>", "<p>a</p><![ CDATA[x]]><p>b</p>", "<![ <p>b</p>"):
        _title, text = html_document_text(markup)
        assert text.endswith("b")


@pytest.mark.parametrize(
    "markup",
    [
        "<html><head><title>T &amp; U</title><style>p{}</style><script>if (a < b && c > d) {}</script></head>"
        "<body><!-- note <b> --><h1>H</h1><p>One &lt; two</p><![CDATA[ x ]]><!--[if IE]><p>ie</p><![endif]-->"
        "<![if !IE]><p>not ie</p><![endif]><!DOCTYPE html><?pi x?><br/>"
        "<p a='>' b=\"<\">Three</p></body></html>",
        '<p>hi</p><img src="data:image/png;base64,' + "A" * 100_000 + '"><p>there</p>',
        "<p>a > b and c < d</p><p>e</p>",
    ],
)
def test_documents_that_close_are_read_exactly_as_before(markup):
    assert _closed_markup(markup) == markup
    assert html_document_text(markup) == plain_parse(markup)


# --- decoding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "charset",
    ["punycode", "idna", "unicode_escape", "raw_unicode_escape", "utf-7", "undefined", "charmap", "base64",
     "rot13", "a\x00b", "no-such-codec", ""],
)  # fmt: skip
def test_only_real_charsets_are_used_and_decoding_never_fails(charset):
    data = b"xn--zz9999 \\ud800 +2AA- ok"
    assert decode(data, charset) == "xn--zz9999 \\ud800 +2AA- ok"


def test_a_real_declared_charset_is_used():
    assert decode("Привет".encode("koi8-r"), "koi8-r") == "Привет"
    assert decode("día".encode("utf-16"), "utf-16") == "día"


def test_decoded_text_has_no_nul_and_no_lone_surrogate():
    assert decode(b"a\x00b\r\nc", "utf-8") == "ab\nc"
    assert textual.storable("a\ud800b\udfff\x00c") == "abc"
    assert textual.one_line(" A\x00 Title\x01\x9f\ud800\n\tok ") == "A Title ok"
