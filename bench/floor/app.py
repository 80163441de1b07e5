"""The performance floor: a minimal WSGI service with no framework serving
core's read paths with the same SQL and the same JSON, so `make bench-floor`
can show what core's own per-request overhead costs.

    gunicorn -k gthread -w 3 --threads 4 -b 127.0.0.1:PORT bench.floor.app:app
    (DATABASE_URL as for core)

It is a measuring stick, not a product: it has no auth, no rate limits, no
request ids and no input validation beyond what keeps its SQL correct, and
answers only the three routes the benchmark drives:

    GET /api/v1/scenarios/{id}
    GET /api/v1/scenarios?base_story=&scenario_type=&sort=quality_score,desc&page=&size=
    GET /api/v1/scenarios/search?q=

Each answer is the same JSON document core gives for the same request
(bench/floor_bench.py checks this before it measures)."""

from __future__ import annotations

import math
import os
import re
import urllib.parse
import uuid

import orjson
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
            f"SELECT {SCENARIO_COLUMNS} {SCENARIO_FROM} WHERE s.id = %s AND s.deleted_at IS NULL",
            [uuid.UUID(sid)],
        ).fetchone()
    return (200, scenario(row)) if row else (404, {"status": 404})


def list_scenarios(query: dict, environ: dict):
    where, args = ["s.deleted_at IS NULL"], []
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
        total = conn.execute(f"SELECT count(*) FROM scenarios_scenario s WHERE {clause}", args).fetchone()[0]
        rows = []
        if number * size < total:
            rows = conn.execute(
                f"SELECT {SCENARIO_COLUMNS} {SCENARIO_FROM} WHERE {clause} "
                f"ORDER BY s.{field} {order}, s.id {order} LIMIT %s OFFSET %s",
                [*args, size, number * size],
            ).fetchall()
    return 200, {"content": [scenario(r) for r in rows], "page": page_info(number, size, total)}


FULL_TEXT = "s.search_vector @@ websearch_to_tsquery('english', %s::text)"
FUZZY = "lower(%s::text) <%% s.search_text"
FULL_TEXT_RELEVANCE = (
    "round((0.5 + 0.5 * ts_rank_cd(s.search_vector, websearch_to_tsquery('english', %s::text), 32))"
    "::numeric, 3)::float8"
)
FUZZY_RELEVANCE = "round((0.5 * word_similarity(lower(%s::text), s.search_text))::numeric, 3)::float8"
FACETS = ", ".join(
    [f"count(*) FILTER (WHERE s.scenario_type = '{t}')" for t in TYPES]
    + [
        f"count(*) FILTER (WHERE s.quality_score >= {low}"
        + (f" AND s.quality_score < {high})" if high is not None else ")")
        for _, low, high in QUALITY_RANGES
    ]
)


def search_scenarios(query: dict, environ: dict):
    q = query["q"]
    number, size = paging(query)
    with pool.connection() as conn:
        match, relevance, matched_by = FULL_TEXT, FULL_TEXT_RELEVANCE, "full_text"
        counts = conn.execute(
            f"SELECT {FACETS} FROM scenarios_scenario s WHERE s.deleted_at IS NULL AND {match}", [q]
        ).fetchone()
        if not any(counts[:3]):
            match, relevance, matched_by = FUZZY, FUZZY_RELEVANCE, "trigram"
            counts = conn.execute(
                f"SELECT {FACETS} FROM scenarios_scenario s WHERE s.deleted_at IS NULL AND {match}", [q]
            ).fetchone()
        total = sum(counts[:3])
        rows = []
        if number * size < total:
            rows = conn.execute(
                "SELECT s.id, s.base_story, s.scenario_type, s.parameters, s.quality_score, s.fork_count,"
                f" s.conversation_count, s.created_at, {relevance} AS rel, u.id, u.username, u.avatar_url"
                " FROM scenarios_scenario s JOIN accounts_user u ON u.id = s.creator_id"
                f" WHERE s.deleted_at IS NULL AND {match}"
                " ORDER BY rel DESC, s.created_at DESC, s.id DESC LIMIT %s OFFSET %s",
                [q, q, size, number * size],
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
    return 200, {
        "content": content,
        "page": page_info(number, size, total),
        "facets": {
            "scenario_types": dict(zip(TYPES, counts[:3], strict=True)),
            "quality_ranges": {label: counts[3 + i] for i, (label, _, _) in enumerate(QUALITY_RANGES)},
        },
        "matched_by": matched_by,
    }


UUID = r"[0-9a-fA-F-]{36}"
ROUTES = [
    (re.compile(rf"^/api/v1/scenarios/(?P<sid>{UUID})$"), get_scenario),
    (re.compile(r"^/api/v1/scenarios/search$"), search_scenarios),
    (re.compile(r"^/api/v1/scenarios$"), list_scenarios),
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
