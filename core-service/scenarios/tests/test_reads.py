"""The SQL readers of the hot paths (scenarios/reads.py) give the very
documents ScenarioSerializer gives for the ORM rows, in every shape a
scenario takes: a root, a fork, a fork of a deleted parent, a novel link,
a creator with and without an avatar; and the list pages match too."""

from __future__ import annotations

import json

import orjson
import pytest

from common.pagination import PageRequest, paginate
from novels.models import Novel
from scenarios import reads, selectors
from scenarios.apis import scenario_json
from scenarios.tests.helpers import make_fork, make_scenario, soft_delete


def serialized(scenario) -> dict:
    return json.loads(json.dumps(scenario_json(selectors.scenario_get(scenario_id=scenario.id))))


def fast(scenario_id) -> dict:
    return orjson.loads(orjson.dumps(reads.scenario_by_id(scenario_id)))


@pytest.fixture
def shapes(make_user, db):
    plain = make_user()
    pictured = make_user(avatar_url="https://example.com/a.png")
    Novel.objects.create(slug="emma", title="Emma", ingestion_status="completed")
    root = make_scenario(plain, quality_score=0.4321)
    linked = make_scenario(pictured, scenario_type="SETTING_MODIFICATION", base_story="emma")
    fork = make_fork(root, pictured)
    orphan_parent = make_scenario(plain, scenario_type="EVENT_ALTERATION")
    orphan = make_fork(orphan_parent, plain)
    soft_delete(orphan_parent)
    return [root, linked, fork, orphan]


def test_by_id_matches_the_serializer_in_every_shape(shapes):
    for scenario in shapes:
        assert fast(scenario.id) == serialized(scenario)
    assert fast(shapes[3].id)["parent"]["is_deleted"] is True
    assert fast(shapes[1].id)["novel_id"] is not None


def test_missing_or_deleted_is_404(shapes, make_user):
    import uuid

    from django.http import Http404

    with pytest.raises(Http404):
        reads.scenario_by_id(uuid.uuid4())
    gone = make_scenario(make_user())
    soft_delete(gone)
    with pytest.raises(Http404):
        reads.scenario_by_id(gone.id)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"base_story": "harry_potter"},
        {"scenario_type": "CHARACTER_CHANGE", "sort_field": "quality_score"},
        {"min_quality": 0.4, "sort_field": "fork_count", "descending": False},
    ],
)
def test_pages_match_the_orm_pages(shapes, filters):
    for number, size in ((0, 2), (1, 2), (5, 2), (0, 100)):
        page = PageRequest(number=number, size=size)
        orm_filters = selectors.ScenarioFilters(**filters)
        expected = paginate(selectors.scenario_list(filters=orm_filters), page, scenario_json)
        expected["page"]["total_is_estimate"] = False  # a few rows: counted exactly
        got = reads.scenario_page(page=page, **filters)
        assert orjson.loads(orjson.dumps(got)) == json.loads(json.dumps(expected))
