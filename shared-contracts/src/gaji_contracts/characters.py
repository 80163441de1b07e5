"""A novel's character as the ai service serves it (GET
/api/ai/novels/{novel_id}/characters, GET /api/ai/characters/{vectordb_id});
core reads it to set up a conversation."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, Field


class CharacterRelationship(BaseModel):
    """Another character and what they are to this one, as the text says it
    ("her sister Jane": Jane is Elizabeth's sister)."""

    id: str | None = Field(
        default=None,
        description="The other character's id when it is in the stored cast, else null",
    )
    name: str
    relation: str = Field(description='What the other is to this character: "sister", "father", ...')


class FirstAppearance(BaseModel):
    chapter: int = Field(ge=0, description="Chapter number (1 = the first chapter)")
    chapter_title: str = ""
    quote: str = Field(default="", description="The first sentence that names the character")


class Character(BaseModel):
    id: str = Field(description="The character's id: its vector point id, a UUID stable across re-ingestion")
    vectordb_id: str = Field(description="The same id (older name)")
    novel_id: str
    name: str
    aliases: list[str] = Field(description='Other names the text uses: "Lizzy", "Miss Bennet"')
    description: str
    description_source: Literal["text", "llm"] = Field(
        default="text",
        description=(
            "text: sentences chosen from the novel; llm: written from them by the configured remote LLM"
        ),
    )
    personality_traits: list[str]
    role: str = Field(description="main | supporting")
    gender: str = Field(default="", description='"male", "female" or "" (unknown)')
    relationships: list[CharacterRelationship] = Field(default_factory=list)
    first_chapter: int
    first_appearance: FirstAppearance | None = None
    mention_count: int
    dialogue_count: int = 0


def novel_cast_path(novel_id: str) -> str:
    """ai's internal route (service token): a novel's cast in short, for core's scenes."""
    return f"/api/ai/internal/novels/{novel_id}/cast"


class CastEntry(BaseModel):
    """A character as core needs it to set up a scene and find who is addressed."""

    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    mention_count: int = 0
    role: str = ""


class NovelCast(BaseModel):
    novel_id: str
    characters: list[CastEntry] = Field(description="Most mentioned first; [] when not ingested")


Entry = TypeVar("Entry", CastEntry, dict)


def _key(name: str) -> str:
    return " ".join(name.lower().replace(".", " ").split())


def match_character(name: str, cast: list[Entry]) -> Entry | None:
    """The cast member a name refers to: an exact name or alias first, else
    the most mentioned one whose name or alias contains it ("Darcy").
    `cast` is most mentioned first (CastEntry objects or their dicts)."""
    wanted = _key(name)
    if not wanted:
        return None
    partial = None
    for entry in cast:
        data = entry if isinstance(entry, dict) else entry.model_dump()
        names = [_key(data.get("name", "")), *(_key(a) for a in data.get("aliases", []))]
        if wanted in names:
            return entry
        if partial is None and any(wanted in n.split() or n in wanted for n in names if n):
            partial = entry
    return partial


class LoreSource(BaseModel):
    """A passage of the novel a lore entry was taken from (kept in an
    exported lorebook under `extensions["gaji/sources"]`)."""

    passage_id: str
    chapter: int = Field(ge=0)
    chapter_title: str = ""
    chunk_index: int = Field(ge=0)
    quote: str = Field(description="The sentence of the passage that names the subject")


class LoreCharacter(BaseModel):
    character: Character
    sources: list[LoreSource] = Field(default_factory=list, description="At most 3, in reading order")


class LorePlace(BaseModel):
    name: str
    mentions: int = Field(ge=0, description="Passages that name the place")
    description: str = Field(description="The first sentences of the novel that name it")
    sources: list[LoreSource] = Field(default_factory=list, description="At most 3, in reading order")


class NovelLore(BaseModel):
    """GET /api/ai/internal/novels/{id}/lore (core -> ai, service token): what
    core exports as Character Cards and a lorebook: the stored cast with
    the passages each is drawn from, and the places the text names most."""

    novel_id: str
    characters: list[LoreCharacter]
    places: list[LorePlace]


def novel_lore_path(novel_id: str) -> str:
    return f"/api/ai/internal/novels/{novel_id}/lore"
