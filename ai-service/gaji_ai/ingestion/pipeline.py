"""One ingestion job, start to end (run by the Celery worker):

decode -> strip the Gutenberg header/footer -> chapters -> the novel on core
(`processing`; found or created by slug, or the one core created for a
reader's import) -> passages -> embed in batches and upsert (deterministic ids:
re-ingesting replaces) -> characters -> the novel on core (`completed`,
counts). Any failure marks the job and the novel `failed`; the vectors of a
failed run are never reported complete."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gaji_contracts.novels import IngestionStatus, NovelCreate, NovelUpdate

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable
from gaji_ai.embeddings import DenseEmbedder, count_tokens, sparse_document
from gaji_ai.ingestion.cast import Cast, CharacterProfile, extract_cast
from gaji_ai.ingestion.cast_llm import Describer, configured_describer, describe_cast
from gaji_ai.ingestion.chunking import Passage, Window, chunk_chapters, sentence_windows
from gaji_ai.ingestion.jobs import Job, now
from gaji_ai.ingestion.text import Chapter, decode, split_chapters, strip_gutenberg
from gaji_ai.vectors.store import CHARACTERS, PASSAGES, WINDOWS, VectorPoint, VectorStore

logger = logging.getLogger("gaji_ai.ingestion")
T = TypeVar("T")
NAMESPACE = uuid.UUID("6f1d8c1e-4b5a-4f0e-9a43-9c1f2f5b7a10")
CORE_ATTEMPTS = 6
MAX_PASSAGES = 20_000


class IngestionFailed(Exception):
    """A failure to report as the job's `error` (safe to show to staff)."""


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:100].strip("-") or "novel"


