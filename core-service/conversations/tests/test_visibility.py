"""A conversation's visibility (private | unlisted | public): set at
creation, on a fork or by PUT, defaulting to the reader's settings; effective
at once on every read path (the raw anonymous one included); and the
scenario's counters, which count public conversations only, moving with it.
The route-by-route walk for every caller is common/tests/test_security_matrix.py."""

from __future__ import annotations

import json

import orjson
import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import apis, reads, selectors
from conversations.models import Conversation
from conversations.tests.helpers import (
    CONVERSATIONS,
    add_exchanges,
    client_for,
    internal_client,
    make_conversation,
    make_scenario,
)
from scenarios.models import Scenario
from scenarios.quality import quality_formula

pytestmark = pytest.mark.django_db


def put(client, conversation, body):
    return client.put(f"{CONVERSATIONS}/{conversation.id}", body, format="json")


def counters(scenario) -> tuple[int, int, float]:
    scenario = Scenario.objects.get(id=scenario.id)
    return scenario.conversation_count, scenario.like_count, scenario.quality_score


def prefers(user, visibility: str) -> None:
    user.settings = {"default_visibility": visibility}
    user.save(update_fields=["settings"])


# -- setting it -------------------------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["private", "unlisted", "public"])
def test_create_takes_a_visibility_and_shows_it(user, visibility):
    scenario = make_scenario(user)
    response = client_for(user).post(
        CONVERSATIONS, {"scenario_id": str(scenario.id), "visibility": visibility}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["visibility"] == visibility
    assert Conversation.objects.get(id=response.json()["id"]).visibility == visibility
    detail = client_for(user).get(f"{CONVERSATIONS}/{response.json()['id']}").json()
    assert detail["visibility"] == visibility


def test_create_and_fork_default_to_the_readers_setting(make_user):
    owner, forker = make_user(), make_user()
    prefers(owner, "unlisted")
    prefers(forker, "private")
    scenario = make_scenario(owner)
    created = client_for(owner).post(CONVERSATIONS, {"scenario_id": str(scenario.id)}, format="json").json()
    assert created["visibility"] == "unlisted"
    fork = client_for(forker).post(f"{CONVERSATIONS}/{created['id']}/fork", format="json").json()
    assert fork["visibility"] == "private"
    # No setting: public.
    plain = make_user()
    assert make_conversation(plain).visibility == "public"


def test_a_fork_takes_its_own_visibility(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    response = client_for(forker).post(
        f"{CONVERSATIONS}/{root.id}/fork", {"visibility": "unlisted"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["visibility"] == "unlisted"


@pytest.mark.parametrize("value", ["secret", "", "PUBLIC", 1, None, ["private"], {"v": "private"}])
def test_a_visibility_that_is_none_of_the_three_is_400(user, value):
    scenario = make_scenario(user)
    conversation = make_conversation(user, scenario)
    client = client_for(user)
    for response in (
        client.post(CONVERSATIONS, {"scenario_id": str(scenario.id), "visibility": value}, format="json"),
        client.post(f"{CONVERSATIONS}/{conversation.id}/fork", {"visibility": value}, format="json"),
        put(client, conversation, {"visibility": value}),
    ):
        body = assert_envelope(response, 400, "VALIDATION_ERROR")
        assert set(body["details"]) == {"visibility"}, body
    assert Conversation.objects.count() == 1
    assert Conversation.objects.get(id=conversation.id).visibility == "public"


def test_put_changes_title_and_or_visibility(user):
    conversation = make_conversation(user, title="Before")
    client = client_for(user)
    response = put(client, conversation, {"visibility": "unlisted"})
    assert response.status_code == 200, response.content
    assert response.json()["visibility"] == "unlisted" and response.json()["title"] == "Before"
    response = put(client, conversation, {"title": "After"})
    assert response.json() | {"updated_at": None} == {
        "id": str(conversation.id),
        "title": "After",
        "visibility": "unlisted",
        "updated_at": None,
    }
    response = put(client, conversation, {"title": "Both", "visibility": "private"})
    assert (response.json()["title"], response.json()["visibility"]) == ("Both", "private")
    conversation.refresh_from_db()
    assert (conversation.title, conversation.visibility) == ("Both", "private")


def test_put_needs_a_title_or_a_visibility(user):
    conversation = make_conversation(user, title="Kept")
    body = assert_envelope(put(client_for(user), conversation, {}), 400, "VALIDATION_ERROR")
    assert body["details"] == {"non_field_errors": [apis.TITLE_OR_VISIBILITY]}
    assert Conversation.objects.get(id=conversation.id).title == "Kept"


def test_only_the_owner_changes_it_and_a_private_one_is_404_to_others(make_user):
    owner, other = make_user(), make_user()
    staff = make_user(is_staff=True)
    conversation = make_conversation(owner)
    for client in (client_for(other), client_for(staff)):
        assert_envelope(put(client, conversation, {"visibility": "private"}), 403, "PERMISSION_DENIED")
    put(client_for(owner), conversation, {"visibility": "private"})
    assert_envelope(put(client_for(other), conversation, {"visibility": "public"}), 404, "NOT_FOUND")
    assert_envelope(put(client_for(staff), conversation, {"visibility": "public"}), 403, "PERMISSION_DENIED")
    assert Conversation.objects.get(id=conversation.id).visibility == "private"


# -- effective at once -------------------------------------------------------------------------


def test_made_private_it_is_a_404_to_others_from_the_next_request(make_user):
    owner, other = make_user(), make_user()
    staff = make_user(is_staff=True)
    conversation = make_conversation(owner)
    add_exchanges(conversation, 2)
    url = f"{CONVERSATIONS}/{conversation.id}"
    anonymous = APIClient()  # the raw read path (common.fastget): no Authorization header
    assert anonymous.get(url).status_code == 200
    assert client_for(other).get(url).status_code == 200

    put(client_for(owner), conversation, {"visibility": "private"})
    for client in (anonymous, client_for(other)):
        for path in ("", "/messages", "/tree", "/cast"):
            assert_envelope(client.get(url + path), 404, "NOT_FOUND")
    for client in (client_for(owner), client_for(staff)):
        body = client.get(url).json()
        assert body["visibility"] == "private" and len(body["messages"]) == 2

    put(client_for(owner), conversation, {"visibility": "unlisted"})
    assert anonymous.get(url).json()["visibility"] == "unlisted"
    assert client_for(other).get(url + "/messages").status_code == 200


def test_the_raw_read_is_the_serializers_document_for_whoever_may_read_it(make_user):
    owner, staff = make_user(), make_user(is_staff=True)
    conversation = make_conversation(owner, title="Mine")
    add_exchanges(conversation, 3)
    Conversation.objects.filter(id=conversation.id).update(visibility="private")
    for viewer in (owner, staff):
        got = orjson.loads(orjson.dumps(reads.conversation_document(conversation.id, viewer)))
        serialized = apis.conversation_json(
            selectors.conversation_get(conversation_id=conversation.id, viewer=viewer)
        )
        assert got == json.loads(json.dumps(serialized))
        assert got["visibility"] == "private"


def test_the_ai_service_still_reads_a_private_conversation(user):
    conversation = make_conversation(user)
    Conversation.objects.filter(id=conversation.id).update(visibility="private")
    response = internal_client().get(f"/api/internal/conversations/{conversation.id}/context")
    assert response.status_code == 200, response.content


def test_the_direct_route_cannot_write_in_someone_elses_private_conversation(make_user):
    """ai's direct route stores turns through core's internal route: someone
    else's private conversation does not exist there either (404, not 403)."""
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner)
    url = f"/api/internal/conversations/{conversation.id}/turns"
    body = {"user_id": str(other.id), "content": "hello"}
    assert_envelope(internal_client().post(url, body, format="json"), 403, "PERMISSION_DENIED")
    Conversation.objects.filter(id=conversation.id).update(visibility="private")
    assert_envelope(internal_client().post(url, body, format="json"), 404, "NOT_FOUND")
    assert Conversation.objects.get(id=conversation.id).message_count == 0


# -- lists ------------------------------------------------------------------------------------


def test_a_readers_own_list_holds_all_of_theirs(make_user):
    owner, other = make_user(), make_user()
    scenario = make_scenario(owner)
    made = {v: make_conversation(owner, scenario, title=v) for v in ("private", "unlisted", "public")}
    for visibility, conversation in made.items():
        Conversation.objects.filter(id=conversation.id).update(visibility=visibility)

    def titles(client, **query) -> list[str]:
        response = client.get(CONVERSATIONS, {**query, "sort": "title,asc"})
        assert response.status_code == 200, response.content
        return [c["title"] for c in response.json()["content"]]

    mine = {"user_id": str(owner.id)}
    assert titles(client_for(owner), **mine) == ["private", "public", "unlisted"]
    assert titles(client_for(owner), **mine, scenario_id=str(scenario.id)) == [
        "private",
        "public",
        "unlisted",
    ]
    for client in (client_for(other), APIClient(), client_for(make_user(is_staff=True))):
        assert titles(client, **mine) == ["public"]
        assert titles(client, scenario_id=str(scenario.id)) == ["public"]
        assert titles(client) == ["public"]
    assert titles(client_for(owner)) == ["public"]  # the public list is the same for everyone
    body = client_for(owner).get(CONVERSATIONS, mine).json()
    assert {c["title"]: c["visibility"] for c in body["content"]} == {v: v for v in made}


# -- the scenario's counters follow public conversations --------------------------------------


def test_scenario_counters_count_public_conversations_and_their_likes(make_user):
    owner, fan = make_user(), make_user()
    scenario = make_scenario(owner)
    conversation = make_conversation(owner, scenario)
    client_for(fan).post(f"{CONVERSATIONS}/{conversation.id}/like")
    client_for(owner).post(f"{CONVERSATIONS}/{conversation.id}/like")
    assert counters(scenario) == (1, 2, pytest.approx(quality_formula(0, 1, 2), abs=1e-4))

    put(client_for(owner), conversation, {"visibility": "unlisted"})
    assert counters(scenario) == (0, 0, pytest.approx(quality_formula(0, 0, 0), abs=1e-4))
    # A like of a conversation that is not public counts on the conversation only.
    client_for(owner).delete(f"{CONVERSATIONS}/{conversation.id}/unlike")
    assert Conversation.objects.get(id=conversation.id).like_count == 1
    assert counters(scenario)[:2] == (0, 0)
    put(client_for(owner), conversation, {"visibility": "private"})
    assert counters(scenario)[:2] == (0, 0)

    put(client_for(owner), conversation, {"visibility": "public"})
    assert counters(scenario) == (1, 1, pytest.approx(quality_formula(0, 1, 1), abs=1e-4))

    # Created, forked and deleted while not public: never counted, never uncounted.
    hidden = client_for(owner).post(
        CONVERSATIONS, {"scenario_id": str(scenario.id), "visibility": "private"}, format="json"
    )
    fork = client_for(fan).post(
        f"{CONVERSATIONS}/{conversation.id}/fork", {"visibility": "unlisted"}, format="json"
    )
    assert hidden.status_code == fork.status_code == 201
    assert counters(scenario)[:2] == (1, 1)
    client_for(owner).post(f"{CONVERSATIONS}/{hidden.json()['id']}/like")
    assert client_for(owner).delete(f"{CONVERSATIONS}/{hidden.json()['id']}").status_code == 204
    assert client_for(fan).delete(f"{CONVERSATIONS}/{fork.json()['id']}").status_code == 204
    assert counters(scenario)[:2] == (1, 1)
    assert client_for(owner).delete(f"{CONVERSATIONS}/{conversation.id}").status_code == 204
    assert counters(scenario) == (0, 0, pytest.approx(quality_formula(0, 0, 0), abs=1e-4))


# -- forks of a private conversation ---------------------------------------------------------


def test_a_private_conversation_is_forked_by_its_owner_only(make_user):
    owner, other = make_user(), make_user()
    staff = make_user(is_staff=True)
    root = make_conversation(owner)
    add_exchanges(root, 2)
    Conversation.objects.filter(id=root.id).update(visibility="private")
    url = f"{CONVERSATIONS}/{root.id}/fork"
    assert_envelope(client_for(other).post(url, format="json"), 404, "NOT_FOUND")
    assert_envelope(client_for(staff).post(url, format="json"), 403, "PERMISSION_DENIED")
    response = client_for(owner).post(url, {"visibility": "private"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["parent_conversation_id"] == str(root.id)
    assert Conversation.objects.filter(parent_id=root.id).count() == 1
