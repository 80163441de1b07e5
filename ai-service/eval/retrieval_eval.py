"""Retrieval quality: dense-only, RRF (dense + BM25 over passages, the ranking
before issue 16) and fused (BM25 over passages + dense over two-sentence
windows, z-scored and summed: what the API answers with).

    cd ai-service && ../.venv/bin/python eval/retrieval_eval.py    (or `make eval-retrieval`)

The five novels in data/novels are ingested in-process into a temporary
Qdrant Edge store, exactly as the ingestion pipeline does it (decode ->
strip_gutenberg -> split_chapters -> chunk_chapters -> the pipeline's own
`store_passages`: passages with all-MiniLM dense + BM25 sparse vectors, and
their two-sentence windows with dense vectors), without core or Celery.
Each novel's id is uuid5 of its file stem.

eval/questions.json holds the set: a list of {"novel": file stem, "question",
"answer": verbatim snippet, "kind": "named" (the question names a rare
person, place or word) or "paraphrase" (a reader's wording)}. Every
question is asked three times through `search_passages` (top_k=5, filtered to
the question's novel): `method="dense"`, `"rrf"` and `"fused"`.

Relevance rule. A question's `answer` is a verbatim snippet (8-25 words) of
the novel; it is checked against the decoded, whitespace-normalised body
before anything else, and the script stops with an error if one is missing.
A hit is relevant when its whitespace-normalised text contains the whole
snippet, or - because a snippet may straddle two passages at a chunk
boundary - the snippet's first or its last ceil(60%) words, in order, as one
contiguous string. The rank of the first relevant hit gives recall@5 (found
at all) and MRR@5 (1/rank, 0 when not in the top 5).

Held-out split. Tuning retrieval on the same questions it is judged on
overfits, so the novels are split: TUNE = pride-and-prejudice,
alice-in-wonderland, metamorphosis; TEST = frankenstein, a-room-with-a-view.
eval/questions_heldout.json holds 40 questions on the TEST novels only
(20 each, all "paraphrase", each with a "chapter" field for reference),
written from the novel text alone, without looking at any retrieval
output; keep it out of tuning. After the main report (unchanged, over the
main set only), a split report follows: recall@5 and MRR@5 per novel and
per split, for each method (held-out results in aggregate only, never per
question, so reading them does not leak the set into tuning), and the
per-query latency by stage (embedding, search, total = wall clock around
`search_passages`; mean and p95 ms). The splits are
  TUNE     main-set questions on the TUNE novels,
  TEST     the held-out questions,
  pre-split  main-set questions on the TEST novels (written before the
           split, so not held out; shown apart, counted only in ALL),
  ALL      every question evaluated.

Options (all optional; no option = `make eval-retrieval`):
  --questions FILE [FILE ...]  main question set(s) (default eval/questions.json)
  --heldout FILE [FILE ...]    held-out set(s) (default eval/questions_heldout.json)
  --no-heldout                 skip the held-out set (the split report then
                               shows TUNE, pre-split and ALL only)
  --no-splits                  print only the original report
  --tune-novels A,B,...        override the TUNE novels (file stems)
  --test-novels A,B,...        override the TEST novels (file stems)
FILE paths are relative to the working directory (ai-service under make).
A held-out question on a novel outside the TEST novels, or one that repeats
a main-set question or answer, stops the run with an error.

This is a report, not a test: it exits 0 whatever the scores.
"""

# ruff: noqa: E402  (the environment must be set before the model libraries load)

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
AI_ROOT = HERE.parent
REPO_ROOT = AI_ROOT.parent
if str(AI_ROOT) not in sys.path:
    sys.path.insert(0, str(AI_ROOT))

from gaji_ai.embeddings import LocalEmbedder, count_tokens
from gaji_ai.ingestion.chunking import Passage, chunk_chapters
from gaji_ai.ingestion.pipeline import store_passages
from gaji_ai.ingestion.text import Chapter, decode, split_chapters, strip_gutenberg
from gaji_ai.retrieval.service import search_passages
from gaji_ai.vectors.store import PASSAGES, WINDOWS, EdgeVectorStore

