"""The performance floor: a minimal WSGI service with no framework serving
core's read paths with the same SQL and the same JSON, so `make bench-floor`
can show what core's own per-request overhead costs.

    gunicorn -k gthread -w 3 --threads 4 -b 127.0.0.1:PORT bench.floor.app:app
    (DATABASE_URL as for core)

It is a measuring stick, not a product: it has no auth, no rate limits, no
request ids and no input validation beyond what keeps its SQL correct, and
answers only the routes the benchmark drives:

    GET /api/v1/scenarios/{id}
    GET /api/v1/scenarios?base_story=&scenario_type=&sort=quality_score,desc&page=&size=
    GET /api/v1/scenarios/search?q=
    GET /api/v1/conversations/{id}

Each answer is the same JSON document core gives for the same request
(bench/floor_bench.py checks this before it measures), computed the same
way: the same SQL, and totals and facets counted as core's
common/counting.py does (exact up to COUNT_EXACT_LIMIT rows, larger ones
counted once and shared through Redis for COUNT_CACHE_SECONDS)."""

from __future__ import annotations

import hashlib
import math
import os
import re
import urllib.parse
import uuid

import orjson
import redis
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

THREADS = int(os.environ.get("FLOOR_THREADS", "4"))
pool = ConnectionPool(
    os.environ["DATABASE_URL"],
    min_size=THREADS,
    max_size=THREADS,
    kwargs={"options": "-c TimeZone=UTC", "row_factory": tuple_row},
    open=True,
)

cache = redis.Redis.from_url(os.environ.get("FLOOR_REDIS_URL", "redis://127.0.0.1:6379/12"))
# One key space per database (bench/floor_bench.py sets it), as core's REDIS_KEY_PREFIX.
PREFIX = os.environ.get("FLOOR_KEY_PREFIX", "floor")
COUNT_EXACT_LIMIT = int(os.environ.get("COUNT_EXACT_LIMIT", "1000"))
COUNT_CACHE_SECONDS = int(os.environ.get("COUNT_CACHE_SECONDS", "30"))
DETAIL_MESSAGES = 200


def counted(conn, name: str, rows_sql: str, args: list, aggregates: str) -> tuple[tuple, bool]:
    """core's common/counting.py without Django."""
    digest = hashlib.blake2b(
        orjson.dumps([f"{aggregates} FROM {rows_sql}", [str(a) for a in args]]), digest_size=16
    ).hexdigest()
    key = f"{PREFIX}:count:{name}:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return tuple(orjson.loads(cached)), True
    row = conn.execute(
        f"SELECT {aggregates} FROM ({rows_sql} LIMIT %s) m", [*args, COUNT_EXACT_LIMIT + 1]
    ).fetchone()
    if row[0] <= COUNT_EXACT_LIMIT:
        return tuple(row), False
    row = conn.execute(f"SELECT {aggregates} FROM ({rows_sql}) m", args).fetchone()
    cache.set(key, orjson.dumps(list(row)), ex=COUNT_CACHE_SECONDS)
    return tuple(row), False


SCENARIO_COLUMNS = """
    s.id, s.base_story, s.novel_id, s.parent_id, p.id, p.deleted_at, s.scenario_type,
    s.parameters, s.quality_score, s.creator_id, u.username, u.avatar_url, s.fork_count,
    s.conversation_count, s.created_at, s.updated_at
"""
SCENARIO_FROM = """
    FROM scenarios_scenario s
    JOIN accounts_user u ON u.id = s.creator_id
    LEFT JOIN scenarios_scenario p ON p.id = s.parent_id
"""
SORTS = {"created_at", "updated_at", "quality_score", "fork_count", "conversation_count"}
TYPES = ("CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION")
QUALITY_RANGES = (("0.8-1.0", 0.8, None), ("0.6-0.8", 0.6, 0.8), ("0.4-0.6", 0.4, 0.6), ("0.0-0.4", 0.0, 0.4))


