"""Novel metadata as it crosses between ai (ingestion) and core (storage)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gaji_contracts.text import CLEAN_TEXT_PATTERN

# A novel's slug, which is also a scenario's base_story: pride-and-prejudice.
SLUG_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
SLUG_MAX_CHARS = 100
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=SLUG_MAX_CHARS)]


# Counts are PostgreSQL integers.
MAX_COUNT = 2**31 - 1

# Stripped, then 1-300 characters (the pattern: not blank, no NUL).
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    Field(json_schema_extra={"pattern": CLEAN_TEXT_PATTERN}),
]


class IngestionStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    # Was completed, but the ai service's vector store no longer holds its
    # passages (a new store, another QDRANT_URL): answers are not grounded
    # until it is ingested again. Only the ai service sets it.
    MISSING = "missing"


class NovelVectors(BaseModel):
    """What the ai service's vector store holds of one novel: the truth
    about whether it is ingested (core's status follows it)."""

    novel_id: UUID
    passages: int = Field(ge=0)
    characters: int = Field(ge=0)
    ingested: bool = Field(description="True when it holds passages for the novel")


class MissingNovel(BaseModel):
    id: UUID
    slug: str
    expected_passages: int
    found_passages: int


class NovelsCheck(BaseModel):
    """Core's completed novels checked against the vector store (ai /readyz)."""

    checked: int = Field(description="Novels core listed as completed or missing")
    missing: list[MissingNovel] = Field(
        default_factory=list, description="Their passages are not (all) in the vector store"
    )
    checked_at: datetime | None = None


class NovelCreate(BaseModel):
    """POST /api/internal/novels (ai -> core). The slug defaults to one made
    from the title."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    author: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    slug: Slug | None = None
    publication_year: int | None = Field(default=None, ge=-3000, le=2100)
    genre: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    language: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = "en"
    ingestion_status: IngestionStatus = IngestionStatus.PENDING


def _left_out_is_unchanged(schema: dict) -> None:
    """A field is left out to keep it: only publication_year may be sent as
    null (core refuses null elsewhere), so only it is nullable here."""
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [])
        if name != "publication_year" and {"type": "null"} in options:
            (kept,) = [option for option in options if option != {"type": "null"}]
            del prop["anyOf"]
            prop.pop("default", None)
            prop.update(kept)


class NovelUpdate(BaseModel):
    """PATCH /api/internal/novels/{id}: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_left_out_is_unchanged)

    title: Title | None = None
    author: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    publication_year: int | None = Field(default=None, ge=-3000, le=2100)
    genre: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    language: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    ingestion_status: IngestionStatus | None = None
    total_passages: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    total_characters: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    vectordb_collection_id: Annotated[str, StringConstraints(max_length=100)] | None = None


class Novel(BaseModel):
    """A novel's metadata as core stores it."""

    id: UUID
    slug: str
    title: str
    author: str
    publication_year: int | None
    genre: str
    language: str
    ingestion_status: IngestionStatus
    total_passages: int
    total_characters: int
    vectordb_collection_id: str
    created_at: datetime
    updated_at: datetime


class NovelVisibility(StrEnum):
    """Who may see a novel: `public` everyone (the catalogue), `unlisted`
    anyone with its id or slug but no list shows it, `private` its owner
    and staff only (anyone else gets the 404 of a novel that does not
    exist, on core and on ai). Staff ingests are public; readers' imports
    are private unless they choose otherwise."""

    PRIVATE = "private"
    UNLISTED = "unlisted"
    PUBLIC = "public"


class NovelAccess(BaseModel):
    """GET /api/internal/novels/{id}/access (ai -> core, service token):
    who may read a novel's passages, cast and vectors on ai's public routes."""

    id: UUID
    owner_id: UUID | None = Field(description="None for the catalogue's (staff) novels")
    visibility: NovelVisibility


# A reader's import reaches ai as plain text (core decoded it: .txt, .md,
# or an EPUB's spine; or fetched it from a URL). 20 MB of text is ten times
# the longest novel in the bundled library.
MAX_IMPORT_TEXT_CHARS = 20_000_000


class ReaderIngest(BaseModel):
    """POST /api/ai/internal/novels/{novel_id}/ingest (core -> ai, service
    token): ingest this text into the novel core already created (owner,
    visibility, slug), as the same job a staff ingest is. The job's status
    is readable by `created_by` at GET /api/ai/novels/status/{job_id}."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_IMPORT_TEXT_CHARS)]
    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)] = "novel.txt"
    created_by: UUID
    title: Title
    author: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    language: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = "en"


class ReaderIngestAccepted(BaseModel):
    job_id: str
    status: str = "queued"
    estimated_duration_minutes: float