NOVELS_DIR = REPO_ROOT / "data" / "novels"
QUESTIONS = HERE / "questions.json"
HELDOUT = HERE / "questions_heldout.json"
TUNE_NOVELS = ("pride-and-prejudice", "alice-in-wonderland", "metamorphosis")
TEST_NOVELS = ("frankenstein", "a-room-with-a-view")
NOVELS = (
    "pride-and-prejudice",
    "frankenstein",
    "a-room-with-a-view",
    "alice-in-wonderland",
    "metamorphosis",
)
NOVEL_NAMESPACE = uuid.UUID("0b6f3f5e-3c59-4d0e-9a59-2f7e1c0d4a21")
TOP_K = 5
PARTIAL_FRACTION = 0.6
MIN_WORDS, MAX_WORDS = 8, 25
BATCH = 64
METHODS = (("dense", "dense"), ("rrf", "rrf"), ("fused", "fused"))
LABELS = {"dense": "dense-only", "rrf": "RRF (before)", "fused": "fused"}


def normalize(text: str) -> str:
    return " ".join(text.split())


def novel_id(stem: str) -> str:
    return str(uuid.uuid5(NOVEL_NAMESPACE, stem))


@dataclass(frozen=True)
class Question:
    novel: str
    question: str
    answer: str
    kind: str

    @property
    def needles(self) -> tuple[str, ...]:
        """The whole snippet, then its first and last ceil(60%) words."""
        words = self.answer.split()
        k = math.ceil(PARTIAL_FRACTION * len(words))
        return (self.answer, " ".join(words[:k]), " ".join(words[-k:]))

    def answered_by(self, text: str) -> bool:
        text = normalize(text)
        return any(needle in text for needle in self.needles)


@dataclass
class Novel:
    stem: str
    id: str
    title: str
    body: str  # whitespace-normalised
    passages: list[Passage] = field(default_factory=list)
    text: str = ""  # the body as the pipeline reads it
    chapters: list[Chapter] = field(default_factory=list)


def load_novels() -> dict[str, Novel]:
    novels = {}
    for stem in NOVELS:
        document = strip_gutenberg(decode((NOVELS_DIR / f"{stem}.txt").read_bytes()))
        chapters = split_chapters(document.body)
        novels[stem] = Novel(
            stem=stem,
            id=novel_id(stem),
            title=document.metadata.title or stem.replace("-", " ").title(),
            body=normalize(document.body),
            passages=chunk_chapters(document.body, chapters, count_tokens),
            text=document.body,
            chapters=chapters,
        )
    return novels


def load_questions(novels: dict[str, Novel], path: Path = QUESTIONS) -> list[Question]:
    """The evaluation set, every snippet checked against its novel; any
    problem stops the run (a wrong gold answer makes every score meaningless)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    questions, problems = [], []
    for number, entry in enumerate(raw, 1):
        stem = entry.get("novel", "")
        answer = normalize(entry.get("answer", ""))
        where = f"#{number} ({stem}: {entry.get('question', '')!r})"
        if stem not in novels:
            problems.append(f"{where}: unknown novel {stem!r}")
            continue
        if not entry.get("question", "").strip():
            problems.append(f"{where}: empty question")
        if not MIN_WORDS <= len(answer.split()) <= MAX_WORDS:
            problems.append(f"{where}: answer has {len(answer.split())} words")
        if answer not in novels[stem].body:
            problems.append(f"{where}: answer not found verbatim in the novel: {answer!r}")
        questions.append(
            Question(stem, entry.get("question", "").strip(), answer, entry.get("kind", "-"))
        )
    if problems:
        sys.exit(
            f"{path}: {len(problems)} invalid entr{'y' if len(problems) == 1 else 'ies'}:\n  "
            + "\n  ".join(problems)
        )
    return questions


@dataclass
class Timings:
    embedding_s: float = 0.0
    upsert_s: float = 0.0  # BM25 document vectors + Qdrant upsert
    optimize_s: float = 0.0
    windows: int = 0


class _TimedEmbedder:
    """The embedder, its time counted apart from the store's."""

    def __init__(self, inner: LocalEmbedder, timings: Timings) -> None:
        self.name, self._inner, self._timings = inner.name, inner, timings

    def embed(self, texts: list[str]) -> list[list[float]]:
        began = time.perf_counter()
        try:
            return self._inner.embed(texts)
        finally:
            self._timings.embedding_s += time.perf_counter() - began


