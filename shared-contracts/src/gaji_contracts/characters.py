"""A novel's character as the ai service serves it (GET
/api/ai/novels/{novel_id}/characters, GET /api/ai/characters/{vectordb_id});
core reads it to set up a conversation."""

from __future__ import annotations

from typing import Literal

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
