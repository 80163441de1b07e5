"""What a turn takes from the reader's cards and lorebooks (the cards app):
the persona of a character imported from a Character Card, and the lorebook
entries that fire on the recent lines.

A card character is in a scene as `character_id = "card:<card id>"`; only
the conversation owner's own cards can join. Lorebooks that can fire: the
books embedded in the scene's card characters first (FORMATS.md: a card's
own book is used by default, before any other), then the conversation's,
then its novel's (a novel's lorebook is shared with every conversation on
the novel: its owner links it for all of them)."""

from __future__ import annotations

import uuid

from gaji_contracts.conversations import (
    CARD_CHARACTER_PREFIX,
    MAX_CARD_TEXT_CHARS,
    MAX_CHARACTER_NAME_CHARS,
    MAX_LORE_ENTRIES,
    CardPersona,
    LoreEntry,
    Speaker,
)

from cards import lore
from cards.models import CharacterCard
from cards.services import books_for_turn

# The lore's share of the prompt, in tokens estimated at 4 characters each
# (core has no tokenizer; ai fits what arrives into the model's window).
LORE_BUDGET_TOKENS = 400
# How many of the newest lines (the reader's message included) keys are
# matched against, at most; a book's own scan_depth can only lower it.
LORE_SCAN_LINES = 8


def card_id_of(character_id: str | None) -> uuid.UUID | None:
    """The card's id in a `card:<uuid>` character id, else None."""
    if not character_id or not character_id.startswith(CARD_CHARACTER_PREFIX):
        return None
    try:
        return uuid.UUID(character_id.removeprefix(CARD_CHARACTER_PREFIX))
    except ValueError:
        return None


def owner_cards(owner_id, card_ids: list[uuid.UUID]) -> dict[uuid.UUID, CharacterCard]:
    """The owner's cards among `card_ids` (one query); others' are left out."""
    if not card_ids:
        return {}
    return {c.id: c for c in CharacterCard.objects.filter(owner_id=owner_id, id__in=card_ids)}


def card_data(document: dict) -> dict:
    """A card's fields whatever its version: V2/V3 keep them under `data`, V1 is flat."""
    data = document.get("data")
    return data if isinstance(data, dict) else document


def _text(data: dict, key: str, limit: int = MAX_CARD_TEXT_CHARS) -> str:
    value = data.get(key)
    return value[:limit] if isinstance(value, str) else ""


def card_persona(card: CharacterCard, name: str) -> CardPersona:
    data = card_data(card.document)
    return CardPersona(
        card_id=card.id,
        name=(name or card.name)[:MAX_CHARACTER_NAME_CHARS],
        nickname=_text(data, "nickname", MAX_CHARACTER_NAME_CHARS),
        description=_text(data, "description"),
        personality=_text(data, "personality"),
        scenario=_text(data, "scenario"),
        system_prompt=_text(data, "system_prompt"),
        post_history_instructions=_text(data, "post_history_instructions"),
    )


def personas_for(owner_id, speakers: list[Speaker]) -> list[CardPersona | None]:
    """Each speaker's card persona (None for a novel's character, the narrator,
    or a card that is no longer the owner's)."""
    ids = [card_id_of(s.character_id) for s in speakers]
    cards = owner_cards(owner_id, [i for i in ids if i])
    return [
        card_persona(cards[i], s.name) if i in cards else None for s, i in zip(speakers, ids, strict=True)
    ]


def lore_for_turn(conversation, lines: list[str], cast_character_ids: list[str]) -> list[LoreEntry]:
    """The lorebook entries that fire on `lines` (oldest first, the reader's
    message last), within LORE_BUDGET_TOKENS, in insertion order."""
    # A card's own book first (FORMATS.md: used by default, before any other
    # lorebook), then the conversation's, then its novel's.
    books = []
    cards = owner_cards(conversation.user_id, [i for i in map(card_id_of, cast_character_ids) if i])
    for card in cards.values():
        book = card_data(card.document).get("character_book")
        if isinstance(book, dict) and isinstance(book.get("entries"), list):
            books.append(
                lore.BookRef(book_id=f"card:{card.id}", name=book.get("name") or card.name, book=book)
            )
    books += books_for_turn(conversation)
    if not books:
        return []
    fired = lore.select_entries(
        books,
        [line for line in lines[-LORE_SCAN_LINES:] if line],
        budget_tokens=LORE_BUDGET_TOKENS,
        turn=conversation.message_count,
    )
    return [
        LoreEntry(
            book=f.book_name[:200],
            name=f.name[:200],
            content=f.content[:MAX_CARD_TEXT_CHARS],
            position=f.position if f.position in ("before_char", "after_char") else "before_char",
            reason=f.reason[:300],
        )
        for f in fired
        if f.content.strip()
    ][:MAX_LORE_ENTRIES]
