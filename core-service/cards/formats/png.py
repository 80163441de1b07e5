"""PNG chunks: read them (checking signature, lengths and CRCs), find and
replace the card's `tEXt` chunks (`chara`, `ccv3`), write them back."""

from __future__ import annotations

import struct
import zlib

from .base import FormatError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("chara", "ccv3")

Chunk = tuple[bytes, bytes]  # (type, data)


def _name(ctype: bytes) -> str:
    return "".join(c if c.isalnum() else "?" for c in ctype.decode("latin-1"))


def read_chunks(raw: bytes) -> list[Chunk]:
    """Every chunk up to IEND; anything after IEND is dropped."""
    if not raw.startswith(SIGNATURE):
        raise FormatError("The file is not a PNG image (bad signature).")
    chunks: list[Chunk] = []
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(raw):
            raise FormatError("The PNG image is truncated (it ends before its IEND chunk).")
        length, ctype = struct.unpack(">I4s", raw[pos : pos + 8])
        end = pos + 12 + length
        if end > len(raw):
            raise FormatError(f"The PNG image is truncated (its {_name(ctype)} chunk is cut short).")
        data = raw[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", raw[end - 4 : end])
        if zlib.crc32(ctype + data) != crc:
            raise FormatError(
                f"The PNG image is corrupt (the CRC of its {_name(ctype)} chunk does not match)."
            )
        if not chunks and ctype != b"IHDR":
            raise FormatError("The PNG image is corrupt (it does not start with an IHDR chunk).")
        chunks.append((ctype, data))
        pos = end
        if ctype == b"IEND":
            return chunks


def text_keyword(chunk: Chunk) -> str | None:
    """The lower-cased keyword of a tEXt chunk, else None."""
    ctype, data = chunk
    if ctype != b"tEXt" or b"\0" not in data:
        return None
    return data.split(b"\0", 1)[0].decode("latin-1").lower()


def card_texts(chunks: list[Chunk]) -> dict[str, bytes]:
    """The first `chara` and `ccv3` tEXt values, by keyword."""
    found: dict[str, bytes] = {}
    for chunk in chunks:
        keyword = text_keyword(chunk)
        if keyword in CARD_KEYWORDS and keyword not in found:
            found[keyword] = chunk[1].split(b"\0", 1)[1]
    return found


def without_card(chunks: list[Chunk]) -> list[Chunk]:
    return [c for c in chunks if text_keyword(c) not in CARD_KEYWORDS]


def text_chunk(keyword: str, text: bytes) -> Chunk:
    return b"tEXt", keyword.encode("latin-1") + b"\0" + text


def write_chunks(chunks: list[Chunk]) -> bytes:
    out = [SIGNATURE]
    for ctype, data in chunks:
        out.append(struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data)))
    return b"".join(out)


def with_texts(chunks: list[Chunk], texts: list[Chunk]) -> list[Chunk]:
    """`chunks` without the card's chunks, `texts` inserted before IEND."""
    kept = without_card(chunks)
    return kept[:-1] + texts + kept[-1:]


def blank_png(size: int = 32, rgb: bytes = b"\x8a\x8f\x99") -> bytes:
    """A small one-colour PNG, for a card that came without an image."""
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    rows = b"".join(b"\0" + rgb * size for _ in range(size))
    return write_chunks([(b"IHDR", ihdr), (b"IDAT", zlib.compress(rows, 9)), (b"IEND", b"")])
