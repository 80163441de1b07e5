"""Reads of scenarios: one scenario, filtered lists, forks, the fork tree
(one recursive CTE), the ancestor path and the timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from gaji_contracts.timeline import (
    MAX_TIMELINE_STEPS,
    Timeline,
    TimelineStep,
    estimate_tokens,
    step_summary,
    timeline_brief,
)

from novels.selectors import can_read
from scenarios.models import Scenario

SORT_FIELDS = {"created_at", "updated_at", "quality_score", "fork_count", "conversation_count"}


def live() -> QuerySet[Scenario]:
    return Scenario.objects.filter(deleted_at__isnull=True)


_UNCHECKED = object()


def scenario_get(*, scenario_id, viewer=_UNCHECKED) -> Scenario:
    """A live scenario; with `viewer` (a user or None), 404 too when it is
    on a private novel the viewer may not read (as if it did not exist)."""
    scenario = live().select_related("creator", "parent", "novel").filter(id=scenario_id).first()
    if scenario is None:
        raise Http404
    if viewer is not _UNCHECKED and scenario.novel is not None and not can_read(scenario.novel, viewer):
        raise Http404
    return scenario


@dataclass(frozen=True)
class ScenarioFilters:
    base_story: str | None = None
    scenario_type: str | None = None
    min_quality: float | None = None
    creator_id: str | None = None
    sort_field: str = "created_at"
    descending: bool = True


def apply_filters(
    scenarios: QuerySet[Scenario],
    *,
    base_story: str | None = None,
    scenario_type: str | None = None,
    min_quality: float | None = None,
    creator_id=None,
) -> QuerySet[Scenario]:
    """The filters the list and the search share."""
    if base_story:
        scenarios = scenarios.filter(base_story=base_story)
    if scenario_type:
        scenarios = scenarios.filter(scenario_type=scenario_type)
    if min_quality is not None:
        scenarios = scenarios.filter(quality_score__gte=min_quality)
    if creator_id:
        scenarios = scenarios.filter(creator_id=creator_id)
    return scenarios


def scenario_list(*, filters: ScenarioFilters) -> QuerySet[Scenario]:
    scenarios = apply_filters(
        live().select_related("creator", "parent"),
        base_story=filters.base_story,
        scenario_type=filters.scenario_type,
        min_quality=filters.min_quality,
        creator_id=filters.creator_id,
    )
    order = f"-{filters.sort_field}" if filters.descending else filters.sort_field
    return scenarios.order_by(order, "-id" if filters.descending else "id")


def forks_of(*, parent: Scenario) -> QuerySet[Scenario]:
    return live().filter(parent=parent).select_related("creator", "parent").order_by("-created_at", "-id")


# The CTE carries the columns the response needs, so the 10,000-node tree is
# read once (not walked, then joined back to the table).
_TREE_SQL = """
WITH RECURSIVE tree AS (
    SELECT id, parent_id, 0 AS depth, base_story, scenario_type, parameters,
           fork_count, quality_score, created_at, deleted_at IS NOT NULL AS is_deleted
    FROM scenarios_scenario WHERE id = %(root)s
    UNION ALL
    SELECT s.id, s.parent_id, tree.depth + 1, s.base_story, s.scenario_type, s.parameters,
           s.fork_count, s.quality_score, s.created_at, s.deleted_at IS NOT NULL
    FROM scenarios_scenario s JOIN tree ON s.parent_id = tree.id
    WHERE tree.depth < %(max_depth)s
)
SELECT id, parent_id, depth, base_story, scenario_type, parameters,
       fork_count, quality_score, created_at, is_deleted
