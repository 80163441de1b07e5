"""Small EPUBs built in memory for the tests (zipfile, by hand)."""

from __future__ import annotations

import io
import zipfile

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

PARAGRAPH = (
    "It was a bright cold day in April, and the clocks were striking thirteen while the wind "
    "swept the dust along the road and the travellers kept walking towards the distant hills."
)


def chapter(heading: str, paragraphs: int = 2, extra: str = "") -> str:
    body = "".join(f"<p>{PARAGRAPH} ({heading} {n})</p>" for n in range(paragraphs))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>The Book</title><style>p {{ color: red }}</style></head>"
        f"<body><h1>{heading}</h1>{extra}{body}</body></html>"
    )


def opf(items: list[tuple[str, str]], spine: list[str], *, title: str = "The Test Book", linear_no=()) -> str:
    manifest = "".join(
        f'<item id="{item_id}" href="{href}" media-type="application/xhtml+xml"/>' for item_id, href in items
    )
    non_linear = ' linear="no"'
    refs = "".join(f'<itemref idref="{idref}"{non_linear if idref in linear_no else ""}/>' for idref in spine)
    return (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{title}</dc:title><dc:creator>Ann Author</dc:creator><dc:language>fr</dc:language>"
        f"</metadata><manifest>{manifest}</manifest><spine>{refs}</spine></package>"
    )


def build(files: dict[str, str | bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def simple_epub(title: str = "The Test Book") -> bytes:
    """Three chapters whose spine order (c3, c1, c2) differs from the file order."""
    return build(
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/c1.xhtml": chapter("The First"),
            "OEBPS/c2.xhtml": chapter("The Second"),
            "OEBPS/c3.xhtml": chapter("The Third"),
            "OEBPS/content.opf": opf(
                [("c1", "c1.xhtml"), ("c2", "c2.xhtml"), ("c3", "c3.xhtml")], ["c3", "c1", "c2"], title=title
            ),
        }
    )
