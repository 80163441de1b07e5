"""Scenarios on readers' private and unlisted novels: they never leak into
shared lists or search, a private novel's scenarios are 404 for anyone but
the novel's owner and staff, and nobody else can ground a scenario on it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.tests.helpers import CHARACTER, SCENARIOS, body, client_for, make_scenario


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def other(make_user):
    return make_user()


@pytest.fixture
def private(owner) -> Novel:
    return Novel.objects.create(slug="secret-1a2b3c4d", title="Secret", owner=owner, visibility="private")


@pytest.fixture
def unlisted(owner) -> Novel:
    return Novel.objects.create(slug="quiet-5e6f7a8b", title="Quiet", owner=owner, visibility="unlisted")


@pytest.fixture
def public(db) -> Novel:
    return Novel.objects.create(slug="harry_potter", title="Harry Potter")


def ids(response, key: str = "content") -> set[str]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()[key]}


def test_a_scenario_on_someone_elses_private_novel_gets_no_novel(other, private):
    response = client_for(other).post(SCENARIOS, body(base_story=private.slug), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["novel_id"] is None  # as for a slug no novel has
    assert Scenario.objects.get(id=response.json()["id"]).novel_id is None


def test_the_owner_grounds_scenarios_on_their_private_novel(owner, private):
    response = client_for(owner).post(SCENARIOS, body(base_story=private.slug), format="json")
    assert response.json()["novel_id"] == str(private.id)


def test_anyone_may_ground_a_scenario_on_an_unlisted_novel(other, unlisted):
    response = client_for(other).post(SCENARIOS, body(base_story=unlisted.slug), format="json")
    assert response.json()["novel_id"] == str(unlisted.id)


def test_shared_lists_and_search_leave_out_scenarios_on_non_public_novels(
    api, owner, other, private, unlisted, public
):
    on_private = make_scenario(owner, base_story=private.slug)
    on_unlisted = make_scenario(other, base_story=unlisted.slug)
    on_public = make_scenario(other, base_story=public.slug)
    no_novel = make_scenario(other, base_story="no_such_novel")
    shared = {str(on_public.id), str(no_novel.id)}
    for client in (api, client_for(other), client_for(owner)):
        assert ids(client.get(SCENARIOS)) == shared
        assert ids(client.get(f"{SCENARIOS}/search")) == shared
        assert ids(client.get(f"{SCENARIOS}/search", {"q": CHARACTER["character"]})) == shared
        assert ids(client.get(SCENARIOS, {"base_story": private.slug})) == set()
    # A reader's own list and search hold all of their own scenarios ...
    mine = client_for(owner)
    assert ids(mine.get(SCENARIOS, {"creator_id": owner.id})) == {str(on_private.id)}
    assert ids(mine.get(f"{SCENARIOS}/search", {"creator_id": owner.id})) == {str(on_private.id)}
    theirs = client_for(other)
    assert ids(theirs.get(SCENARIOS, {"creator_id": other.id})) == {str(on_unlisted.id), *shared}
    # ... but nobody else's view of them does.
    for client in (api, theirs):
        assert ids(client.get(SCENARIOS, {"creator_id": owner.id})) == set()
        assert ids(client.get(f"{SCENARIOS}/search", {"creator_id": owner.id})) == set()


def test_a_private_novels_scenario_is_404_for_others(api, owner, other, private, make_user):
    scenario = make_scenario(owner, base_story=private.slug)
    url = f"{SCENARIOS}/{scenario.id}"
    for client in (api, client_for(other)):
        assert_envelope(client.get(url), 404)
        for suffix in ("/forks", "/fork-tree", "/ancestors", "/timeline"):
            assert_envelope(client.get(url + suffix), 404)
    assert_envelope(client_for(other).post(f"{url}/fork", {"parameters": CHARACTER}, format="json"), 404)
    assert_envelope(client_for(other).put(url, {"parameters": CHARACTER}, format="json"), 404)
    assert_envelope(client_for(other).delete(url), 404)
    assert Scenario.objects.filter(parent=scenario).count() == 0
    # Its owner and staff see it.
    assert client_for(owner).get(url).json()["novel_id"] == str(private.id)
    assert client_for(make_user(is_staff=True)).get(url).status_code == 200
    fork = client_for(owner).post(f"{url}/fork", {"parameters": CHARACTER}, format="json")
    assert fork.status_code == 201 and fork.json()["novel_id"] == str(private.id)


def test_an_unlisted_novels_scenario_is_readable_by_link(api, owner, unlisted):
    scenario = make_scenario(owner, base_story=unlisted.slug)
    assert api.get(f"{SCENARIOS}/{scenario.id}").status_code == 200


def test_making_a_novel_private_hides_its_scenarios_at_once(api, owner, public):
    novel = Novel.objects.create(slug="later-private", title="Later", owner=owner, visibility="public")
    scenario = make_scenario(owner, base_story=novel.slug)
    assert ids(api.get(SCENARIOS)) == {str(scenario.id)}
    Novel.objects.filter(id=novel.id).update(visibility="private")
    assert ids(api.get(SCENARIOS)) == set()
    assert_envelope(APIClient().get(f"{SCENARIOS}/{scenario.id}"), 404)


def test_deleting_a_private_novel_deletes_its_scenarios_but_a_public_ones_stay(api, owner, monkeypatch):
    from integrations.ai import AiClient

    monkeypatch.setattr(AiClient, "delete_novel_vectors", lambda self, novel_id, request_id=None: None)
    hidden = Novel.objects.create(slug="hidden-1", title="Hidden", owner=owner, visibility="private")
    shown = Novel.objects.create(slug="shown-1", title="Shown", owner=owner, visibility="public")
    on_hidden = make_scenario(owner, base_story=hidden.slug)
    on_shown = make_scenario(owner, base_story=shown.slug)
    for novel in (hidden, shown):
        assert client_for(owner).delete(f"/api/v1/novels/{novel.id}").status_code == 204
    on_hidden.refresh_from_db()
    on_shown.refresh_from_db()
    assert on_hidden.deleted_at is not None and on_shown.deleted_at is None and on_shown.novel_id is None
    assert ids(api.get(SCENARIOS)) == {str(on_shown.id)}