FROM tree
ORDER BY depth, created_at, id
"""


def _rows(cursor) -> list[dict]:
    """Rows as dicts. Django has psycopg hand jsonb back as text (JSONField
    decodes it itself), so raw queries decode `parameters` here."""
    columns = [c.name for c in cursor.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        if isinstance(row.get("parameters"), str):
            row["parameters"] = json.loads(row["parameters"])
    return rows


def fork_tree(*, root: Scenario, max_depth: int) -> dict:
    """The tree below `root`, `max_depth` levels deep, in one query. Soft-
    deleted scenarios stay in the tree as bare placeholders so their live
    forks remain reachable; they are not counted as descendants."""
    with connection.cursor() as cursor:
        cursor.execute(_TREE_SQL, {"root": root.id, "max_depth": max_depth})
        rows = _rows(cursor)
    nodes: dict = {}
    for row in rows:
        if row["is_deleted"]:
            node = {"id": row["id"], "is_deleted": True, "children": []}
        else:
            node = {
                "id": row["id"],
                "base_story": row["base_story"],
                "scenario_type": row["scenario_type"],
                "parameters": row["parameters"],
                "fork_count": row["fork_count"],
                "quality_score": row["quality_score"],
                "created_at": row["created_at"],
                "is_deleted": False,
                "children": [],
            }
        nodes[row["id"]] = node
        if row["depth"] > 0:
            nodes[row["parent_id"]]["children"].append(node)
    tree = nodes[root.id]
    tree["depth"] = max((row["depth"] for row in rows), default=0)
    tree["total_descendants"] = sum(1 for row in rows if row["depth"] > 0 and not row["is_deleted"])
    return tree


_ANCESTORS_SQL = """
WITH RECURSIVE up AS (
    SELECT id, parent_id, 0 AS height FROM scenarios_scenario WHERE id = %(id)s
    UNION ALL
    SELECT s.id, s.parent_id, up.height + 1
    FROM scenarios_scenario s JOIN up ON s.id = up.parent_id
)
SELECT s.id, s.base_story, s.scenario_type, s.parameters, s.created_at,
       s.deleted_at IS NOT NULL AS is_deleted, up.height
FROM up JOIN scenarios_scenario s ON s.id = up.id
ORDER BY up.height DESC
"""


def ancestors(*, scenario: Scenario) -> list[dict]:
    """The path from the root down to `scenario` (both included), one query."""
    with connection.cursor() as cursor:
        cursor.execute(_ANCESTORS_SQL, {"id": scenario.id})
        rows = _rows(cursor)
    path = []
    for depth, row in enumerate(rows):
        if row["is_deleted"]:
            path.append({"id": row["id"], "depth": depth, "is_deleted": True})
        else:
            row.pop("height")
            path.append({**row, "depth": depth})
    return path


# The chain from the root down to a scenario: the root and the nearest
# MAX_TIMELINE_STEPS - 1 in detail, and how many there are in all.
_TIMELINE_SQL = """
WITH RECURSIVE up AS (
    SELECT id, parent_id, 0 AS height FROM scenarios_scenario WHERE id = %(id)s
    UNION ALL
    SELECT s.id, s.parent_id, up.height + 1
    FROM scenarios_scenario s JOIN up ON s.id = up.parent_id
), chain AS (
    SELECT id, parent_id, height, count(*) OVER () AS total FROM up
)
SELECT s.id, s.scenario_type, s.parameters, s.deleted_at IS NOT NULL AS is_deleted,
       u.id AS creator_id, u.username, chain.height, chain.total
FROM chain
JOIN scenarios_scenario s ON s.id = chain.id
JOIN accounts_user u ON u.id = s.creator_id
WHERE chain.height < %(nearest)s OR chain.parent_id IS NULL
ORDER BY chain.height DESC
"""


def timeline(*, scenario_id) -> Timeline:
    """Every change from the novel down to this scenario (one query), with
    the brief the model is told. A deleted ancestor keeps its change (it
    shaped this fork) and is marked deleted."""
    with connection.cursor() as cursor:
        cursor.execute(_TIMELINE_SQL, {"id": scenario_id, "nearest": MAX_TIMELINE_STEPS - 1})
        rows = _rows(cursor)
    if not rows:
        raise Http404
    total = rows[0]["total"]
    steps = [
        TimelineStep(
            scenario_id=row["id"],
            scenario_type=row["scenario_type"],
            summary=step_summary(row["scenario_type"], row["parameters"]),
            parameters=row["parameters"],
            creator={"id": row["creator_id"], "username": row["username"]},
            is_deleted=row["is_deleted"],
            position=total - row["height"],
        )
        for row in rows
    ]
    brief = timeline_brief(steps, total=total)
    return Timeline(
        scenario_id=scenario_id,
        total_steps=total,
        steps=steps,
        condensed_steps=brief.condensed,
        counted_steps=brief.counted,
        brief=brief.text,
        brief_tokens=estimate_tokens(brief.text),
    )
