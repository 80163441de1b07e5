"""Retrieve small, return the surrounding window: two-sentence windows are
built over every chapter and point at the passages holding them; ingestion
stores them beside the passages; the fused search ranks passages by BM25
over passages plus their best window's cosine, returns the passages with
their exact cosine, and falls back to the passages' own vectors for a novel
ingested before windows existed. Real Qdrant Edge; a scripted embedder where
the vectors must be exact, the real model where the wording matters."""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

import pytest

from gaji_ai.embeddings import DENSE_SIZE, LocalEmbedder, count_tokens
from gaji_ai.ingestion.chunking import chunk_chapters, sentence_windows, sentences
from gaji_ai.ingestion.pipeline import passage_id, store_passages
from gaji_ai.ingestion.text import Chapter
from gaji_ai.retrieval.service import _zscores, search_passages
from gaji_ai.vectors.store import PASSAGES, WINDOWS, EdgeVectorStore, SearchFilter

NOVEL = str(uuid.uuid4())

STORY = """CHAPTER I.

Mr. Bingley has taken Netherfield Park. He is a single man of large fortune.
Everybody in Meryton talks of nothing else.

The Bennets had five daughters. Their mother wished to see them married.

CHAPTER II.

Elizabeth walked alone across the muddy fields. Her petticoat was six inches deep in mud.
Miss Bingley laughed at her appearance. Mr. Darcy admired the brightness of her eyes.

CHAPTER III.

Lydia ran away with Mr. Wickham.
"""


def chapters_of(body: str) -> list[Chapter]:
    """A chapter per "CHAPTER" heading (the text after the heading line)."""
    heads = list(re.finditer(r"CHAPTER [IVX]+\.\n", body))
    ends = [h.start() for h in heads[1:]] + [len(body)]
    return [
        Chapter(n, head.group().strip(), head.end(), end)
        for n, (head, end) in enumerate(zip(heads, ends, strict=True), 1)
    ]


def parts(body: str, max_tokens: int = 240):
    chapters = chapters_of(body)
    return chapters, chunk_chapters(body, chapters, count_tokens, max_tokens=max_tokens)


def test_every_sentence_is_in_a_window_of_two_within_its_chapter():
    chapters, passages = parts(STORY, max_tokens=24)  # small passages: windows straddle them
    windows = sentence_windows(STORY, chapters, passages)
    for chapter in chapters:
        said = sentences(STORY[chapter.start : chapter.end])
        mine = [w for w in windows if w.chapter == chapter.number]
        assert len(mine) == max(1, len(said) - 1)  # stride one sentence
        for first, window in enumerate(mine):
            assert window.text == " ".join(said[first : first + 2])
    # A chapter of one sentence is one window of that sentence.
    last = [w for w in windows if w.chapter == chapters[-1].number]
    assert [w.text for w in last] == ["Lydia ran away with Mr. Wickham."]
    assert [w.window_index for w in windows] == list(range(len(windows)))


def test_a_window_points_at_every_passage_holding_one_of_its_sentences():
    chapters, passages = parts(STORY, max_tokens=24)
    windows = sentence_windows(STORY, chapters, passages)
    assert any(len(w.passages) > 1 for w in windows)  # some straddle two passages
    for window in windows:
        held = " ".join(passages[c].text for c in window.passages)
        for sentence in sentences(window.text):
            assert sentence in held
        assert all(passages[c].chapter == window.chapter for c in window.passages)


def test_no_passages_no_windows():
    chapters = [Chapter(1, "One", 0, len(STORY))]
    assert sentence_windows(STORY, chapters, []) == []
    assert sentence_windows("", [], []) == []


def test_zscores_give_a_missing_candidate_the_lowest_score():
    z = _zscores({"a": 3.0, "b": 1.0}, ["a", "b", "c"])
    assert z["a"] > z["b"] == pytest.approx(z["c"])
    assert _zscores({}, ["a"]) == {"a": 0.0}
    assert _zscores({"a": 2.0, "b": 2.0}, ["a", "b"]) == {"a": 0.0, "b": 0.0}  # no spread
    # The whole list known (not cut off): the others score the floor given.
    only = _zscores({"a": 5.0}, ["a", "b", "c"], 0.0)
    assert only["a"] > 0 > only["b"] == only["c"]


class AxisEmbedder:
    """A scripted embedder: a text containing a key word gets that word's axis."""

    name = "axes"
    AXES: ClassVar[dict[str, int]] = {
        "petticoat": 1,
        "fortune": 2,
        "daughters": 3,
        "wickham": 4,
        "eyes": 5,
    }

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [0.0] * DENSE_SIZE
            for word, axis in self.AXES.items():
                if word in text.lower():
                    vector[axis] = 1.0
            if not any(vector):
                vector[0] = 1.0
            norm = sum(v * v for v in vector) ** 0.5
            out.append([v / norm for v in vector])
        return out


@pytest.fixture
async def store(tmp_path):
    opened = await EdgeVectorStore.open(tmp_path / "qdrant")
    yield opened
    await opened.close()


