"""The one rule for text a reader sends: no NUL (PostgreSQL cannot store
U+0000 in text or jsonb), not blank, surrounding whitespace dropped.

`CleanText` is the pydantic type (both services' models use it);
`clean_text` is the same rule as a function, for DRF serializers and
anything else that is not pydantic."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

NUL = "\x00"
NUL_MESSAGE = "must not contain NUL characters"
BLANK_MESSAGE = "must not be blank"


def no_nul(value: str) -> str:
    """Refuse U+0000; the text is kept as is otherwise (titles, quotes, ids)."""
    if NUL in value:
        raise ValueError(NUL_MESSAGE)
    return value


def clean_text(value: str) -> str:
    """Refuse U+0000 and blank text; return it stripped."""
    no_nul(value)
    if not value.strip():
        raise ValueError(BLANK_MESSAGE)
    return value.strip()


# The same rules as JSON Schema patterns, so an OpenAPI document states them:
# no NUL anywhere; and at least one character that is not whitespace. The
# whitespace is spelled out as exactly what str.strip() removes (ECMA's \s
# and Python's differ: U+001C-U+001F and U+0085 are whitespace only to Python).
WHITESPACE_CLASS = (
    r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NO_NUL_PATTERN = r"^[^\u0000]*$"
CLEAN_TEXT_PATTERN = rf"^[^\u0000]*[^{WHITESPACE_CLASS}\u0000][^\u0000]*$"

# The pattern is documentation only (json_schema_extra): the validator is the rule.
CleanText = Annotated[
    str, AfterValidator(clean_text), Field(json_schema_extra={"pattern": CLEAN_TEXT_PATTERN})
]
NoNulText = Annotated[str, AfterValidator(no_nul), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})]
