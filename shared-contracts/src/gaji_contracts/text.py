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


# The same rules as JSON Schema patterns (ECMA and Python regex alike), so an
# OpenAPI document states them: no NUL anywhere; and at least one character
# that is not whitespace.
NO_NUL_PATTERN = r"^[^\u0000]*$"
CLEAN_TEXT_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"

# The pattern is documentation only (json_schema_extra): the validator is the rule.
CleanText = Annotated[
    str, AfterValidator(clean_text), Field(json_schema_extra={"pattern": CLEAN_TEXT_PATTERN})
]
NoNulText = Annotated[str, AfterValidator(no_nul), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})]
