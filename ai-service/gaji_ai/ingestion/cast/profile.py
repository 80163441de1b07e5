"""What the cast extraction answers: a character's profile, and a novel's cast
(its characters and locations)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CharacterProfile:
    name: str
    aliases: list[str]
    mention_count: int
    first_chapter: int
    role: str  # main | supporting
    description: str
    personality_traits: list[str]
    dialogue_count: int = 0
    gender: str = ""  # male | female | "" (unknown)
    relationships: list[dict] = field(
        default_factory=list
    )  # {name, relation}: "name is my <relation>"
    first_appearance: dict = field(default_factory=dict)  # {chapter, chapter_title, quote}
    evidence: list[str] = field(default_factory=list)  # the best characterising sentences
    description_source: str = "text"  # text (the novel's sentences) | llm (written from them)


@dataclass
class Cast:
    characters: list[CharacterProfile]
    locations: list[str] = field(default_factory=list)
