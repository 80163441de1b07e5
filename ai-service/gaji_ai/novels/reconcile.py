"""The ai service is the truth about vectors.

Core keeps each novel's ingestion status, but only this service's vector
store knows whether the passages are there: a second checkout against the
same database, a deleted `var/qdrant`, or a switch to `QDRANT_URL` leaves
core saying `completed` for a novel the store does not hold, and chat turns
on it went on silently ungrounded.

`reconcile` compares core's `completed` (and `missing`) novels with the
store's passage counts and corrects core: a novel whose passages are gone
(or fewer than it was ingested with) becomes `missing`; a `missing` novel
whose passages are back becomes `completed` again. The API process runs it
at start and every NOVEL_CHECK_SECONDS (`NovelChecker.run`), `/readyz`
reports the latest result, and `GET /api/ai/novels/{id}/vectors` answers
for one novel. An ingestion in progress (`processing`) is left alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from gaji_contracts.novels import IngestionStatus, MissingNovel, NovelsCheck, NovelUpdate

from gaji_ai.clients.core import CoreClient, CoreError
from gaji_ai.vectors.store import PASSAGES, VectorStore, VectorStoreError

logger = logging.getLogger("gaji_ai.novels.reconcile")
RETRY_SECONDS = 5.0


def holds_all(found: int, expected: int) -> bool:
    return found > 0 and found >= expected


async def reconcile(store: VectorStore, core: CoreClient) -> NovelsCheck:
    """One pass; raises CoreError / VectorStoreError when either is away."""
    novels = [
        *await core.novels_with_status(IngestionStatus.COMPLETED.value),
        *await core.novels_with_status(IngestionStatus.MISSING.value),
    ]
    missing: list[MissingNovel] = []
    for novel in novels:
        found = await store.count(PASSAGES, str(novel.id))
        complete = holds_all(found, novel.total_passages)
        if novel.ingestion_status == IngestionStatus.COMPLETED and not complete:
            logger.warning(
                "novel %s (%s): core says completed with %d passages, the vector store holds %d;"
                " marking it missing",
                novel.slug,
                novel.id,
                novel.total_passages,
                found,
            )
            await core.novel_update(str(novel.id), NovelUpdate(ingestion_status="missing"))
        elif novel.ingestion_status == IngestionStatus.MISSING and complete:
            logger.info("novel %s (%s): its passages are back; completed", novel.slug, novel.id)
            await core.novel_update(str(novel.id), NovelUpdate(ingestion_status="completed"))
        if not complete:
            missing.append(
                MissingNovel(
                    id=novel.id,
                    slug=novel.slug,
                    expected_passages=novel.total_passages,
                    found_passages=found,
                )
            )
    return NovelsCheck(checked=len(novels), missing=missing, checked_at=datetime.now(UTC))


async def mark_missing(core: CoreClient, novel_id: str) -> None:
    """A chat turn found no passages for a novel core called ingested."""
    with contextlib.suppress(CoreError):
        novel = await core.novel_find(novel_id)
        if novel is not None and novel.ingestion_status == IngestionStatus.COMPLETED:
            logger.warning(
                "novel %s (%s): no passages in the vector store; missing", novel.slug, novel_id
            )
            await core.novel_update(novel_id, NovelUpdate(ingestion_status="missing"))


class NovelChecker:
    """The API process's periodic reconciliation and its latest result."""

    def __init__(self, store: VectorStore, core: CoreClient, *, interval: float) -> None:
        self._store = store
        self._core = core
        self._interval = interval
        self._lock = asyncio.Lock()
        self.latest: NovelsCheck | None = None
        self._at = 0.0

    async def check(self) -> NovelsCheck:
        async with self._lock:
            self.latest = await reconcile(self._store, self._core)
            self._at = time.monotonic()
            return self.latest

    def invalidate(self) -> None:
        """The store changed (a novel's vectors deleted): check again when asked."""
        self._at = float("-inf")

    async def fresh(self, max_age: float) -> NovelsCheck | None:
        """The latest result, re-checked when older than `max_age`; None when
        core or the store cannot be asked (readiness reports those)."""
        if self.latest is not None and time.monotonic() - self._at <= max_age:
            return self.latest
        try:
            return await self.check()
        except (CoreError, VectorStoreError, OSError):
            return self.latest

    async def run(self) -> None:
        """At start (retrying while core is not up yet), then every interval."""
        while True:
            try:
                await self.check()
                delay = self._interval
            except (CoreError, VectorStoreError, OSError) as exc:
                logger.info("novel check postponed: %s", type(exc).__name__)
                delay = RETRY_SECONDS
            except Exception:  # a bug must not stop the loop; it is logged
                logger.exception("novel check failed")
                delay = self._interval
            await asyncio.sleep(delay)
