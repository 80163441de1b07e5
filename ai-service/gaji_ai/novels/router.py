"""A novel's cast and what the vector store holds of it.

GET    /api/ai/novels/{novel_id}/characters
GET    /api/ai/characters/{vectordb_id}
GET    /api/ai/novels/{novel_id}/vectors            what the vector store holds of it
DELETE /api/ai/internal/novels/{novel_id}/vectors   (service token)
GET    /api/ai/internal/novels/{novel_id}/cast      (service token) the cast in short, for core

The public routes answer a novel the caller may not read (someone else's
private novel: gaji_ai.novels.access) as they answer a novel that does not
exist. Ingestion's routes are in gaji_ai.ingestion.router.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from gaji_contracts.characters import (
    CastEntry,
    Character,
    CharacterRelationship,
    FirstAppearance,
    NovelCast,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.novels import NovelVectors

from gaji_ai.auth.dependencies import CurrentUser, ServiceCaller
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import (
    VectorStoreDep,
    store_unavailable_as_503,
)
from gaji_ai.novels.access import NovelAccessDep
from gaji_ai.vectors.store import CHARACTERS, PASSAGES, WINDOWS

router = APIRouter(tags=["novels"])
internal_router = APIRouter(tags=["internal"])
NO_CHARACTERS = "No characters for this novel (not ingested?)."
NO_CHARACTER = "No such character."


def _character(hit) -> Character:
    """A stored character point as the API shows it (points stored before
    relationships and first appearances existed read with empty ones)."""
    p = hit.payload
    first = p.get("first_appearance") or None
    return Character(
        id=hit.id,
        vectordb_id=hit.id,
        novel_id=p.get("novel_id", ""),
        name=p.get("name", ""),
        aliases=p.get("aliases", []),
        description=p.get("description", ""),
        description_source=p.get("description_source", "text"),
        personality_traits=p.get("personality_traits", []),
        role=p.get("role", "supporting"),
        gender=p.get("gender", ""),
        relationships=[CharacterRelationship(**r) for r in p.get("relationships", [])],
        first_chapter=p.get("first_chapter", 0),
        first_appearance=FirstAppearance(**first) if first else None,
        mention_count=p.get("mention_count", 0),
        dialogue_count=p.get("dialogue_count", 0),
    )


@router.get(
    "/novels/{novel_id}/characters",
    response_model=list[Character],
    responses=error_responses(401, 403, 404, 429, 503),
)
async def novel_characters(
    novel_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    user: CurrentUser,
    store: VectorStoreDep,
    access: NovelAccessDep,
) -> list[Character]:
    """The novel's cast, most mentioned first (for a cast picker): each with
    its `id` (as GET /api/ai/characters/{id} takes it), aliases, a
    description chosen from the novel, traits, relationships to the others
    and first appearance."""
    await access.check_readable(novel_id, user, missing=NO_CHARACTERS)
    with store_unavailable_as_503():
        hits = await store.scroll(CHARACTERS, novel_id=novel_id.lower(), limit=100)
    if not hits:
        raise AppError(404, ErrorCode.NOT_FOUND, NO_CHARACTERS)
    return sorted((_character(h) for h in hits), key=lambda c: -c.mention_count)


@router.get(
    "/novels/{novel_id}/vectors",
    response_model=NovelVectors,
    responses=error_responses(400, 401, 403, 429, 503),
)
async def novel_vectors(
    novel_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    user: CurrentUser,
    store: VectorStoreDep,
    access: NovelAccessDep,
) -> NovelVectors:
    """How many passages and characters of the novel the vector store holds:
    the truth about whether it is ingested, whatever core's status says. A
    novel you may not read holds nothing, as one that does not exist."""
    if not await access.readable(novel_id, user):
        return NovelVectors(novel_id=novel_id, passages=0, characters=0, ingested=False)
    with store_unavailable_as_503():
        passages = await store.count(PASSAGES, novel_id.lower())
        characters = await store.count(CHARACTERS, novel_id.lower())
    return NovelVectors(
        novel_id=novel_id, passages=passages, characters=characters, ingested=passages > 0
    )


@router.get(
    "/characters/{vectordb_id}",
    response_model=Character,
    responses=error_responses(401, 403, 404, 429, 503),
)
async def character(
    vectordb_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    user: CurrentUser,
    store: VectorStoreDep,
    access: NovelAccessDep,
) -> Character:
    """One character by its id (the `id` of an entry of
    GET /api/ai/novels/{novel_id}/characters), with the same body."""
    with store_unavailable_as_503():
        hit = await store.get(CHARACTERS, vectordb_id.lower())
    if hit is None:
        raise AppError(404, ErrorCode.NOT_FOUND, NO_CHARACTER)
    await access.check_readable(str(hit.payload.get("novel_id", "")), user, missing=NO_CHARACTER)
    return _character(hit)


@internal_router.delete("/novels/{novel_id}/vectors", responses=error_responses(400, 401, 403, 503))
async def delete_novel_vectors(
    novel_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    caller: ServiceCaller,
    store: VectorStoreDep,
    request: Request,
) -> dict:
    """Remove a novel's passages and characters (service token). Idempotent."""
    with store_unavailable_as_503():
        removed = await store.count(PASSAGES, novel_id.lower())
        await store.delete_novel(PASSAGES, novel_id.lower())
        await store.delete_novel(CHARACTERS, novel_id.lower())
        await store.delete_novel(WINDOWS, novel_id.lower())
    checker = getattr(request.app.state, "novel_checker", None)
    if checker is not None:
        checker.invalidate()
    request.app.state.novel_access.invalidate(novel_id)
    return {"novel_id": novel_id.lower(), "passages_deleted": removed}


@internal_router.get(
    "/novels/{novel_id}/cast",
    response_model=NovelCast,
    responses=error_responses(400, 401, 403, 503),
)
async def novel_cast(
    novel_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    caller: ServiceCaller,
    store: VectorStoreDep,
) -> NovelCast:
    """A novel's cast in short, most mentioned first (service token): what
    core needs to set up a scene and to know who a reader addresses. []
    when the novel has no characters stored."""
    with store_unavailable_as_503():
        hits = await store.scroll(CHARACTERS, novel_id=novel_id.lower(), limit=100)
    entries = [
        CastEntry(
            id=str(h.id),
            name=h.payload.get("name", ""),
            aliases=h.payload.get("aliases", []),
            mention_count=h.payload.get("mention_count", 0),
            role=h.payload.get("role", ""),
        )
        for h in hits
    ]
    entries.sort(key=lambda e: -e.mention_count)
    return NovelCast(novel_id=novel_id.lower(), characters=entries)
