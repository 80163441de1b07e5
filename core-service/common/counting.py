"""Totals and facet counts that stay cheap as tables grow.

A page's `total_elements` (and the search's facets) are aggregates over
every matching row: exact counts cost a read of all of them on every
request (4 ms for 21,000 rows of one story and type, 45 ms for the 15,000
scenarios that mention Darcy, ten times that on a million; issue 14). So:

- a result of at most COUNT_EXACT_LIMIT rows is counted exactly, reading at
  most that many rows (`LIMIT n + 1` under the aggregate);
- a larger one is counted exactly once, then shared by every process
  through Redis for COUNT_CACHE_SECONDS. An answer served from that cache
  says so (`page.total_is_estimate: true`): rows created or deleted since
  are not in it.

If Redis is unreachable, every count is exact.
"""

from __future__ import annotations

import hashlib

import orjson
from django.conf import settings

from common.redis import shared_get, shared_set


def _key(name: str, sql: str, args: list) -> str:
    digest = hashlib.blake2b(orjson.dumps([sql, [str(a) for a in args]]), digest_size=16).hexdigest()
    return f"{settings.REDIS_KEY_PREFIX}:count:{name}:{digest}"


def counted(cursor, *, name: str, rows_sql: str, args: list, aggregates: str) -> tuple[tuple, bool]:
    """`SELECT {aggregates}` over the rows of `rows_sql` (bound `args`); the
    first aggregate must be `count(*)`. Returns (the aggregate row, whether
    it came from the shared cache and so may be up to COUNT_CACHE_SECONDS old).

    `rows_sql` is constant SQL built by the caller; values are only ever in `args`."""
    key = _key(name, f"{aggregates} FROM {rows_sql}", args)
    cached, reachable = shared_get(key)
    if cached is not None:
        return tuple(orjson.loads(cached)), True
    limit = settings.COUNT_EXACT_LIMIT
    cursor.execute(f"SELECT {aggregates} FROM ({rows_sql} LIMIT %s) m", [*args, limit + 1])  # noqa: S608
    row = tuple(cursor.fetchone())
    if row[0] <= limit:
        return row, False
    cursor.execute(f"SELECT {aggregates} FROM ({rows_sql}) m", args)  # noqa: S608
    row = tuple(cursor.fetchone())
    if reachable:
        shared_set(key, orjson.dumps(row), settings.COUNT_CACHE_SECONDS)
    return row, False
