"""A conversation on a reader's own import shows the novel's text, so it is
never more visible than the novel: created or forked below it, refused
above it, brought down with it when the novel is hidden again; and nobody
else opens a conversation on someone's private novel."""

from __future__ import annotations

import pytest

from conftest import assert_envelope
from conversations.models import Conversation
from conversations.services import ABOVE_NOVEL
from conversations.tests.helpers import CONVERSATIONS, client_for
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.tests.helpers import make_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_novel(user):
    return Novel.objects.create(
        slug="my-story-1a2b3c4d",
        title="My Story",
        owner=user,
        visibility="private",
        ingestion_status="completed",
    )


@pytest.fixture
def scenario(user, own_novel):
    return make_scenario(user, base_story=own_novel.slug)


def create(client, scenario, **body):
    return client.post(CONVERSATIONS, {"scenario_id": str(scenario.id), **body}, format="json")


def test_the_default_visibility_comes_down_to_the_novels(user, scenario):
    assert scenario.novel is not None
    response = create(client_for(user), scenario)
    assert response.status_code == 201, response.content
    assert response.json()["visibility"] == "private"  # the reader's default is public


def test_asking_for_more_than_the_novel_is_refused(user, scenario):
    client = client_for(user)
    body = assert_envelope(create(client, scenario, visibility="public"), 400, "VALIDATION_ERROR")
    assert body["details"]["visibility"] == [ABOVE_NOVEL]
    assert Conversation.objects.count() == 0
    created = create(client, scenario, visibility="private").json()
    body = assert_envelope(
        client.put(f"{CONVERSATIONS}/{created['id']}", {"visibility": "unlisted"}, format="json"), 400
    )
    assert body["details"]["visibility"] == [ABOVE_NOVEL]
    fork = client.post(f"{CONVERSATIONS}/{created['id']}/fork", {"visibility": "public"}, format="json")
    assert_envelope(fork, 400)
    assert client.post(f"{CONVERSATIONS}/{created['id']}/fork", {}, format="json").json()["visibility"] == (
        "private"
    )


def test_nobody_else_opens_a_conversation_on_a_private_novel(make_user, scenario):
    other = make_user()
    assert_envelope(create(client_for(other), scenario), 404, "NOT_FOUND")
    assert Conversation.objects.count() == 0


def test_hiding_the_novel_again_brings_its_conversations_down(user, own_novel, scenario):
    client = client_for(user)
    assert (
        client.patch(f"/api/v1/novels/{own_novel.id}", {"visibility": "public"}, format="json").status_code
        == 200
    )
    public = create(client, scenario, visibility="public").json()
    unlisted = create(client, scenario, visibility="unlisted").json()
    assert Scenario.objects.get(id=scenario.id).conversation_count == 1
    response = client.patch(f"/api/v1/novels/{own_novel.id}", {"visibility": "unlisted"}, format="json")
    assert response.status_code == 200, response.content
    assert Conversation.objects.get(id=public["id"]).visibility == "unlisted"
    assert Conversation.objects.get(id=unlisted["id"]).visibility == "unlisted"
    assert Scenario.objects.get(id=scenario.id).conversation_count == 0
    client.patch(f"/api/v1/novels/{own_novel.id}", {"visibility": "private"}, format="json")
    assert set(Conversation.objects.values_list("visibility", flat=True)) == {"private"}


def test_a_novel_made_private_grounds_nobody_elses_turns_or_forks(
    user, own_novel, scenario, make_user, stub_ai
):
    """Another reader talked on the novel while it was public; then its owner
    hid it: their turns go on without its passages, and nobody forks into it."""
    from conversations.tests.helpers import send

    client = client_for(user)
    client.patch(f"/api/v1/novels/{own_novel.id}", {"visibility": "public"}, format="json")
    other = make_user()
    theirs = make_scenario(other, base_story=own_novel.slug)
    assert theirs.novel_id == own_novel.id
    conversation = create(client_for(other), theirs, visibility="public").json()
    row = Conversation.objects.get(id=conversation["id"])
    assert send(client_for(other), row, "Hello?").status_code == 202
    assert stub_ai.last["body"].novel_id == own_novel.id  # grounded while public

    assert (
        client.patch(f"/api/v1/novels/{own_novel.id}", {"visibility": "private"}, format="json").status_code
        == 200
    )
    assert send(client_for(other), row, "And now?").status_code == 202
    assert stub_ai.last["body"].novel_id is None  # the owner's private text no longer grounds it
    assert_envelope(client_for(other).post(f"{CONVERSATIONS}/{row.id}/fork", {}, format="json"), 404)
    # The owner still grounds their own.
    mine = create(client, scenario, visibility="private").json()
    assert send(client, Conversation.objects.get(id=mine["id"]), "Mine?").status_code == 202
    assert stub_ai.last["body"].novel_id == own_novel.id


def test_who_may_read_a_novel_by_id_alone(user, own_novel, make_user, django_assert_num_queries):
    """The turn's check takes the owner's id: no query for the novel's owner
    or a public novel, one to ask whether anyone else is staff."""
    from novels.selectors import can_read_by_id

    other, staff = make_user(), make_user(is_staff=True)
    with django_assert_num_queries(0):
        assert can_read_by_id(own_novel, user.id)
    with django_assert_num_queries(1):
        assert not can_read_by_id(own_novel, other.id)
    assert can_read_by_id(own_novel, staff.id)
    own_novel.visibility = "unlisted"
    with django_assert_num_queries(0):
        assert can_read_by_id(own_novel, other.id)
