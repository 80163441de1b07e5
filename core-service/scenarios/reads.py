"""The hot read paths of scenarios (one by id, the filtered list) in plain
SQL, straight to JSON.

Profiling GET /api/v1/scenarios/{id} under load (pyinstrument) showed the
ORM building and compiling its query cost more than the query itself
(1.3 of 2.3 ms), and DRF's serializer another 0.5 ms; these readers bind
parameters into fixed SQL and build the documents ScenarioSerializer
describes (the tests compare both), and the views send them with orjson.
`parameters` (jsonb) is passed through as the JSON text PostgreSQL gives,
never parsed and re-encoded."""

from __future__ import annotations

import orjson
from django.http import Http404, HttpResponse

from common.counting import counted
from common.db.base import fast_cursor, row_or_404
from common.pagination import PageRequest, page_info

_COLUMNS = """
    s.id, s.base_story, s.novel_id, s.parent_id, p.deleted_at IS NOT NULL, s.scenario_type,
    s.parameters::text, s.quality_score, s.creator_id, u.username, u.avatar_url, s.fork_count,
    s.conversation_count, s.created_at, s.updated_at
"""
_FROM = """
    FROM scenarios_scenario s
    JOIN accounts_user u ON u.id = s.creator_id
    LEFT JOIN scenarios_scenario p ON p.id = s.parent_id
"""
# ... and its novel's visibility and owner: a scenario on a private novel is
# as missing as its novel for anyone but the novel's owner and staff.
BY_ID_SQL = (
    f"SELECT {_COLUMNS}, n.visibility, n.owner_id {_FROM} LEFT JOIN novels_novel n ON n.id = s.novel_id "
    "WHERE s.id = %s AND s.deleted_at IS NULL"
)
# Shared lists and search leave out scenarios on novels that are not public
# (private or unlisted): one hashed subplan over the few such novels.
SHARED_ONLY_SQL = (
    "(s.novel_id IS NULL OR s.novel_id NOT IN "
    "(SELECT n.id FROM novels_novel n WHERE n.visibility <> 'public'))"
)
SORT_COLUMNS = {"created_at", "updated_at", "quality_score", "fork_count", "conversation_count"}


def iso(value) -> str | None:
    """As DRF's DateTimeField writes an aware UTC datetime."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def scenario_document(row) -> dict:
    (sid, story, novel, parent, parent_deleted, kind, parameters, quality, creator, username,
     avatar, forks, conversations, created, updated) = row  # fmt: skip
    return {
        "id": str(sid),
        "base_story": story,
        "novel_id": str(novel) if novel else None,
        "parent_scenario_id": str(parent) if parent else None,
        "parent": {"id": str(parent), "is_deleted": parent_deleted} if parent else None,
        "scenario_type": kind,
        "parameters": orjson.Fragment(parameters),
        "quality_score": float(quality),
        "creator_id": str(creator),
        "creator": {"id": str(creator), "username": username, "avatar_url": avatar or None},
        "fork_count": forks,
        "conversation_count": conversations,
        "created_at": iso(created),
        "updated_at": iso(updated),
    }


def viewer_of(request):
    """The signed-in reader of a request, or None (the anonymous fast path has no user)."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def may_read_novel(visibility: str | None, owner_id, viewer) -> bool:
    """A scenario's novel (its visibility and owner; None: no novel) readable by `viewer`."""
    if visibility != "private":
        return True
    if viewer is None or not viewer.is_authenticated:
        return False
    return bool(viewer.is_staff) or (owner_id is not None and owner_id == viewer.id)


def scenario_by_id(scenario_id, viewer=None) -> dict:
    """The live scenario as the API shows it; 404 when missing, deleted, or
    on a private novel `viewer` may not read."""
    with fast_cursor() as cursor:
        row = row_or_404(cursor, BY_ID_SQL, scenario_id)
    *columns, visibility, owner_id = row
    if not may_read_novel(visibility, owner_id, viewer):
        raise Http404
    return scenario_document(columns)


def scenario_page(
    *,
    page: PageRequest,
    base_story: str | None = None,
    scenario_type: str | None = None,
    min_quality: float | None = None,
    creator_id=None,
    sort_field: str = "created_at",
    descending: bool = True,
    shared_only: bool = True,
) -> dict:
    """One page of live scenarios with every given filter, `{content, page}`;
    the total as common/counting.py counts it (`page.total_is_estimate`).
    `shared_only`: leave out scenarios on novels that are not public (every
    list but a reader's own scenarios)."""
    if sort_field not in SORT_COLUMNS:
        raise ValueError(sort_field)
    where, args = ["s.deleted_at IS NULL"], []
    if shared_only:
        where.append(SHARED_ONLY_SQL)
    for column, value in (("base_story", base_story), ("scenario_type", scenario_type)):
        if value:
            where.append(f"s.{column} = %s")
            args.append(value)
    if min_quality is not None:
        where.append("s.quality_score >= %s")
        args.append(min_quality)
    if creator_id:
        where.append("s.creator_id = %s")
        args.append(creator_id)
    clause = " AND ".join(where)
    direction = "DESC" if descending else "ASC"
    start = page.number * page.size
    with fast_cursor() as cursor:
        # `clause` is built from constant fragments only; values are bound parameters.
        (total,), shared = counted(
            cursor,
            name="scenario-list",
            rows_sql=f"SELECT 1 FROM scenarios_scenario s WHERE {clause}",  # noqa: S608
            args=args,
            aggregates="count(*)",
        )
        rows = []
        if start < total:
            cursor.execute(
                f"SELECT {_COLUMNS} {_FROM} WHERE {clause} "
                f"ORDER BY s.{sort_field} {direction}, s.id {direction} LIMIT %s OFFSET %s",
                [*args, page.size, start],
            )
            rows = cursor.fetchall()
    info = page_info(page, total)
    info["total_is_estimate"] = shared
    return {"content": [scenario_document(r) for r in rows], "page": info}


def json_response(body, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