async def ingest(store, embedder, body=STORY, max_tokens=24, progress=None):
    chapters, passages = parts(body, max_tokens)
    stored = await store_passages(
        novel_id=NOVEL,
        title="P&P",
        body=body,
        chapters=chapters,
        passages=passages,
        store=store,
        embedder=embedder,
        batch_size=2,
        progress=progress,
    )
    return chapters, passages, stored


async def test_ingestion_stores_windows_pointing_at_stored_passages(store):
    seen: list[tuple[str, int, int]] = []
    chapters, passages, stored = await ingest(
        store, AxisEmbedder(), progress=lambda *step: seen.append(step)
    )
    assert stored == len(sentence_windows(STORY, chapters, passages))
    # Progress: passages batch by batch, then windows, each ending at its total.
    assert seen[0] == ("passages", 2, len(passages))
    assert [s for s in seen if s[0] == "passages"][-1] == ("passages",) + (len(passages),) * 2
    assert seen[-1] == ("windows", stored, stored)
    assert await store.count(WINDOWS, NOVEL) == stored
    assert await store.count(PASSAGES, NOVEL) == len(passages)
    windows = await store.scroll(WINDOWS, novel_id=NOVEL, limit=100)
    for window in windows:
        assert window.payload["passage_ids"] == [
            passage_id(NOVEL, c) for c in window.payload["chunk_indexes"]
        ]
        for pid in window.payload["passage_ids"]:
            assert await store.get(PASSAGES, pid) is not None
    # Re-ingesting a shorter text replaces, never duplicates.
    _, _, again = await ingest(store, AxisEmbedder(), body=STORY.split("CHAPTER II.")[0])
    assert await store.count(WINDOWS, NOVEL) == again < stored


async def test_the_fused_search_returns_the_passage_of_the_closest_window(store):
    """Two passages share the window closest to the query (they overlap by a
    sentence); BM25 separates them: the one naming the eyes comes first, with
    the passage's own cosine."""
    await ingest(store, AxisEmbedder())
    result = await search_passages(
        store=store,
        embedder=AxisEmbedder(),
        query="what did the gentleman admire? her eyes",
        novel_id=NOVEL,
        top_k=3,
    )
    first = result.hits[0]
    assert "brightness of her eyes" in first.payload["text"]
    assert first.id == passage_id(NOVEL, first.payload["chunk_index"])
    assert first.dense_score == pytest.approx(1.0)  # exact cosine of the passage
    assert all(h.payload["novel_id"] == NOVEL for h in result.hits)
    assert len({h.id for h in result.hits}) == len(result.hits)  # a passage once
    assert result.embedding_ms >= 0 and result.search_ms >= 0


async def test_min_similarity_and_chapters_filter_fused_hits(store):
    await ingest(store, AxisEmbedder())
    kept = await search_passages(
        store=store,
        embedder=AxisEmbedder(),
        query="large fortune of Mr. Bingley",
        novel_id=NOVEL,
        top_k=5,
        min_similarity=0.5,
    )
    assert kept.hits and all(h.dense_score >= 0.5 for h in kept.hits)
    ranged = await search_passages(
        store=store,
        embedder=AxisEmbedder(),
        query="Mr. Bingley",
        novel_id=NOVEL,
        top_k=5,
        chapter_from=2,
        chapter_to=3,
    )
    assert ranged.hits and {h.payload["chapter"] for h in ranged.hits} <= {2, 3}


async def test_a_novel_without_windows_is_searched_on_its_passages(store):
    """Ingested before windows existed: the dense side falls back to the
    passages' own vectors, and the search still finds the answer."""
    await ingest(store, AxisEmbedder())
    await store.delete_novel(WINDOWS, NOVEL)
    result = await search_passages(
        store=store,
        embedder=AxisEmbedder(),
        query="whose petticoat was muddy",
        novel_id=NOVEL,
        top_k=2,
    )
    assert "petticoat" in result.hits[0].payload["text"]
    assert result.hits[0].dense_score is not None


async def test_rrf_and_dense_methods_stay_for_the_evaluation(store):
    await ingest(store, AxisEmbedder())
    for method in ("rrf", "dense"):
        result = await search_passages(
            store=store,
            embedder=AxisEmbedder(),
            query="five daughters",
            novel_id=NOVEL,
            top_k=2,
            method=method,
        )
        assert "daughters" in result.hits[0].payload["text"]


async def test_real_model_finds_a_paraphrase_through_its_window(store):
    """With all-MiniLM: a reader's wording, no rare word shared with the text."""
    embedder = LocalEmbedder()
    await ingest(store, embedder, max_tokens=240)
    result = await search_passages(
        store=store,
        embedder=embedder,
        query="Who eloped with the officer?",
        novel_id=NOVEL,
        top_k=1,
    )
    assert "Lydia ran away with Mr. Wickham." in result.hits[0].payload["text"]
    other = await store.search(
        WINDOWS, dense=embedder.embed(["x"])[0], sparse=None, where=SearchFilter("nope"), limit=5
    )
    assert other == []
