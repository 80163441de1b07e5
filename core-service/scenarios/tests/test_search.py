"""GET /api/v1/scenarios/search: matching (full text and trigram), filters,
sorting, relevance, facets over the whole result, hostile input, and the
RUM and GIN indexes actually being usable by the generated SQL, and
counts shared through Redis beyond COUNT_EXACT_LIMIT."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from common.pagination import PageRequest
from conftest import assert_envelope
from scenarios import search
from scenarios.models import Scenario
from scenarios.services import scenario_create, scenario_delete, scenario_fork

URL = "/api/v1/scenarios/search"
TYPES = {"CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION"}
ITEM_FIELDS = {
    "id",
    "base_story",
    "scenario_type",
    "parameters",
    "quality_score",
    "fork_count",
    "conversation_count",
    "created_at",
    "relevance_score",
    "creator",
}


def character(user, name="Elizabeth Bennet", new_value="Marries Mr. Collins", base="pride-and-prejudice"):
    return scenario_create(
        creator=user,
        base_story=base,
        scenario_type="CHARACTER_CHANGE",
        parameters={"character": name, "property": "personality", "new_value": new_value},
    )


def event(user, name="The Netherfield ball", outcome="It is cancelled", base="pride-and-prejudice", who=()):
    return scenario_create(
        creator=user,
        base_story=base,
        scenario_type="EVENT_ALTERATION",
        parameters={
            "event": name,
            "alteration_type": "prevent",
            "new_outcome": outcome,
            "affected_characters": list(who),
        },
    )


def setting(user, description="Regency England has railways", base="pride-and-prejudice"):
    return scenario_create(
        creator=user,
        base_story=base,
        scenario_type="SETTING_MODIFICATION",
        parameters={
            "setting_element": "technology",
            "scope": "global",
            "change_description": description,
            "impact_level": "major",
        },
    )


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["content"]]


def found(api, **params) -> set[str]:
    return set(ids(api.get(URL, params)))


@pytest.fixture
def author(make_user):
    return make_user(username="austen_fan")


# --- matching -------------------------------------------------------------


def test_matches_by_character_name(api, author):
    lizzy = character(author)
    character(author, name="Fitzwilliam Darcy", new_value="Becomes a sailor")
    character(author, name="Hermione Granger", new_value="Sorted into Slytherin", base="harry_potter")
    response = api.get(URL, {"q": "Elizabeth"})
    assert ids(response) == [str(lizzy.id)]
    item = response.json()["content"][0]
    assert 0 < item["relevance_score"] <= 1


def test_matches_by_words_of_the_base_story(api, author):
    pride = {str(character(author).id), str(setting(author).id)}
    character(author, name="Hermione Granger", new_value="Sorted into Slytherin", base="harry_potter")
    assert found(api, q="pride prejudice") == pride
    assert found(api, q="Harry Potter") != pride


def test_matches_words_of_nested_parameter_values(api, author):
    ball = event(author, who=["Charlotte Lucas"])
    event(author, name="Lydia elopes", outcome="She stays home")
    assert found(api, q="Charlotte") == {str(ball.id)}


def test_a_typo_still_finds_the_scenario_by_trigram(api, author):
    lizzy = character(author)
    character(author, name="Fitzwilliam Darcy", new_value="Becomes a sailor")
    response = api.get(URL, {"q": "Elizabth"})
    assert ids(response) == [str(lizzy.id)]
    assert 0 < response.json()["content"][0]["relevance_score"] < 1


def test_search_is_case_insensitive(api, author):
    lizzy = character(author)
    assert found(api, q="ELIZABETH bennet") == {str(lizzy.id)}
    assert found(api, q="elizabeth") == {str(lizzy.id)}


def test_no_match_is_an_empty_page_with_zero_facets(api, author):
    character(author)
    body = api.get(URL, {"q": "zzzqqqxxx"}).json()
    assert body["content"] == []
    assert body["page"]["total_elements"] == 0
    assert body["facets"]["scenario_types"] == dict.fromkeys(TYPES, 0)
    assert set(body["facets"]["quality_ranges"].values()) == {0}


def test_deleted_scenarios_are_never_found(api, author):
    kept = character(author)
    gone = character(author, new_value="Elopes with Wickham")
    scenario_delete(scenario=gone, user=author)
    for params in ({"q": "Elizabeth"}, {}, {"base_story": "pride-and-prejudice"}):
        body = api.get(URL, params).json()
        assert [item["id"] for item in body["content"]] == [str(kept.id)]
        assert body["facets"]["scenario_types"]["CHARACTER_CHANGE"] == 1


# --- response shape -------------------------------------------------------


def test_item_shape_and_relevance_is_null_without_q(api, author):
    character(author)
    body = api.get(URL).json()
    assert set(body) == {"content", "page", "facets", "matched_by", "corrected_query"}
    assert body["matched_by"] is None
    (item,) = body["content"]
    assert set(item) == ITEM_FIELDS
    assert item["relevance_score"] is None
    assert item["creator"] == {"id": str(author.id), "username": "austen_fan", "avatar_url": None}
    assert item["parameters"]["character"] == "Elizabeth Bennet"
    assert body["page"] == {
        "number": 0,
        "size": 20,
        "total_elements": 1,
        "total_pages": 1,
        "total_is_estimate": False,
    }
    assert body["facets"]["scenario_types"] == {
        "CHARACTER_CHANGE": 1,
        "EVENT_ALTERATION": 0,
        "SETTING_MODIFICATION": 0,
    }
    assert body["facets"]["quality_ranges"] == {"0.8-1.0": 0, "0.6-0.8": 0, "0.4-0.6": 0, "0.0-0.4": 1}


def test_search_is_public_and_uses_two_queries(api, author, django_assert_num_queries):
    for n in range(3):
        character(author, new_value=f"Variant {n}")
    with django_assert_num_queries(2):  # facets (which also give the total), page (creator joined)
        response = api.get(URL, {"q": "Elizabeth", "size": 2})
    assert len(ids(response)) == 2


# --- filters --------------------------------------------------------------


def test_each_filter(api, make_user, author):
    other = make_user()
    lizzy = character(author)
    ball = event(author)
    rails = setting(other)
    potter = character(other, name="Hermione Granger", new_value="Sorted into Slytherin", base="harry_potter")
    Scenario.objects.filter(id=ball.id).update(quality_score=0.75)
    Scenario.objects.filter(id=potter.id).update(quality_score=0.7)

    assert found(api, base_story="harry_potter") == {str(potter.id)}
    assert found(api, scenario_type="EVENT_ALTERATION") == {str(ball.id)}
    assert found(api, scenario_type="SETTING_MODIFICATION") == {str(rails.id)}
    assert found(api, min_quality="0.7") == {str(ball.id), str(potter.id)}
    assert found(api, min_quality="0.75") == {str(ball.id)}
    assert found(api, min_quality="0") == {str(s.id) for s in (lizzy, ball, rails, potter)}
    assert found(api, creator_id=str(other.id)) == {str(rails.id), str(potter.id)}
    assert found(api, creator_id=str(uuid.uuid4())) == set()
    assert found(api, base_story="pride-and-prejudice", creator_id=str(author.id), min_quality="0.5") == {
        str(ball.id)
    }
    assert found(api, q="Hermione", base_story="pride-and-prejudice") == set()


def test_has_forks(api, author):
    parent = character(author)
    fork = scenario_fork(
        parent=parent, creator=author, parameters={**parent.parameters, "new_value": "Stays"}
    )
    lonely = setting(author)
    assert found(api, has_forks="true") == {str(parent.id)}
    assert found(api, has_forks="false") == {str(fork.id), str(lonely.id)}
    assert found(api) == {str(parent.id), str(fork.id), str(lonely.id)}
    body = api.get(URL, {"has_forks": "true"}).json()
    assert body["content"][0]["fork_count"] == 1


def test_has_forks_counts_live_forks_only(api, author):
    parent = character(author)
    fork = scenario_fork(
        parent=parent, creator=author, parameters={**parent.parameters, "new_value": "Stays"}
    )
    scenario_delete(scenario=fork, user=author)
    assert found(api, has_forks="true") == set()


# --- sorting --------------------------------------------------------------


@pytest.fixture
def ranked(author):
    """Three scenarios with distinct created_at, quality and fork counts."""
    now = timezone.now()
    rows = [character(author, new_value=f"Variant {n}") for n in range(3)]
    for n, (quality, forks) in enumerate([(0.5, 4), (0.9, 1), (0.1, 7)]):
        Scenario.objects.filter(id=rows[n].id).update(
            quality_score=quality, fork_count=forks, created_at=now - timedelta(days=n)
        )
    return [str(s.id) for s in rows]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("quality_score,desc", [1, 0, 2]),
        ("quality_score,asc", [2, 0, 1]),
        ("quality_score", [1, 0, 2]),
        ("fork_count,desc", [2, 0, 1]),
        ("fork_count,asc", [1, 0, 2]),
        ("created_at,desc", [0, 1, 2]),
        ("created_at,asc", [2, 1, 0]),
        ("relevance,desc", [0, 1, 2]),  # without q: newest first
    ],
)
def test_sort_orders(api, ranked, sort, order):
    assert ids(api.get(URL, {"sort": sort})) == [ranked[n] for n in order]
    if not sort.startswith("relevance"):  # the same order when q matches them all
        assert ids(api.get(URL, {"sort": sort, "q": "Elizabeth"})) == [ranked[n] for n in order]


def test_default_sort_without_q_is_newest_first(api, ranked):
    assert ids(api.get(URL)) == ranked


def test_relevance_is_present_and_ordered(api, author, make_user):
    strong = character(author, name="Darcy", new_value="Darcy proposes to Darcy's cousin")
    medium = event(author, name="The Netherfield ball", outcome="Mr. Darcy dances", who=["Bingley"])
    character(author, name="Mr. Darcey", new_value="Moves to Bath")  # only a typo away
    character(author, name="Jane Bennet", new_value="Marries Bingley")  # no match
    body = api.get(URL, {"q": "Darcy", "sort": "relevance,desc"}).json()
    items = body["content"]
    # Full-text matches exist, so the typo-only one is not mixed in.
    assert body["matched_by"] == "full_text"
    assert [item["id"] for item in items] == [str(strong.id), str(medium.id)]
    scores = [item["relevance_score"] for item in items]
    assert all(isinstance(s, float) and 0.5 <= s <= 1 for s in scores)
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]
    assert all(round(s, 3) == s for s in scores)

    ascending = api.get(URL, {"q": "Darcy", "sort": "relevance,asc"}).json()["content"]
    assert [item["relevance_score"] for item in ascending] == sorted(scores)
    # Default sort with q is relevance, descending.
    assert [item["id"] for item in api.get(URL, {"q": "Darcy"}).json()["content"]] == [
        item["id"] for item in items
    ]


def test_typos_fall_back_to_trigram_matching(api, author):
    near = character(author, name="Mr. Darcey", new_value="Moves to Bath")
    character(author, name="Jane Bennet", new_value="Marries Bingley")
    body = api.get(URL, {"q": "Darcy"}).json()
    assert body["matched_by"] == "trigram"
    assert body["corrected_query"] == "darcey"
    assert [item["id"] for item in body["content"]] == [str(near.id)]
    assert 0 < body["content"][0]["relevance_score"] < 0.5
    assert body["page"]["total_elements"] == 1
    assert body["facets"]["scenario_types"]["CHARACTER_CHANGE"] == 1
    nothing = api.get(URL, {"q": "zzqxv"}).json()
    assert nothing["content"] == [] and nothing["page"]["total_elements"] == 0


# --- facets ---------------------------------------------------------------


def test_facets_count_the_whole_result_not_the_page(api, author):
    made = (
        [character(author, new_value=f"Kingdom {n}") for n in range(10)]
        + [event(author, outcome=f"Kingdom {n}") for n in range(8)]
        + [setting(author, description=f"Kingdom {n}") for n in range(7)]
    )
    character(author, new_value="Nothing to see")  # does not match q
    for index, quality in enumerate([0.8, 1.0, 0.95, 0.6, 0.79, 0.4, 0.59, 0.0, 0.39, 0.2]):
        Scenario.objects.filter(id=made[index].id).update(quality_score=quality)
    response = api.get(URL, {"q": "kingdom", "size": 5, "page": 1})
    body = response.json()
    assert len(body["content"]) == 5
    assert body["page"] == {
        "number": 1,
        "size": 5,
        "total_elements": 25,
        "total_pages": 5,
        "total_is_estimate": False,
    }
    assert body["facets"]["scenario_types"] == {
        "CHARACTER_CHANGE": 10,
        "EVENT_ALTERATION": 8,
        "SETTING_MODIFICATION": 7,
    }
    # 0.8, 1.0, 0.95 | 0.6, 0.79 | 0.4, 0.59 | 0.0, 0.39, 0.2 and 15 left at 0.0
    assert body["facets"]["quality_ranges"] == {"0.8-1.0": 3, "0.6-0.8": 2, "0.4-0.6": 2, "0.0-0.4": 18}

    filtered = api.get(URL, {"q": "kingdom", "size": 5, "scenario_type": "EVENT_ALTERATION"}).json()
    assert filtered["facets"]["scenario_types"] == {
        "CHARACTER_CHANGE": 0,
        "EVENT_ALTERATION": 8,
        "SETTING_MODIFICATION": 0,
    }
    assert filtered["page"]["total_elements"] == 8


def test_facets_follow_min_quality(api, author):
    rows = [character(author, new_value=f"Variant {n}") for n in range(4)]
    for row, quality in zip(rows, [0.85, 0.65, 0.45, 0.05], strict=True):
        Scenario.objects.filter(id=row.id).update(quality_score=quality)
    body = api.get(URL, {"min_quality": "0.6"}).json()
    assert body["facets"]["quality_ranges"] == {"0.8-1.0": 1, "0.6-0.8": 1, "0.4-0.6": 0, "0.0-0.4": 0}


# --- validation and hostile input -----------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "x" * 10_240},
        {"q": "Eliza\x00beth"},
        {"base_story": "Pride And Prejudice"},
        {"base_story": "pride--prejudice"},
        {"base_story": "a" * 101},
        {"scenario_type": "ROMANCE"},
        {"min_quality": "1.5"},
        {"min_quality": "-0.1"},
        {"min_quality": "abc"},
        {"min_quality": "nan"},
        {"min_quality": "inf"},
        {"creator_id": "not-a-uuid"},
        {"creator_id": "1; DROP TABLE scenarios_scenario"},
        {"has_forks": "maybe"},
        {"has_forks": "null"},  # found by the OpenAPI fuzzer: was read as "no filter"
        {"sort": "title,desc"},
        {"sort": "relevance,up"},
        {"sort": "quality_score,desc,extra"},
        {"sort": "-created_at"},
        {"sort": "x" * 51},
        {"page": "-1"},
        {"size": "0"},
        {"size": "101"},
        {"page": "two"},
    ],
)
def test_invalid_parameters_are_400_envelopes(api, db, params):
    body = assert_envelope(api.get(URL, params), 400, "VALIDATION_ERROR")
    assert set(body["details"]) <= set(params) | {"non_field_errors"}


def test_an_empty_q_is_no_q_like_every_optional_query_parameter(api, author):
    lizzy = character(author)
    body = api.get(URL, {"q": ""}).json()
    assert [item["id"] for item in body["content"]] == [str(lizzy.id)]
    assert body["content"][0]["relevance_score"] is None


def test_q_longer_than_200_after_strip_is_accepted_only_if_the_stripped_text_fits(api, author):
    lizzy = character(author)
    assert found(api, q="   Elizabeth   ") == {str(lizzy.id)}
    assert found(api, q="  " + "x" * 200 + "  ") == set()


HOSTILE = [
    "'",
    "''",
    '"',
    "'; DROP TABLE scenarios_scenario; --",
    "Elizabeth' OR '1'='1",
    "%",
    "%%",
    "%s",
    "%(q)s",
    "_",
    "__%__",
    "\\",
    "\\\\",
    "Eliza\\beth",
    "&",
    "|",
    "!",
    "!!!",
    "()",
    "(",
    ")",
    ":*",
    "a:*",
    "<->",
    "<",
    ">",
    "&|!():*<>",
    "Elizabeth & | !",
    "!(Elizabeth",
    '"unterminated phrase',
    "-",
    "- - -",
    "or",
    "OR OR OR",
    "the",
    "a",
    "💃",
    "🙂 Elizabeth 🙂",
    "Élisabeth Bénnet",
    "エリザベス",
    "Ελισάβετ",
    "\u200b",
    "x" * 200,
    "\t\n\r Elizabeth",
    "$$",
    "$1",
    "?",
    "::text",
    "\x7f",
    "\x01",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_q_is_never_a_server_error(api, author, q):
    character(author)
    event(author, who=["Charlotte Lucas"])
    response = api.get(URL, {"q": q})
    assert response.status_code in (200, 400), response.content[:500]
    if response.status_code == 200:
        body = response.json()
        assert body["page"]["total_elements"] == len(body["content"])
        assert sum(body["facets"]["scenario_types"].values()) == body["page"]["total_elements"]
    else:
        assert_envelope(response, 400)


@pytest.mark.parametrize("q", ["%", "_", "%%", "__%__", "'", "\\", "&|!():*<>"])
def test_wildcards_and_operators_match_nothing_literally(api, author, q):
    character(author)
    body = api.get(URL, {"q": q}).json()
    assert body["content"] == []


@pytest.mark.parametrize("q", ["Elizabeth' OR '1'='1", "Elizabeth & | !", "🙂 Elizabeth 🙂", "!(Elizabeth"])
def test_hostile_q_around_a_real_word_still_finds_it(api, author, q):
    lizzy = character(author)
    setting(author)
    assert str(lizzy.id) in found(api, q=q)


def test_the_table_is_intact_after_an_injection_attempt(api, author):
    character(author)
    api.get(URL, {"q": "x'); DELETE FROM scenarios_scenario; --"})
    assert Scenario.objects.count() == 1


def test_search_route_is_not_taken_for_a_scenario_id(api, db):
    assert api.get(URL).status_code == 200
    assert api.get("/api/v1/scenarios/search/").status_code in (301, 404)


# --- the indexes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "corrected"),
    [("Elizabeth", None), ("pride prejudice", None), ("Elizabth", "'elizabeth'")],
)
def test_search_sql_uses_its_index(author, q, corrected):
    character(author)
    Scenario.objects.bulk_create(
        Scenario(
            creator=author,
            base_story=f"story-{n}",
            scenario_type="SETTING_MODIFICATION",
            parameters={
                "setting_element": "era",
                "scope": "local",
                # Most of them mention Elizabeth: ranking must not read them all.
                "change_description": f"Filler number {n}" + (" for Elizabeth" if n % 3 else ""),
                "impact_level": "minor",
            },
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        # Statistics, and sequential scans off until the test's transaction rolls back.
        cursor.execute("ANALYZE scenarios_scenario")
        cursor.execute("SET LOCAL enable_seqscan = off")
        params = search.SearchParams(q=q, corrected=corrected)
        plans = []
        for sql, args in (search.page_sql(params, PageRequest(0, 20)), search.rows_sql(params)):
            cursor.execute(f"EXPLAIN {sql}", args)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    for plan in plans:
        assert "scenario_search_rum" in plan, plan
    if q != "pride prejudice":
        # 2,001 matches, ranked inside the index: no sort over all of them.
        assert "Order By: (search_vector <=>" in plans[0], plans[0]
        assert "Sort" not in plans[0], plans[0]


def test_the_sql_binds_q_as_a_parameter(author):
    q = "'; DROP TABLE x; --"
    for corrected in (None, search.as_tsquery([q])):
        params = search.SearchParams(q=q, corrected=corrected)
        for sql, args in (search.page_sql(params, PageRequest(0, 20)), search.rows_sql(params)):
            assert "DROP TABLE" not in sql
            assert (corrected or q) in args


def test_corrected_words_are_quoted_lexemes_never_tsquery_syntax(api, author):
    assert search.as_tsquery(["o'hara", "a\\b", "x | !y"]) == "'o''hara' & 'a\\\\b' & 'x | !y'"
    character(author, name="Scarlett O'Hara", new_value="Stays in Atlanta")
    body = api.get(URL, {"q": "Scarlet Ohara | !atlanta"}).json()
    assert body["page"]["total_elements"] in (0, 1)  # whatever it finds, it never errors


def test_a_typo_in_one_word_of_several_is_corrected_and_both_required(api, author):
    lizzy = character(author)  # Elizabeth Bennet, Marries Mr. Collins
    character(author, name="Elizabeth Hale", new_value="Moves north")
    body = api.get(URL, {"q": "Elizabth Collins"}).json()
    assert body["matched_by"] == "trigram" and body["corrected_query"] == "elizabeth collin"
    assert [item["id"] for item in body["content"]] == [str(lizzy.id)]
    assert 0 < body["content"][0]["relevance_score"] < 0.5


def test_a_word_with_nothing_near_it_finds_nothing(api, author):
    character(author)
    body = api.get(URL, {"q": "Elizabth qqqqzzzz"}).json()
    assert body["content"] == [] and body["corrected_query"] is None
    assert body["page"]["total_elements"] == 0


def test_words_of_new_and_edited_scenarios_become_known(author):
    from django.db import connection

    scenario = character(author, name="Marianne Dashwood")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scenario_search_words WHERE word IN ('mariann', 'dashwood')")
        assert cursor.fetchone()[0] == 2
    Scenario.objects.filter(id=scenario.id).update(
        parameters={"character": "Elinor Ferrars", "property": "personality", "new_value": "Bold"}
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scenario_search_words WHERE word IN ('elinor', 'ferrar')")
        assert cursor.fetchone()[0] == 2


# --- the shared search page -------------------------------------------------


def test_the_same_search_within_seconds_is_the_first_answer_with_its_age(api, author, settings):
    settings.SEARCH_CACHE_SECONDS = 10
    character(author)
    first = api.get(URL, {"q": "Elizabeth"})
    assert "Age" not in first and first.json()["page"]["total_elements"] == 1
    character(author, new_value="Runs away to sea")
    again = api.get(URL, {"q": "Elizabeth"})
    assert again.content == first.content and int(again["Age"]) >= 0
    # Another page, size or filter is another search.
    assert api.get(URL, {"q": "Elizabeth", "size": 5}).json()["page"]["total_elements"] == 2
    assert api.get(URL, {"q": "elizabeth"}).json()["page"]["total_elements"] == 2


def test_without_a_shared_page_or_redis_every_search_is_computed(api, author, settings, redis_down):
    settings.SEARCH_CACHE_SECONDS = 10
    settings.RATE_LIMIT_ENABLED = False
    character(author)
    assert api.get(URL, {"q": "Elizabeth"}).json()["page"]["total_elements"] == 1
    character(author, new_value="Runs away to sea")
    response = api.get(URL, {"q": "Elizabeth"})
    assert response.json()["page"]["total_elements"] == 2 and "Age" not in response
