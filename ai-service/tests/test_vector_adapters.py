"""The same behaviour from every adapter: Qdrant Edge (real, in a tmp folder)
and the qdrant-client server adapter (against qdrant-client's `:memory:`
mode): upsert replaces by id, filters by novel and chapter, hybrid search
finds a rare name the dense model alone ranks low, delete by novel, count."""

from __future__ import annotations

import uuid

import pytest
from qdrant_client import AsyncQdrantClient

from gaji_ai.embeddings import DENSE_SIZE, sparse_document, sparse_query
from gaji_ai.vectors.store import (
    CHARACTERS,
    PASSAGES,
    WINDOWS,
    EdgeVectorStore,
    SearchFilter,
    ServerVectorStore,
    VectorPoint,
)


def unit(i: int) -> list[float]:
    """A unit vector along axis i (cosine 1 with itself, 0 with the others)."""
    vector = [0.0] * DENSE_SIZE
    vector[i] = 1.0
    return vector


def point(novel: str, index: int, text: str, dense: list[float], chapter: int = 1) -> VectorPoint:
    return VectorPoint(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{novel}/{index}")),
        dense=dense,
        payload={"novel_id": novel, "chunk_index": index, "chapter": chapter, "text": text},
        sparse=sparse_document(text),
    )


@pytest.fixture(params=["edge", "server"])
async def store(request, tmp_path):
    if request.param == "edge":
        opened = await EdgeVectorStore.open(tmp_path / "qdrant")
    else:
        opened = ServerVectorStore(AsyncQdrantClient(location=":memory:"))
    yield opened
    await opened.close()


async def test_upsert_count_get_and_replace(store):
    await store.upsert(PASSAGES, [point("a", 0, "Mr. Bingley took Netherfield.", unit(0))])
    await store.upsert(PASSAGES, [point("a", 0, "Replaced text.", unit(0))])  # same id: replaced
    await store.upsert(PASSAGES, [point("b", 0, "Other novel.", unit(1))])
    assert await store.count(PASSAGES, "a") == 1
    assert await store.count(PASSAGES) == 2
    assert await store.count(CHARACTERS, "a") == 0
    hit = await store.get(PASSAGES, str(uuid.uuid5(uuid.NAMESPACE_URL, "a/0")))
    assert hit.payload["text"] == "Replaced text."
    assert await store.get(PASSAGES, str(uuid.uuid4())) is None


async def test_dense_search_filters_by_novel_and_chapter(store):
    await store.upsert(
        PASSAGES,
        [
            point("a", 0, "one", unit(0), chapter=1),
            point("a", 1, "two", unit(1), chapter=2),
            point("a", 2, "three", unit(2), chapter=3),
            point("b", 0, "elsewhere", unit(0), chapter=1),
        ],
    )
    hits = await store.search(
        PASSAGES, dense=unit(0), sparse=None, where=SearchFilter(novel_id="a"), limit=5
    )
    assert hits[0].payload["text"] == "one" and hits[0].dense_score == pytest.approx(1.0)
    assert {h.payload["novel_id"] for h in hits} == {"a"}
    ranged = await store.search(
        PASSAGES,
        dense=unit(0),
        sparse=None,
        where=SearchFilter("a", chapter_from=2, chapter_to=3),
        limit=5,
    )
    assert sorted(h.payload["chapter"] for h in ranged) == [2, 3]


async def test_hybrid_search_lifts_the_passage_naming_a_rare_word(store):
    # The dense vector points at the wrong passage; only BM25 knows "Pemberley".
    await store.upsert(
        PASSAGES,
        [
            point("a", i, f"An ordinary sentence about the weather, number {i}.", unit(0))
            for i in range(20)
        ]
        + [point("a", 99, "They arrived at Pemberley in the afternoon.", unit(5))],
    )
    dense_only = await store.search(
        PASSAGES, dense=unit(0), sparse=None, where=SearchFilter(novel_id="a"), limit=5
    )
    assert "Pemberley" not in " ".join(h.payload["text"] for h in dense_only)
    hybrid = await store.search(
        PASSAGES,
        dense=unit(0),
        sparse=sparse_query("When did they reach Pemberley?"),
        where=SearchFilter("a"),
        limit=5,
    )
    assert "Pemberley" in " ".join(h.payload["text"] for h in hybrid)
    pemberley = next(h for h in hybrid if "Pemberley" in h.payload["text"])
    assert pemberley.dense_score == pytest.approx(0.0, abs=1e-6)  # its cosine, not the fused score


async def test_delete_novel_and_scroll(store):
    await store.upsert(
        PASSAGES,
        [point("a", i, f"a{i}", unit(i)) for i in range(3)] + [point("b", 0, "b0", unit(0))],
    )
    assert len(await store.scroll(PASSAGES, novel_id="a", limit=10)) == 3
    await store.delete_novel(PASSAGES, "a")
    assert await store.count(PASSAGES, "a") == 0
    assert await store.count(PASSAGES, "b") == 1


async def test_unknown_collection_is_refused(store):
    with pytest.raises(KeyError):
        await store.count("secrets")


async def test_bm25_only_search_and_get_answer_cosines(store):
    """`fusion=False` ranks by BM25 alone (a passage without the word is not a
    hit, however close its vector) and still gives each hit its cosine; `get`
    with a query vector gives the point's cosine to it."""
    await store.upsert(
        PASSAGES,
        [
            point("a", 0, "The housekeeper praised her master at Pemberley.", unit(0)),
            point("a", 1, "A fine morning for a walk.", unit(1)),
        ],
    )
    hits = await store.search(
        PASSAGES,
        dense=unit(1),
        sparse=sparse_query("Pemberley"),
        where=SearchFilter("a"),
        limit=5,
        fusion=False,
    )
    assert [h.payload["chunk_index"] for h in hits] == [0]
    assert hits[0].dense_score == pytest.approx(0.0) and hits[0].score > 0
    none = await store.search(
        PASSAGES,
        dense=unit(1),
        sparse=sparse_query("the of"),  # stop words only: no BM25 terms
        where=SearchFilter("a"),
        limit=5,
        fusion=False,
    )
    assert none == []
    found = await store.get(PASSAGES, str(uuid.uuid5(uuid.NAMESPACE_URL, "a/1")), dense=unit(1))
    assert found.dense_score == pytest.approx(1.0)
    plain = await store.get(PASSAGES, str(uuid.uuid5(uuid.NAMESPACE_URL, "a/1")))
    assert plain.dense_score is None


async def test_windows_are_a_collection_of_their_own(store):
    window = VectorPoint(
        str(uuid.uuid4()), unit(3), {"novel_id": "a", "chapter": 1, "passage_ids": ["p"]}
    )
    await store.upsert(WINDOWS, [window])
    assert await store.count(WINDOWS, "a") == 1 and await store.count(PASSAGES, "a") == 0
    hits = await store.search(WINDOWS, dense=unit(3), sparse=None, where=SearchFilter("a"), limit=5)
    assert hits[0].payload["passage_ids"] == ["p"] and hits[0].score == pytest.approx(1.0)
    await store.delete_novel(WINDOWS, "a")
    assert await store.count(WINDOWS, "a") == 0
