"""Where vectors live: one interface, three adapters.

- `EdgeVectorStore`: Qdrant Edge embedded in this process (the default), one
  shard per collection under QDRANT_PATH. An Edge folder can be opened by one
  process only, so the ai API process owns it ...
- `RemoteVectorStore`: ... and the Celery workers reach it through the API's
  internal vector endpoints (/api/ai/internal/vectors/..., service token).
- `ServerVectorStore`: a Qdrant server through qdrant-client when QDRANT_URL
  is set; then every process (API and workers) talks to it directly.

Collections: `novel_passages`, `characters` and `passage_windows`, each
with a dense vector (`dense`, 384-d cosine, all-MiniLM-L6-v2) and a sparse
BM25 vector (`bm25`, IDF applied by the engine; windows carry none), and
payload indexes on `novel_id` (and `chapter`). A search is dense only (no
sparse vector), BM25 only (`fusion=False`), or fuses the dense and the BM25
rankings with reciprocal rank fusion; `dense_score` is each hit's cosine
similarity to the query.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    RangeFloat,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

from gaji_ai.config import Settings
from gaji_ai.embeddings import DENSE_SIZE, Sparse

PASSAGES = "novel_passages"
CHARACTERS = "characters"
# Runs of two sentences of each passage (dense only): what a question is
# matched against before the passages holding them are returned.
WINDOWS = "passage_windows"
COLLECTIONS = (PASSAGES, CHARACTERS, WINDOWS)
DENSE, SPARSE = "dense", "bm25"
# Candidates each ranking contributes before fusion.
PREFETCH_FACTOR, PREFETCH_MIN = 4, 40
# Reciprocal rank fusion's k. The customary 60 flattens the ranks so much that
# a passage low on both lists beats one that BM25 ranks first and the dense
# model misses (a name, a rare word); measured on ai-service/eval (64
# questions, `make eval-retrieval`), a small k keeps each list's top hits.
RRF_K = 2


class VectorStoreError(Exception):
    """The vector store cannot be opened or does not answer."""


@dataclass
class VectorPoint:
    id: str
    dense: list[float]
    payload: dict[str, Any]
    sparse: Sparse | None = None


@dataclass
class Hit:
    id: str
    score: float  # the fused rank score (or the cosine when searching dense only)
    payload: dict[str, Any] = field(default_factory=dict)
    dense_score: float | None = None  # cosine similarity to the query


@dataclass(frozen=True)
class SearchFilter:
    novel_id: str | None = None
    chapter_from: int | None = None
    chapter_to: int | None = None


class VectorStore(Protocol):
    async def ping(self) -> None: ...
    async def close(self) -> None: ...
    async def upsert(self, collection: str, points: list[VectorPoint]) -> None: ...
    async def delete_novel(self, collection: str, novel_id: str) -> None: ...
    async def count(self, collection: str, novel_id: str | None = None) -> int: ...
    async def search(
        self,
        collection: str,
        *,
        dense: list[float],
        sparse: Sparse | None,
        where: SearchFilter,
        limit: int,
        fusion: bool = True,
    ) -> list[Hit]: ...
    async def get(
        self, collection: str, point_id: str, *, dense: list[float] | None = None
    ) -> Hit | None: ...
    async def scroll(self, collection: str, *, novel_id: str, limit: int) -> list[Hit]: ...
    async def optimize(self, collection: str) -> None: ...


def _check_collection(collection: str) -> None:
    if collection not in COLLECTIONS:
        raise KeyError(collection)


def _dot(a: list[float], b: list[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=False)))


def _hit(point, dense: list[float] | None) -> Hit:
    """A found point (Edge or server) as a Hit, with its cosine to `dense`
    when it came with its dense vector."""
    vector = point.vector.get(DENSE) if dense and isinstance(point.vector, dict) else None
    cosine = _dot(dense, vector) if dense and vector else None
    return Hit(str(point.id), getattr(point, "score", 1.0), dict(point.payload or {}), cosine)


# -- Qdrant Edge -----------------------------------------------------------------


def _edge_filter(where: SearchFilter) -> Filter | None:
    must = []
    if where.novel_id:
        must.append(FieldCondition(key="novel_id", match=MatchValue(where.novel_id)))
    if where.chapter_from is not None or where.chapter_to is not None:
        must.append(
            FieldCondition(
                key="chapter", range=RangeFloat(gte=where.chapter_from, lte=where.chapter_to)
            )
        )
    return Filter(must=must) if must else None


class EdgeVectorStore:
    """Qdrant Edge shards under one storage folder, one shard per collection.
    Holding them open claims the folder for this process."""

    def __init__(self, path: Path, shards: dict[str, EdgeShard]) -> None:
        self.path = path
        self._shards = shards
        self._closed = False
        self._optimizing: dict[str, threading.Lock] = {name: threading.Lock() for name in shards}

    @classmethod
    async def open(cls, path: Path) -> EdgeVectorStore:
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: Path) -> EdgeVectorStore:
        shards: dict[str, EdgeShard] = {}
        try:
            path.mkdir(parents=True, exist_ok=True)
            for name in COLLECTIONS:
                shard_path = path / name
                if (shard_path / "edge_config.json").exists():
                    shards[name] = EdgeShard.load(str(shard_path))
                    continue
                shard_path.mkdir(parents=True, exist_ok=True)
                config = EdgeConfig(
                    vectors={DENSE: EdgeVectorParams(size=DENSE_SIZE, distance=Distance.Cosine)},
                    sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
                )
                shard = EdgeShard.create(str(shard_path), config)
                shard.update(
                    UpdateOperation.create_field_index("novel_id", PayloadSchemaType.Keyword)
                )
                shard.update(
                    UpdateOperation.create_field_index("chapter", PayloadSchemaType.Integer)
                )
                shards[name] = shard
        except Exception as exc:  # the bindings raise bare Exception
            for shard in shards.values():
                shard.close()
            raise VectorStoreError(
                f"cannot open Qdrant Edge storage at {path} (is another process using it? "
                "then set QDRANT_URL to a shared Qdrant server)"
            ) from exc
        return cls(path, shards)

    def _shard(self, collection: str) -> EdgeShard:
        if self._closed:
            raise VectorStoreError("vector store is closed")
        _check_collection(collection)
        return self._shards[collection]

    async def _run(self, fn, *args):
        try:
            return await asyncio.to_thread(fn, *args)
        except (KeyError, VectorStoreError):
            raise
        except Exception as exc:
            raise VectorStoreError(f"Qdrant Edge failed: {exc}") from exc

    async def ping(self) -> None:
        await self._run(lambda: self._shard(PASSAGES).info())

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            for shard in self._shards.values():
                await asyncio.to_thread(shard.close)

    async def upsert(self, collection: str, points: list[VectorPoint]) -> None:
        def run() -> None:
            edge_points = [
                Point(
                    id=p.id,
                    vector={
                        DENSE: p.dense,
                        **(
                            {SPARSE: SparseVector(p.sparse.indices, p.sparse.values)}
                            if p.sparse
                            else {}
                        ),
                    },
                    payload=p.payload,
                )
                for p in points
            ]
            self._shard(collection).update(UpdateOperation.upsert_points(edge_points))

        await self._run(run)

    async def delete_novel(self, collection: str, novel_id: str) -> None:
        where = _edge_filter(SearchFilter(novel_id=novel_id))
        await self._run(
            lambda: self._shard(collection).update(UpdateOperation.delete_points_by_filter(where))
        )

    async def count(self, collection: str, novel_id: str | None = None) -> int:
        where = _edge_filter(SearchFilter(novel_id=novel_id))
        return await self._run(
            lambda: self._shard(collection).count(CountRequest(exact=True, filter=where))
        )

    async def search(self, collection, *, dense, sparse, where, limit, fusion=True) -> list[Hit]:
        def run() -> list[Hit]:
            shard = self._shard(collection)
            flt = _edge_filter(where)
            if sparse is not None and not fusion:
                if not sparse.indices:
                    return []
                found = shard.query(
                    QueryRequest(
                        limit=limit,
                        query=Query.Nearest(
                            SparseVector(sparse.indices, sparse.values), using=SPARSE
                        ),
                        filter=flt,
                        with_payload=True,
                        with_vector=[DENSE],
                    )
                )
                return [_hit(p, dense) for p in found]
            if sparse is None or not sparse.indices:
                found = shard.query(
                    QueryRequest(
                        limit=limit,
                        query=Query.Nearest(dense, using=DENSE),
                        filter=flt,
                        with_payload=True,
                    )
                )
                return [Hit(str(p.id), p.score, dict(p.payload or {}), p.score) for p in found]
            depth = max(PREFETCH_MIN, limit * PREFETCH_FACTOR)
            found = shard.query(
                QueryRequest(
                    limit=limit,
                    prefetches=[
                        Prefetch(limit=depth, query=Query.Nearest(dense, using=DENSE), filter=flt),
                        Prefetch(
                            limit=depth,
                            query=Query.Nearest(
                                SparseVector(sparse.indices, sparse.values), using=SPARSE
                            ),
                            filter=flt,
                        ),
                    ],
                    query=Fusion.Rrf(k=RRF_K),
                    with_payload=True,
                    with_vector=[DENSE],
                )
            )
            return [_hit(p, dense) for p in found]

        return await self._run(run)

    async def get(self, collection: str, point_id: str, *, dense=None) -> Hit | None:
        def run() -> Hit | None:
            found = self._shard(collection).retrieve(
                [point_id], with_payload=True, with_vector=[DENSE] if dense else False
            )
            if not found:
                return None
            hit = _hit(found[0], dense)
            hit.score = 1.0
            return hit

        return await self._run(run)

    async def scroll(self, collection: str, *, novel_id: str, limit: int) -> list[Hit]:
        def run() -> list[Hit]:
            records, _ = self._shard(collection).scroll(
                ScrollRequest(
                    limit=limit,
                    filter=_edge_filter(SearchFilter(novel_id=novel_id)),
                    with_payload=True,
                )
            )
            return [Hit(str(r.id), 1.0, dict(r.payload or {})) for r in records]

        return await self._run(run)

    async def optimize(self, collection: str) -> None:
        """Build the HNSW index after a bulk load (one at a time per collection)."""
        lock = self._optimizing[collection]

        def run() -> None:
            with lock:
                self._shard(collection).optimize()

        await self._run(run)


# -- Qdrant server ---------------------------------------------------------------


def _server_filter(where: SearchFilter) -> qm.Filter | None:
    must: list[qm.Condition] = []
    if where.novel_id:
        must.append(qm.FieldCondition(key="novel_id", match=qm.MatchValue(value=where.novel_id)))
    if where.chapter_from is not None or where.chapter_to is not None:
        must.append(
            qm.FieldCondition(
                key="chapter", range=qm.Range(gte=where.chapter_from, lte=where.chapter_to)
            )
        )
    return qm.Filter(must=must) if must else None


class ServerVectorStore:
    """A Qdrant server (or cluster) shared by every ai process, via qdrant-client.
    Collections are created on first use."""

    def __init__(self, client: AsyncQdrantClient) -> None:
        self._client = client
        self._ready: set[str] = set()
        self._lock = asyncio.Lock()

    @classmethod
    def connect(cls, url: str, *, api_key: str | None, timeout_seconds: float) -> ServerVectorStore:
        # No version check at construction: it would call the server from a
        # background thread at import time; /readyz pings instead.
        client = AsyncQdrantClient(
            url=url,
            api_key=api_key,
            timeout=max(1, round(timeout_seconds)),
            check_compatibility=False,
        )
        return cls(client)

    async def _collection(self, collection: str) -> str:
        _check_collection(collection)
        if collection in self._ready:
            return collection
        async with self._lock:
            if collection not in self._ready:
                try:
                    if not await self._client.collection_exists(collection):
                        await self._client.create_collection(
                            collection,
                            vectors_config={
                                DENSE: qm.VectorParams(size=DENSE_SIZE, distance=qm.Distance.COSINE)
                            },
                            sparse_vectors_config={
                                SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)
                            },
                        )
                        await self._client.create_payload_index(
                            collection, "novel_id", qm.PayloadSchemaType.KEYWORD
                        )
                        await self._client.create_payload_index(
                            collection, "chapter", qm.PayloadSchemaType.INTEGER
                        )
                except Exception as exc:
                    raise VectorStoreError(
                        f"cannot prepare collection {collection}: {exc}"
                    ) from exc
                self._ready.add(collection)
        return collection

    async def _call(self, coro):
        try:
            return await coro
        except Exception as exc:  # httpx, grpc and qdrant errors alike
            raise VectorStoreError(f"Qdrant server failed: {type(exc).__name__}") from exc

    async def ping(self) -> None:
        await self._call(self._client.get_collections())

    async def close(self) -> None:
        await self._client.close()

    async def upsert(self, collection: str, points: list[VectorPoint]) -> None:
        name = await self._collection(collection)
        structs = [
            qm.PointStruct(
                id=p.id,
                vector={
                    DENSE: p.dense,
                    **(
                        {SPARSE: qm.SparseVector(indices=p.sparse.indices, values=p.sparse.values)}
                        if p.sparse
                        else {}
                    ),
                },
                payload=p.payload,
            )
            for p in points
        ]
        await self._call(self._client.upsert(name, points=structs, wait=True))

    async def delete_novel(self, collection: str, novel_id: str) -> None:
        name = await self._collection(collection)
        selector = qm.FilterSelector(filter=_server_filter(SearchFilter(novel_id=novel_id)))
        await self._call(self._client.delete(name, points_selector=selector, wait=True))

    async def count(self, collection: str, novel_id: str | None = None) -> int:
        name = await self._collection(collection)
        result = await self._call(
            self._client.count(
                name, count_filter=_server_filter(SearchFilter(novel_id=novel_id)), exact=True
            )
        )
        return result.count

    async def search(self, collection, *, dense, sparse, where, limit, fusion=True) -> list[Hit]:
        name = await self._collection(collection)
        flt = _server_filter(where)
        if sparse is not None and not fusion:
            if not sparse.indices:
                return []
            result = await self._call(
                self._client.query_points(
                    name,
                    query=qm.SparseVector(indices=sparse.indices, values=sparse.values),
                    using=SPARSE,
                    query_filter=flt,
                    limit=limit,
                    with_payload=True,
                    with_vectors=[DENSE],
                )
            )
            return [_hit(p, dense) for p in result.points]
        if sparse is None or not sparse.indices:
            result = await self._call(
                self._client.query_points(
                    name, query=dense, using=DENSE, query_filter=flt, limit=limit, with_payload=True
                )
            )
            return [Hit(str(p.id), p.score, dict(p.payload or {}), p.score) for p in result.points]
        depth = max(PREFETCH_MIN, limit * PREFETCH_FACTOR)
        result = await self._call(
            self._client.query_points(
                name,
                prefetch=[
                    qm.Prefetch(query=dense, using=DENSE, filter=flt, limit=depth),
                    qm.Prefetch(
                        query=qm.SparseVector(indices=sparse.indices, values=sparse.values),
                        using=SPARSE,
                        filter=flt,
                        limit=depth,
                    ),
                ],
                query=qm.RrfQuery(rrf=qm.Rrf(k=RRF_K)),
                limit=limit,
                with_payload=True,
                with_vectors=[DENSE],
            )
        )
        return [_hit(p, dense) for p in result.points]

    async def get(self, collection: str, point_id: str, *, dense=None) -> Hit | None:
        name = await self._collection(collection)
        found = await self._call(
            self._client.retrieve(
                name, ids=[point_id], with_payload=True, with_vectors=[DENSE] if dense else False
            )
        )
        if not found:
            return None
        hit = _hit(found[0], dense)
        hit.score = 1.0
        return hit

    async def scroll(self, collection: str, *, novel_id: str, limit: int) -> list[Hit]:
        name = await self._collection(collection)
        records, _ = await self._call(
            self._client.scroll(
                name,
                scroll_filter=_server_filter(SearchFilter(novel_id=novel_id)),
                limit=limit,
                with_payload=True,
            )
        )
        return [Hit(str(r.id), 1.0, dict(r.payload or {})) for r in records]

    async def optimize(self, collection: str) -> None:
        await self._collection(collection)  # the server indexes on its own


# -- the API's embedded store, seen from a worker ------------------------------------------


class RemoteVectorStore:
    """A worker's handle on the ai API process's embedded store, through the
    internal vector endpoints (gaji_ai/vectors/router.py)."""

    UPSERT_BATCH = 32

    def __init__(
        self,
        base_url: str,
        service_token: str,
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/ai/internal/vectors",
            headers={"Authorization": f"Bearer {service_token}"},
            timeout=max(timeout_seconds, 60.0),
            transport=transport,
        )

    async def _post(self, path: str, body: dict) -> Any:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise VectorStoreError(f"ai API unreachable for vectors: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise VectorStoreError(f"ai API answered {response.status_code} on vectors{path}")
        return response.json()

    async def ping(self) -> None:
        await self._post(f"/{PASSAGES}/count", {})

    async def close(self) -> None:
        await self._client.aclose()

    async def upsert(self, collection: str, points: list[VectorPoint]) -> None:
        # Small requests: 32 points of 384 floats stay well under the API's body limit.
        for start in range(0, len(points), self.UPSERT_BATCH):
            await self._upsert_batch(collection, points[start : start + self.UPSERT_BATCH])

    async def _upsert_batch(self, collection: str, points: list[VectorPoint]) -> None:
        await self._post(
            f"/{collection}/upsert",
            {
                "points": [
                    {
                        "id": p.id,
                        "dense": p.dense,
                        "payload": p.payload,
                        "sparse": {"indices": p.sparse.indices, "values": p.sparse.values}
                        if p.sparse
                        else None,
                    }
                    for p in points
                ]
            },
        )

    async def delete_novel(self, collection: str, novel_id: str) -> None:
        await self._post(f"/{collection}/delete", {"novel_id": novel_id})

    async def count(self, collection: str, novel_id: str | None = None) -> int:
        return (await self._post(f"/{collection}/count", {"novel_id": novel_id}))["count"]

    async def search(self, collection, *, dense, sparse, where, limit, fusion=True) -> list[Hit]:
        body = {
            "dense": dense,
            "sparse": {"indices": sparse.indices, "values": sparse.values} if sparse else None,
            "novel_id": where.novel_id,
            "chapter_from": where.chapter_from,
            "chapter_to": where.chapter_to,
            "limit": limit,
            "fusion": fusion,
        }
        return [Hit(**hit) for hit in (await self._post(f"/{collection}/search", body))["hits"]]

    async def get(self, collection: str, point_id: str, *, dense=None) -> Hit | None:
        hit = (await self._post(f"/{collection}/get", {"id": point_id, "dense": dense}))["hit"]
        return Hit(**hit) if hit else None

    async def scroll(self, collection: str, *, novel_id: str, limit: int) -> list[Hit]:
        return [
            Hit(**hit)
            for hit in (
                await self._post(f"/{collection}/scroll", {"novel_id": novel_id, "limit": limit})
            )["hits"]
        ]

    async def optimize(self, collection: str) -> None:
        await self._post(f"/{collection}/optimize", {})


async def open_vector_store(settings: Settings) -> VectorStore:
    """For the ai API process: a Qdrant server when QDRANT_URL is set, else
    the embedded Qdrant Edge (which this process then owns)."""
    vectors = settings.vectors
    if vectors.qdrant_url:
        return ServerVectorStore.connect(
            vectors.qdrant_url,
            api_key=vectors.qdrant_api_key,
            timeout_seconds=settings.app.http_timeout_seconds,
        )
    return await EdgeVectorStore.open(vectors.qdrant_path)


def worker_vector_store(settings: Settings) -> VectorStore:
    """For a worker: the Qdrant server directly, else the API's embedded store."""
    vectors = settings.vectors
    if vectors.qdrant_url:
        return ServerVectorStore.connect(
            vectors.qdrant_url,
            api_key=vectors.qdrant_api_key,
            timeout_seconds=settings.app.http_timeout_seconds,
        )
    return RemoteVectorStore(
        settings.ingestion.ai_internal_url,
        settings.auth.service_token,
        settings.app.http_timeout_seconds,
    )