def passage_id(novel_id: str, chunk_index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{novel_id}:passage:{chunk_index}"))


def character_id(novel_id: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{novel_id}:character:{name.lower()}"))


async def with_retries(
    call: Callable[[], Awaitable[T]], *, attempts: int = CORE_ATTEMPTS, base: float = 0.5
) -> T:
    """Retry while core is briefly unreachable: 0.5, 1, 2, 4, 8 s apart."""
    for attempt in range(attempts):
        try:
            return await call()
        except CoreUnavailable:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(base * 2**attempt)
    raise AssertionError("unreachable")


async def _register_novel(core: CoreClient, job: Job, header) -> str:
    if job.novel_preset and job.novel_id:
        return await _claim_preset_novel(core, job)
    meta = job.metadata
    title = (
        meta.get("title")
        or header.title
        or Path(job.source_path or "novel").stem.replace("-", " ").title()
    )
    slug = meta.get("slug") or slugify(title)
    existing = await with_retries(lambda: core.novel_find(slug))
    fields = {
        "title": title,
        "author": meta.get("author") or header.author or "",
        "publication_year": meta.get("publication_year") or header.publication_year,
        "genre": meta.get("genre") or "",
        "language": meta.get("language") or header.language or "en",
    }
    if existing is None:
        novel = await with_retries(
            lambda: core.novel_create(
                NovelCreate(slug=slug, ingestion_status=IngestionStatus.PROCESSING, **fields)
            )
        )
    else:
        update = NovelUpdate(ingestion_status=IngestionStatus.PROCESSING, **fields)
        novel = await with_retries(lambda: core.novel_update(str(existing.id), update))
    job.slug, job.title = novel.slug, novel.title
    return str(novel.id)


async def _claim_preset_novel(core: CoreClient, job: Job) -> str:
    """The novel core created for this job (a reader's import) goes to
    `processing`; its slug and title stay core's (the reader chose them)."""
    update = NovelUpdate(ingestion_status=IngestionStatus.PROCESSING)
    try:
        novel = await with_retries(lambda: core.novel_update(job.novel_id or "", update))
    except CoreResponseError as exc:
        if exc.status == 404:
            raise IngestionFailed("The novel was deleted before it could be ingested.") from exc
        raise
    job.slug, job.title = novel.slug, novel.title
    return str(novel.id)


def _passage_point(novel_id: str, title: str, passage: Passage, dense: list[float]) -> VectorPoint:
    return VectorPoint(
        id=passage_id(novel_id, passage.chunk_index),
        dense=dense,
        sparse=sparse_document(passage.text),
        payload={
            "novel_id": novel_id,
            "novel_title": title,
            "chunk_index": passage.chunk_index,
            "chapter": passage.chapter,
            "chapter_title": passage.chapter_title,
            "text": passage.text,
            "start_offset": passage.start,
            "end_offset": passage.end,
        },
    )


def window_id(novel_id: str, window_index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{novel_id}:window:{window_index}"))


def _window_point(novel_id: str, window: Window, dense: list[float]) -> VectorPoint:
    return VectorPoint(
        id=window_id(novel_id, window.window_index),
        dense=dense,
        payload={
            "novel_id": novel_id,
            "chapter": window.chapter,
            "window_index": window.window_index,
            "chunk_indexes": list(window.passages),
            "passage_ids": [passage_id(novel_id, c) for c in window.passages],
        },
    )


async def store_passages(
    *,
    novel_id: str,
    title: str,
    body: str,
    chapters: list[Chapter],
    passages: list[Passage],
    store: VectorStore,
    embedder: DenseEmbedder,
    batch_size: int = 64,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """A novel's passages (dense + BM25) and their sentence windows (dense),
    replacing any earlier ones. `progress("passages" | "windows", done,
    total)` after each batch. Returns how many windows were stored."""
    # Replace, never duplicate: this novel's previous vectors go first.
    await store.delete_novel(PASSAGES, novel_id)
    await store.delete_novel(WINDOWS, novel_id)
    for start in range(0, len(passages), batch_size):
        batch = passages[start : start + batch_size]
        vectors = await _embed(embedder, [p.text for p in batch])
        await store.upsert(
            PASSAGES,
            [_passage_point(novel_id, title, p, v) for p, v in zip(batch, vectors, strict=True)],
        )
        if progress:
            progress("passages", start + len(batch), len(passages))
    windows = sentence_windows(body, chapters, passages)
    for start in range(0, len(windows), batch_size * 4):
        batch = windows[start : start + batch_size * 4]
        vectors = await _embed(embedder, [w.text for w in batch])
        await store.upsert(
            WINDOWS, [_window_point(novel_id, w, v) for w, v in zip(batch, vectors, strict=True)]
        )
        if progress:
            progress("windows", start + len(batch), len(windows))
    return len(windows)


def cast_profiles(
    body: str, chapters: list[Chapter], mode: str = "full", describer: Describer | None = None
) -> tuple[list[CharacterProfile], Cast]:
    """The cast an ingestion stores: the top 30 characters (12 in `quick`
    mode), their descriptions rewritten by `describer` when one is given
    (a remote LLM: gaji_ai.ingestion.cast_llm). eval/cast_eval.py measures it."""
    cast = extract_cast(body, chapters)
    profiles = cast.characters[: 12 if mode == "quick" else 30]
    if describer is not None:
        describe_cast(profiles, describer)
    return profiles, cast


def _character_point(
    novel_id: str, profile: CharacterProfile, dense: list[float], ids: dict[str, str] | None = None
) -> VectorPoint:
    """A character's point; its id is stable (uuid5 of the novel and the
    name), so re-ingesting replaces it; `ids` names the other stored
    characters' ids for its relationships (null for one not stored)."""
    ids = ids or {}
    text = f"{profile.name}. {profile.description}"
    return VectorPoint(
        id=ids.get(profile.name) or character_id(novel_id, profile.name),
        dense=dense,
        sparse=sparse_document(" ".join([text, *profile.aliases])),
        payload={
            "novel_id": novel_id,
            "name": profile.name,
            "aliases": profile.aliases,
            "description": profile.description,
            "description_source": profile.description_source,
            "personality_traits": profile.personality_traits,
            "role": profile.role,
            "gender": profile.gender,
            "relationships": [
                {"id": ids.get(r["name"]), "name": r["name"], "relation": r["relation"]}
                for r in profile.relationships
            ],
            "first_chapter": profile.first_chapter,
            "first_appearance": profile.first_appearance,
            "mention_count": profile.mention_count,
            "dialogue_count": profile.dialogue_count,
        },
    )


async def _embed(embedder: DenseEmbedder, texts: list[str]) -> list[list[float]]:
    return await asyncio.to_thread(embedder.embed, texts)


async def store_characters(
    *, novel_id: str, profiles: list[CharacterProfile], store: VectorStore, embedder: DenseEmbedder
) -> None:
    await store.delete_novel(CHARACTERS, novel_id)
    if profiles:
        ids = {p.name: character_id(novel_id, p.name) for p in profiles}
        vectors = await _embed(embedder, [f"{p.name}. {p.description}" for p in profiles])
        await store.upsert(
            CHARACTERS,
            [_character_point(novel_id, p, v, ids) for p, v in zip(profiles, vectors, strict=True)],
        )


async def run_ingestion(
    job: Job,
    *,
    core: CoreClient,
    store: VectorStore,
    embedder: DenseEmbedder,
    save: Callable[[Job], None],
    batch_size: int = 64,
) -> float:
    """Run `job` to completion; returns the measured characters per second."""
    started = time.monotonic()
    try:
        raw = Path(job.source_path or "").read_bytes()
    except OSError as exc:
        raise IngestionFailed("The novel's file could not be read.") from exc
    document = strip_gutenberg(decode(raw))
    if len(document.body.strip()) < 200:
        raise IngestionFailed(
            "The file holds no novel text (under 200 characters once headers are removed)."
        )
    chapters = split_chapters(document.body)
    job.novel_id = await _register_novel(core, job, document.metadata)
    save(job)

    passages = chunk_chapters(document.body, chapters, count_tokens)
    job.progress.passages_total = len(passages)
    save(job)

    def progress(kind: str, done: int, total: int) -> None:
        if kind == "passages":
            job.progress.passages_processed = done
        else:
            job.progress.windows_processed, job.progress.windows_total = done, total
        save(job)  # also the job's heartbeat

    await store_passages(
        novel_id=job.novel_id,
        title=job.title or "",
        body=document.body,
        chapters=chapters,
        passages=passages,
        store=store,
        embedder=embedder,
        batch_size=batch_size,
        progress=progress,
    )

    profiles, cast = await asyncio.to_thread(
        cast_profiles, document.body, chapters, job.extraction_mode, configured_describer()
    )
    await store_characters(novel_id=job.novel_id, profiles=profiles, store=store, embedder=embedder)
    job.progress.characters_extracted = len(profiles)
    job.progress.locations_extracted = len(cast.locations)
    save(job)
    await store.optimize(PASSAGES)
    await store.optimize(WINDOWS)

    stored = await store.count(PASSAGES, job.novel_id)
    if stored != len(passages):
        raise IngestionFailed(f"Only {stored} of {len(passages)} passages were stored.")
    await with_retries(
        lambda: core.novel_update(
            job.novel_id,
            NovelUpdate(
                ingestion_status=IngestionStatus.COMPLETED,
                total_passages=len(passages),
                total_characters=len(profiles),
            ),
        )
    )
    job.status = "completed"
    job.completed_at = now()
    save(job)
    elapsed = max(time.monotonic() - started, 1e-3)
    logger.info("ingested %s: %d passages in %.1fs", job.slug, len(passages), elapsed)
    return len(document.body) / elapsed


async def mark_failed(
    job: Job, error: str, *, core: CoreClient | None, save: Callable[[Job], None]
) -> None:
    job.status = "failed"
    job.error = error
    job.completed_at = now()
    save(job)
    if core is not None and job.novel_id:
        try:
            await with_retries(
                lambda: core.novel_update(
                    job.novel_id, NovelUpdate(ingestion_status=IngestionStatus.FAILED)
                ),
                attempts=3,
            )
        except (
            Exception
        ):  # the job is failed either way; core keeps 'processing' until the next try
            logger.warning("could not mark novel %s failed on core", job.novel_id)


async def run_extraction(
    job: Job,
    *,
    core: CoreClient,
    store: VectorStore,
    embedder: DenseEmbedder,
    save: Callable[[Job], None],
) -> float:
    """Re-extract an ingested novel's cast from its stored passages (the
    original file may be gone: uploads are deleted after ingestion)."""
    started = time.monotonic()
    novel_id = job.novel_id or ""
    hits = await store.scroll(PASSAGES, novel_id=novel_id, limit=MAX_PASSAGES)
    if not hits:
        raise IngestionFailed("This novel has no passages: ingest it first.")
    hits.sort(key=lambda h: h.payload.get("chunk_index", 0))
    job.progress.passages_total = job.progress.passages_processed = len(hits)
    save(job)
    chapters: dict[int, list[str]] = {}
    titles: dict[int, str] = {}
    for hit in hits:
        number = hit.payload.get("chapter", 1)
        chapters.setdefault(number, []).append(hit.payload.get("text", ""))
        titles.setdefault(number, hit.payload.get("chapter_title", ""))
    body, rebuilt = "", []
    for number in sorted(chapters):
        text = "\n\n".join(chapters[number])
        rebuilt.append(
            Chapter(
                number=number,
                title=titles[number],
                start=len(body),
                end=len(body) + len(text),
                text=text,
            )
        )
        body += text + "\n\n"
    profiles, cast = await asyncio.to_thread(
        cast_profiles, body, rebuilt, job.extraction_mode, configured_describer()
    )
    await store_characters(novel_id=novel_id, profiles=profiles, store=store, embedder=embedder)
    job.progress.characters_extracted = len(profiles)
    job.progress.locations_extracted = len(cast.locations)
    await with_retries(
        lambda: core.novel_update(novel_id, NovelUpdate(total_characters=len(profiles)))
    )
    job.status = "completed"
    job.completed_at = now()
    save(job)
    return len(body) / max(time.monotonic() - started, 1e-3)
