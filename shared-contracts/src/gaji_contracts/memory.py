"""A conversation's memory: what happened in this branch, what each
character knows, how they feel about each other, and layered summaries of
older turns. It belongs to the branch: a fork starts with a copy of its
parent's memory as of the fork, and nothing written later on either side
reaches the other.

core -> ai   GenerationRequest.memory           MemoryContext (the candidates, in priority order)
ai -> core   POST /api/internal/conversations/{id}/memory   MemoryWrite -> MemoryWritten

Who knows an entry (`known_by`): None is everyone in the story (world facts,
the reader's pins); otherwise the keys (`knower_key`) of the characters who
were in the scene when it happened. The narrator knows everything.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gaji_contracts.text import CleanText, NoNulText

MEMORY_PATH = "/api/internal/conversations/{conversation_id}/memory"
MAX_MEMORY_TEXT_CHARS = 500
MAX_SUBJECT_CHARS = 100
MAX_KNOWERS = 16
MAX_KNOWER_CHARS = 110
MAX_RELATIONSHIP_HISTORY = 50
# A conversation's entries (older model- and rule-written ones are dropped first past it).
MAX_MEMORY_ENTRIES = 5000
# What the model or the rule may write after one turn.
MAX_DRAFTS_PER_TURN = 8
# What core hands ai per turn: the candidates ai fits into the prompt's memory budget.
MAX_MEMORY_CANDIDATES = 60
MAX_FOLD_TEXTS = 16
MAX_FOLD_TEXT_CHARS = 4000
# Relationship stance: -100 (hostile) .. 100 (devoted); a turn moves it by at most this.
RELATIONSHIP_MIN, RELATIONSHIP_MAX = -100, 100
MAX_RELATIONSHIP_CHANGE = 30
WORLD = "world"


def memory_path(conversation_id: UUID | str) -> str:
    return MEMORY_PATH.format(conversation_id=conversation_id)


class MemoryKind(StrEnum):
    FACT = "fact"
    EVENT = "event"
    CHARACTER_KNOWLEDGE = "character_knowledge"
    RELATIONSHIP = "relationship"
    SUMMARY = "summary"
    PIN = "pin"


class MemorySource(StrEnum):
    MODEL = "model"
    RULE = "rule"
    READER = "reader"


def knower_key(character_id: str | None, name: str) -> str:
    """Who may know an entry: a character of the novel's cast by id, a
    freely named one by its name (lower case)."""
    if character_id:
        return character_id
    return "name:" + " ".join(name.lower().split())


MemoryText = Annotated[str, StringConstraints(max_length=MAX_MEMORY_TEXT_CHARS)]
Subject = Annotated[NoNulText, StringConstraints(max_length=MAX_SUBJECT_CHARS)]
Knower = Annotated[NoNulText, StringConstraints(min_length=1, max_length=MAX_KNOWER_CHARS)]
Stance = Annotated[int, Field(ge=RELATIONSHIP_MIN, le=RELATIONSHIP_MAX)]


class MemoryItem(BaseModel):
    """One entry as the prompt reads it."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    kind: MemoryKind
    subject: Subject = WORLD
    target: Subject = ""
    text: MemoryText
    value: Stance | None = None
    pinned: bool = False
    known_by: list[Knower] | None = Field(default=None, max_length=MAX_KNOWERS)
    layer: int = Field(default=0, ge=0, le=10)
    position: int = Field(default=0, ge=0, description="The message position it comes from")

    def known_to(self, key: str | None) -> bool:
        """Whether the character `key` may know it (None: the narrator, who knows all)."""
        return key is None or self.known_by is None or key in self.known_by


class FoldJob(BaseModel):
    """Older lines for ai to fold into one summary of `layer` (1: messages;
    2 and up: summaries of the layer below), covering `covers_from` ..
    `covers_to` (message positions)."""

    model_config = ConfigDict(extra="forbid")

    layer: int = Field(ge=1, le=10)
    covers_from: int = Field(ge=0)
    covers_to: int = Field(ge=0)
    texts: list[Annotated[str, StringConstraints(max_length=MAX_FOLD_TEXT_CHARS)]] = Field(
        max_length=MAX_FOLD_TEXTS
    )
    known_by: list[Knower] | None = Field(default=None, max_length=MAX_KNOWERS)
    summaries: list[UUID] = Field(default_factory=list, max_length=MAX_FOLD_TEXTS)


