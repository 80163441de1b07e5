"""Internal vector endpoints (/api/ai/internal/vectors/{collection}/...,
service token): how Celery workers use the embedded Qdrant Edge store the
API process owns (RemoteVectorStore is their client). With QDRANT_URL set,
workers talk to the server directly and these routes simply pass through."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from gaji_contracts.errors import ErrorCode
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import JsonBody, VectorStoreDep
from gaji_ai.embeddings import DENSE_SIZE, Sparse
from gaji_ai.vectors.store import (
    CHARACTERS,
    PASSAGES,
    WINDOWS,
    Hit,
    SearchFilter,
    VectorPoint,
    VectorStoreError,
)

router = APIRouter(prefix="/vectors", tags=["internal"])

Collection = Annotated[Literal["novel_passages", "characters", "passage_windows"], Path()]
MAX_POINTS = 256
# Vectors are float32 in Qdrant. Embeddings are unit vectors and BM25 weights
# are small; a bound far above both keeps every score finite (an infinite one
# cannot be answered as JSON) and every value a float32.
MAX_COMPONENT = 1e6
Component = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_COMPONENT, le=MAX_COMPONENT)]
Dense = Annotated[list[Component], Field(min_length=DENSE_SIZE, max_length=DENSE_SIZE)]
# Qdrant takes UUIDs (or unsigned integers) as point ids; ours are uuid5 strings.
PointId = Annotated[str, Field(pattern=UUID_PATTERN)]
SparseIndex = Annotated[int, Field(ge=0, le=2**32 - 1)]  # uint32


class SparseIn(BaseModel):
    """A sparse vector: one value per index (the two lists have the same
    length), each index once; 400 otherwise (Qdrant Edge panics on an upsert
    whose lists differ in length). Rules between two fields, which JSON Schema
    cannot state."""

    indices: list[SparseIndex] = Field(max_length=4096)
    values: list[Component] = Field(max_length=4096)

    @model_validator(mode="after")
    def _pairs(self) -> SparseIn:
        if len(self.indices) != len(self.values):
            raise ValueError("indices and values must have the same length")
        if len(set(self.indices)) != len(self.indices):
            raise ValueError("indices must be unique")
        return self


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: PointId
    dense: Dense
    sparse: SparseIn | None = None
    payload: dict[str, Any]


class UpsertIn(BaseModel):
    points: list[PointIn] = Field(min_length=1, max_length=MAX_POINTS)


class NovelIn(BaseModel):
    novel_id: str | None = Field(default=None, max_length=64)


class NovelRequired(BaseModel):
    novel_id: str = Field(min_length=1, max_length=64)


class SearchIn(BaseModel):
    dense: Dense
    sparse: SparseIn | None = None
    novel_id: str | None = Field(default=None, max_length=64)
    chapter_from: int | None = None
    chapter_to: int | None = None
    limit: int = Field(default=10, ge=1, le=500)
    fusion: bool = True  # False with a sparse vector: BM25 only


class GetIn(BaseModel):
    id: PointId
    dense: Dense | None = None  # answer the point's cosine to it as dense_score


class ScrollIn(BaseModel):
    novel_id: str = Field(min_length=1, max_length=64)
    limit: int = Field(default=100, ge=1, le=20_000)


class HitOut(BaseModel):
    id: str
    score: float
    payload: dict[str, Any]
    dense_score: float | None = None


def _hit(hit: Hit) -> HitOut:
    return HitOut(id=hit.id, score=hit.score, payload=hit.payload, dense_score=hit.dense_score)


def _sparse(value: SparseIn | None) -> Sparse | None:
    return Sparse(value.indices, value.values) if value else None


async def _guard(coro):
    try:
        return await coro
    except VectorStoreError as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "The vector store is unavailable."
        ) from exc


ERRORS = error_responses(400, 401, 403, 404, 413, 503)
# Routes with a JSON body also refuse other content types (JsonBody).
JSON_ERRORS = error_responses(400, 401, 403, 404, 413, 415, 503)
assert {PASSAGES, CHARACTERS, WINDOWS} == {"novel_passages", "characters", "passage_windows"}


@router.post("/{collection}/upsert", dependencies=[JsonBody], responses=JSON_ERRORS)
async def upsert(collection: Collection, body: UpsertIn, store: VectorStoreDep) -> dict:
    points = [VectorPoint(p.id, p.dense, p.payload, _sparse(p.sparse)) for p in body.points]
    await _guard(store.upsert(collection, points))
    return {"upserted": len(points)}


@router.post("/{collection}/delete", dependencies=[JsonBody], responses=JSON_ERRORS)
async def delete(collection: Collection, body: NovelRequired, store: VectorStoreDep) -> dict:
    await _guard(store.delete_novel(collection, body.novel_id))
    return {"deleted": True}


@router.post("/{collection}/count", dependencies=[JsonBody], responses=JSON_ERRORS)
async def count(collection: Collection, body: NovelIn, store: VectorStoreDep) -> dict:
    return {"count": await _guard(store.count(collection, body.novel_id))}


@router.post("/{collection}/search", dependencies=[JsonBody], responses=JSON_ERRORS)
async def search(collection: Collection, body: SearchIn, store: VectorStoreDep) -> dict:
    where = SearchFilter(body.novel_id, body.chapter_from, body.chapter_to)
    hits = await _guard(
        store.search(
            collection,
            dense=body.dense,
            sparse=_sparse(body.sparse),
            where=where,
            limit=body.limit,
            fusion=body.fusion,
        )
    )
    return {"hits": [_hit(h) for h in hits]}


@router.post("/{collection}/get", dependencies=[JsonBody], responses=JSON_ERRORS)
async def get(collection: Collection, body: GetIn, store: VectorStoreDep) -> dict:
    hit = await _guard(store.get(collection, body.id, dense=body.dense))
    return {"hit": _hit(hit) if hit else None}


@router.post("/{collection}/scroll", dependencies=[JsonBody], responses=JSON_ERRORS)
async def scroll(collection: Collection, body: ScrollIn, store: VectorStoreDep) -> dict:
    hits = await _guard(store.scroll(collection, novel_id=body.novel_id, limit=body.limit))
    return {"hits": [_hit(h) for h in hits]}


@router.post("/{collection}/optimize", responses=ERRORS)
async def optimize(collection: Collection, store: VectorStoreDep) -> dict:
    await _guard(store.optimize(collection))
    return {"optimized": True}