async def index(store: EdgeVectorStore, embedder: LocalEmbedder, novels: dict[str, Novel]):
    timings = Timings()
    timed = _TimedEmbedder(embedder, timings)
    for novel in novels.values():
        began, embedding_before = time.perf_counter(), timings.embedding_s
        timings.windows += await store_passages(
            novel_id=novel.id,
            title=novel.title,
            body=novel.text,
            chapters=novel.chapters,
            passages=novel.passages,
            store=store,
            embedder=timed,
            batch_size=BATCH,
        )
        spent = time.perf_counter() - began
        timings.upsert_s += spent - (timings.embedding_s - embedding_before)
    began = time.perf_counter()
    await store.optimize(PASSAGES)
    await store.optimize(WINDOWS)
    timings.optimize_s = time.perf_counter() - began
    for novel in novels.values():
        stored = await store.count(PASSAGES, novel.id)
        if stored != len(novel.passages):
            sys.exit(f"{novel.stem}: {stored} of {len(novel.passages)} passages stored")
    return timings


@dataclass
class Outcome:
    rank: int | None  # 1-based rank of the first relevant hit in the top k
    chunks: list[int]  # chunk_index of each hit, in order
    search_ms: float  # embedding_ms + store_ms, as search_passages reports them
    embedding_ms: float = 0.0  # query embedding (dense, plus BM25 unless dense-only)
    store_ms: float = 0.0  # the vector-store search
    total_ms: float = 0.0  # wall clock around search_passages


async def evaluate(store, embedder, novels, questions) -> dict[str, list[Outcome]]:
    results: dict[str, list[Outcome]] = {name: [] for name, _ in METHODS}
    for q in questions:
        for name, method in METHODS:
            began = time.perf_counter()
            found = await search_passages(
                store=store,
                embedder=embedder,
                query=q.question,
                novel_id=novels[q.novel].id,
                top_k=TOP_K,
                method=method,
            )
            total_ms = (time.perf_counter() - began) * 1000
            rank = next(
                (i for i, hit in enumerate(found.hits, 1) if q.answered_by(hit.payload["text"])),
                None,
            )
            chunks = [hit.payload["chunk_index"] for hit in found.hits]
            results[name].append(
                Outcome(
                    rank,
                    chunks,
                    found.embedding_ms + found.search_ms,
                    found.embedding_ms,
                    found.search_ms,
                    total_ms,
                )
            )
    return results


def recall(outcomes: list[Outcome]) -> float:
    return sum(o.rank is not None for o in outcomes) / len(outcomes) if outcomes else 0.0


def mrr(outcomes: list[Outcome]) -> float:
    return sum(1 / o.rank for o in outcomes if o.rank) / len(outcomes) if outcomes else 0.0


