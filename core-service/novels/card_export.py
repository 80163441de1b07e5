"""A novel's cast out as Character Card V3 files, and its places and lore
as a lorebook, in the formats other apps read (cards.formats).

Every lorebook entry keeps the passages it was drawn from under
`extensions["gaji/sources"]` ({passage_id, chapter, chapter_title,
chunk_index, quote}): an app that does not know the key keeps it
(FORMATS.md), and Gaji can show where each fact comes from."""

from __future__ import annotations

import time

from gaji_contracts.characters import LoreCharacter, LoreSource, NovelLore

SOURCES_KEY = "gaji/sources"
KIND_KEY = "gaji/kind"
NOVEL_KEY = "gaji/novel"
CHARACTER_KEY = "gaji/character"
LORE_SCAN_DEPTH = 4
LORE_TOKEN_BUDGET = 400


def _sources(sources: list[LoreSource]) -> list[dict]:
    return [s.model_dump() for s in sources]


def _novel_ref(novel) -> dict:
    return {"id": str(novel.id), "slug": novel.slug, "title": novel.title, "author": novel.author}


def _character_text(entry: LoreCharacter) -> str:
    character = entry.character
    lines = [character.description.strip()] if character.description.strip() else []
    relations = [f"{r.name} ({r.relation})" for r in character.relationships if r.relation]
    if relations:
        lines.append(f"{character.name}'s people: {', '.join(relations)}.")
    return "\n".join(lines) or character.name


def _entry(
    number: int, keys: list[str], content: str, name: str, comment: str, priority: int, extensions: dict
):
    """One lorebook entry (the card-book shape), matched on the names as the text writes them."""
    return {
        "keys": keys,
        "content": content,
        "extensions": extensions,
        "enabled": True,
        "insertion_order": 100 + number,
        "case_sensitive": True,
        "name": name,
        "priority": min(priority, 1000),
        "id": number + 1,
        "comment": comment,
        "selective": False,
        "secondary_keys": [],
        "constant": False,
        "position": "before_char",
        "use_regex": False,
    }


def novel_lorebook(lore: NovelLore, novel) -> dict:
    """The novel's places and characters as a lorebook (the card-book shape
    of Character Card V2/V3): each entry's keys are the names the text uses."""
    entries: list[dict] = []
    for place in lore.places:
        entries.append(
            _entry(
                len(entries),
                [place.name],
                place.description,
                place.name,
                f"A place of {novel.title}, named in {place.mentions} passages",
                place.mentions,
                {KIND_KEY: "place", SOURCES_KEY: _sources(place.sources)},
            )
        )
    for entry in lore.characters:
        character = entry.character
        entries.append(
            _entry(
                len(entries),
                list(dict.fromkeys([character.name, *character.aliases])),
                _character_text(entry),
                character.name,
                f"A character of {novel.title} ({character.role})",
                character.mention_count,
                {KIND_KEY: "character", CHARACTER_KEY: character.id, SOURCES_KEY: _sources(entry.sources)},
            )
        )
    return {
        "name": f"{novel.title}: places and people",
        "description": f"Places and characters of {novel.title}"
        + (f" by {novel.author}" if novel.author else "")
        + ", each entry with the passages it comes from (extensions gaji/sources).",
        "scan_depth": LORE_SCAN_DEPTH,
        "token_budget": LORE_TOKEN_BUDGET,
        "recursive_scanning": False,
        "extensions": {NOVEL_KEY: _novel_ref(novel)},
        "entries": entries,
    }


def character_card(entry: LoreCharacter, novel, book: dict) -> dict:
    """One character of the novel as a Character Card V3 with the novel's
    lorebook embedded (`character_book`)."""
    character = entry.character
    first = character.first_appearance
    story = novel.title + (f" by {novel.author}" if novel.author else "")
    now = int(time.time())
    return {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": character.name,
            "description": _character_text(entry),
            "personality": ", ".join(character.personality_traits),
            "scenario": f"{{{{char}}}} is a character of {story}.",
            "first_mes": first.quote if first and first.quote else "",
            "mes_example": "",
            "creator_notes": f"Exported from Gaji: drawn from the text of {story}. "
            "Each fact's passages are under extensions gaji/sources.",
            "system_prompt": "",
            "post_history_instructions": "",
            "alternate_greetings": [],
            "group_only_greetings": [],
            "character_book": book,
            "tags": [novel.title, "gaji"],
            "creator": "Gaji",
            "character_version": "1",
            "nickname": "",
            "source": [f"gaji:novel:{novel.id}:character:{character.id}"],
            "creation_date": now,
            "modification_date": now,
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
            "extensions": {
                NOVEL_KEY: _novel_ref(novel),
                CHARACTER_KEY: {
                    "id": character.id,
                    "aliases": character.aliases,
                    "role": character.role,
                    "relationships": [r.model_dump() for r in character.relationships],
                    "first_chapter": character.first_chapter,
                },
                SOURCES_KEY: _sources(entry.sources),
            },
        },
    }
