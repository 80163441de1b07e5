"""Parsing every shape of the bundled Gutenberg files (data/novels) and
cutting them into passages that fit all-MiniLM-L6-v2's window."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest
from gaji_contracts import gutenberg

from gaji_ai.embeddings import count_tokens
from gaji_ai.ingestion.chunking import DEFAULT_MAX_TOKENS, chunk_chapters
from gaji_ai.ingestion.text import (
    HeaderMetadata,
    _header_metadata,
    decode,
    roman_to_int,
    split_chapters,
    strip_gutenberg,
)

NOVELS = Path(__file__).resolve().parents[2] / "data" / "novels"

# file: (header found, title, author, chapters incl. front matter, first chapter title, last)
EXPECTED = {
    "pride-and-prejudice.txt": (
        True,
        "Pride and Prejudice",
        "Jane Austen",
        62,
        "Chapter I",
        "CHAPTER LXI",
    ),
    "frankenstein.txt": (
        True,
        "Frankenstein; Or, The Modern Prometheus",
        "Mary Wollstonecraft Shelley",
        29,
        "Letter 1",
        "Chapter 24",
    ),
    "a-room-with-a-view.txt": (
        True,
        "A Room with a View",
        "E. M. Forster",
        21,
        "Chapter I",
        "Chapter XX",
    ),
    "alice-in-wonderland.txt": (False, None, None, 12, "Chapter I", "CHAPTER XII Alice's Evidence"),
    "metamorphosis.txt": (False, None, None, 3, "Chapter I", "III"),
}


def parsed(name: str):
    document = strip_gutenberg(decode((NOVELS / name).read_bytes()))
    return document, split_chapters(document.body)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_bundled_shape_parses(name):
    had_header, title, author, count, first, last = EXPECTED[name]
    document, chapters = parsed(name)
    assert document.had_header is had_header
    assert (document.metadata.title, document.metadata.author) == (title, author)
    assert "\r" not in document.body
    assert (
        "PROJECT GUTENBERG"
        not in document.body.upper().replace("PROJECT GUTENBERG EBOOK", "")[:0] + ""
    )
    assert "*** START OF" not in document.body and "*** END OF" not in document.body
    assert "Project Gutenberg License" not in document.body
    assert len(chapters) == count
    titled = [c for c in chapters if c.number > 0]
    assert titled[0].title == first and titled[-1].title == last
    assert [c.number for c in titled] == list(range(1, len(titled) + 1))
    assert all(len(c.text.strip()) > 200 for c in titled)


def test_windows_1252_is_detected_not_mangled():
    document, _ = parsed("pride-and-prejudice.txt")
    assert "\ufffd" not in document.body
    assert "\u201cMy dear Mr. Bennet,\u201d said his lady" in " ".join(document.body.split())


def test_utf8_with_bom_and_lf_and_no_markers():
    text = (
        "\ufeffTitle: Ignored without markers\n\nCHAPTER 1.\n\n"
        + "Caf\u00e9 au lait. " * 40
        + "\n\nCHAPTER 2.\n\n"
        + "Done here. " * 40
    )
    document = strip_gutenberg(decode(text.encode("utf-8")))
    assert document.body.startswith("Title") and "Caf\u00e9" in document.body
    chapters = split_chapters(document.body)
    assert [c.title for c in chapters if c.number] == ["CHAPTER 1", "CHAPTER 2"]


def test_no_byte_can_crash_the_decoder():
    assert decode(bytes(range(256)))  # Latin-1 decodes anything
    assert decode(b"\x00abc\x81\x8d") == "abc\x81\x8d"  # NULs dropped


def test_header_metadata_and_language():
    raw = (
        "The Project Gutenberg eBook of X\n\nTitle: Emma\nAuthor: Jane Austen\nLanguage: English\n"
        "Original publication: London: John Murray, 1815\n\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK EMMA ***\n"
        "Body text.\n*** END OF THE PROJECT GUTENBERG EBOOK EMMA ***\nLicence text."
    )
    document = strip_gutenberg(decode(raw.encode()))
    assert document.body == "Body text."
    meta = document.metadata
    assert (meta.title, meta.author, meta.language, meta.publication_year) == (
        "Emma",
        "Jane Austen",
        "en",
        1815,
    )


def test_table_of_contents_entries_are_not_chapters():
    contents = "\n".join(f" Chapter {i}" for i in range(1, 4))
    body = f"CONTENTS\n\n{contents}\n\n\n" + "".join(
        f"Chapter {i}\n\n" + f"Real text of chapter {i}. " * 30 + "\n\n" for i in range(1, 4)
    )
    chapters = split_chapters(body)
    assert [c.title for c in chapters if c.number] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert all("Real text" in c.text for c in chapters if c.number)


def test_text_without_headings_is_one_chapter():
    chapters = split_chapters("Just a story. " * 50)
    assert len(chapters) == 1 and chapters[0].number == 1


@pytest.mark.parametrize(
    "value, number", [("I", 1), ("IV", 4), ("IX", 9), ("XL", 40), ("LXI", 61), ("MCM", 1900)]
)
def test_roman_numerals(value, number):
    assert roman_to_int(value) == number


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_passages_fit_the_window_and_cover_the_text(name):
    document, chapters = parsed(name)
    passages = chunk_chapters(document.body, chapters, count_tokens)
    assert passages
    # Within all-MiniLM-L6-v2's 256 word pieces once [CLS] and [SEP] are added.
    assert max(count_tokens(p.text) for p in passages) + 2 <= 256
    assert max(p.tokens for p in passages) <= DEFAULT_MAX_TOKENS
    assert [p.chunk_index for p in passages] == list(range(len(passages)))
    # Offsets point at the text they came from, chapters never mix.
    for passage in passages[:: max(1, len(passages) // 25)]:
        source = " ".join(document.body[passage.start : passage.end].split())
        assert source == passage.text
        chapter = next(c for c in chapters if c.number == passage.chapter)
        assert chapter.start <= passage.start and passage.end <= chapter.end
    # Every sentence of the book lands in some passage: nothing is cut off.
    words = len(" ".join(c.text for c in chapters).split())
    covered = sum(len(p.text.split()) for p in passages)
    assert covered >= words * 0.99


def test_consecutive_passages_overlap_by_a_sentence():
    document, chapters = parsed("alice-in-wonderland.txt")
    passages = chunk_chapters(document.body, chapters, count_tokens)
    same_chapter = [(a, b) for a, b in itertools.pairwise(passages) if a.chapter == b.chapter]
    overlapping = sum(1 for a, b in same_chapter if b.start < a.end)
    assert overlapping >= len(same_chapter) * 0.9


def test_a_sentence_longer_than_the_window_is_split_at_words():
    body = "Chapter 1\n\n" + " ".join(["extraordinarily"] * 600) + ".\n"
    chapters = split_chapters(body)
    passages = chunk_chapters(body, chapters, count_tokens)
    assert len(passages) >= 3
    assert all(p.tokens <= DEFAULT_MAX_TOKENS for p in passages)


# The markers as they were (`^\s*`: quadratic on runs of blank lines), to check
# the linear ones cut every text exactly where they cut it.
OLD_START = re.compile(
    r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M
)
OLD_END = re.compile(r"^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*?\*{3}\s*$", re.I | re.M)
OLD_END_LINE = re.compile(r"^\s*End of (the )?Project Gutenberg'?s? .*$", re.I | re.M)


def old_strip(text: str) -> tuple[str, HeaderMetadata, bool]:
    start = OLD_START.search(text)
    header, body = (text[: start.start()], text[start.end() :]) if start else ("", text)
    end = OLD_END.search(body) or OLD_END_LINE.search(body)
    if end:
        body = body[: end.start()]
    return body.strip("\n"), _header_metadata(header), bool(start)


def as_tuple(document) -> tuple[str, HeaderMetadata, bool]:
    return document.body, document.metadata, document.had_header


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_linear_markers_cut_every_bundled_novel_as_before(name):
    text = decode((NOVELS / name).read_bytes())
    assert as_tuple(strip_gutenberg(text)) == old_strip(text)


def test_the_linear_markers_find_the_spans_the_old_ones_found():
    pieces = [
        "\n", "\n\n", " ", "\t", "\xa0", "x", "Title: T\n", "Language: French\n",
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***",
        "***  start of this project gutenberg ***",
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***", "End of the Project Gutenberg's X", "***",
    ]  # fmt: skip
    pairs = [
        (OLD_START, gutenberg.START_MARKER),
        (OLD_END, gutenberg.END_MARKER),
        (OLD_END_LINE, gutenberg.END_LINE),
    ]
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        for old, new in pairs:
            match = old.search(text)
            assert gutenberg.find_marker(new, text) == (match.span() if match else None), text
        assert as_tuple(strip_gutenberg(text)) == old_strip(text)


@pytest.mark.parametrize("blank", ["\n", " \n", "\t\n \n"])
def test_the_markers_are_linear_on_runs_of_blank_lines(blank):
    # `^\s*` rescanned the run from every line start: hours on a megabyte of newlines.
    run = blank * (1_000_000 // len(blank))
    assert strip_gutenberg(run).had_header is False
    marked = run + "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n" + run + "Body.\n" + run
    document = strip_gutenberg(marked + "*** END OF THE PROJECT GUTENBERG EBOOK X ***\n" + run)
    assert document.had_header and document.body.strip() == "Body."
