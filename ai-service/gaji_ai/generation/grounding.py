"""A chat turn's grounding, computed once, in the ai API process (which
holds the vector store and a warm embedder) when the turn is accepted:
whom the model plays (the persona, with the character's profile when the
novel is ingested) and the passages retrieved for the reader's message, up
to the conversation's canon boundary (the spoiler boundary).

It travels to the worker inside the task (gaji_ai.generation.task), so the
worker never opens a vector store nor calls its own service back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gaji_contracts.characters import match_character
from gaji_contracts.conversations import MAX_USER_MESSAGE_CHARS, GenerationRequest, SpeakerKind

from gaji_ai.clients.core import CoreClient
from gaji_ai.config import Settings
from gaji_ai.embeddings import dense_embedder
from gaji_ai.generation.prompt import NARRATOR, Persona
from gaji_ai.generation.task import (
    Grounding,
    Passage,
    PersonaData,
    planned_answers,
    speaker_persona_name,
    ungrounded,
)
from gaji_ai.novels.reconcile import mark_missing
from gaji_ai.retrieval.service import search_passages
from gaji_ai.vectors.store import CHARACTERS, PASSAGES, VectorStore, VectorStoreError

logger = logging.getLogger("gaji_ai.generation")
PASSAGE_COUNT = 3


def persona_from(name: str, profiles: list[dict], character_id: str | None = None) -> Persona:
    profile = None
    if name != NARRATOR:
        by_id = [p for p in profiles if character_id and p.get("id") == character_id]
        profile = by_id[0] if by_id else match_character(name, profiles)
    if profile is None:
        return Persona(name)
    return Persona(
        profile.get("name", name),
        description=str(profile.get("description", ""))[:300],
        traits=tuple(profile.get("personality_traits", [])[:6]),
    )


async def _cast(store: VectorStore, novel_id: str) -> list[dict]:
    hits = await store.scroll(CHARACTERS, novel_id=novel_id, limit=100)
    profiles = [{**h.payload, "id": str(h.id)} for h in hits]
    return sorted(profiles, key=lambda p: -int(p.get("mention_count", 0)))


async def ground(
    settings: Settings,
    request: GenerationRequest,
    store: VectorStore,
    *,
    core: CoreClient | None = None,
    embedder: Any = None,
) -> Grounding:
    """The persona of each answer (with its profile when the novel is
    ingested) and the passages retrieved for the reader's message (for a
    scene that goes on by itself: for its last lines). A vector store outage
    degrades to the brief alone rather than failing the turn. When core
    calls the novel ingested but the store holds none of its passages,
    core is corrected (the novel becomes `missing`)."""
    answers = planned_answers(request)
    if request.novel_id is None:
        return ungrounded(request)
    novel_id = str(request.novel_id)
    query = request.user_message.strip() or " ".join(
        m.content for m in request.recent_messages[-2:]
    )
    if not query.strip():
        return ungrounded(request)
    embedder = embedder or dense_embedder(settings)
    try:
        boundary = await canon_boundary(request, store, embedder)
        search = search_passages(
            store=store,
            embedder=embedder,
            query=query[:MAX_USER_MESSAGE_CHARS],
            novel_id=novel_id,
            top_k=PASSAGE_COUNT,
            chapter_to=boundary,
        )
        if all(a.speaker.kind == SpeakerKind.NARRATOR for a in answers):
            profiles, result = [], await search
        else:
            profiles, result = await asyncio.gather(_cast(store, novel_id), search)
    except VectorStoreError:
        logger.warning(
            "no grounding for %s: vector store unavailable", request.assistant_message_id
        )
        return ungrounded(request)
    passages = [Passage.of(h.id, h.payload) for h in result.hits]
    passages = [p for p in passages if p.text.strip()]
    if not passages and core is not None:
        await _check_missing(core, store, novel_id)
    personas = [
        PersonaData.of_card(a.persona)
        if a.persona
        else PersonaData.of(
            persona_from(speaker_persona_name(a.speaker), profiles, a.speaker.character_id)
        )
        for a in answers
    ]
    return Grounding(
        persona=personas[0], personas=personas, passages=passages, canon_chapter=boundary
    )


# (novel id, the scenario's point) -> the chapter it names; a point's chapter
# never changes while the novel's passages stay.
_POINTS: dict[tuple[str, str], int | None] = {}
MAX_POINTS = 4096


def scenario_point(request: GenerationRequest) -> str:
    parameters = request.scenario.parameters
    return str(parameters.get("change_point") or parameters.get("timeline_point") or "").strip()


async def canon_boundary(
    request: GenerationRequest, store: VectorStore, embedder: Any
) -> int | None:
    """The last chapter canon reaches in this conversation: the reader's
    `canon_chapter`, else the chapter of the passage that best matches the
    point the scenario sits at (its change_point or timeline_point), else
    none."""
    if request.memory is not None and request.memory.canon_chapter:
        return request.memory.canon_chapter
    point = scenario_point(request)
    if not point or request.novel_id is None:
        return None
    key = (str(request.novel_id), point)
    if key not in _POINTS:
        found = await search_passages(
            store=store,
            embedder=embedder,
            query=point[:MAX_USER_MESSAGE_CHARS],
            novel_id=key[0],
            top_k=1,
        )
        chapter = int(found.hits[0].payload.get("chapter") or 0) if found.hits else 0
        if len(_POINTS) >= MAX_POINTS:
            _POINTS.clear()
        _POINTS[key] = chapter or None
    return _POINTS[key]


async def _check_missing(core: CoreClient, store: VectorStore, novel_id: str) -> None:
    """Core called the novel ingested, but no passage came back: correct
    core if the store holds none (the answer is ungrounded either way)."""
    try:
        held = await store.count(PASSAGES, novel_id)
    except VectorStoreError:
        return  # the store is away: that is not evidence the novel is gone
    if held == 0:
        logger.warning("novel %s has no passages in the vector store: answer ungrounded", novel_id)
        await mark_missing(core, novel_id)
