"""Passage search: the query embedded once (dense + BM25), one fused
search in the vector store, timings split between embedding and search."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from gaji_ai.embeddings import DenseEmbedder, sparse_query
from gaji_ai.vectors.store import PASSAGES, Hit, SearchFilter, VectorStore


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    embedding_ms: float
    search_ms: float


async def search_passages(
    *,
    store: VectorStore,
    embedder: DenseEmbedder,
    query: str,
    novel_id: str | None,
    top_k: int,
    chapter_from: int | None = None,
    chapter_to: int | None = None,
    min_similarity: float | None = None,
    hybrid: bool = True,
) -> SearchResult:
    """Top passages for `query`. Hybrid (default): dense all-MiniLM ranking
    fused with BM25 by reciprocal rank; `hybrid=False` is dense only (kept
    for the retrieval evaluation). `min_similarity` filters on each hit's
    cosine similarity to the query (so it can drop a passage only BM25
    found: leave it unset to keep them)."""
    started = time.perf_counter()
    dense = (await asyncio.to_thread(embedder.embed, [query]))[0]
    sparse = sparse_query(query) if hybrid else None
    embedded = time.perf_counter()
    hits = await store.search(
        PASSAGES,
        dense=dense,
        sparse=sparse,
        where=SearchFilter(novel_id=novel_id, chapter_from=chapter_from, chapter_to=chapter_to),
        limit=top_k,
    )
    searched = time.perf_counter()
    # Fused scores tie often; break ties by position in the book so the same
    # query always answers in the same order.
    hits.sort(key=lambda h: (-h.score, h.payload.get("chunk_index", 0)))
    if min_similarity is not None:
        hits = [h for h in hits if (h.dense_score or 0.0) >= min_similarity]
    return SearchResult(hits, (embedded - started) * 1000, (searched - embedded) * 1000)
