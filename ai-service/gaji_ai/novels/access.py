"""Who may read a novel on ai's public routes (its cast, vectors, passages).

Core decides: staff and the novel's owner always, anyone when the novel is
`public` or `unlisted`; anyone else gets the answer of a novel that does not
exist (a private novel's existence cannot be probed). Core's answer
(GET /api/internal/novels/{id}/access) is kept in process for
ACCESS_CACHE_SECONDS, so the catalogue's novels cost one call to core per
half-minute, not one per request; an unknown id for MISSING_CACHE_SECONDS
only, so a novel core has just created is readable soon. A visibility change
therefore shows here within ACCESS_CACHE_SECONDS. Staff never need core.
Core unreachable (and nothing cached) is a 503: we cannot say who may read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from gaji_contracts.auth import TokenClaims
from gaji_contracts.errors import ErrorCode
from gaji_contracts.novels import NovelAccess, NovelVisibility

from gaji_ai.clients.core import CoreClient, CoreError
from gaji_ai.common.errors import AppError

ACCESS_CACHE_SECONDS = 30.0
MISSING_CACHE_SECONDS = 5.0
MAX_CACHED = 10_000  # unknown ids are cached too: the cache must stay bounded
READABLE_BY_ANYONE = {NovelVisibility.PUBLIC, NovelVisibility.UNLISTED}


def may_read(access: NovelAccess | None, user: TokenClaims) -> bool:
    """The rule: staff always; otherwise a novel core has, public or
    unlisted, or owned by the caller."""
    if user.is_staff:
        return True
    if access is None:
        return False
    if access.visibility in READABLE_BY_ANYONE:
        return True
    return access.owner_id is not None and str(access.owner_id) == user.sub.lower()


class NovelAccessCache:
    """Core's NovelAccess answers by novel id, each kept `ttl` seconds
    (`missing_ttl` for a novel core does not have). Concurrent requests for
    the same uncached novel share one call to core."""

    def __init__(
        self,
        core: CoreClient,
        *,
        ttl: float = ACCESS_CACHE_SECONDS,
        missing_ttl: float = MISSING_CACHE_SECONDS,
        max_entries: int = MAX_CACHED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core
        self._ttl = ttl
        self._missing_ttl = missing_ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, NovelAccess | None]] = {}
        self._pending: dict[str, asyncio.Task[NovelAccess | None]] = {}

    async def get(self, novel_id: str) -> NovelAccess | None:
        """The novel's access (None: core has no such novel). Raises
        CoreError when core cannot answer."""
        key = novel_id.lower()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(key))
            # A failure nobody awaits any more (its callers gone) is not an
            # "exception never retrieved" warning.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._pending[key] = task
        # Shielded: one caller giving up does not cancel the others' answer.
        return await asyncio.shield(task)

    async def _fetch(self, key: str) -> NovelAccess | None:
        try:
            access = await self._core.novel_access(key)
        finally:
            self._pending.pop(key, None)
        now = self._clock()
        if len(self._entries) >= self._max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            while len(self._entries) >= self._max_entries:  # all fresh: drop the oldest
                del self._entries[next(iter(self._entries))]
        self._entries[key] = (now + (self._ttl if access else self._missing_ttl), access)
        return access

    def invalidate(self, novel_id: str | None = None) -> None:
        """Forget one novel (or all): the next request asks core again."""
        if novel_id is None:
            self._entries.clear()
        else:
            self._entries.pop(novel_id.lower(), None)

    async def readable(self, novel_id: str, user: TokenClaims) -> bool:
        """Whether `user` may read the novel; 503 when core cannot say."""
        if user.is_staff:
            return True
        try:
            access = await self.get(novel_id)
        except CoreError as exc:
            raise AppError(
                503, ErrorCode.SERVICE_UNAVAILABLE, "core is unavailable; try again shortly."
            ) from exc
        return may_read(access, user)

    async def check_readable(self, novel_id: str, user: TokenClaims, *, missing: str) -> None:
        """Nothing when `user` may read the novel; else the 404 the route
        answers for a novel it does not have (`missing`, its message)."""
        if not await self.readable(novel_id, user):
            raise AppError(404, ErrorCode.NOT_FOUND, missing)


def get_novel_access(request: Request) -> NovelAccessCache:
    return request.app.state.novel_access


NovelAccessDep = Annotated[NovelAccessCache, Depends(get_novel_access)]
