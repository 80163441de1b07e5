"""CHARX: a zip with `card.json` at its root and the card's files under
`assets/`. Read with zip-bomb guards; written deterministically."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from .base import LIMITS, MB, FormatError, FormatTooLarge

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
CARD_MEMBER = "card.json"


@dataclass
class Asset:
    path: str
    data: bytes


def check_path(path: str) -> None:
    """Refuse absolute paths, drive letters, `..` and empty segments."""
    parts = path.replace("\\", "/").split("/")
    if (
        not path
        or path.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", path)
        or any(p in ("..", ".") for p in parts)
        or "\0" in path
    ):
        raise FormatError(f"The CHARX file holds a member with an unsafe path ({path[:200]!r}).")


def read_members(raw: bytes) -> dict[str, bytes]:
    """The archive's files by path (directories left out), after every guard."""
    if len(raw) > LIMITS.charx_bytes:
        raise FormatTooLarge(f"The CHARX file is larger than {LIMITS.charx_bytes // MB} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise FormatError("The CHARX file is not a readable zip archive.") from None
    if len(infos) > LIMITS.charx_members:
        raise FormatError(f"The CHARX file holds more than {LIMITS.charx_members} members.")
    total = 0
    for info in infos:
        check_path(info.filename)
        if info.flag_bits & 0x1:
            raise FormatError(f"The CHARX file holds an encrypted member ({info.filename[:200]!r}).")
        if info.file_size > LIMITS.zip_ratio_min_bytes and info.file_size > LIMITS.zip_ratio * max(
            info.compress_size, 1
        ):
            raise FormatError(
                f"The CHARX file looks like a zip bomb ({info.filename[:200]!r} unpacks too far)."
            )
        total += info.file_size
    if total > LIMITS.charx_uncompressed_bytes:
        raise FormatTooLarge(
            f"The CHARX file unpacks to more than {LIMITS.charx_uncompressed_bytes // MB} MB."
        )
    members: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        if info.filename in members:
            raise FormatError(f"The CHARX file holds {info.filename[:200]!r} twice.")
        try:
            with archive.open(info) as handle:
                data = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError):
            raise FormatError(f"The CHARX file's member {info.filename[:200]!r} is corrupt.") from None
        if len(data) != info.file_size:
            raise FormatError(f"The CHARX file's member {info.filename[:200]!r} is corrupt.")
        members[info.filename] = data
    return members


def write_members(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
