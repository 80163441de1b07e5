"""The shared search page (SEARCH_CACHE_SECONDS) and a reader's own writes:
a reader who just wrote (forked, created, changed or deleted a scenario,
started, liked or deleted a conversation) gets a search computed after that
write at once; other readers may get a shared page up to its age.

Black box, with real commits (transaction=True): a write records itself only
once committed, as in production."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from scenarios.tests.helpers import SCENARIOS, body, client_for

pytestmark = pytest.mark.django_db(transaction=True)

SEARCH = f"{SCENARIOS}/search"
CONVERSATIONS = "/api/v1/conversations"


@pytest.fixture
def shared_pages(settings):
    settings.SEARCH_CACHE_SECONDS = 10


def search(client, **params) -> dict[str, dict]:
    response = client.get(SEARCH, params)
    assert response.status_code == 200, response.content[:500]
    return {item["id"]: item for item in response.json()["content"]}


def create(client, **extra) -> str:
    response = client.post(SCENARIOS, body(**extra), format="json")
    assert response.status_code == 201, response.content[:500]
    return response.json()["id"]


def test_a_fork_is_in_its_readers_next_search_at_once(shared_pages, make_user):
    """The hole: fork a scenario, search has_forks=true at once, the fork's
    parent was missing (the page shared from before the fork)."""
    author, reader = make_user(), make_user()
    parent = create(client_for(author))
    client = client_for(reader)
    assert parent not in search(client, has_forks="true")  # now shared for 10 s

    response = client.post(f"{SCENARIOS}/{parent}/fork", {"parameters": body()["parameters"]}, format="json")
    assert response.status_code == 201, response.content
    fresh = search(client, has_forks="true")
    assert parent in fresh and fresh[parent]["fork_count"] == 1


def test_other_readers_may_get_the_shared_page_until_it_ages(shared_pages, make_user):
    author, reader = make_user(), make_user()
    parent = create(client_for(author))
    anonymous = APIClient()
    first = anonymous.get(SEARCH, {"has_forks": "true"})
    assert "Age" not in first

    # Someone else's fork: this reader wrote nothing, the shared page stands.
    client_for(author).post(f"{SCENARIOS}/{parent}/fork", {"parameters": body()["parameters"]}, format="json")
    again = anonymous.get(SEARCH, {"has_forks": "true"})
    assert again.content == first.content and "Age" in again
    signed_in = client_for(reader).get(SEARCH, {"has_forks": "true"})
    assert signed_in.content == first.content and "Age" in signed_in

    # The writer's own search is computed again, and shared from then on.
    own = client_for(author).get(SEARCH, {"has_forks": "true"})
    assert "Age" not in own and parent in {i["id"] for i in own.json()["content"]}
    assert anonymous.get(SEARCH, {"has_forks": "true"}).content == own.content


def test_every_write_of_the_reader_is_in_their_next_search(shared_pages, make_user):
    reader = make_user()
    client = client_for(reader)
    mine = {"creator_id": str(reader.id)}
    first = create(client)
    assert set(search(client, **mine)) == {first}

    second = create(client, scenario_type="SETTING_MODIFICATION")  # created
    assert set(search(client, **mine)) == {first, second}

    changed = {**body()["parameters"], "new_value": "Hufflepuff"}  # changed
    assert client.put(f"{SCENARIOS}/{first}", {"parameters": changed}, format="json").status_code == 200
    assert search(client, **mine)[first]["parameters"]["new_value"] == "Hufflepuff"

    started = client.post(CONVERSATIONS, {"scenario_id": first}, format="json")  # a conversation started
    assert started.status_code == 201
    assert search(client, **mine)[first]["conversation_count"] == 1
    before = search(client, **mine)[first]["quality_score"]

    liked = client.post(f"{CONVERSATIONS}/{started.json()['id']}/like")  # liked
    assert liked.status_code == 200
    assert search(client, **mine)[first]["quality_score"] > before

    deleted = client.delete(f"{CONVERSATIONS}/{started.json()['id']}")  # a conversation deleted
    assert deleted.status_code == 204
    assert search(client, **mine)[first]["conversation_count"] == 0

    assert client.delete(f"{SCENARIOS}/{second}").status_code == 204  # a scenario deleted
    assert set(search(client, **mine)) == {first}
