"""POST /api/ai/search/passages (users) and its internal twin for core
(POST /api/ai/internal/search/passages, service token). A novel the user
may not read (gaji_ai.novels.access) is answered as one not ingested."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from gaji_contracts.errors import ErrorCode
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gaji_ai.auth.dependencies import CurrentUser, ServiceCaller
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import JsonBody, VectorStoreDep
from gaji_ai.embeddings import dense_embedder
from gaji_ai.novels.access import NovelAccessDep
from gaji_ai.retrieval.service import search_passages
from gaji_ai.vectors.store import PASSAGES, VectorStoreError

router = APIRouter(tags=["search"])
internal_router = APIRouter(tags=["internal"])
MAX_QUERY_CHARS = 2000
NO_NOVEL = "No ingested novel with this id."


class SearchFilters(BaseModel):
    """`chapter_from` must not be after `chapter_to` (400): a rule between two
    fields, which JSON Schema cannot state."""

    model_config = ConfigDict(extra="forbid")

    min_similarity: float | None = Field(default=None, ge=-1.0, le=1.0)
    chapter_from: int | None = Field(default=None, ge=0, le=100_000)
    chapter_to: int | None = Field(default=None, ge=0, le=100_000)

    @model_validator(mode="after")
    def _ordered(self) -> SearchFilters:
        if (
            self.chapter_from is not None
            and self.chapter_to is not None
            and self.chapter_from > self.chapter_to
        ):
            raise ValueError("chapter_from must not be after chapter_to")
        return self


class PassageSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS - 1)
    ]
    novel_id: Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
    top_k: int = Field(default=5, ge=1, le=50)
    filters: SearchFilters = Field(default_factory=SearchFilters)


class PassageMetadata(BaseModel):
    novel_id: str
    novel_title: str
    chapter_title: str
    start_offset: int
    end_offset: int


class PassageOut(BaseModel):
    id: str
    text: str
    similarity_score: float
    chunk_index: int
    chapter: int
    metadata: PassageMetadata


class PassageSearchResult(BaseModel):
    passages: list[PassageOut]
    total_results: int
    query_embedding_time_ms: float
    search_time_ms: float


async def _search(body: PassageSearch, request: Request, store) -> PassageSearchResult:
    novel_id = body.novel_id.lower()
    try:
        result = await search_passages(
            store=store,
            embedder=dense_embedder(request.app.state.settings),
            query=body.query,
            novel_id=novel_id,
            top_k=body.top_k,
            chapter_from=body.filters.chapter_from,
            chapter_to=body.filters.chapter_to,
            min_similarity=body.filters.min_similarity,
        )
        # Only an empty answer needs to know whether the novel exists at all.
        if not result.hits and await store.count(PASSAGES, novel_id) == 0:
            raise AppError(404, ErrorCode.NOT_FOUND, NO_NOVEL)
    except VectorStoreError as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "The vector store is unavailable."
        ) from exc
    passages = [
        PassageOut(
            id=hit.id,
            text=hit.payload.get("text", ""),
            similarity_score=round(hit.dense_score or 0.0, 6),
            chunk_index=hit.payload.get("chunk_index", 0),
            chapter=hit.payload.get("chapter", 0),
            metadata=PassageMetadata(
                novel_id=hit.payload.get("novel_id", novel_id),
                novel_title=hit.payload.get("novel_title", ""),
                chapter_title=hit.payload.get("chapter_title", ""),
                start_offset=hit.payload.get("start_offset", 0),
                end_offset=hit.payload.get("end_offset", 0),
            ),
        )
        for hit in result.hits
    ]
    return PassageSearchResult(
        passages=passages,
        total_results=len(passages),
        query_embedding_time_ms=round(result.embedding_ms, 2),
        search_time_ms=round(result.search_ms, 2),
    )


ERRORS = error_responses(400, 401, 403, 404, 415, 429, 503)


@router.post(
    "/search/passages",
    response_model=PassageSearchResult,
    dependencies=[JsonBody],
    responses=ERRORS,
)
async def search(
    body: PassageSearch,
    request: Request,
    user: CurrentUser,
    store: VectorStoreDep,
    access: NovelAccessDep,
) -> PassageSearchResult:
    """The novel's passages closest to the query: dense all-MiniLM-L6-v2
    fused with BM25 (names and rare words), `similarity_score` the cosine."""
    await access.check_readable(body.novel_id, user, missing=NO_NOVEL)
    return await _search(body, request, store)


@internal_router.post(
    "/search/passages",
    response_model=PassageSearchResult,
    dependencies=[JsonBody],
    responses=ERRORS,
)
async def internal_search(
    body: PassageSearch, request: Request, caller: ServiceCaller, store: VectorStoreDep
) -> PassageSearchResult:
    """The same search for core (service token)."""
    return await _search(body, request, store)
