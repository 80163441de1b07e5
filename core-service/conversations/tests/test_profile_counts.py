"""Counts that follow conversations: a user's public profile counts and a
scenario's conversation and like counters (with its quality score)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import services
from conversations.models import Conversation, ConversationLike
from conversations.tests.helpers import CONVERSATIONS, add_exchanges, client_for, make_conversation
from scenarios.models import Scenario
from scenarios.quality import quality_formula
from scenarios.tests.helpers import SCENARIOS, make_fork, make_scenario, soft_delete

pytestmark = pytest.mark.django_db

USERS = "/api/v1/users"


def profile(user) -> dict:
    response = APIClient().get(f"{USERS}/{user.username}")
    assert response.status_code == 200, response.content
    return response.json()


def counts(user) -> tuple[int, int]:
    body = profile(user)
    return body["scenario_count"], body["conversation_count"]


# -- GET /users/{username} -------------------------------------------------------------------------


def test_new_user_has_zero_counts(user):
    assert counts(user) == (0, 0)


def test_scenario_count_counts_live_scenarios_only(make_user):
    author, other = make_user(), make_user()
    first, second = make_scenario(author), make_scenario(author)
    make_fork(first, author)
    make_scenario(other)
    assert counts(author) == (3, 0)
    soft_delete(second)
    assert counts(author) == (2, 0)
    assert counts(other) == (1, 0)
    response = client_for(author).delete(f"{SCENARIOS}/{first.id}")
    assert response.status_code == 204, response.content
    assert counts(author)[0] == 1


def test_conversation_count_includes_forks_the_user_owns(make_user):
    alice, bob = make_user(), make_user()
    scenario = make_scenario(alice)
    root = make_conversation(alice, scenario)
    client_for(alice).post(CONVERSATIONS, {"scenario_id": str(scenario.id)}, format="json")
    response = client_for(bob).post(f"{CONVERSATIONS}/{root.id}/fork", format="json")
    assert response.status_code == 201
    # scenario_count: only alice created a scenario; bob's fork is his conversation.
    assert counts(alice) == (1, 2)
    assert counts(bob) == (0, 1)
    own_fork = client_for(alice).post(f"{CONVERSATIONS}/{root.id}/fork", format="json").json()
    assert counts(alice) == (1, 3)

    assert client_for(bob).delete(f"{CONVERSATIONS}/{response.json()['id']}").status_code == 204
    assert counts(bob) == (0, 0)
    assert client_for(alice).delete(f"{CONVERSATIONS}/{own_fork['id']}").status_code == 204
    assert counts(alice) == (1, 2)
    assert client_for(alice).delete(f"{CONVERSATIONS}/{root.id}").status_code == 204
    assert counts(alice) == (1, 1)


def test_a_fork_surviving_its_root_still_counts_for_its_owner(make_user):
    alice, bob = make_user(), make_user()
    root = make_conversation(alice)
    add_exchanges(root, 3)
    services.conversation_fork(conversation_id=root.id, user=bob)
    services.conversation_delete(conversation_id=root.id, user=alice)
    assert counts(alice)[1] == 0
    assert counts(bob)[1] == 1


def test_profile_counts_match_the_rows(make_user):
    users = [make_user() for _ in range(3)]
    scenario = make_scenario(users[0])
    make_scenario(users[1])
    roots = [make_conversation(u, scenario) for u in users]
    services.conversation_fork(conversation_id=roots[0].id, user=users[1])
    services.conversation_fork(conversation_id=roots[1].id, user=users[1])
    for user in users:
        body = profile(user)
        assert body["conversation_count"] == Conversation.objects.filter(user=user).count()
        assert (
            body["scenario_count"] == Scenario.objects.filter(creator=user, deleted_at__isnull=True).count()
        )
    assert counts(users[1]) == (1, 3)


def test_unknown_profile_is_404(api):
    assert_envelope(api.get(f"{USERS}/nobody_here"), 404, "NOT_FOUND")


# -- a scenario's counters ---------------------------------------------------------------------


def assert_scenario_counts(scenario, *, conversations: int, likes: int) -> None:
    """The stored counters equal the given values and the rows; quality follows."""
    stored = Scenario.objects.get(id=scenario.id)
    assert stored.conversation_count == conversations
    assert Conversation.objects.filter(scenario=scenario).count() == conversations
    assert stored.like_count == likes
    assert ConversationLike.objects.filter(conversation__scenario=scenario).count() == likes
    expected = quality_formula(stored.fork_count, conversations, likes)
    assert stored.quality_score == pytest.approx(expected, rel=1e-9, abs=1e-12)
    body = APIClient().get(f"{SCENARIOS}/{scenario.id}").json()
    assert body["conversation_count"] == conversations
    assert body["quality_score"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_scenario_counters_follow_the_whole_lifecycle(make_user):
    owner, forker, fan, other = make_user(), make_user(), make_user(), make_user()
    scenario = make_scenario(owner)
    make_fork(scenario, other)  # a scenario fork: fork_count 1 weighs in the quality
    unrelated = make_scenario(other)
    make_conversation(other, unrelated)
    assert Scenario.objects.get(id=scenario.id).fork_count == 1
    assert_scenario_counts(scenario, conversations=0, likes=0)

    created = client_for(owner).post(CONVERSATIONS, {"scenario_id": str(scenario.id)}, format="json")
    root_id = created.json()["id"]
    assert_scenario_counts(scenario, conversations=1, likes=0)

    fork_id = client_for(forker).post(f"{CONVERSATIONS}/{root_id}/fork", format="json").json()["id"]
    assert_scenario_counts(scenario, conversations=2, likes=0)
    assert Scenario.objects.get(id=scenario.id).fork_count == 1  # a conversation fork is not a scenario fork

    for liker in (fan, forker, fan):  # the second like of fan changes nothing
        client_for(liker).post(f"{CONVERSATIONS}/{root_id}/like")
    client_for(fan).post(f"{CONVERSATIONS}/{fork_id}/like")
    client_for(owner).post(f"{CONVERSATIONS}/{fork_id}/like")
    assert_scenario_counts(scenario, conversations=2, likes=4)

    client_for(forker).delete(f"{CONVERSATIONS}/{root_id}/unlike")
    client_for(forker).delete(f"{CONVERSATIONS}/{root_id}/unlike")
    assert_scenario_counts(scenario, conversations=2, likes=3)

    # Deleting the fork takes its 2 likes with it.
    assert client_for(forker).delete(f"{CONVERSATIONS}/{fork_id}").status_code == 204
    assert_scenario_counts(scenario, conversations=1, likes=1)

    assert client_for(owner).delete(f"{CONVERSATIONS}/{root_id}").status_code == 204
    assert_scenario_counts(scenario, conversations=0, likes=0)
    assert Scenario.objects.get(id=scenario.id).quality_score == pytest.approx(quality_formula(1, 0, 0))
    assert_scenario_counts(unrelated, conversations=1, likes=0)


def test_deleting_a_root_keeps_counting_its_surviving_fork(make_user):
    owner, forker, fan = make_user(), make_user(), make_user()
    scenario = make_scenario(owner)
    root = make_conversation(owner, scenario)
    fork = services.conversation_fork(conversation_id=root.id, user=forker)
    services.like(user=fan, conversation_id=root.id)
    services.like(user=fan, conversation_id=fork.id)
    assert_scenario_counts(scenario, conversations=2, likes=2)
    services.conversation_delete(conversation_id=root.id, user=owner)
    assert_scenario_counts(scenario, conversations=1, likes=1)


def test_refused_writes_move_no_counter(make_user):
    owner, other = make_user(), make_user()
    scenario = make_scenario(owner)
    root = make_conversation(owner, scenario)
    fork = services.conversation_fork(conversation_id=root.id, user=other)
    services.like(user=other, conversation_id=root.id)
    before = Scenario.objects.get(id=scenario.id)
    assert client_for(owner).post(f"{CONVERSATIONS}/{fork.id}/fork").status_code == 409
    assert client_for(other).delete(f"{CONVERSATIONS}/{root.id}").status_code == 403
    assert APIClient().post(f"{CONVERSATIONS}/{root.id}/like").status_code == 401
    bad = client_for(owner).post(CONVERSATIONS, {"scenario_id": str(scenario.id), "title": ""}, format="json")
    assert bad.status_code == 400
    after = Scenario.objects.get(id=scenario.id)
    assert (after.conversation_count, after.like_count, after.quality_score) == (
        before.conversation_count,
        before.like_count,
        before.quality_score,
    )
    assert_scenario_counts(scenario, conversations=2, likes=1)
