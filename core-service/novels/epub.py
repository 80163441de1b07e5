"""EPUB -> plain text with the standard library (zipfile, ElementTree,
html.parser): the chapters in the OPF spine's order, each as a
"CHAPTER N. <title>" heading (what ai's chapter splitter reads) and its
paragraphs.

Hostile files are refused before anything is decompressed beyond the
limits: at most MAX_MEMBERS members, MAX_TOTAL_BYTES uncompressed in all
(as the archive declares it, and as really read), no member that inflates
more than MAX_RATIO times past 1 MB, no encrypted member, no XML entity
declarations (billion laughs)."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass
from urllib.parse import unquote
from xml.etree import ElementTree
from xml.parsers import expat

from novels.textual import html_text

MAX_MEMBERS = 2_000
MAX_TOTAL_BYTES = 50 * 1024 * 1024
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_XML_BYTES = 5 * 1024 * 1024  # container.xml and the OPF package document

NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_XHTML_TYPES = {"application/xhtml+xml", "text/html", "application/xml", "text/xml"}


class EpubError(ValueError):
    """Not a usable EPUB; the message says why, for the reader."""


@dataclass(frozen=True)
class EpubBook:
    title: str
    author: str
    language: str
    text: str
    chapters: int


def _checked_archive(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise EpubError("The file is not an EPUB (not a readable zip archive).") from None
    if len(members) > MAX_MEMBERS:
        raise EpubError(f"The EPUB has more than {MAX_MEMBERS} files.")
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise EpubError("The EPUB has encrypted files (DRM); only unencrypted EPUBs can be imported.")
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            raise EpubError("The EPUB looks like a zip bomb (a file inflates more than 100 times).")
    if total > MAX_TOTAL_BYTES:
        raise EpubError(f"The EPUB is larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MB uncompressed.")
    return archive


class _Reader:
    """Reads members, counting the bytes really inflated (a header may lie)."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = {info.filename for info in archive.infolist()}
        self.read_bytes = 0

    def read(self, name: str, limit: int = MAX_TOTAL_BYTES) -> bytes:
        if name not in self.names:
            raise EpubError(f"The EPUB lists '{name[:200]}' but does not contain it.")
        budget = min(limit, MAX_TOTAL_BYTES - self.read_bytes)
        try:
            with self.archive.open(name) as member:
                data = member.read(budget + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
            raise EpubError(f"The EPUB's file '{name[:200]}' cannot be read (corrupt archive).") from None
        if len(data) > budget:
            raise EpubError("The EPUB inflates past its size limit (a zip bomb?).")
        self.read_bytes += len(data)
        return data


def _no_entities(data: bytes, what: str) -> None:
    """Refuse any XML entity declaration (billion laughs, external
    entities), in whatever encoding the document declares: expat reads it
    once with a handler that stops at the first declaration."""
    parser = expat.ParserCreate()

    def refuse(*_args) -> None:
        raise EpubError(f"The EPUB's {what} declares XML entities, which are not accepted.")

    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        raise EpubError(f"The EPUB's {what} is not well-formed XML.") from None


def _xml(data: bytes, what: str) -> ElementTree.Element:
    _no_entities(data, what)
    try:
        # Checked above: no entity declarations, so nothing expands.
        return ElementTree.fromstring(data)  # noqa: S314
    except ElementTree.ParseError:
        raise EpubError(f"The EPUB's {what} is not well-formed XML.") from None


def _text_of(element: ElementTree.Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def read_epub(data: bytes) -> EpubBook:
    """The EPUB's metadata and its spine as text; EpubError when it is not
    an EPUB, is hostile, or holds no text."""
    archive = _checked_archive(data)
    reader = _Reader(archive)
    if "META-INF/container.xml" not in reader.names:
        raise EpubError("The file is not an EPUB (no META-INF/container.xml).")
    container = _xml(reader.read("META-INF/container.xml", MAX_XML_BYTES), "container.xml")
    rootfile = container.find(".//c:rootfile", NS)
    opf_path = rootfile.get("full-path") if rootfile is not None else None
    if not opf_path:
        raise EpubError("The EPUB's container.xml names no package document.")
    package = _xml(reader.read(opf_path, MAX_XML_BYTES), "package document")
    base = posixpath.dirname(opf_path)

    metadata = package.find("opf:metadata", NS)
    title = _text_of(metadata.find("dc:title", NS)) if metadata is not None else ""
    author = _text_of(metadata.find("dc:creator", NS)) if metadata is not None else ""
    language = _text_of(metadata.find("dc:language", NS)) if metadata is not None else ""

    manifest: dict[str, tuple[str, str, str]] = {}
    for item in package.iterfind("opf:manifest/opf:item", NS):
        href = item.get("href") or ""
        path = posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))
        manifest[item.get("id") or ""] = (path, item.get("media-type") or "", item.get("properties") or "")
    spine = package.findall("opf:spine/opf:itemref", NS)
    if not spine:
        raise EpubError("The EPUB's package document has no spine (no reading order).")

    sections: list[str] = []
    seen: set[str] = set()
    for ref in spine:
        if (ref.get("linear") or "yes").lower() == "no":
            continue  # covers, notes: outside the reading order
        entry = manifest.get(ref.get("idref") or "")
        if entry is None:
            continue
        path, media_type, properties = entry
        if media_type not in _XHTML_TYPES or "nav" in properties.split() or path in seen:
            continue
        seen.add(path)
        markup = reader.read(path).decode("utf-8", errors="replace")
        heading, page_title, paragraphs = html_text(markup, take_heading=True)
        if not paragraphs:
            continue
        number = len(sections) + 1
        # A page's <title> is often the book's own: only a different one names the chapter.
        name = heading or (page_title if page_title and page_title != title else None)
        line = f"CHAPTER {number}. {name}" if name else f"CHAPTER {number}."
        sections.append("\n\n".join([line, *paragraphs]))
    if not sections:
        raise EpubError("The EPUB's spine holds no text.")
    return EpubBook(
        title=title[:300],
        author=author[:200],
        language=language[:20],
        text="\n\n\n".join(sections) + "\n",
        chapters=len(sections),
    )