def iso(value) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def scenario(row) -> dict:
    (sid, story, novel, parent, pid, pdeleted, kind, params, quality, creator, username, avatar,
     forks, conversations, created, updated) = row  # fmt: skip
    return {
        "id": str(sid),
        "base_story": story,
        "novel_id": str(novel) if novel else None,
        "parent_scenario_id": str(parent) if parent else None,
        "parent": {"id": str(pid), "is_deleted": pdeleted is not None} if pid else None,
        "scenario_type": kind,
        "parameters": params,
        "quality_score": float(quality),
        "creator_id": str(creator),
        "creator": {"id": str(creator), "username": username, "avatar_url": avatar or None},
        "fork_count": forks,
        "conversation_count": conversations,
        "created_at": iso(created),
        "updated_at": iso(updated),
    }


def page_info(number: int, size: int, total: int) -> dict:
    return {
        "number": number,
        "size": size,
        "total_elements": total,
        "total_pages": math.ceil(total / size) if total else 0,
    }


def paging(query: dict) -> tuple[int, int]:
    return int(query.get("page", "0")), int(query.get("size", "20"))


def get_scenario(sid: str, query: dict, environ: dict):
    with pool.connection() as conn:
        row = conn.execute(
            f"SELECT {SCENARIO_COLUMNS}, n.visibility {SCENARIO_FROM}"
            " LEFT JOIN novels_novel n ON n.id = s.novel_id WHERE s.id = %s AND s.deleted_at IS NULL",
            [uuid.UUID(sid)],
        ).fetchone()
    # An anonymous reader: a scenario on a private novel is as missing as the novel.
    if row is None or row[-1] == "private":
        return 404, {"status": 404}
    return 200, scenario(row[:-1])


# Shared lists and search leave out scenarios on readers' non-public novels,
# as core does (scenarios/reads.py SHARED_ONLY_SQL): the same work here.
SHARED_ONLY = (
    "(s.novel_id IS NULL OR s.novel_id NOT IN "
    "(SELECT n.id FROM novels_novel n WHERE n.visibility <> 'public'))"
)


def list_scenarios(query: dict, environ: dict):
    where, args = ["s.deleted_at IS NULL", SHARED_ONLY], []
    for name in ("base_story", "scenario_type"):
        if query.get(name):
            where.append(f"s.{name} = %s")
            args.append(query[name])
    field, _, direction = query.get("sort", "created_at,desc").partition(",")
    assert field in SORTS
    order = "DESC" if (direction or "desc") == "desc" else "ASC"
    number, size = paging(query)
    clause = " AND ".join(where)
    with pool.connection() as conn:
        (total,), shared = counted(
            conn, "scenario-list", f"SELECT 1 FROM scenarios_scenario s WHERE {clause}", args, "count(*)"
        )
        rows = []
        if number * size < total:
            rows = conn.execute(
                f"SELECT {SCENARIO_COLUMNS} {SCENARIO_FROM} WHERE {clause} "
                f"ORDER BY s.{field} {order}, s.id {order} LIMIT %s OFFSET %s",
                [*args, size, number * size],
            ).fetchall()
    info = page_info(number, size, total)
    info["total_is_estimate"] = shared
    return 200, {"content": [scenario(r) for r in rows], "page": info}


WEB_QUERY = "websearch_to_tsquery('english', %s::text)"
WORDS_QUERY = "to_tsquery('simple', %s::text)"
RELEVANCE = (
    "round(({base} + 0.5 * rum_ts_score(s.search_vector, {query})"
    " / (1 + rum_ts_score(s.search_vector, {query})))::numeric, 3)::float8"
)
CORRECTIONS = """
    SELECT lexeme,
           EXISTS (SELECT 1 FROM scenario_search_words w WHERE w.word = lexeme),
           (SELECT w.word FROM scenario_search_words w WHERE w.word %% lexeme
            ORDER BY similarity(w.word, lexeme) DESC, w.word LIMIT 1)
    FROM unnest(to_tsvector('english', %s::text)) AS t (lexeme, positions, weights)
    ORDER BY positions[1]
"""
FACETS = ", ".join(
    ["count(*)"]
    + [f"count(*) FILTER (WHERE m.scenario_type = '{t}')" for t in TYPES]
    + [
        f"count(*) FILTER (WHERE m.quality_score >= {low}"
        + (f" AND m.quality_score < {high})" if high is not None else ")")
        for _, low, high in QUALITY_RANGES
    ]
)


