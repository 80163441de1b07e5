"""Scenario search (GET /api/v1/scenarios/search): filters, full text with a
typo fallback, relevance, facets, in fixed SQL straight to JSON.

Matching reads a generated column that exists only in the database
(migration 0002). A scenario matches `q` when

    search_vector @@ websearch_to_tsquery('english', q)   -- RUM scenario_search_rum

and, only when that finds nothing, `q` is taken as typos (such as
"Elizabth"): each of its words that no scenario uses is replaced by the
most similar word one does (pg_trgm similarity over scenario_search_words,
migration 0007), and the corrected words are matched as full text, all of
them required. `corrected_query` shows what was searched. websearch_to_tsquery
never raises on syntax, and `q` is always a bound parameter.

What keeps it fast as scenarios grow (issue 14, bench/REPORT.md):
- relevance is RUM's rank (migration 0006): the index keeps each word's
  positions, so the best matches come out of the index in rank order and
  only the rows of the page are read, however many scenarios match (GIN and
  ts_rank_cd read and ranked every match: 15,000 rows for "darcy");
- totals and facets come from common/counting.py: exact up to
  COUNT_EXACT_LIMIT matches, larger results counted once and shared for
  COUNT_CACHE_SECONDS (`page.total_is_estimate` says when an answer used
  that shared count).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from dataclasses import dataclass

import orjson
import redis
from django.conf import settings
from django.db import transaction
from gaji_contracts.scenarios import ScenarioType

from common.counting import counted
from common.db.base import fast_cursor
from common.pagination import PageRequest, page_info
from common.redis import get_redis, shared_set
from scenarios.reads import SHARED_ONLY_SQL, iso

SORT_FIELDS = ("relevance", "quality_score", "created_at", "fork_count")
TYPES = tuple(t.value for t in ScenarioType)

# Label -> [low, high) on quality_score; the top range also holds 1.0.
QUALITY_RANGES: dict[str, tuple[float, float | None]] = {
    "0.8-1.0": (0.8, None),
    "0.6-0.8": (0.6, 0.8),
    "0.4-0.6": (0.4, 0.6),
    "0.0-0.4": (0.0, 0.4),
}

_WEB_QUERY = "websearch_to_tsquery('english', %s::text)"
# Corrected words, already lexemes: quoted, ANDed, never parsed again.
_WORDS_QUERY = "to_tsquery('simple', %s::text)"
# Relevance in [0, 1]: a full-text match scores 0.5 + 0.5 * r / (1 + r) with
# r RUM's rank (the index orders by its inverse, `<=>`); a match of
# corrected typos 0.5 * r / (1 + r), below any full-text match.
_RELEVANCE = (
    "round(({base} + 0.5 * rum_ts_score(s.search_vector, {query})"
    " / (1 + rum_ts_score(s.search_vector, {query})))::numeric, 3)::float8"
)
# Each word of q (as a lexeme, in q's order), whether a scenario uses it, and else the most
# similar one that does (pg_trgm's `%`: similarity above its threshold, 0.3).
_CORRECTIONS_SQL = """
    SELECT lexeme,
           EXISTS (SELECT 1 FROM scenario_search_words w WHERE w.word = lexeme),
           (SELECT w.word FROM scenario_search_words w WHERE w.word %% lexeme
            ORDER BY similarity(w.word, lexeme) DESC, w.word LIMIT 1)
    FROM unnest(to_tsvector('english', %s::text)) AS t (lexeme, positions, weights)
    ORDER BY positions[1]
"""

_FACETS = ", ".join(
    ["count(*)"]
    + [f"count(*) FILTER (WHERE m.scenario_type = '{kind}')" for kind in TYPES]
    + [
        f"count(*) FILTER (WHERE m.quality_score >= {low}"
        + (f" AND m.quality_score < {high})" if high is not None else ")")
        for low, high in QUALITY_RANGES.values()
    ]
)
# The creator through scalar subqueries, not a join: evaluated for the page's
# rows only, and the plan stays a scan in the index's order under LIMIT.
_ITEM_COLUMNS = """
    s.id, s.base_story, s.scenario_type, s.parameters::text, s.quality_score, s.fork_count,
    s.conversation_count, s.created_at, {relevance}, s.creator_id,
    (SELECT u.username FROM accounts_user u WHERE u.id = s.creator_id),
    (SELECT u.avatar_url FROM accounts_user u WHERE u.id = s.creator_id)
