"""Scenario search: filters, full text + trigram matching, relevance and
facets, for GET /api/v1/scenarios/search.

Matching reads two generated columns that exist only in the database
(migration 0002), so it is written as parameterised SQL fragments
(RawSQL): the query text is always a bound parameter, never formatted into
the SQL. A scenario matches `q` when

    search_vector @@ websearch_to_tsquery('english', q)   -- GIN scenario_search_fts
    OR lower(q) <% search_text                            -- GIN scenario_search_trgm

(`<%` is pg_trgm's word-similarity operator, so a typo such as "Elizabth"
still finds "Elizabeth"). websearch_to_tsquery never raises on syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BooleanField, Count, F, FloatField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from gaji_contracts.scenarios import ScenarioType

from scenarios.models import Scenario
from scenarios.selectors import apply_filters, live

SORT_FIELDS = ("relevance", "quality_score", "created_at", "fork_count")

# Label -> [low, high) on quality_score; the top range also holds 1.0.
QUALITY_RANGES: dict[str, tuple[float, float | None]] = {
    "0.8-1.0": (0.8, None),
    "0.6-0.8": (0.6, 0.8),
    "0.4-0.6": (0.4, 0.6),
    "0.0-0.4": (0.0, 0.4),
}

_TABLE = Scenario._meta.db_table
_VECTOR = f'"{_TABLE}"."search_vector"'
_TEXT = f'"{_TABLE}"."search_text"'

# Full text first; pg_trgm's word similarity only when full text finds
# nothing (a typo). Rechecking word similarity on every trigram candidate
# cost 0.3-1.1 s per query on 220k scenarios, so it is the fallback, not an OR.
_FULL_TEXT_SQL = f"{_VECTOR} @@ websearch_to_tsquery('english', %s::text)"
# `%%` is a literal `%` once the parameters are bound.
_FUZZY_SQL = f"lower(%s::text) <%% {_TEXT}"
# Relevance in [0, 1]: a full-text match scores 0.5 + 0.5 * ts_rank_cd
# (normalisation 32 maps a rank r to r / (r + 1)); a fuzzy (typo) match
# 0.5 * word_similarity, below any full-text match.
_FULL_TEXT_RELEVANCE_SQL = (
    f"round((0.5 + 0.5 * ts_rank_cd({_VECTOR}, websearch_to_tsquery('english', %s::text), 32))"
    f"::numeric, 3)::float8"
)
_FUZZY_RELEVANCE_SQL = f"round((0.5 * word_similarity(lower(%s::text), {_TEXT}))::numeric, 3)::float8"


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
    fuzzy: bool = False  # match q by trigram word similarity instead of full text


def search_filtered(*, params: SearchParams) -> QuerySet[Scenario]:
    """Live scenarios matching every given filter and `q`; no ordering."""
    scenarios = live()
    if params.q:
        # Constant SQL; q is only ever a bound parameter.
        sql = _FUZZY_SQL if params.fuzzy else _FULL_TEXT_SQL
        match = RawSQL(sql, [params.q], output_field=BooleanField())  # noqa: S611
        scenarios = scenarios.filter(match)
    scenarios = apply_filters(
        scenarios,
        base_story=params.base_story,
        scenario_type=params.scenario_type,
        min_quality=params.min_quality,
        creator_id=params.creator_id,
    )
    if params.has_forks is not None:
        scenarios = scenarios.filter(fork_count__gt=0) if params.has_forks else scenarios.filter(fork_count=0)
    return scenarios


def scenario_search(*, params: SearchParams) -> QuerySet[Scenario]:
    """The ordered page source: filtered scenarios with their creator and a
    `relevance_score` in [0, 1] (3 decimals; None without `q`). Relevance
    without `q` falls back to newest first."""
    scenarios = search_filtered(params=params).select_related("creator")
    if params.q:
        sql = _FUZZY_RELEVANCE_SQL if params.fuzzy else _FULL_TEXT_RELEVANCE_SQL
        relevance = RawSQL(sql, [params.q], output_field=FloatField())  # noqa: S611
    else:
        relevance = Value(None, output_field=FloatField())
    scenarios = scenarios.annotate(relevance_score=relevance)

    if params.sort_field == "relevance" and not params.q:
        return scenarios.order_by("-created_at", "-id")
    field = "relevance_score" if params.sort_field == "relevance" else params.sort_field
    if params.descending:
        ordering = [F(field).desc()]
        if field != "created_at":
            ordering.append(F("created_at").desc())
        return scenarios.order_by(*ordering, "-id")
    ordering = [F(field).asc()]
    if field != "created_at":
        ordering.append(F("created_at").asc())
    return scenarios.order_by(*ordering, "id")


def search_facets(*, filtered: QuerySet[Scenario]) -> dict:
    """Counts over the whole filtered result (not one page), one query."""
    aggregates = {f"type_{t.value}": Count("id", filter=Q(scenario_type=t.value)) for t in ScenarioType}
    for index, (low, high) in enumerate(QUALITY_RANGES.values()):
        in_range = Q(quality_score__gte=low)
        if high is not None:
            in_range &= Q(quality_score__lt=high)
        aggregates[f"quality_{index}"] = Count("id", filter=in_range)
    counts = filtered.order_by().aggregate(**aggregates)
    return {
        "scenario_types": {t.value: counts[f"type_{t.value}"] for t in ScenarioType},
        "quality_ranges": {label: counts[f"quality_{index}"] for index, label in enumerate(QUALITY_RANGES)},
    }
