"""The field's exchange formats for characters and lore (pure Python, no
Django): Character Cards V1/V2/V3 as JSON, PNG and CHARX; lorebook_v3,
SillyTavern World Info and character books; V3 decorators. See
/work/shared/FORMATS.md. Everything is read as is and written back losslessly;
every refusal is a FormatError with a message for the reader."""

from .base import LIMITS, FormatError, FormatTooLarge, Limits
from .card import (
    V1,
    V2,
    V3,
    CardFields,
    ImportedCard,
    card_charx,
    card_fields,
    card_json,
    card_png,
    check_card,
    read_card,
    to_v2,
    to_v3,
)
from .charx import Asset
from .decorators import Decorator, parse_decorators
from .lorebook import ImportedBook, book_from_worldinfo, check_book, lorebook_v3, read_lorebook, worldinfo

__all__ = [
    "LIMITS",
    "V1",
    "V2",
    "V3",
    "Asset",
    "CardFields",
    "Decorator",
    "FormatError",
    "FormatTooLarge",
    "ImportedBook",
    "ImportedCard",
    "Limits",
    "book_from_worldinfo",
    "card_charx",
    "card_fields",
    "card_json",
    "card_png",
    "check_book",
    "check_card",
    "lorebook_v3",
    "parse_decorators",
    "read_card",
    "read_lorebook",
    "to_v2",
    "to_v3",
    "worldinfo",
]
