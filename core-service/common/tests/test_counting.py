"""Totals and facets beyond COUNT_EXACT_LIMIT (common/counting.py): exact
up to the limit, counted once and shared through Redis above it, and every
answer that used the shared count says so."""

from __future__ import annotations

import pytest

from scenarios.services import scenario_create

LIST = "/api/v1/scenarios"
SEARCH = "/api/v1/scenarios/search"


def make(user, n: int, word: str = "Kingdom"):
    for index in range(n):
        scenario_create(
            creator=user,
            base_story="pride-and-prejudice",
            scenario_type="CHARACTER_CHANGE",
            parameters={"character": "Elizabeth", "property": "personality", "new_value": f"{word} {index}"},
        )


@pytest.fixture
def small_limit(settings):
    settings.COUNT_EXACT_LIMIT = 3
    settings.COUNT_CACHE_SECONDS = 30
    return settings


def test_a_result_within_the_limit_is_counted_exactly_every_time(api, user, small_limit):
    make(user, 3)
    for _ in range(2):
        page = api.get(LIST).json()["page"]
        assert (page["total_elements"], page["total_is_estimate"]) == (3, False)
    make(user, 0)
    small_limit.COUNT_EXACT_LIMIT = 10
    make(user, 1)
    assert api.get(LIST).json()["page"]["total_elements"] == 4


def test_a_larger_list_total_is_counted_once_then_shared_and_says_so(api, user, small_limit):
    make(user, 5)
    first = api.get(LIST, {"size": 2}).json()["page"]
    assert first == {
        "number": 0,
        "size": 2,
        "total_elements": 5,
        "total_pages": 3,
        "total_is_estimate": False,
    }
    make(user, 1)  # not in the shared count until it expires
    second = api.get(LIST, {"size": 2, "page": 1}).json()
    assert second["page"]["total_elements"] == 5
    assert second["page"]["total_is_estimate"] is True
    assert len(second["content"]) == 2
    # Other filters are other counts.
    assert api.get(LIST, {"base_story": "frankenstein"}).json()["page"]["total_elements"] == 0


def test_search_facets_beyond_the_limit_are_shared_and_marked(api, user, small_limit):
    make(user, 4, word="Kingdom")
    first = api.get(SEARCH, {"q": "kingdom"}).json()
    assert first["page"]["total_elements"] == 4 and first["page"]["total_is_estimate"] is False
    assert first["facets"]["scenario_types"]["CHARACTER_CHANGE"] == 4
    make(user, 1, word="Kingdom")
    again = api.get(SEARCH, {"q": "kingdom"}).json()
    assert again["page"]["total_is_estimate"] is True
    assert again["facets"] == first["facets"]
    # A different question is counted for itself.
    other = api.get(SEARCH, {"q": "kingdom", "scenario_type": "EVENT_ALTERATION"}).json()
    assert other["page"] == {
        "number": 0,
        "size": 20,
        "total_elements": 0,
        "total_pages": 0,
        "total_is_estimate": False,
    }


def test_without_redis_every_count_is_exact(api, user, small_limit, redis_down):
    small_limit.RATE_LIMIT_ENABLED = False
    make(user, 5)
    for expected in (5, 6):
        page = api.get(LIST).json()["page"]
        assert (page["total_elements"], page["total_is_estimate"]) == (expected, False)
        make(user, 1)
