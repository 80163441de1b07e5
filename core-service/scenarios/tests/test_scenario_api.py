"""Scenario CRUD over HTTP: create, read, update (parameters only), soft
delete, and the filtered, sorted list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from conftest import assert_envelope
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.quality import quality_formula
from scenarios.tests.helpers import (
    CHARACTER,
    EVENT,
    SCENARIOS,
    SETTING,
    body,
    client_for,
    fetch,
    make_fork,
    make_scenario,
    soft_delete,
)

SCENARIO_FIELDS = {
    "id",
    "base_story",
    "novel_id",
    "parent_scenario_id",
    "parent",
    "scenario_type",
    "parameters",
    "quality_score",
    "creator_id",
    "creator",
    "fork_count",
    "conversation_count",
    "created_at",
    "updated_at",
}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- create ----------------------------------------------------------------


@pytest.mark.parametrize("scenario_type", ["CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION"])
def test_create_each_type(auth_api, user, scenario_type):
    response = auth_api.post(SCENARIOS, body(scenario_type), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == SCENARIO_FIELDS
    uuid.UUID(data["id"])
    assert data["base_story"] == "harry_potter"
    assert data["scenario_type"] == scenario_type
    assert data["parameters"] == body(scenario_type)["parameters"]
    assert data["novel_id"] is None  # no novel has the slug harry_potter
    assert data["parent_scenario_id"] is None and data["parent"] is None
    assert data["creator_id"] == str(user.id)
    assert data["creator"] == {"id": str(user.id), "username": user.username, "avatar_url": None}
    assert data["fork_count"] == 0 and data["conversation_count"] == 0
    assert data["quality_score"] == 0.0
    assert parse_time(data["updated_at"]) >= parse_time(data["created_at"])

    stored = fetch(data["id"])
    assert stored.creator_id == user.id and stored.parameters == data["parameters"]
    assert stored.deleted_at is None


def test_create_links_the_novel_with_that_slug(auth_api, db):
    novel = Novel.objects.create(
        slug="pride-and-prejudice", title="Pride and Prejudice", author="Jane Austen"
    )
    response = auth_api.post(SCENARIOS, body(base_story="pride-and-prejudice"), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["novel_id"] == str(novel.id)
    assert fetch(response.json()["id"]).novel_id == novel.id
    # A story with no novel stays unlinked.
    response = auth_api.post(SCENARIOS, body(base_story="pride_and_prejudice"), format="json")
    assert response.json()["novel_id"] is None


def test_create_strips_and_normalises_parameters(auth_api):
    parameters = {**CHARACTER, "character": "  Hermione Granger  ", "original_value": None}
    response = auth_api.post(SCENARIOS, body(parameters=parameters), format="json")
    assert response.status_code == 201, response.content
    stored = response.json()["parameters"]
    assert stored["character"] == "Hermione Granger"
    assert "original_value" not in stored


@pytest.mark.parametrize("scenario_type", ["TIME_TRAVEL", "character_change", "", "CHARACTER-CHANGE"])
def test_create_unknown_type_is_400(auth_api, scenario_type):
    response = auth_api.post(
        SCENARIOS,
        {"base_story": "harry_potter", "scenario_type": scenario_type, "parameters": CHARACTER},
        format="json",
    )
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "scenario_type" in data["details"]
    assert not Scenario.objects.exists()


@pytest.mark.parametrize(
    "scenario_type,parameters,paths",
    [
        ("CHARACTER_CHANGE", {**CHARACTER, "property": "wand"}, {"parameters.property"}),
        (
            "CHARACTER_CHANGE",
            {**CHARACTER, "ripple_effects": ["a", "b", "c" * 1001]},
            {"parameters.ripple_effects.2"},
        ),
        ("CHARACTER_CHANGE", {**CHARACTER, "quality_score": 1}, {"parameters.quality_score"}),
        ("CHARACTER_CHANGE", {"property": "house"}, {"parameters.character", "parameters.new_value"}),
        # Parameters of another type fail the declared type's schema.
        (
            "CHARACTER_CHANGE",
            SETTING,
            {f"parameters.{k}" for k in SETTING}
            | {"parameters.character", "parameters.property"}
            | {"parameters.new_value"},
        ),
        ("EVENT_ALTERATION", {**EVENT, "alteration_type": "undo"}, {"parameters.alteration_type"}),
        (
            "EVENT_ALTERATION",
            {**EVENT, "affected_characters": ["x"] * 21},
            {"parameters.affected_characters"},
        ),
        ("SETTING_MODIFICATION", {**SETTING, "scope": "galactic"}, {"parameters.scope"}),
        ("SETTING_MODIFICATION", {**SETTING, "impact_level": "huge"}, {"parameters.impact_level"}),
        ("SETTING_MODIFICATION", {**SETTING, "setting_element": "food"}, {"parameters.setting_element"}),
        (
            "SETTING_MODIFICATION",
            {**SETTING, "change_description": "x" * 1001},
            {"parameters.change_description"},
        ),
        ("SETTING_MODIFICATION", ["not", "an", "object"], {"parameters"}),
        ("SETTING_MODIFICATION", "text", {"parameters"}),
    ],
)
def test_create_bad_parameters_is_422_with_paths(auth_api, scenario_type, parameters, paths):
    response = auth_api.post(
        SCENARIOS,
        {"base_story": "harry_potter", "scenario_type": scenario_type, "parameters": parameters},
        format="json",
    )
    data = assert_envelope(response, 422, "PARAMETERS_INVALID")
    assert set(data["details"]) == paths, data["details"]
    assert not Scenario.objects.exists()


@pytest.mark.parametrize(
    "base_story",
    [
        "Harry_Potter",
        "harry potter",
        "a" * 101,
        "",
        "-harry",
        "harry-",
        "harry--potter",
        "harry/potter",
        "해리",
    ],
)
def test_create_bad_base_story_is_400(auth_api, base_story):
    response = auth_api.post(SCENARIOS, body(base_story=base_story), format="json")
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "base_story" in data["details"]
    assert not Scenario.objects.exists()


def test_create_accepts_a_100_char_slug(auth_api):
    response = auth_api.post(SCENARIOS, body(base_story="a" * 100), format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "extra",
    [
        {"quality_score": 1.0},
        {"fork_count": 99},
        {"conversation_count": 5},
        {"creator_id": str(uuid.uuid4())},
        {"id": str(uuid.uuid4())},
        {"parent_scenario_id": str(uuid.uuid4())},
        {"novel_id": str(uuid.uuid4())},
        {"deleted_at": None},
    ],
)
def test_create_mass_assignment_refused(auth_api, extra):
    response = auth_api.post(SCENARIOS, body(**extra), format="json")
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert set(data["details"]) == set(extra)
    assert not Scenario.objects.exists()


@pytest.mark.parametrize("missing", ["base_story", "scenario_type", "parameters"])
def test_create_missing_field_is_400(auth_api, missing):
    payload = body()
    del payload[missing]
    data = assert_envelope(auth_api.post(SCENARIOS, payload, format="json"), 400, "VALIDATION_ERROR")
    assert missing in data["details"]


def test_create_malformed_or_non_object_body(auth_api):
    response = auth_api.post(SCENARIOS, "{not json", content_type="application/json")
    assert_envelope(response, 400, "MALFORMED_JSON")
    response = auth_api.post(SCENARIOS, [body()], format="json")
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert not Scenario.objects.exists()


def test_create_anonymous_is_401(api, db):
    response = api.post(SCENARIOS, body(), format="json")
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert not Scenario.objects.exists()


def test_create_with_service_token_is_403(api, db, settings):
    response = api.post(
        SCENARIOS, body(), format="json", HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}"
    )
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")
    assert not Scenario.objects.exists()


# --- read ------------------------------------------------------------------


def test_get_is_public_and_matches_create(auth_api, api, make_user):
    creator = make_user(username="hermione_fan", avatar_url="https://example.com/a.jpg")
    created = client_for(creator).post(SCENARIOS, body(), format="json").json()
    response = api.get(f"{SCENARIOS}/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert created["creator"] == {
        "id": str(creator.id),
        "username": "hermione_fan",
        "avatar_url": "https://example.com/a.jpg",
    }


def test_get_unknown_non_uuid_and_deleted_are_404(api, user):
    assert_envelope(api.get(f"{SCENARIOS}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_envelope(api.get(f"{SCENARIOS}/not-a-uuid"), 404, "NOT_FOUND")
    assert_envelope(api.get(f"{SCENARIOS}/12345"), 404, "NOT_FOUND")
    scenario = make_scenario(user)
    assert api.get(f"{SCENARIOS}/{scenario.id}").status_code == 200
    soft_delete(scenario)
    assert_envelope(api.get(f"{SCENARIOS}/{scenario.id}"), 404, "NOT_FOUND")


def test_get_fork_shows_its_parent(api, user, make_user):
    root = make_scenario(user)
    fork = make_fork(root, make_user(), "EVENT_ALTERATION")
    data = api.get(f"{SCENARIOS}/{fork.id}").json()
    assert data["parent_scenario_id"] == str(root.id)
    assert data["parent"] == {"id": str(root.id), "is_deleted": False}
    assert api.get(f"{SCENARIOS}/{root.id}").json()["fork_count"] == 1


# --- update ----------------------------------------------------------------

NEW_PARAMETERS = {
    **CHARACTER,
    "ripple_effects": [*CHARACTER["ripple_effects"], "Academic rivalry with Draco"],
}


def test_put_by_creator_changes_only_parameters(auth_api, user):
    scenario = make_scenario(user)
    old = datetime(2020, 1, 1, tzinfo=UTC)
    Scenario.objects.filter(id=scenario.id).update(updated_at=old, created_at=old)
    response = auth_api.put(f"{SCENARIOS}/{scenario.id}", {"parameters": NEW_PARAMETERS}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["parameters"] == NEW_PARAMETERS
    assert data["base_story"] == "harry_potter" and data["scenario_type"] == "CHARACTER_CHANGE"
    assert parse_time(data["updated_at"]) > old
    assert parse_time(data["created_at"]) == old
    stored = fetch(scenario.id)
    assert stored.parameters == NEW_PARAMETERS and stored.updated_at > old


def test_put_with_the_same_immutable_values_is_allowed(auth_api, user):
    scenario = make_scenario(user)
    payload = {
        "base_story": "harry_potter",
        "scenario_type": "CHARACTER_CHANGE",
        "parameters": NEW_PARAMETERS,
    }
    response = auth_api.put(f"{SCENARIOS}/{scenario.id}", payload, format="json")
    assert response.status_code == 200, response.content
    assert fetch(scenario.id).parameters == NEW_PARAMETERS


@pytest.mark.parametrize(
    "change",
    [
        {"base_story": "lord_of_the_rings"},
        {"scenario_type": "EVENT_ALTERATION"},
        {"base_story": "lord_of_the_rings", "scenario_type": "SETTING_MODIFICATION"},
    ],
)
def test_put_changing_immutable_fields_is_409_and_changes_nothing(auth_api, user, change):
    scenario = make_scenario(user)
    before = fetch(scenario.id)
    response = auth_api.put(
        f"{SCENARIOS}/{scenario.id}", {"parameters": NEW_PARAMETERS, **change}, format="json"
    )
    # A conflict with the scenario as stored: the request itself is well formed.
    data = assert_envelope(response, 409, "CONFLICT")
    assert set(data["details"]) == set(change)
    after = fetch(scenario.id)
    assert (after.base_story, after.scenario_type, after.parameters, after.updated_at) == (
        before.base_story,
        before.scenario_type,
        before.parameters,
        before.updated_at,
    )


def test_put_validates_parameters_against_the_type(auth_api, user):
    scenario = make_scenario(user)
    response = auth_api.put(
        f"{SCENARIOS}/{scenario.id}", {"parameters": {**CHARACTER, "property": "wand"}}, format="json"
    )
    data = assert_envelope(response, 422, "PARAMETERS_INVALID")
    assert set(data["details"]) == {"parameters.property"}
    response = auth_api.put(f"{SCENARIOS}/{scenario.id}", {"parameters": EVENT}, format="json")
    assert_envelope(response, 422, "PARAMETERS_INVALID")
    assert fetch(scenario.id).parameters == CHARACTER


@pytest.mark.parametrize(
    "payload,field",
    [
        ({}, "parameters"),
        ({"parameters": NEW_PARAMETERS, "quality_score": 1.0}, "quality_score"),
        ({"parameters": NEW_PARAMETERS, "fork_count": 7}, "fork_count"),
        ({"parameters": NEW_PARAMETERS, "creator_id": str(uuid.uuid4())}, "creator_id"),
        ({"parameters": NEW_PARAMETERS, "parent_scenario_id": str(uuid.uuid4())}, "parent_scenario_id"),
    ],
)
def test_put_refuses_missing_parameters_and_mass_assignment(auth_api, user, payload, field):
    scenario = make_scenario(user)
    data = assert_envelope(auth_api.put(f"{SCENARIOS}/{scenario.id}", payload, format="json"), 400)
    assert field in data["details"]
    stored = fetch(scenario.id)
    assert stored.parameters == CHARACTER and stored.quality_score == 0 and stored.fork_count == 0
    assert stored.creator_id == user.id and stored.parent_id is None


def test_put_by_another_user_is_403(user, make_user):
    scenario = make_scenario(user)
    response = client_for(make_user()).put(
        f"{SCENARIOS}/{scenario.id}", {"parameters": NEW_PARAMETERS}, format="json"
    )
    assert_envelope(response, 403, "PERMISSION_DENIED")
    assert fetch(scenario.id).parameters == CHARACTER


def test_put_anonymous_is_401_and_service_token_403(api, user, settings):
    scenario = make_scenario(user)
    url = f"{SCENARIOS}/{scenario.id}"
    assert_envelope(api.put(url, {"parameters": NEW_PARAMETERS}, format="json"), 401, "NOT_AUTHENTICATED")
    response = api.put(
        url,
        {"parameters": NEW_PARAMETERS},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}",
    )
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")
    assert fetch(scenario.id).parameters == CHARACTER


def test_put_unknown_is_404(auth_api, db):
    response = auth_api.put(f"{SCENARIOS}/{uuid.uuid4()}", {"parameters": NEW_PARAMETERS}, format="json")
    assert_envelope(response, 404, "NOT_FOUND")


# --- delete ----------------------------------------------------------------


def test_delete_by_creator_then_404_everywhere(auth_api, api, user):
    scenario = make_scenario(user)
    url = f"{SCENARIOS}/{scenario.id}"
    response = auth_api.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert fetch(scenario.id).deleted_at is not None  # soft: the row stays

    assert_envelope(api.get(url), 404, "NOT_FOUND")
    assert_envelope(auth_api.put(url, {"parameters": NEW_PARAMETERS}, format="json"), 404, "NOT_FOUND")
    assert_envelope(auth_api.delete(url), 404, "NOT_FOUND")
    assert_envelope(auth_api.post(f"{url}/fork", {"parameters": CHARACTER}, format="json"), 404, "NOT_FOUND")
    for sub in ("forks", "fork-tree", "ancestors"):
        assert_envelope(api.get(f"{url}/{sub}"), 404, "NOT_FOUND")
    assert Scenario.objects.filter(parent_id=scenario.id).count() == 0
    assert api.get(SCENARIOS).json()["page"]["total_elements"] == 0


def test_delete_keeps_forks_reachable_and_decrements_the_parent(api, user, make_user):
    root = make_scenario(user)
    middle = make_fork(root, user, "EVENT_ALTERATION")
    other = make_fork(root, user)
    leaf = make_fork(middle, make_user(), "SETTING_MODIFICATION")
    assert fetch(root.id).fork_count == 2
    assert fetch(root.id).quality_score == quality_formula(2, 0)

    response = client_for(user).delete(f"{SCENARIOS}/{middle.id}")
    assert response.status_code == 204

    root_after = fetch(root.id)
    assert root_after.fork_count == 1
    assert root_after.quality_score == quality_formula(1, 0)
    assert fetch(other.id).deleted_at is None

    data = api.get(f"{SCENARIOS}/{leaf.id}").json()
    assert data["parent_scenario_id"] == str(middle.id)
    assert data["parent"] == {"id": str(middle.id), "is_deleted": True}
    path = api.get(f"{SCENARIOS}/{leaf.id}/ancestors").json()["path"]
    assert path[1] == {"id": str(middle.id), "depth": 1, "is_deleted": True}
    # The deleted middle no longer lists as a fork of the root.
    forks = api.get(f"{SCENARIOS}/{root.id}/forks").json()["forks"]
    assert [f["id"] for f in forks] == [str(other.id)]


def test_delete_by_another_user_is_403_and_anonymous_401(api, user, make_user):
    scenario = make_scenario(user)
    url = f"{SCENARIOS}/{scenario.id}"
    assert_envelope(client_for(make_user()).delete(url), 403, "PERMISSION_DENIED")
    assert_envelope(api.delete(url), 401, "NOT_AUTHENTICATED")
    assert fetch(scenario.id).deleted_at is None
    assert api.get(url).status_code == 200


def test_delete_twice_is_404(auth_api, user):
    root = make_scenario(user)
    fork = make_fork(root, user)
    url = f"{SCENARIOS}/{fork.id}"
    assert auth_api.delete(url).status_code == 204
    assert_envelope(auth_api.delete(url), 404, "NOT_FOUND")
    assert fetch(root.id).fork_count == 0  # decremented once, not twice


def test_delete_unknown_is_404(auth_api, db):
    assert_envelope(auth_api.delete(f"{SCENARIOS}/{uuid.uuid4()}"), 404, "NOT_FOUND")


# --- list ------------------------------------------------------------------


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["content"]]


def test_list_pagination_envelope(api, user):
    scenarios = [make_scenario(user) for _ in range(5)]
    newest_first = [str(s.id) for s in reversed(scenarios)]
    response = api.get(SCENARIOS, {"size": 2})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"content", "page"}
    assert data["page"] == {
        "number": 0,
        "size": 2,
        "total_elements": 5,
        "total_pages": 3,
        "total_is_estimate": False,
    }
    assert set(data["content"][0]) == SCENARIO_FIELDS
    assert ids(response) == newest_first[:2]
    assert ids(api.get(SCENARIOS, {"size": 2, "page": 1})) == newest_first[2:4]
    last = api.get(SCENARIOS, {"size": 2, "page": 2})
    assert ids(last) == newest_first[4:]
    assert ids(api.get(SCENARIOS, {"size": 2, "page": 3})) == []
    assert api.get(SCENARIOS).json()["page"] == {
        "number": 0,
        "size": 20,
        "total_elements": 5,
        "total_pages": 1,
        "total_is_estimate": False,
    }
    for bad in ({"size": 0}, {"size": 101}, {"page": -1}, {"page": "x"}):
        assert_envelope(api.get(SCENARIOS, bad), 400, "VALIDATION_ERROR")


def test_list_filters(api, user, make_user):
    other = make_user()
    a = make_scenario(user, quality_score=0.9)
    b = make_scenario(user, "EVENT_ALTERATION", quality_score=0.5)
    c = make_scenario(other, "SETTING_MODIFICATION", base_story="pride-and-prejudice", quality_score=0.7)
    d = make_scenario(other, "CHARACTER_CHANGE", base_story="pride-and-prejudice")

    def got(**params):
        return set(ids(api.get(SCENARIOS, params)))

    assert got() == {str(s.id) for s in (a, b, c, d)}
    assert got(base_story="harry_potter") == {str(a.id), str(b.id)}
    assert got(base_story="pride-and-prejudice") == {str(c.id), str(d.id)}
    assert got(base_story="dune") == set()
    assert got(scenario_type="CHARACTER_CHANGE") == {str(a.id), str(d.id)}
    assert got(scenario_type="SETTING_MODIFICATION") == {str(c.id)}
    assert got(min_quality="0.7") == {str(a.id), str(c.id)}
    assert got(min_quality="0") == {str(s.id) for s in (a, b, c, d)}
    assert got(min_quality="1.0") == set()
    assert got(creator_id=str(other.id)) == {str(c.id), str(d.id)}
    assert got(creator_id=str(uuid.uuid4())) == set()
    assert got(creator_id=str(user.id), scenario_type="EVENT_ALTERATION", min_quality="0.5") == {str(b.id)}
    assert got(base_story="pride-and-prejudice", min_quality="0.6", scenario_type="SETTING_MODIFICATION") == {
        str(c.id)
    }


@pytest.mark.parametrize(
    "field", ["created_at", "updated_at", "quality_score", "fork_count", "conversation_count"]
)
def test_list_sort_whitelist_both_directions(api, user, field):
    values = {
        "created_at": [datetime(2024, 1, d, tzinfo=UTC) for d in (3, 1, 4, 2)],
        "updated_at": [datetime(2024, 2, d, tzinfo=UTC) for d in (2, 4, 1, 3)],
        "quality_score": [0.3, 0.9, 0.1, 0.5],
        "fork_count": [3, 1, 4, 2],
        "conversation_count": [20, 40, 10, 30],
    }[field]
    scenarios = [make_scenario(user) for _ in values]
    for scenario, value in zip(scenarios, values, strict=True):
        Scenario.objects.filter(id=scenario.id).update(**{field: value})
    ascending = [str(s.id) for _, s in sorted(zip(values, scenarios, strict=True), key=lambda p: p[0])]
    assert ids(api.get(SCENARIOS, {"sort": f"{field},asc"})) == ascending
    assert ids(api.get(SCENARIOS, {"sort": f"{field},desc"})) == ascending[::-1]
    assert ids(api.get(SCENARIOS, {"sort": field})) == ascending[::-1]  # desc by default


def test_list_default_sort_is_newest_first(api, user):
    scenarios = [make_scenario(user) for _ in range(3)]
    for day, scenario in zip((2, 3, 1), scenarios, strict=True):
        Scenario.objects.filter(id=scenario.id).update(created_at=datetime(2024, 5, day, tzinfo=UTC))
    assert ids(api.get(SCENARIOS)) == [str(scenarios[i].id) for i in (1, 0, 2)]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"sort": "password,desc"}, "sort"),
        ({"sort": "created_at,sideways"}, "sort"),
        ({"sort": "id,asc"}, "sort"),
        ({"sort": "creator__password,asc"}, "sort"),
        ({"sort": "-created_at"}, "sort"),
        ({"min_quality": "2"}, "min_quality"),
        ({"min_quality": "-0.1"}, "min_quality"),
        ({"min_quality": "high"}, "min_quality"),
        ({"min_quality": "nan"}, "min_quality"),
        ({"creator_id": "abc"}, "creator_id"),
        ({"scenario_type": "X"}, "scenario_type"),
        ({"base_story": "Harry Potter"}, "base_story"),
    ],
)
def test_list_bad_sort_or_filter_is_400(api, db, params, field):
    data = assert_envelope(api.get(SCENARIOS, params), 400, "VALIDATION_ERROR")
    assert field in data["details"]


def test_list_excludes_deleted(api, user):
    kept = make_scenario(user)
    gone = make_scenario(user)
    soft_delete(gone)
    response = api.get(SCENARIOS)
    assert ids(response) == [str(kept.id)]
    assert response.json()["page"]["total_elements"] == 1
    assert ids(api.get(SCENARIOS, {"creator_id": str(user.id)})) == [str(kept.id)]


def test_list_with_service_token_is_403(api, db, settings):
    response = api.get(SCENARIOS, HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")


def test_list_queries_do_not_grow_with_the_page(api, user, make_user, django_assert_max_num_queries):
    """Creators and parents come with the page (no query per row)."""
    root = make_scenario(user)
    for _ in range(15):
        make_fork(root, make_user())
    with django_assert_max_num_queries(2):  # count + page
        response = api.get(SCENARIOS, {"size": 20})
    assert response.status_code == 200
    assert len(response.json()["content"]) == 16
    assert all(item["creator"]["username"] for item in response.json()["content"])


def test_list_with_a_user_jwt_works(user):
    make_scenario(user)
    assert len(ids(client_for(user).get(SCENARIOS))) == 1
