"""Who is in a conversation's scene, and who answers a message.

A conversation's cast is `{narrator, members: [{character_id, name,
talkativeness}]}`: characters of its novel's extracted cast (by id, checked
against ai's cast of the novel) or named freely (id null), and an optional
narrator. A new conversation starts with the scenario's character (or the
novel's two most central characters) and no narrator.

Who answers (at most MAX_SPEAKERS), the way group chats do it: the speakers
the reader names, in order; otherwise the members the message addresses or
mentions, first mentioned first, then each other member with a chance equal
to its talkativeness (seeded by the message, so a retry chooses the same),
at least one member when there are any, and the narrator last when it is in
the scene. With nobody in the scene the narrator answers."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from gaji_contracts.characters import CastEntry, match_character
from gaji_contracts.conversations import (
    CARD_CHARACTER_PREFIX,
    MAX_CHARACTER_NAME_CHARS,
    MAX_SPEAKERS,
    Speaker,
    SpeakerKind,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.scenarios import ScenarioType

from common.exceptions import ApplicationError
from conversations.card_turns import card_id_of, owner_cards
from integrations.ai import AiUnavailable, novel_cast

MAX_CAST_MEMBERS = 8
# Refusals JSON Schema cannot state (the novel's cast at run time, one entry
# per character); the API document says them in words.
UNKNOWN_CHARACTER = "Not a character of this conversation's novel (see GET /api/ai/novels/{id}/characters)."
UNKNOWN_CARD = "Not one of your imported characters (see GET /api/v1/characters)."
ALREADY = "Already named: each character once."
NAME_OR_ID = "A character needs a character_id or a name."
SPEAKERS_OR_CHARACTER = "Give `speakers` or `character`, not both."
RULES_IN_WORDS = (UNKNOWN_CHARACTER, UNKNOWN_CARD, ALREADY, NAME_OR_ID, SPEAKERS_OR_CHARACTER)
DEFAULT_TALKATIVENESS = 0.5
DEFAULT_MEMBERS = 2
TITLES = {"mr", "mrs", "miss", "ms", "dr", "sir", "lady", "lord", "colonel", "captain", "the"}


@dataclass
class Member:
    character_id: str | None
    name: str
    talkativeness: float = DEFAULT_TALKATIVENESS

    def speaker(self) -> Speaker:
        return Speaker(kind=SpeakerKind.CHARACTER, character_id=self.character_id, name=self.name)

    def json(self) -> dict:
        return {"character_id": self.character_id, "name": self.name, "talkativeness": self.talkativeness}


@dataclass
class Cast:
    narrator: bool = False
    members: list[Member] = field(default_factory=list)

    def json(self) -> dict:
        return {"narrator": self.narrator, "members": [m.json() for m in self.members]}

    @classmethod
    def of(cls, data: dict) -> Cast:
        return cls(
            narrator=bool(data.get("narrator")),
            members=[
                Member(m.get("character_id"), m["name"], float(m.get("talkativeness", DEFAULT_TALKATIVENESS)))
                for m in data.get("members", [])
            ],
        )


def ingested(novel) -> bool:
    return novel is not None and novel.ingestion_status == "completed"


def characters_of(novel, *, strict: bool = False) -> list[CastEntry]:
    """The novel's extracted cast (most mentioned first); [] when it is not
    ingested. When ai cannot say: [] (or AiUnavailable if `strict`)."""
    if not ingested(novel):
        return []
    try:
        return novel_cast(novel.id)
    except AiUnavailable:
        if strict:
            raise
        return []


def default_cast(scenario) -> Cast:
    """The scenario's character (or the novel's two most central) and no narrator."""
    entries = characters_of(scenario.novel)
    parameters = scenario.parameters or {}
    if scenario.scenario_type == ScenarioType.CHARACTER_CHANGE and parameters.get("character"):
        name = str(parameters["character"])[:MAX_CHARACTER_NAME_CHARS]
        entry = match_character(name, entries)
        return Cast(members=[Member(entry.id, entry.name) if entry else Member(None, name)])
    return Cast(members=[Member(e.id, e.name) for e in entries[:DEFAULT_MEMBERS]])


def cast_of(conversation) -> Cast:
    """The stored cast, or the default for its scenario."""
    if conversation.cast:
        return Cast.of(conversation.cast)
    return default_cast(conversation.scenario)


def _unknown(path: str, character_id: str | None = None) -> ApplicationError:
    if card_id_of(character_id) or (character_id or "").startswith(CARD_CHARACTER_PREFIX):
        return ApplicationError("Unknown imported character.", details={path: [UNKNOWN_CARD]})
    return ApplicationError(
        "Unknown character for this novel.",
        details={path: [UNKNOWN_CHARACTER]},
    )


def _known_cards(owner_id, ids: list[str]) -> set[str]:
    """The `card:<id>` ids among `ids` that name the owner's own cards."""
    cards = owner_cards(owner_id, [i for i in map(card_id_of, ids) if i])
    return {f"{CARD_CHARACTER_PREFIX}{card_id}" for card_id in cards}


def _cast_unavailable() -> ApplicationError:
    return ApplicationError(
        "The novel's cast cannot be read right now; retry shortly.",
        status=503,
        code=ErrorCode.AI_UNAVAILABLE,
    )