def report(novels, questions, results, timings: Timings, load_s: float, chunk_s: float) -> None:
    total_passages = sum(len(n.passages) for n in novels.values())
    gold = {
        i: [p.chunk_index for p in novels[q.novel].passages if q.answered_by(p.text)]
        for i, q in enumerate(questions)
    }
    rule = (
        f"a hit counts when its text contains the answer snippet, or its first or last "
        f"{PARTIAL_FRACTION:.0%} of words (snippets straddling a chunk boundary)"
    )
    print(
        f"\nRetrieval evaluation: {len(questions)} questions over {len(novels)} novels, "
        f"top_k={TOP_K}, each search filtered to the question's novel.\nRelevance: {rule}.\n"
    )

    print("Indexing (in-process Qdrant Edge, all-MiniLM-L6-v2 on CPU)")
    print(f"  passages            {total_passages:>8}")
    print(f"  windows             {timings.windows:>8}")
    print(f"  model load          {load_s:>8.1f} s")
    print(f"  chunking            {chunk_s:>8.1f} s")
    print(
        f"  embedding           {timings.embedding_s:>8.1f} s"
        f"   (passages and windows: "
        f"{(total_passages + timings.windows) / max(timings.embedding_s, 1e-9):.0f}/s)"
    )
    print(f"  BM25 + upsert       {timings.upsert_s:>8.1f} s")
    print(f"  optimize (HNSW)     {timings.optimize_s:>8.1f} s")
    total = chunk_s + timings.embedding_s + timings.upsert_s + timings.optimize_s
    print(f"  indexing total      {total:>8.1f} s\n")

    print(f"{'method':<14}{'questions':>10}{'recall@5':>10}{'MRR@5':>8}{'query p50 ms':>14}")
    for name, _ in METHODS:
        outcomes = results[name]
        latencies = sorted(o.search_ms for o in outcomes)
        print(
            f"{LABELS[name]:<14}{len(outcomes):>10}{recall(outcomes):>10.3f}"
            f"{mrr(outcomes):>8.3f}{latencies[len(latencies) // 2]:>14.1f}"
        )

    def breakdown(title: str, key) -> None:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, q in enumerate(questions):
            groups[key(q)].append(i)
        header = "".join(f"{m + ' ' + name:>13}" for m in ("R@5", "MRR") for name, _ in METHODS)
        print(f"\n{title:<22}{'n':>4}{header}")
        for group, indexes in groups.items():
            cells = "".join(
                f"{metric([results[name][i] for i in indexes]):>13.3f}"
                for metric in (recall, mrr)
                for name, _ in METHODS
            )
            print(f"{group:<22}{len(indexes):>4}{cells}")

    breakdown("per novel", lambda q: q.novel)
    breakdown("per question kind", lambda q: q.kind)

    for name, _ in METHODS:
        missed = [i for i, o in enumerate(results[name]) if o.rank is None]
        print(f"\nMissed by {LABELS[name]} ({len(missed)}):")
        for i in missed:
            q = questions[i]
            others = ", ".join(
                f"{LABELS[o]}: {f'rank {results[o][i].rank}' if results[o][i].rank else 'missed'}"
                for o, _ in METHODS
                if o != name
            )
            print(
                f"  [{q.novel}] {q.question}\n"
                f"      answer in chunk {gold[i] or 'NONE'}; "
                f"got {results[name][i].chunks}; {others}"
            )

    pairs = list(zip(results["rrf"], results["fused"], strict=True))
    better = sum((f.rank or 99) < (r.rank or 99) for r, f in pairs)
    worse = sum((f.rank or 99) > (r.rank or 99) for r, f in pairs)
    print(f"\nfused ranks the answer higher than RRF on {better} questions, lower on {worse}.")
    unreachable = [i for i, chunks in gold.items() if not chunks]
    if unreachable:
        print(f"{len(unreachable)} question(s) have no passage matching the rule (chunking):")
        for i in unreachable:
            print(f"  [{questions[i].novel}] {questions[i].question}")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def check_heldout(main_set: list[Question], heldout: list[Question], test_novels) -> None:
    """Held-out questions must be on TEST novels and must not repeat the main set."""
    problems = []
    seen_q = {q.question.casefold() for q in main_set}
    for number, q in enumerate(heldout, 1):
        where = f"held-out #{number} ({q.novel}: {q.question!r})"
        if q.novel not in test_novels:
            problems.append(f"{where}: novel is not a TEST novel {tuple(test_novels)}")
        if q.question.casefold() in seen_q:
            problems.append(f"{where}: question repeats the main set")
        for other in main_set:
            if other.novel == q.novel and (other.answer in q.answer or q.answer in other.answer):
                problems.append(f"{where}: answer overlaps main-set answer {other.answer!r}")
    if problems:
        sys.exit(f"{len(problems)} held-out problem(s):\n  " + "\n  ".join(problems))