def search_counts(conn, query: str, value: str) -> tuple[tuple, bool]:
    rows_sql = (
        "SELECT s.scenario_type, s.quality_score FROM scenarios_scenario s"
        f" WHERE s.deleted_at IS NULL AND {SHARED_ONLY} AND s.search_vector @@ {query}"
    )
    return counted(conn, "scenario-search", rows_sql, [value], FACETS)


SEARCH_CACHE_SECONDS = int(os.environ.get("SEARCH_CACHE_SECONDS", "10"))


def search_scenarios(query: dict, environ: dict):
    """core's scenarios/search.py, its shared page included."""
    key = (
        f"{PREFIX}:search:" + hashlib.blake2b(orjson.dumps(sorted(query.items())), digest_size=16).hexdigest()
    )
    cached = cache.get(key) if SEARCH_CACHE_SECONDS > 0 else None
    if cached is not None:
        return 200, orjson.Fragment(cached)
    status, body = search_uncached(query)
    if SEARCH_CACHE_SECONDS > 0:
        cache.set(key, orjson.dumps(body), ex=SEARCH_CACHE_SECONDS)
    return status, body


def search_uncached(query: dict):
    q = query["q"]
    number, size = paging(query)
    with pool.connection() as conn:
        match, value, base, corrected = WEB_QUERY, q, "0.5", None
        counts, shared = search_counts(conn, match, value)
        if counts[0] == 0:
            words = []
            for lexeme, known, nearest in conn.execute(CORRECTIONS, [q]).fetchall():
                if not known and nearest is None:
                    words = []
                    break
                words.append(lexeme if known else nearest)
            if words:
                corrected = words
                value = " & ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)
                match, base = WORDS_QUERY, "0.0"
                counts, shared = search_counts(conn, match, value)
        total = counts[0]
        rows = []
        if number * size < total:
            relevance = RELEVANCE.format(base=base, query=match)
            rows = conn.execute(
                "SELECT s.id, s.base_story, s.scenario_type, s.parameters, s.quality_score, s.fork_count,"
                f" s.conversation_count, s.created_at, {relevance}, s.creator_id,"
                " (SELECT u.username FROM accounts_user u WHERE u.id = s.creator_id),"
                " (SELECT u.avatar_url FROM accounts_user u WHERE u.id = s.creator_id)"
                f" FROM scenarios_scenario s WHERE s.deleted_at IS NULL AND {SHARED_ONLY}"
                f" AND s.search_vector @@ {match}"
                f" ORDER BY s.search_vector <=> {match} LIMIT %s OFFSET %s",
                [value, value, value, value, size, number * size],
            ).fetchall()
    content = [
        {
            "id": str(r[0]),
            "base_story": r[1],
            "scenario_type": r[2],
            "parameters": r[3],
            "quality_score": float(r[4]),
            "fork_count": r[5],
            "conversation_count": r[6],
            "created_at": iso(r[7]),
            "relevance_score": r[8],
            "creator": {"id": str(r[9]), "username": r[10], "avatar_url": r[11] or None},
        }
        for r in rows
    ]
    info = page_info(number, size, total)
    info["total_is_estimate"] = shared
    return 200, {
        "content": content,
        "page": info,
        "facets": {
            "scenario_types": dict(zip(TYPES, counts[1:4], strict=True)),
            "quality_ranges": {label: counts[4 + i] for i, (label, _, _) in enumerate(QUALITY_RANGES)},
        },
        "matched_by": "trigram" if corrected else "full_text",
        "corrected_query": " ".join(corrected) if corrected else None,
    }


