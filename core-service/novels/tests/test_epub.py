"""EPUB -> text (novels/epub.py): spine order, headings, metadata, and
every refusal of a hostile or broken file."""

from __future__ import annotations

import io
import zipfile

import pytest

from novels import epub
from novels.epub import EpubError, read_epub
from novels.tests.epub_factory import CONTAINER, build, chapter, opf, simple_epub


def test_chapters_follow_the_spine_not_the_file_order():
    book = read_epub(simple_epub())
    assert (book.title, book.author, book.language, book.chapters) == ("The Test Book", "Ann Author", "fr", 3)
    headings = [line for line in book.text.splitlines() if line.startswith("CHAPTER")]
    assert headings == ["CHAPTER 1. The Third", "CHAPTER 2. The First", "CHAPTER 3. The Second"]
    # The heading is not repeated as a paragraph; styles never reach the text.
    assert book.text.count("The Third") == 1 + 2  # heading + the two paragraphs that name it
    assert "color: red" not in book.text


def test_script_and_style_are_dropped_and_markup_is_text():
    extra = "<script>alert('x')</script><p>A &lt;b&gt; tag &amp; more</p>"
    data = build(
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/c1.xhtml": chapter("One", extra=extra),
            "OEBPS/content.opf": opf([("c1", "c1.xhtml")], ["c1"]),
        }
    )
    text = read_epub(data).text
    assert "alert" not in text
    assert "A <b> tag & more" in text


def test_non_linear_items_and_missing_headings():
    no_heading = chapter("x").replace("<h1>x</h1>", "")
    data = build(
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/cover.xhtml": chapter("Cover"),
            "OEBPS/c1.xhtml": no_heading,
            "OEBPS/content.opf": opf(
                [("cover", "cover.xhtml"), ("c1", "c1.xhtml")], ["cover", "c1"], linear_no=("cover",)
            ),
        }
    )
    book = read_epub(data)
    assert book.chapters == 1
    assert book.text.startswith("CHAPTER 1. The Book\n\n")  # no heading: the page's <title> names it
    assert "Cover" not in book.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip at all", "not a readable zip archive"),
        (build({"readme.txt": "hello"}), "no META-INF/container.xml"),
        (
            build({"META-INF/container.xml": "<container><rootfiles/></container>"}),
            "names no package document",
        ),
        (
            build({"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": "<package"}),
            "not well-formed XML",
        ),
        (
            build(
                {
                    "META-INF/container.xml": CONTAINER,
                    "OEBPS/content.opf": '<!DOCTYPE p [<!ENTITY a "aaaa">]><package/>',
                }
            ),
            "declares XML entities",
        ),
        (
            build(
                {
                    "META-INF/container.xml": CONTAINER,
                    "OEBPS/content.opf": '<?xml version="1.0" encoding="utf-16"?>'
                    '<!DOCTYPE p [<!ENTITY a "aaaa">]><package/>'.encode("utf-16"),
                }
            ),
            "declares XML entities",  # in UTF-16, where the bytes "<!ENTITY" never appear
        ),
        (
            build({"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": opf([], [])}),
            "has no spine",
        ),
        (
            build(
                {
                    "META-INF/container.xml": CONTAINER,
                    "OEBPS/content.opf": opf([("c1", "missing.xhtml")], ["c1"]),
                }
            ),
            "does not contain it",
        ),
        (
            build(
                {
                    "META-INF/container.xml": CONTAINER,
                    "OEBPS/c1.xhtml": "<html><body><script>x</script></body></html>",
                    "OEBPS/content.opf": opf([("c1", "c1.xhtml")], ["c1"]),
                }
            ),
            "spine holds no text",
        ),
    ],
)
def test_broken_files_are_refused_with_the_reason(data, message):
    with pytest.raises(EpubError, match=message):
        read_epub(data)


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    bomb = build(
        {"META-INF/container.xml": CONTAINER, "OEBPS/c1.xhtml": b"\0" * (5 * 1024 * 1024)},
    )
    assert len(bomb) < 50_000  # 5 MB of zeros compress ~1000x
    with pytest.raises(EpubError, match="zip bomb"):
        read_epub(bomb)


def test_total_uncompressed_size_is_capped(monkeypatch):
    data = simple_epub()
    total = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    monkeypatch.setattr(epub, "MAX_TOTAL_BYTES", total - 1)
    with pytest.raises(EpubError, match="larger than"):
        read_epub(data)
    monkeypatch.setattr(epub, "MAX_TOTAL_BYTES", total)
    assert read_epub(data).chapters == 3


def test_too_many_members_are_refused(monkeypatch):
    monkeypatch.setattr(epub, "MAX_MEMBERS", 3)
    with pytest.raises(EpubError, match="more than 3 files"):
        read_epub(simple_epub())


def test_a_lying_header_is_caught_while_reading(monkeypatch):
    # The archive declares small sizes; what really inflates is counted too.
    monkeypatch.setattr(epub, "MAX_TOTAL_BYTES", 10**9)
    reader = epub._Reader(zipfile.ZipFile(io.BytesIO(simple_epub())))
    with pytest.raises(EpubError, match="inflates past"):
        reader.read("OEBPS/c1.xhtml", limit=10)


def test_encrypted_members_are_refused():
    data = bytearray(simple_epub())
    # Set the "encrypted" flag bit in every central directory entry (PK\1\2, flags at +8).
    start = 0
    while (at := data.find(b"PK\x01\x02", start)) != -1:
        data[at + 8] |= 0x1
        start = at + 4
    with pytest.raises(EpubError, match="encrypted"):
        read_epub(bytes(data))


def _one_chapter(markup: str) -> bytes:
    return build(
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/c1.xhtml": markup,
            "OEBPS/content.opf": opf([("c1", "c1.xhtml")], ["c1"]),
        }
    )


def test_a_member_of_unclosed_tags_is_read_in_linear_time():
    # html.parser rescanned the rest of the member for every "<a": minutes for this one.
    book = read_epub(_one_chapter("<html><body><h1>Start</h1><p>" + "<a" * 200_000))
    assert book.chapters == 1 and "<a<a<a" in book.text


def test_a_member_with_a_marked_section_html_parser_refuses_is_read():
    # html.parser raised AssertionError on "<![foo[": an unhandled error (500) on import.
    book = read_epub(_one_chapter(chapter("One", extra="<![foo[ bar ]]><p>After it.</p>")))
    assert "After it." in book.text