def split_report(
    novels, questions, results, splits: list[tuple[str, list[int]]], tune, test
) -> None:
    """Recall@5 / MRR@5 per novel and per split, then latency by stage. Held-out
    questions are reported only in aggregate (no per-question misses), so
    that reading this output does not leak the TEST set into tuning."""
    print("\n" + "=" * 78)
    print(
        f"Split report. TUNE novels: {', '.join(tune)}. TEST (held-out) novels: {', '.join(test)}."
    )
    for label, indexes in splits:
        files = sorted({questions[i][0] for i in indexes})
        print(f"  {label:<10} {len(indexes):>4} questions  ({', '.join(files) or '-'})")

    header = "".join(f"{m + ' ' + name:>13}" for m in ("R@5", "MRR") for name, _ in METHODS)

    def row(label: str, indexes: list[int]) -> str:
        cells = "".join(
            f"{metric([results[name][i] for i in indexes]):>13.3f}"
            for metric in (recall, mrr)
            for name, _ in METHODS
        )
        return f"{label:<30}{len(indexes):>4}{cells}"

    print(f"\n{'split / novel':<30}{'n':>4}{header}")
    for label, indexes in splits:
        if not indexes:
            continue
        print(row(label, indexes))
        if label == "ALL":
            continue
        by_novel: dict[str, list[int]] = defaultdict(list)
        for i in indexes:
            by_novel[questions[i][1].novel].append(i)
        for novel, members in by_novel.items():
            print(row(f"  {novel}", members))

    test_indexes = dict(splits).get("TEST", [])
    unreachable = [
        i
        for i in test_indexes
        if not any(
            questions[i][1].answered_by(p.text) for p in novels[questions[i][1].novel].passages
        )
    ]
    print(f"\nheld-out questions with no passage matching the rule (chunking): {len(unreachable)}")

    stages = (("embedding", "embedding_ms"), ("search", "store_ms"), ("total", "total_ms"))
    cols = "".join(f"{stage + ' ' + stat:>16}" for stage, _ in stages for stat in ("mean", "p95"))
    print("\nper-query latency, ms (total = wall clock around search_passages)")
    print(f"{'split':<10}{'method':<14}{'n':>5}{cols}")
    for label, indexes in splits:
        if not indexes:
            continue
        for name, _ in METHODS:
            cells = ""
            for _, attr in stages:
                values = [getattr(results[name][i], attr) for i in indexes]
                cells += f"{sum(values) / len(values):>16.1f}{percentile(values, 0.95):>16.1f}"
            print(f"{label:<10}{LABELS[name]:<14}{len(indexes):>5}{cells}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Retrieval quality: dense-only, RRF and fused, with a held-out split.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--questions",
        nargs="+",
        type=Path,
        default=[QUESTIONS],
        help="main question set(s) (default: eval/questions.json)",
    )
    parser.add_argument(
        "--heldout",
        nargs="+",
        type=Path,
        default=[HELDOUT],
        help="held-out set(s) on the TEST novels (default: eval/questions_heldout.json)",
    )
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out set")
    parser.add_argument("--no-splits", action="store_true", help="print only the original report")
    parser.add_argument(
        "--tune-novels", default=",".join(TUNE_NOVELS), help="comma-separated TUNE novel stems"
    )
    parser.add_argument(
        "--test-novels", default=",".join(TEST_NOVELS), help="comma-separated TEST novel stems"
    )
    args = parser.parse_args(argv)
    args.tune = [s for s in args.tune_novels.split(",") if s]
    args.test = [s for s in args.test_novels.split(",") if s]
    unknown = [s for s in args.tune + args.test if s not in NOVELS]
    if unknown or set(args.tune) & set(args.test):
        parser.error(f"bad novel split: unknown {unknown}, both {set(args.tune) & set(args.test)}")
    return args


async def main(argv=None) -> None:
    args = parse_args(argv)
    began = time.perf_counter()
    novels = load_novels()
    chunk_s = time.perf_counter() - began
    # (file name, question) pairs: the main set first, then the held-out set.
    tagged: list[tuple[str, Question]] = []
    for path in args.questions:
        tagged += [(path.name, q) for q in load_questions(novels, path)]
    main_count = len(tagged)
    heldout_paths = [] if args.no_heldout or args.no_splits else args.heldout
    missing = [path for path in heldout_paths if not path.exists()]
    if missing:
        sys.exit(f"held-out set not found: {', '.join(map(str, missing))} (or use --no-heldout)")
    for path in heldout_paths:
        heldout = load_questions(novels, path)
        check_heldout([q for _, q in tagged[:main_count]], heldout, args.test)
        tagged += [(path.name, q) for q in heldout]
    questions = [q for _, q in tagged]
    embedder = LocalEmbedder(batch_size=BATCH)
    began = time.perf_counter()
    embedder.embed(["warm-up"])  # the model load is not embedding time
    load_s = time.perf_counter() - began
    with tempfile.TemporaryDirectory(prefix="gaji-eval-") as tmp:
        store = await EdgeVectorStore.open(Path(tmp) / "qdrant")
        try:
            timings = await index(store, embedder, novels)
            results = await evaluate(store, embedder, novels, questions)
        finally:
            await store.close()
    main_results = {name: outcomes[:main_count] for name, outcomes in results.items()}
    report(novels, questions[:main_count], main_results, timings, load_s, chunk_s)
    if args.no_splits:
        return
    indexes = range(len(questions))
    splits = [
        ("TUNE", [i for i in indexes if i < main_count and questions[i].novel in args.tune]),
        ("TEST", [i for i in indexes if i >= main_count]),
        ("pre-split", [i for i in indexes if i < main_count and questions[i].novel in args.test]),
        ("ALL", list(indexes)),
    ]
    split_report(novels, tagged, results, splits, args.tune, args.test)


if __name__ == "__main__":
    asyncio.run(main())