def _entries_for_ids(novel, ids: list[str]) -> dict[str, CastEntry]:
    if not ids:
        return {}
    try:
        entries = characters_of(novel, strict=True)
    except AiUnavailable:
        raise _cast_unavailable() from None
    return {e.id: e for e in entries}


def checked_cast(data: dict, novel, *, owner_id=None) -> Cast:
    """A reader's cast, its character ids checked against the novel's cast
    or, for `card:<id>`, the owner's imported characters (400 with the field
    for an unknown one)."""
    members = data["members"]
    ids = [m["character_id"] for m in members if m.get("character_id")]
    cards = _known_cards(owner_id, ids)
    known = _entries_for_ids(novel, [i for i in ids if not i.startswith(CARD_CHARACTER_PREFIX)])
    cast = Cast(narrator=data["narrator"])
    seen: set[str] = set()
    for i, member in enumerate(members):
        character_id = member.get("character_id")
        name = member["name"].strip()
        if character_id and character_id not in known and character_id not in cards:
            raise _unknown(f"members.{i}.character_id", character_id)
        key = character_id or name.lower()
        if key in seen:
            raise ApplicationError("A character is in the cast twice.", details={f"members.{i}": [ALREADY]})
        seen.add(key)
        cast.members.append(Member(character_id, name[:MAX_CHARACTER_NAME_CHARS], member["talkativeness"]))
    return cast


def checked_speakers(speakers: list[dict], cast: Cast, novel, *, owner_id=None) -> list[Speaker]:
    """The speakers a reader names, in order: the narrator, a character of
    the novel (or one of the owner's imported characters, `card:<id>`) by id
    (400 for an unknown one), or a character by name."""
    ids = [s["character_id"] for s in speakers if s.get("character_id")]
    in_cast = {m.character_id: m for m in cast.members if m.character_id}
    outside = [i for i in ids if i not in in_cast]
    cards = owner_cards(owner_id, [c for c in map(card_id_of, outside) if c])
    known = _entries_for_ids(novel, [i for i in outside if not i.startswith(CARD_CHARACTER_PREFIX)])
    known.update(
        {
            f"{CARD_CHARACTER_PREFIX}{card.id}": CastEntry(
                id=f"{CARD_CHARACTER_PREFIX}{card.id}", name=card.name
            )
            for card in cards.values()
        }
    )
    chosen: list[Speaker] = []
    for i, wanted in enumerate(speakers):
        if wanted["kind"] == SpeakerKind.NARRATOR:
            speaker = Speaker.narrator()
        elif wanted.get("character_id"):
            character_id = wanted["character_id"]
            member = in_cast.get(character_id)
            entry = known.get(character_id)
            if member is None and entry is None:
                raise _unknown(f"speakers.{i}.character_id", character_id)
            name = member.name if member else entry.name
            speaker = Speaker(kind=SpeakerKind.CHARACTER, character_id=character_id, name=name)
        else:
            name = (wanted.get("name") or "").strip()
            if not name:
                raise ApplicationError(
                    "A character speaker needs a character_id or a name.",
                    details={f"speakers.{i}.name": [NAME_OR_ID]},
                )
            member = next((m for m in cast.members if m.name.lower() == name.lower()), None)
            speaker = member.speaker() if member else Speaker(kind=SpeakerKind.CHARACTER, name=name)
        if speaker in chosen:
            raise ApplicationError("A speaker is named twice.", details={f"speakers.{i}": [ALREADY]})
        chosen.append(speaker)
    return chosen


def _names(member: Member, entries: dict[str, CastEntry]) -> list[str]:
    """The words a message may call a member by: full name, aliases, and
    each name part that is not a title ("Darcy" for "Mr. Darcy")."""
    names = [member.name]
    entry = entries.get(member.character_id or "")
    if entry is not None:
        names += entry.aliases
    parts = [p for n in list(names) for p in re.findall(r"[A-Za-z][A-Za-z'-]+", n)]
    names += [p for p in parts if p.lower() not in TITLES and len(p) > 2]
    return [n for n in names if n.strip()]


def _first_mention(text: str, names: list[str]) -> int | None:
    found = [m.start() for n in names for m in [re.search(rf"\b{re.escape(n)}\b", text, re.IGNORECASE)] if m]
    return min(found) if found else None


def responders(
    cast: Cast, text: str, *, seed: str, entries: list[CastEntry], exclude: Speaker | None = None
) -> list[Speaker]:
    """Who answers `text` when the reader names nobody (see the module doc).
    `exclude`: a speaker who just spoke (the scene goes on with the others)."""
    by_id = {e.id: e for e in entries}
    others = [m for m in cast.members if exclude is None or m.speaker() != exclude]
    members = others or cast.members
    room = MAX_SPEAKERS - (1 if cast.narrator else 0)
    mentioned = sorted(
        (
            (pos, i)
            for i, m in enumerate(members)
            if (pos := _first_mention(text, _names(m, by_id))) is not None
        ),
    )
    chosen = [members[i] for _, i in mentioned]
    rng = random.Random(seed)
    for member in sorted(members, key=lambda m: -m.talkativeness):
        if member not in chosen and rng.random() < member.talkativeness:
            chosen.append(member)
    if not chosen and members:
        chosen.append(max(members, key=lambda m: m.talkativeness))
    speakers = [m.speaker() for m in chosen[:room]]
    if cast.narrator or not speakers:
        speakers.append(Speaker.narrator())
    return speakers