class MemoryContext(BaseModel):
    """core -> ai with every turn: the memory candidates in priority order
    (pins, the newest summary of each layer, then by relevance to the
    message and recency), who is in the scene, the canon boundary and, now
    and then, older lines to fold into a summary."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    entries: list[MemoryItem] = Field(default_factory=list, max_length=MAX_MEMORY_CANDIDATES)
    present: list[Knower] = Field(default_factory=list, max_length=MAX_KNOWERS)
    names: dict[str, Annotated[str, StringConstraints(max_length=MAX_SUBJECT_CHARS)]] = Field(
        default_factory=dict, description="knower key -> the character's name (those present)"
    )
    canon_chapter: int | None = Field(default=None, ge=1, le=100_000)
    position: int = Field(default=0, ge=0, description="The reader's message position")
    fold: FoldJob | None = None


class MemoryDraft(BaseModel):
    """One entry as the model (or the rule) writes it after a turn. The JSON
    schema the model must follow is MemoryDrafts'."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fact", "event", "character_knowledge", "relationship"]
    subject: Annotated[str, StringConstraints(max_length=MAX_SUBJECT_CHARS)] = Field(
        description="The character it is about, or 'world'"
    )
    target: Annotated[str, StringConstraints(max_length=MAX_SUBJECT_CHARS)] = Field(
        default="", description="relationship: the other character"
    )
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MEMORY_TEXT_CHARS)]
    change: int = Field(
        default=0,
        ge=-MAX_RELATIONSHIP_CHANGE,
        le=MAX_RELATIONSHIP_CHANGE,
        description="relationship: how much warmer (+) or colder (-) subject became toward target",
    )


# What the model is asked for: fewer and shorter than a write may hold (every
# token costs a small model on 2 cores; the grammar enforces both).
MODEL_DRAFTS = 4
MODEL_DRAFT_CHARS = 160


def drafts_schema() -> dict:
    """The JSON schema the model must follow (kinds it may write only)."""
    item = MemoryDraft.model_json_schema()
    item.pop("title", None)
    item["properties"]["text"]["maxLength"] = MODEL_DRAFT_CHARS
    for name in ("subject", "target"):
        item["properties"][name]["maxLength"] = 60
    return {
        "type": "object",
        "properties": {"entries": {"type": "array", "items": item, "maxItems": MODEL_DRAFTS}},
        "required": ["entries"],
        "additionalProperties": False,
    }


class MemoryDrafts(BaseModel):
    entries: list[MemoryDraft] = Field(default_factory=list, max_length=MAX_DRAFTS_PER_TURN)


class WrittenDraft(MemoryDraft):
    """A draft with who wrote it (model or rule) and who may know it."""

    source: Literal["model", "rule"]
    known_by: list[Knower] | None = Field(default=None, max_length=MAX_KNOWERS)


class SummaryDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layer: int = Field(ge=1, le=10)
    covers_from: int = Field(ge=0)
    covers_to: int = Field(ge=0)
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MEMORY_TEXT_CHARS * 2)]
    source: Literal["model", "rule"]
    known_by: list[Knower] | None = Field(default=None, max_length=MAX_KNOWERS)
    summaries: list[UUID] = Field(default_factory=list, max_length=MAX_FOLD_TEXTS)


class MemoryWrite(BaseModel):
    """ai -> core after a completed turn: the entries written about it (and a
    summary, when core asked for a fold). A second write about the same
    answer replaces the first (a retry, or the answer regenerated)."""

    model_config = ConfigDict(extra="forbid")

    source_message_id: UUID
    position: int = Field(ge=0)
    present: list[Knower] = Field(
        default_factory=list,
        max_length=MAX_KNOWERS,
        description="Who was in the scene (the turn's MemoryContext)",
    )
    names: dict[str, Annotated[str, StringConstraints(max_length=MAX_SUBJECT_CHARS)]] = Field(
        default_factory=dict, max_length=MAX_KNOWERS, description="knower key -> name, of those present"
    )
    entries: list[WrittenDraft] = Field(default_factory=list, max_length=MAX_DRAFTS_PER_TURN)
    summary: SummaryDraft | None = None


class MemoryWritten(BaseModel):
    written: int
    summarized: bool = False
    replaced: int = Field(default=0, description="Entries of an earlier write about the same answer undone")


# -- the public API's bodies ------------------------------------------------------


class MemoryEntryCreate(BaseModel):
    """A reader's own entry: pinned unless said otherwise (a pin is always
    in the prompt, within its budget). A relationship needs a subject and a
    target; only a relationship has a value (core says so in words)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fact", "event", "character_knowledge", "relationship", "pin"] = "pin"
    subject: CleanText | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    target: CleanText | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    text: CleanText = Field(max_length=MAX_MEMORY_TEXT_CHARS)
    value: Stance | None = None
    pinned: bool = True
    known_by: list[Knower] | None = Field(
        default=None, max_length=MAX_KNOWERS, description="Character keys; null: everyone knows it"
    )


class MemoryEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: CleanText | None = Field(default=None, max_length=MAX_MEMORY_TEXT_CHARS)
    value: Stance | None = None
    pinned: bool | None = None
    known_by: list[Knower] | None = Field(default=None, max_length=MAX_KNOWERS)
    everyone: bool | None = Field(default=None, description="true: known to everyone (known_by null)")


# -- relevance --------------------------------------------------------------------

WORD = re.compile(r"[a-z][a-z'\u2019-]{2,}")
COMMON = frozenset(
    """the and you your was were what did how why who with that this have had for not but
    are his her him she they them then than there their from would could should about when
    which will into out all any one tell said say does been very much more some now know""".split()
)


def words(text: str) -> set[str]:
    """The words that carry meaning (three letters and more, common ones left out)."""
    return {w.strip("'\u2019-") for w in WORD.findall(text.lower())} - COMMON