def get_conversation(cid: str, query: dict, environ: dict):
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT c.id, c.title, c.parent_id, c.depth, c.like_count, c.message_count, c.created_at,"
            " c.updated_at, s.id, s.base_story, s.scenario_type, s.parameters, s.deleted_at, u.id,"
            " u.username, u.avatar_url, c.visibility, p.visibility"
            " FROM conversations_conversation c JOIN scenarios_scenario s ON s.id = c.scenario_id"
            " JOIN accounts_user u ON u.id = c.user_id"
            " LEFT JOIN conversations_conversation p ON p.id = c.parent_id WHERE c.id = %s",
            [uuid.UUID(cid)],
        ).fetchone()
        # Anonymous: a private conversation does not exist; a parent is named only when public.
        if row is None or row[16] == "private":
            return 404, {"status": 404}
        messages = conn.execute(
            "SELECT m.id, m.role, m.content, m.status, m.model, m.total_tokens, m.degraded, m.grounded,"
            " l.position, m.created_at, m.updated_at, m.completed_at, m.citations, m.speaker_kind,"
            " m.speaker_character_id, m.speaker_name, m.edited_at, m.deleted, m.stale,"
            " jsonb_array_length(m.alternatives), m.chosen"
            " FROM conversation_message_links l JOIN conversations_message m ON m.id = l.message_id"
            " WHERE l.conversation_id = %s ORDER BY l.position DESC LIMIT %s",
            [row[0], DETAIL_MESSAGES],
        ).fetchall()
    return 200, {
        "id": str(row[0]),
        "title": row[1],
        "visibility": row[16],
        "parent_conversation_id": str(row[2]) if row[2] and row[17] == "public" else None,
        "is_fork": row[3] > 0,
        "scenario": {
            "id": str(row[8]),
            "base_story": row[9],
            "scenario_type": row[10],
            "parameters": row[11],
            "is_deleted": row[12] is not None,
        },
        "user": {"id": str(row[13]), "username": row[14], "avatar_url": row[15] or None},
        "like_count": row[4],
        "message_count": row[5],
        "created_at": iso(row[6]),
        "updated_at": iso(row[7]),
        "scenario_id": str(row[8]),
        "user_id": str(row[13]),
        "messages": [
            {
                "id": str(m[0]),
                "role": m[1],
                "speaker": {"kind": m[13], "character_id": m[14] or None, "name": m[15]},
                "content": m[2],
                "status": m[3],
                "model": m[4],
                "total_tokens": m[5],
                "degraded": m[6],
                "grounded": m[7],
                "citations": m[12],
                "position": m[8],
                "created_at": iso(m[9]),
                "updated_at": iso(m[10]),
                "completed_at": iso(m[11]),
                "edited_at": iso(m[16]),
                "deleted": m[17],
                "stale": m[18],
                "alternatives_count": m[19],
                "chosen": m[20],
            }
            for m in reversed(messages)
        ],
        "messages_truncated": row[5] > len(messages),
    }


UUID = r"[0-9a-fA-F-]{36}"
ROUTES = [
    (re.compile(rf"^/api/v1/scenarios/(?P<sid>{UUID})$"), get_scenario),
    (re.compile(r"^/api/v1/scenarios/search$"), search_scenarios),
    (re.compile(r"^/api/v1/scenarios$"), list_scenarios),
    (re.compile(rf"^/api/v1/conversations/(?P<cid>{UUID})$"), get_conversation),
]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
    for pattern, handler in ROUTES:
        found = pattern.match(path)
        if found:
            status, body = handler(*found.groups(), query, environ)
            break
    else:
        status, body = 404, {"status": 404}
    data = orjson.dumps(body)
    start_response(
        f"{status} {'OK' if status == 200 else 'Not Found'}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
