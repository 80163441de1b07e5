"""A chat turn's grounding, computed once, in the ai API process (which
holds the vector store and a warm embedder) when the turn is accepted:
whom the model plays (the persona, with the character's profile when the
novel is ingested) and the passages retrieved for the reader's message.

It travels to the worker inside the task (gaji_ai.generation.task), so the
worker never opens a vector store nor calls its own service back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gaji_contracts.conversations import (
    GenerationRequest,
)

from gaji_ai.clients.core import CoreClient
from gaji_ai.config import Settings
from gaji_ai.embeddings import dense_embedder
from gaji_ai.generation.prompt import (
    NARRATOR,
    Persona,
    persona_name,
)
from gaji_ai.generation.task import Grounding, Passage, PersonaData, ungrounded
from gaji_ai.novels.reconcile import mark_missing
from gaji_ai.retrieval.service import search_passages
from gaji_ai.vectors.store import CHARACTERS, PASSAGES, VectorStore, VectorStoreError

logger = logging.getLogger("gaji_ai.generation")
PASSAGE_COUNT = 3


def _key(name: str) -> str:
    return " ".join(name.lower().replace(".", " ").split())


def match_profile(name: str, profiles: list[dict]) -> dict | None:
    """The cast member a name refers to: an exact name or alias first, else
    the most mentioned one whose name or alias contains it ("Darcy")."""
    wanted = _key(name)
    if not wanted:
        return None
    partial = None
    for profile in profiles:  # most mentioned first
        names = [_key(profile.get("name", "")), *(_key(a) for a in profile.get("aliases", []))]
        if wanted in names:
            return profile
        if partial is None and any(wanted in n.split() or n in wanted for n in names if n):
            partial = profile
    return partial


def persona_from(name: str, profiles: list[dict]) -> Persona:
    profile = match_profile(name, profiles) if name != NARRATOR else None
    if profile is None:
        return Persona(name)
    return Persona(
        profile.get("name", name),
        description=str(profile.get("description", ""))[:300],
        traits=tuple(profile.get("personality_traits", [])[:6]),
    )


async def _cast(store: VectorStore, novel_id: str) -> list[dict]:
    hits = await store.scroll(CHARACTERS, novel_id=novel_id, limit=100)
    return sorted((h.payload for h in hits), key=lambda p: -int(p.get("mention_count", 0)))


async def ground(
    settings: Settings,
    request: GenerationRequest,
    store: VectorStore,
    *,
    core: CoreClient | None = None,
    embedder: Any = None,
) -> Grounding:
    """The persona (with its profile when the novel is ingested) and the
    passages retrieved for the reader's message. A vector store outage
    degrades to the brief alone rather than failing the turn. When core
    calls the novel ingested but the store holds none of its passages,
    core is corrected (the novel becomes `missing`)."""
    name = persona_name(request)
    if request.novel_id is None:
        return ungrounded(request)
    novel_id = str(request.novel_id)
    try:
        search = search_passages(
            store=store,
            embedder=embedder or dense_embedder(settings),
            query=request.user_message,
            novel_id=novel_id,
            top_k=PASSAGE_COUNT,
        )
        if name == NARRATOR:
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
    return Grounding(persona=PersonaData.of(persona_from(name, profiles)), passages=passages)


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
