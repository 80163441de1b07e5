"""Passage search: retrieve small, return the surrounding window.

A question is matched two ways, and each way scores passages:
- BM25 over whole passages (names, rare words: where in the book);
- the dense model (all-MiniLM-L6-v2) over runs of two sentences
  (`passage_windows`), a passage scoring as its best window: a reader's
  paraphrase is close to a sentence or two, and lost in 180 words.
Each list is z-scored over the union of candidates (a passage missing from a
list counts as that list's lowest score), and the two are summed with BM25
weighted 1.5 (tuned on the TUNE novels of ai-service/eval, checked on novels
it was not tuned on: `make eval-retrieval`). The passages themselves are
returned, so a hit holds the matched sentences with their context.

A novel ingested before windows existed has none: its dense list then comes
from the passages themselves. `method="rrf"` is the previous ranking (dense
and BM25 over passages fused by reciprocal rank) and `method="dense"` dense
only over passages; both are kept for the retrieval evaluation.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Literal

from gaji_ai.embeddings import DenseEmbedder, Sparse, sparse_query
from gaji_ai.vectors.store import PASSAGES, WINDOWS, Hit, SearchFilter, VectorStore

Method = Literal["fused", "rrf", "dense"]
BM25_WEIGHT, DENSE_WEIGHT = 1.5, 1.0
# Candidates: passages from BM25, windows from the dense model (a few windows
# per passage, so more of them).
BM25_CANDIDATES, WINDOW_CANDIDATES, PASSAGE_CANDIDATES = 100, 300, 100


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    embedding_ms: float
    search_ms: float


def _zscores(
    scores: dict[str, float], keys: list[str], floor: float | None = None
) -> dict[str, float]:
    """z-scores over `keys`; a key without a score takes `floor` (default:
    the lowest score, all that is known of a candidate a list cut off)."""
    if not scores:
        return dict.fromkeys(keys, 0.0)
    if floor is None:
        floor = min(scores.values())
    values = [scores.get(k, floor) for k in keys]
    mean = statistics.fmean(values)
    spread = statistics.pstdev(values) or 1.0
    return {k: (v - mean) / spread for k, v in zip(keys, values, strict=True)}


async def _fused(
    store: VectorStore,
    dense: list[float],
    sparse: Sparse,
    where: SearchFilter,
    top_k: int,
) -> list[Hit]:
    lexical, windows = await asyncio.gather(
        store.search(
            PASSAGES, dense=dense, sparse=sparse, where=where, limit=BM25_CANDIDATES, fusion=False
        ),
        store.search(WINDOWS, dense=dense, sparse=None, where=where, limit=WINDOW_CANDIDATES),
    )
    passages: dict[str, Hit] = {h.id: h for h in lexical}
    bm25 = {h.id: h.score for h in lexical}
    closest: dict[str, float] = {}  # passage id -> its best window's cosine
    for window in windows:
        for pid in window.payload.get("passage_ids", []):
            if window.score > closest.get(pid, -2.0):
                closest[pid] = window.score
    if not windows:  # ingested before windows: the passages themselves
        found = await store.search(
            PASSAGES, dense=dense, sparse=None, where=where, limit=PASSAGE_CANDIDATES
        )
        closest = {h.id: h.score for h in found}
        passages.update({h.id: h for h in found if h.id not in passages})
    keys = sorted(set(bm25) | set(closest))
    # BM25 lists every passage sharing a word with the query unless cut off
    # at BM25_CANDIDATES; any other passage scores 0.
    lexical_z = _zscores(bm25, keys, None if len(lexical) >= BM25_CANDIDATES else 0.0)
    dense_z = _zscores(closest, keys)
    fused = {k: BM25_WEIGHT * lexical_z[k] + DENSE_WEIGHT * dense_z[k] for k in keys}
    ranked = sorted(keys, key=lambda k: -fused[k])[:top_k]
    hits: list[Hit] = []
    for pid in ranked:
        hit = passages.get(pid)
        if hit is None or hit.dense_score is None:
            hit = await store.get(PASSAGES, pid, dense=dense)
        if hit is None:  # a window whose passage is gone (re-ingest under way)
            continue
        hits.append(Hit(hit.id, round(fused[pid], 6), hit.payload, hit.dense_score))
    return hits


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
    method: Method = "fused",
) -> SearchResult:
    """Top passages for `query` (see the module's docstring). Each hit's
    `dense_score` is the passage's cosine similarity to the query;
    `min_similarity` filters on it, after ranking."""
    started = time.perf_counter()
    dense = (await asyncio.to_thread(embedder.embed, [query]))[0]
    sparse = sparse_query(query) if method != "dense" else None
    embedded = time.perf_counter()
    where = SearchFilter(novel_id=novel_id, chapter_from=chapter_from, chapter_to=chapter_to)
    if method == "fused" and sparse is not None:
        hits = await _fused(store, dense, sparse, where, top_k)
    else:
        hits = await store.search(PASSAGES, dense=dense, sparse=sparse, where=where, limit=top_k)
    searched = time.perf_counter()
    # Scores tie often; break ties by position in the book so the same query
    # always answers in the same order.
    hits.sort(key=lambda h: (-h.score, h.payload.get("chunk_index", 0)))
    if min_similarity is not None:
        hits = [h for h in hits if (h.dense_score or 0.0) >= min_similarity]
    return SearchResult(hits, (embedded - started) * 1000, (searched - embedded) * 1000)
