"""Conversation forks (depth 1, sharing message rows with their root), what
deleting either side leaves, and the tree endpoint."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import services
from conversations.models import Conversation, ConversationMessageLink, Message
from conversations.tests.helpers import (
    CONVERSATIONS,
    add_exchanges,
    client_for,
    fetch,
    make_conversation,
    make_scenario,
)
from scenarios.models import Scenario
from scenarios.quality import quality_formula

pytestmark = pytest.mark.django_db


def fork_via_api(client, conversation, **body):
    return client.post(f"{CONVERSATIONS}/{conversation.id}/fork", body, format="json")


def linked_ids(conversation) -> list:
    return list(
        ConversationMessageLink.objects.filter(conversation_id=conversation.id)
        .order_by("position")
        .values_list("message_id", flat=True)
    )


def shown_ids(conversation) -> list[str]:
    response = APIClient().get(f"{CONVERSATIONS}/{conversation.id}")
    assert response.status_code == 200, response.content
    return [m["id"] for m in response.json()["messages"]]


# -- POST /conversations/{id}/fork ---------------------------------------------------------


@pytest.mark.parametrize("total, window", [(0, 0), (3, 3), (6, 6), (40, 6)])
def test_fork_shares_the_last_min_6_messages_without_copying(make_user, total, window):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner, title="Root")
    messages = add_exchanges(root, total)
    before = Message.objects.count()

    response = fork_via_api(client_for(forker), root)
    assert response.status_code == 201, response.content
    body = response.json()
    expected = [m.id for m in messages[total - window :]]
    fork = fetch(body["id"])
    assert fork.user_id == forker.id and fork.scenario_id == root.scenario_id
    assert fork.parent_id == root.id and fork.depth == 1
    assert fork.message_count == window
    assert linked_ids(fork) == expected
    assert [m["id"] for m in body["messages"]] == [str(i) for i in expected]
    assert [m["position"] for m in body["messages"]] == list(range(window))
    assert body["user"]["id"] == str(forker.id)
    assert body["scenario"]["id"] == str(root.scenario_id)
    assert body["parent_conversation_id"] == str(root.id) and body["is_fork"] is True
    assert body["title"] == "Fork of Root"
    assert Message.objects.count() == before  # shared, not copied
    assert linked_ids(root) == [m.id for m in messages]  # the root is untouched
    assert fetch(root.id).message_count == total


def test_fork_title_is_optional_and_validated(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    client = client_for(forker)
    response = fork_via_api(client, root, title="My branch")
    assert response.status_code == 201 and response.json()["title"] == "My branch"
    assert_envelope(fork_via_api(client, root, title=""), 400, "VALIDATION_ERROR")
    assert_envelope(fork_via_api(client, root, title="x" * 201), 400, "VALIDATION_ERROR")
    assert_envelope(fork_via_api(client, root, title="ok", parent_id=str(root.id)), 400)
    assert Conversation.objects.filter(parent=root).count() == 1


def test_owner_may_fork_their_own_conversation(user):
    root = make_conversation(user)
    response = fork_via_api(client_for(user), root)
    assert response.status_code == 201
    assert fetch(response.json()["id"]).user_id == user.id


def test_forking_a_fork_is_fork_depth_exceeded(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    add_exchanges(root, 2)
    fork = services.conversation_fork(conversation_id=root.id, user=forker)
    response = fork_via_api(client_for(owner), fork)
    assert_envelope(response, 409, "FORK_DEPTH_EXCEEDED")
    assert Conversation.objects.count() == 2
    assert Scenario.objects.get(id=root.scenario_id).conversation_count == 2


def test_fork_needs_authentication_and_an_existing_conversation(user):
    root = make_conversation(user)
    assert_envelope(fork_via_api(APIClient(), root), 401, "NOT_AUTHENTICATED")
    assert_envelope(client_for(user).post(f"{CONVERSATIONS}/{uuid.uuid4()}/fork"), 404, "NOT_FOUND")
    assert Conversation.objects.count() == 1


def test_fork_and_root_grow_apart(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    shared = add_exchanges(root, 8)
    fork = services.conversation_fork(conversation_id=root.id, user=forker)
    in_fork = add_exchanges(fork, 2)
    assert shown_ids(root) == [str(m.id) for m in shared]
    assert fetch(root.id).message_count == 8
    in_root = add_exchanges(root, 3)
    assert shown_ids(fork) == [str(m.id) for m in shared[2:] + in_fork]
    assert fetch(fork.id).message_count == 8
    assert shown_ids(root) == [str(m.id) for m in shared + in_root]
    assert [m["position"] for m in APIClient().get(f"{CONVERSATIONS}/{fork.id}").json()["messages"]] == list(
        range(8)
    )


def test_forks_count_on_the_scenario(make_user):
    owner, forker = make_user(), make_user()
    scenario = make_scenario(owner)
    root = make_conversation(owner, scenario)
    for _ in range(2):
        assert fork_via_api(client_for(forker), root).status_code == 201
    scenario.refresh_from_db()
    assert scenario.conversation_count == 3
    assert scenario.quality_score == pytest.approx(quality_formula(0, 3, 0), rel=1e-9)


# -- deleting roots and forks -----------------------------------------------------------------


def test_deleting_the_root_keeps_forks_and_their_shared_messages(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    messages = add_exchanges(root, 10)
    fork = services.conversation_fork(conversation_id=root.id, user=forker)
    own = add_exchanges(fork, 2)

    assert client_for(owner).delete(f"{CONVERSATIONS}/{root.id}").status_code == 204
    survivor = fetch(fork.id)
    assert survivor.parent_id is None and survivor.depth == 1
    assert set(Message.objects.values_list("id", flat=True)) == {m.id for m in messages[4:] + own}
    body = APIClient().get(f"{CONVERSATIONS}/{fork.id}").json()
    assert body["parent_conversation_id"] is None and body["is_fork"] is True
    assert [m["id"] for m in body["messages"]] == [str(m.id) for m in messages[4:] + own]
    assert body["message_count"] == 8
    # Still a fork: it cannot be forked.
    assert_envelope(fork_via_api(client_for(owner), survivor), 409, "FORK_DEPTH_EXCEEDED")
    assert_envelope(fork_via_api(client_for(forker), survivor), 409, "FORK_DEPTH_EXCEEDED")
    assert Scenario.objects.get(id=root.scenario_id).conversation_count == 1


def test_deleting_a_fork_keeps_what_the_root_shows(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    messages = add_exchanges(root, 10)
    fork = services.conversation_fork(conversation_id=root.id, user=forker)
    own = add_exchanges(fork, 4)
    assert client_for(forker).delete(f"{CONVERSATIONS}/{fork.id}").status_code == 204
    assert set(Message.objects.values_list("id", flat=True)) == {m.id for m in messages}
    assert not Message.objects.filter(id__in=[m.id for m in own]).exists()
    assert shown_ids(root) == [str(m.id) for m in messages]
    assert fetch(root.id).message_count == 10
    assert Scenario.objects.get(id=root.scenario_id).conversation_count == 1


def test_a_message_lives_while_any_conversation_shows_it(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    messages = add_exchanges(root, 8)
    first = services.conversation_fork(conversation_id=root.id, user=forker)
    add_exchanges(root, 2)  # now the last 6 are messages[4:8] + 2 new ones
    second = services.conversation_fork(conversation_id=root.id, user=forker)
    services.conversation_delete(conversation_id=root.id, user=owner)
    # messages[0:2] were the root's alone; [2:4] are still the first fork's.
    remaining = set(Message.objects.values_list("id", flat=True))
    assert {m.id for m in messages[:2]}.isdisjoint(remaining)
    assert {m.id for m in messages[2:]} <= remaining
    services.conversation_delete(conversation_id=first.id, user=forker)
    remaining = set(Message.objects.values_list("id", flat=True))
    assert {m.id for m in messages[2:4]}.isdisjoint(remaining)
    assert {m.id for m in messages[4:]} <= remaining  # the second fork still shows them
    assert remaining == set(linked_ids(second))
    services.conversation_delete(conversation_id=second.id, user=forker)
    assert Message.objects.count() == 0 and ConversationMessageLink.objects.count() == 0


# -- GET /conversations/{id}/tree --------------------------------------------------------------


def test_tree_of_a_conversation_alone(user):
    root = make_conversation(user, title="Alone")
    add_exchanges(root, 2)
    response = APIClient().get(f"{CONVERSATIONS}/{root.id}/tree")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(root.id) and body["title"] == "Alone"
    assert body["children"] == [] and body["depth"] == 0 and body["total_descendants"] == 0
    assert body["message_count"] == 2 and body["like_count"] == 0
    assert body["user"] == {"id": str(user.id), "username": user.username}
    assert body["parent_conversation_id"] is None


def test_tree_lists_forks_most_liked_first(make_user):
    owner = make_user()
    forkers = [make_user() for _ in range(3)]
    fans = [make_user() for _ in range(3)]
    root = make_conversation(owner)
    add_exchanges(root, 4)
    forks = [services.conversation_fork(conversation_id=root.id, user=f) for f in forkers]
    add_exchanges(forks[0], 2)
    for fan in fans[:2]:
        services.like(user=fan, conversation_id=forks[2].id)
    services.like(user=fans[2], conversation_id=forks[1].id)
    services.like(user=fans[0], conversation_id=root.id)

    body = APIClient().get(f"{CONVERSATIONS}/{root.id}/tree").json()
    assert body["depth"] == 1 and body["total_descendants"] == 3
    assert body["like_count"] == 1
    assert [c["id"] for c in body["children"]] == [str(forks[2].id), str(forks[1].id), str(forks[0].id)]
    assert [c["like_count"] for c in body["children"]] == [2, 1, 0]
    assert [c["message_count"] for c in body["children"]] == [4, 4, 6]
    assert [c["user"]["username"] for c in body["children"]] == [
        forkers[2].username,
        forkers[1].username,
        forkers[0].username,
    ]
    assert all(c["children"] == [] for c in body["children"])


def test_tree_limit_caps_children_but_not_the_total(make_user):
    owner, forker, fan = make_user(), make_user(), make_user()
    root = make_conversation(owner)
    forks = [services.conversation_fork(conversation_id=root.id, user=forker) for _ in range(4)]
    services.like(user=fan, conversation_id=forks[3].id)
    api = APIClient()
    body = api.get(f"{CONVERSATIONS}/{root.id}/tree", {"limit": 2}).json()
    assert len(body["children"]) == 2 and body["total_descendants"] == 4 and body["depth"] == 1
    assert body["children"][0]["id"] == str(forks[3].id)
    one = api.get(f"{CONVERSATIONS}/{root.id}/tree", {"limit": 1}).json()
    assert [c["id"] for c in one["children"]] == [str(forks[3].id)]
    assert len(api.get(f"{CONVERSATIONS}/{root.id}/tree", {"limit": 500}).json()["children"]) == 4
    for bad in (0, -1, 501, "many"):
        body = assert_envelope(api.get(f"{CONVERSATIONS}/{root.id}/tree", {"limit": bad}), 400)
        assert "limit" in body["details"]


def test_tree_of_unknown_conversation_is_404(api):
    assert_envelope(api.get(f"{CONVERSATIONS}/{uuid.uuid4()}/tree"), 404, "NOT_FOUND")


def test_tree_forgets_deleted_forks(make_user):
    owner, forker = make_user(), make_user()
    root = make_conversation(owner)
    kept = services.conversation_fork(conversation_id=root.id, user=forker)
    gone = services.conversation_fork(conversation_id=root.id, user=forker)
    services.conversation_delete(conversation_id=gone.id, user=forker)
    body = APIClient().get(f"{CONVERSATIONS}/{root.id}/tree").json()
    assert [c["id"] for c in body["children"]] == [str(kept.id)]
    assert body["total_descendants"] == 1