"""


@dataclass(frozen=True)
class SearchParams:
    q: str | None = None
    base_story: str | None = None
    scenario_type: str | None = None
    min_quality: float | None = None
    creator_id: str | None = None
    has_forks: bool | None = None
    sort_field: str = "relevance"
    descending: bool = True
    # Typo fallback: the corrected words as a tsquery ('elizabeth' & 'bennet'), matched instead of q.
    corrected: str | None = None
    # Leave out scenarios on novels that are not public (all but a reader's search of their own).
    shared_only: bool = True

    @property
    def fuzzy(self) -> bool:
        return self.corrected is not None

    def match(self) -> tuple[str, str]:
        """The tsquery expression and its one bound value."""
        if self.corrected is not None:
            return _WORDS_QUERY, self.corrected
        return _WEB_QUERY, self.q


def _where(params: SearchParams) -> tuple[str, list]:
    """The WHERE clause (constant fragments) and its bound values."""
    where, args = ["s.deleted_at IS NULL"], []
    if params.shared_only:
        where.append(SHARED_ONLY_SQL)
    if params.q:
        query, value = params.match()
        where.append(f"s.search_vector @@ {query}")
        args.append(value)
    for column in ("base_story", "scenario_type", "creator_id"):
        value = getattr(params, column)
        if value:
            where.append(f"s.{column} = %s")
            args.append(value)
    if params.min_quality is not None:
        where.append("s.quality_score >= %s")
        args.append(params.min_quality)
    if params.has_forks is not None:
        where.append("s.fork_count > 0" if params.has_forks else "s.fork_count = 0")
    return " AND ".join(where), args


def _order(params: SearchParams) -> tuple[str, list]:
    """ORDER BY (constant fragments) and its bound values."""
    if params.sort_field == "relevance" and not params.q:
        return "s.created_at DESC, s.id DESC", []
    if params.sort_field == "relevance":
        # RUM's distance (1 / rank) ascending is rank descending, straight out
        # of the index. Nothing else may follow it: PostgreSQL only reads an
        # index in an operator's order when that is the whole ORDER BY, so
        # equally relevant scenarios come in the index's order (a stable one:
        # RUM sorts every match, in row order, before the first is returned).
        direction = "ASC" if params.descending else "DESC"
        query, value = params.match()
        return f"s.search_vector <=> {query} {direction}", [value]
    direction = "DESC" if params.descending else "ASC"
    field = params.sort_field
    tie = f"s.created_at {direction}, " if field != "created_at" else ""
    return f"s.{field} {direction}, {tie}s.id {direction}", []


def _item(row) -> dict:
    (sid, story, kind, parameters, quality, forks, conversations, created, relevance, uid, username,
     avatar) = row  # fmt: skip
    return {
        "id": str(sid),
        "base_story": story,
        "scenario_type": kind,
        "parameters": orjson.Fragment(parameters),
        "quality_score": float(quality),
        "fork_count": forks,
        "conversation_count": conversations,
        "created_at": iso(created),
        "relevance_score": relevance,
        "creator": {"id": str(uid), "username": username, "avatar_url": avatar or None},
    }


def rows_sql(params: SearchParams) -> tuple[str, list]:
    """The matching rows that totals and facets count."""
    where, args = _where(params)
    return f"SELECT s.scenario_type, s.quality_score FROM scenarios_scenario s WHERE {where}", args  # noqa: S608


def page_sql(params: SearchParams, page: PageRequest) -> tuple[str, list]:
    """One page of matches, ordered, with their relevance and creator."""
    where, where_args = _where(params)
    order, order_args = _order(params)
    if not params.q:
        relevance, relevance_args = "NULL::float8", []
    else:
        query, value = params.match()
        relevance = _RELEVANCE.format(base="0.0" if params.fuzzy else "0.5", query=query)
        relevance_args = [value, value]
    sql = (
        f"SELECT {_ITEM_COLUMNS.format(relevance=relevance + ' AS relevance_score')}"  # noqa: S608
        f" FROM scenarios_scenario s WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s"
    )
    return sql, [*relevance_args, *where_args, *order_args, page.size, page.number * page.size]


def _counts(cursor, params: SearchParams) -> tuple[dict, int, bool]:
    sql, args = rows_sql(params)
    row, shared = counted(cursor, name="scenario-search", rows_sql=sql, args=args, aggregates=_FACETS)
    facets = {
        "scenario_types": dict(zip(TYPES, row[1 : 1 + len(TYPES)], strict=True)),
        "quality_ranges": dict(zip(QUALITY_RANGES, row[1 + len(TYPES) :], strict=True)),
    }
    return facets, row[0], shared


def search_page(*, params: SearchParams, page: PageRequest) -> dict:
    """`{content, page, facets, matched_by}`. `q` is matched as full text;
    only when nothing matches are its words tried as typos."""
    with fast_cursor() as cursor:
        facets, total, shared = _counts(cursor, params)
        corrected_words = None
        if params.q and total == 0 and not params.fuzzy:
            corrected_words = corrections(cursor, params.q)
            if corrected_words:
                params = dataclasses.replace(params, corrected=as_tsquery(corrected_words))
                facets, total, shared = _counts(cursor, params)
        rows = []
        if page.number * page.size < total:
            cursor.execute(*page_sql(params, page))
            rows = cursor.fetchall()
    info = page_info(page, total)
    info["total_is_estimate"] = shared
    return {
        "content": [_item(r) for r in rows],
        "page": info,
        "facets": facets,
        "matched_by": None if not params.q else ("trigram" if corrected_words else "full_text"),
        "corrected_query": " ".join(corrected_words) if corrected_words else None,
    }


def corrections(cursor, q: str) -> list[str] | None:
    """q's words as lexemes, each unknown one replaced by the most similar
    known word; None when q has no words or one of them has no near word."""
    cursor.execute(_CORRECTIONS_SQL, [q])
    words = []
    for lexeme, known, nearest in cursor.fetchall():
        if known:
            words.append(lexeme)
        elif nearest is not None:
            words.append(nearest)
        else:
            return None
    return words or None


def as_tsquery(words: list[str]) -> str:
    """Lexemes as a tsquery text for to_tsquery('simple', ...): each quoted
    (quotes and backslashes escaped), all required."""
    return " & ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)


# Read your own writes. Every write that changes what a search shows (a
# scenario created, forked, changed or deleted; a conversation created,
# forked, deleted, liked, unliked or made public or not: the counters and
# quality move) takes a new search generation once committed, and remembers
# it as its writer's last write for SEARCH_CACHE_SECONDS. A shared page is
# stored with the generation read before it was computed; a reader whose
# last write is newer than a page does not get that page (it is computed
# again, and shared again). Other readers keep getting pages up to
# SEARCH_CACHE_SECONDS old, and the cache is not emptied on every write.
_WROTE_SCRIPT = """
local generation = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], generation, 'EX', ARGV[1])
return generation
"""


def _generation_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:search:generation"


def _wrote_key(user_id) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:search:wrote:{user_id}"


def reader_wrote(user_id) -> None:
    """Record, once the current transaction commits, that this reader wrote:
    their next search is computed after it (see above). Lost if Redis is
    unreachable then (a later search is then at most SEARCH_CACHE_SECONDS old)."""
    seconds = settings.SEARCH_CACHE_SECONDS
    if seconds <= 0 or user_id is None:
        return

    def note() -> None:
        with contextlib.suppress(redis.RedisError):
            keys = [_generation_key(), _wrote_key(user_id)]
            get_redis().eval(_WROTE_SCRIPT, len(keys), *keys, seconds + 1)

    transaction.on_commit(note)


def _shared(key: str, reader_id) -> tuple[str | None, int, int | None, bool]:
    """(the shared page, the generation now, the reader's last write, whether Redis answered)."""
    keys = [key, _generation_key()] + ([_wrote_key(reader_id)] if reader_id is not None else [])
    try:
        values = get_redis().mget(keys)
    except redis.RedisError:
        return None, 0, None, False
    wrote = values[2] if len(values) > 2 else None
    return values[0], int(values[1] or 0), int(wrote) if wrote is not None else None, True


def cached_search_body(
    *, params: SearchParams, page: PageRequest, reader_id=None
) -> tuple[bytes, int | None]:
    """search_page as JSON bytes, shared by every process through Redis for
    SEARCH_CACHE_SECONDS (0: never). Returns (body, age in seconds of a
    shared answer, None when computed now). At a million scenarios a common
    word matches 50,000+ of them and ranking them all costs 20-110 ms; the
    same search asked again within seconds (a popular query, the next
    reader, the same reader going back) is answered from the first one,
    unless `reader_id` (the signed-in reader) wrote since it was computed.
    Redis unreachable: computed every time."""
    seconds = settings.SEARCH_CACHE_SECONDS
    if seconds <= 0:
        return orjson.dumps(search_page(params=params, page=page)), None
    digest = hashlib.blake2b(repr((params, page)).encode(), digest_size=16).hexdigest()
    key = f"{settings.REDIS_KEY_PREFIX}:search:{digest}"
    cached, generation, wrote, reachable = _shared(key, reader_id)
    if cached is not None:
        head, _, body = cached.partition("\n")  # the client decodes replies to text
        computed_in, _, stamp = head.rpartition(" ")  # "<generation> <unix time>"
        if wrote is None or int(computed_in or 0) >= wrote:
            return body.encode(), max(0, int(time.time() - float(stamp)))
    body = orjson.dumps(search_page(params=params, page=page))
    if reachable:
        shared_set(key, f"{generation} {time.time():.3f}\n".encode() + body, seconds)
    return body, None
