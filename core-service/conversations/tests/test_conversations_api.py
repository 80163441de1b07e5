"""The conversation resource: create, read, list, rename, delete, and the
message history in page and cursor mode."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import services
from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    Message,
)
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
from scenarios.tests.helpers import soft_delete

pytestmark = pytest.mark.django_db


def url(conversation, suffix: str = "") -> str:
    return f"{CONVERSATIONS}/{conversation.id}{suffix}"


# -- POST /conversations ---------------------------------------------------------------


def test_create_counts_on_the_scenario_and_answers_the_full_shape(user):
    scenario = make_scenario(user)
    response = client_for(user).post(CONVERSATIONS, {"scenario_id": str(scenario.id)}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "What if… (harry_potter)"
    assert body["scenario_id"] == str(scenario.id) and body["scenario"]["id"] == str(scenario.id)
    assert body["user_id"] == str(user.id) and body["user"]["username"] == user.username
    assert body["parent_conversation_id"] is None and body["is_fork"] is False
    assert (body["like_count"], body["message_count"], body["messages"]) == (0, 0, [])
    assert body["messages_truncated"] is False
    conversation = fetch(body["id"])
    assert conversation.user_id == user.id and conversation.scenario_id == scenario.id
    scenario.refresh_from_db()
    assert scenario.conversation_count == 1
    assert scenario.quality_score == pytest.approx(quality_formula(0, 1, 0), rel=1e-9)
    assert scenario.quality_score > 0


@pytest.mark.parametrize("title", ["T", "t" * 200, "Elizabeth & Darcy <3"])
def test_create_with_a_title_of_1_to_200_chars(user, title):
    scenario = make_scenario(user)
    response = client_for(user).post(
        CONVERSATIONS, {"scenario_id": str(scenario.id), "title": title}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["title"] == title
    assert fetch(response.json()["id"]).title == title


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "scenario_id"),
        ({"scenario_id": "not-a-uuid"}, "scenario_id"),
        ({"scenario_id": "SCENARIO", "title": ""}, "title"),
        ({"scenario_id": "SCENARIO", "title": "x" * 201}, "title"),
        ({"scenario_id": "SCENARIO", "title": 7}, "title"),
        ({"scenario_id": "SCENARIO", "user_id": "someone"}, "user_id"),
    ],
)
def test_create_refuses_bad_bodies(user, payload, field):
    scenario = make_scenario(user)
    payload = {k: (str(scenario.id) if v == "SCENARIO" else v) for k, v in payload.items()}
    body = assert_envelope(
        client_for(user).post(CONVERSATIONS, payload, format="json"), 400, "VALIDATION_ERROR"
    )
    assert field in body["details"]
    assert Conversation.objects.count() == 0
    assert Scenario.objects.get(id=scenario.id).conversation_count == 0


def test_create_refuses_a_json_number_as_scenario_id(user):
    # A scenario id is a UUID string; 42 must not be read as UUID(int=42).
    make_scenario(user)
    for number in (42, 0):
        response = client_for(user).post(CONVERSATIONS, {"scenario_id": number}, format="json")
        body = assert_envelope(response, 400, "VALIDATION_ERROR")
        assert "scenario_id" in body["details"]
    assert Conversation.objects.count() == 0


def test_create_on_unknown_or_soft_deleted_scenario_is_404(user):
    client = client_for(user)
    assert_envelope(client.post(CONVERSATIONS, {"scenario_id": str(uuid.uuid4())}, format="json"), 404)
    scenario = make_scenario(user)
    soft_delete(scenario)
    response = client.post(CONVERSATIONS, {"scenario_id": str(scenario.id)}, format="json")
    assert_envelope(response, 404, "NOT_FOUND")
    assert Conversation.objects.count() == 0
    assert Scenario.objects.get(id=scenario.id).conversation_count == 0


def test_create_needs_authentication(user):
    scenario = make_scenario(user)
    response = APIClient().post(CONVERSATIONS, {"scenario_id": str(scenario.id)}, format="json")
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert Conversation.objects.count() == 0


# -- GET /conversations/{id} -------------------------------------------------------------


def test_detail_is_public_with_summaries_and_messages_in_order(make_user):
    owner, liker = make_user(), make_user()
    conversation = make_conversation(owner)
    messages = add_exchanges(conversation, 5)
    services.like(user=liker, conversation_id=conversation.id)
    response = APIClient().get(url(conversation))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(conversation.id)
    assert body["scenario"]["id"] == str(conversation.scenario_id)
    assert body["scenario"]["base_story"] == "harry_potter"
    assert body["scenario"]["scenario_type"] == "CHARACTER_CHANGE"
    assert body["scenario"]["is_deleted"] is False
    assert body["user"] == {"id": str(owner.id), "username": owner.username, "avatar_url": None}
    assert (body["like_count"], body["message_count"]) == (1, 5)
    assert [m["id"] for m in body["messages"]] == [str(m.id) for m in messages]
    assert [m["position"] for m in body["messages"]] == [0, 1, 2, 3, 4]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert body["messages_truncated"] is False


def test_detail_shows_the_200_most_recent_messages_and_says_so(user):
    conversation = make_conversation(user)
    messages = add_exchanges(conversation, 205)
    body = APIClient().get(url(conversation)).json()
    assert body["message_count"] == 205
    assert len(body["messages"]) == 200
    assert [m["id"] for m in body["messages"]] == [str(m.id) for m in messages[5:]]
    assert body["messages"][0]["position"] == 5
    assert body["messages_truncated"] is True


def test_detail_of_unknown_conversation_is_404(api):
    assert_envelope(api.get(f"{CONVERSATIONS}/{uuid.uuid4()}"), 404, "NOT_FOUND")


# -- GET /conversations ----------------------------------------------------------------------


def test_list_is_paginated_and_filters_by_user_and_scenario(make_user):
    alice, bob = make_user(), make_user()
    first, second = make_scenario(alice), make_scenario(bob)
    a1 = make_conversation(alice, first)
    a2 = make_conversation(alice, second)
    b1 = make_conversation(bob, first)
    api = APIClient()
    body = api.get(CONVERSATIONS, {"size": 2}).json()
    assert body["page"] == {"number": 0, "size": 2, "total_elements": 3, "total_pages": 2}
    assert len(body["content"]) == 2
    everything = body["content"] + api.get(CONVERSATIONS, {"size": 2, "page": 1}).json()["content"]
    assert {c["id"] for c in everything} == {str(a1.id), str(a2.id), str(b1.id)}
    by_alice = api.get(CONVERSATIONS, {"user_id": str(alice.id)}).json()
    assert {c["id"] for c in by_alice["content"]} == {str(a1.id), str(a2.id)}
    assert by_alice["page"]["total_elements"] == 2
    on_first = api.get(CONVERSATIONS, {"scenario_id": str(first.id)}).json()
    assert {c["id"] for c in on_first["content"]} == {str(a1.id), str(b1.id)}
    both = api.get(CONVERSATIONS, {"scenario_id": str(first.id), "user_id": str(bob.id)}).json()
    assert [c["id"] for c in both["content"]] == [str(b1.id)]
    nobody = api.get(CONVERSATIONS, {"user_id": str(uuid.uuid4())}).json()
    assert nobody["content"] == [] and nobody["page"]["total_elements"] == 0


def test_unfiltered_total_is_shared_for_ten_seconds_filtered_is_exact(make_user):
    alice = make_user()
    make_conversation(alice)
    api = APIClient()
    assert api.get(CONVERSATIONS).json()["page"]["total_elements"] == 1
    make_conversation(alice)
    # The unfiltered count is reused from Redis within its window ...
    assert api.get(CONVERSATIONS).json()["page"]["total_elements"] == 1
    assert len(api.get(CONVERSATIONS).json()["content"]) == 2
    # ... while a filtered list counts exactly.
    assert api.get(CONVERSATIONS, {"user_id": str(alice.id)}).json()["page"]["total_elements"] == 2
    from django.conf import settings

    from common.redis import get_redis

    assert 0 < get_redis().ttl(f"{settings.REDIS_KEY_PREFIX}:count:conversations") <= 10


def test_unfiltered_total_is_exact_when_redis_is_down(make_user, redis_down):
    make_conversation(make_user())
    make_conversation(make_user())
    response = APIClient().get(CONVERSATIONS)
    assert response.status_code == 200
    assert response.json()["page"]["total_elements"] == 2


def test_list_sorts_by_whitelisted_fields(make_user):
    owner, liker = make_user(), make_user()
    scenario = make_scenario(owner)
    banana = make_conversation(owner, scenario, title="banana")
    apple = make_conversation(owner, scenario, title="apple")
    cherry = make_conversation(owner, scenario, title="cherry")
    add_exchanges(banana, 4)
    add_exchanges(cherry, 2)
    services.like(user=liker, conversation_id=apple.id)

    def titles(sort: str) -> list[str]:
        response = APIClient().get(CONVERSATIONS, {"sort": sort})
        assert response.status_code == 200, response.content
        return [c["title"] for c in response.json()["content"]]

    assert titles("title,asc") == ["apple", "banana", "cherry"]
    assert titles("title,desc") == ["cherry", "banana", "apple"]
    assert titles("message_count,desc") == ["banana", "cherry", "apple"]
    assert titles("like_count,desc")[0] == "apple"
    assert titles("created_at,asc") == ["banana", "apple", "cherry"]
    assert titles("created_at,desc") == ["cherry", "apple", "banana"]
    # Default: most recent activity first (cherry got messages after banana).
    assert titles("updated_at,desc") == ["cherry", "banana", "apple"]
    assert [c["title"] for c in APIClient().get(CONVERSATIONS).json()["content"]] == titles("updated_at,desc")


@pytest.mark.parametrize(
    "query, field",
    [
        ({"sort": "password,asc"}, "sort"),
        ({"sort": "title,up"}, "sort"),
        ({"sort": "user_id,desc"}, "sort"),
        ({"size": 101}, "size"),
        ({"size": 0}, "size"),
        ({"page": -1}, "page"),
        ({"user_id": "bob"}, "user_id"),
        ({"scenario_id": "nope"}, "scenario_id"),
    ],
)
def test_list_refuses_bad_queries(api, query, field):
    body = assert_envelope(api.get(CONVERSATIONS, query), 400, "VALIDATION_ERROR")
    assert field in body["details"]


def test_list_accepts_size_100(api, user):
    make_conversation(user)
    response = api.get(CONVERSATIONS, {"size": 100})
    assert response.status_code == 200 and response.json()["page"]["size"] == 100


# -- PUT /conversations/{id} -----------------------------------------------------------------


def test_owner_renames(user):
    conversation = make_conversation(user)
    response = client_for(user).put(url(conversation), {"title": "Renamed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(conversation.id) and response.json()["title"] == "Renamed"
    assert fetch(conversation.id).title == "Renamed"


def test_only_the_owner_renames(make_user):
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner, title="Mine")
    assert_envelope(
        client_for(other).put(url(conversation), {"title": "Yours"}, format="json"), 403, "PERMISSION_DENIED"
    )
    assert_envelope(APIClient().put(url(conversation), {"title": "Yours"}, format="json"), 401)
    assert_envelope(
        client_for(owner).put(f"{CONVERSATIONS}/{uuid.uuid4()}", {"title": "x"}, format="json"), 404
    )
    assert fetch(conversation.id).title == "Mine"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, "title"),
        ({}, "non_field_errors"),  # a title, a visibility or both
        ({"title": "ok", "like_count": 99}, "like_count"),
        ({"title": "ok", "user_id": "00000000-0000-0000-0000-000000000000"}, "user_id"),
    ],
)
def test_rename_refuses_bad_bodies(user, payload, field):
    conversation = make_conversation(user, title="Mine")
    response = client_for(user).put(url(conversation), payload, format="json")
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["details"]
    stored = fetch(conversation.id)
    assert stored.title == "Mine" and stored.like_count == 0 and stored.user_id == user.id


def test_rename_to_200_chars(user):
    conversation = make_conversation(user)
    response = client_for(user).put(url(conversation), {"title": "y" * 200}, format="json")
    assert response.status_code == 200 and fetch(conversation.id).title == "y" * 200


# -- DELETE /conversations/{id} --------------------------------------------------------------


def test_delete_removes_links_messages_likes_memos_and_uncounts(make_user):
    owner, fan = make_user(), make_user()
    scenario = make_scenario(owner)
    keep = make_conversation(owner, scenario)
    kept = add_exchanges(keep, 2)
    services.like(user=fan, conversation_id=keep.id)
    conversation = make_conversation(owner, scenario)
    add_exchanges(conversation, 4)
    services.like(user=fan, conversation_id=conversation.id)
    services.like(user=owner, conversation_id=conversation.id)
    services.memo_upsert(user=fan, conversation_id=conversation.id, memo_text="note")
    scenario.refresh_from_db()
    assert (scenario.conversation_count, scenario.like_count) == (2, 3)

    response = client_for(owner).delete(url(conversation))
    assert response.status_code == 204, response.content
    assert not Conversation.objects.filter(id=conversation.id).exists()
    assert not ConversationMessageLink.objects.filter(conversation_id=conversation.id).exists()
    assert set(Message.objects.values_list("id", flat=True)) == {m.id for m in kept}
    assert not ConversationLike.objects.filter(conversation_id=conversation.id).exists()
    assert not ConversationMemo.objects.filter(conversation_id=conversation.id).exists()
    scenario.refresh_from_db()
    assert (scenario.conversation_count, scenario.like_count) == (1, 1)
    assert scenario.quality_score == pytest.approx(quality_formula(0, 1, 1), rel=1e-9)
    assert_envelope(APIClient().get(url(conversation)), 404)
    assert_envelope(client_for(owner).delete(url(conversation)), 404)
    assert fetch(keep.id).message_count == 2 and fetch(keep.id).like_count == 1


def test_only_the_owner_deletes(make_user):
    owner, other = make_user(), make_user()
    conversation = make_conversation(owner)
    add_exchanges(conversation, 2)
    assert_envelope(client_for(other).delete(url(conversation)), 403, "PERMISSION_DENIED")
    assert_envelope(APIClient().delete(url(conversation)), 401, "NOT_AUTHENTICATED")
    assert fetch(conversation.id).message_count == 2
    assert Message.objects.count() == 2
    assert Scenario.objects.get(id=conversation.scenario_id).conversation_count == 1


# -- GET /conversations/{id}/messages ----------------------------------------------------------


def test_history_page_mode_oldest_first_with_page_info_and_cursors(user):
    conversation = make_conversation(user)
    messages = add_exchanges(conversation, 45)
    api = APIClient()
    first = api.get(url(conversation, "/messages"), {"size": 10}).json()
    assert [m["id"] for m in first["content"]] == [str(m.id) for m in messages[:10]]
    assert first["page"] == {"number": 0, "size": 10, "total_elements": 45, "total_pages": 5}
    assert first["cursors"] == {"older": None, "newer": str(messages[9].id)}
    middle = api.get(url(conversation, "/messages"), {"size": 10, "page": 2}).json()
    assert [m["position"] for m in middle["content"]] == list(range(20, 30))
    assert middle["cursors"] == {"older": str(messages[20].id), "newer": str(messages[29].id)}
    last = api.get(url(conversation, "/messages"), {"size": 10, "page": 4}).json()
    assert [m["id"] for m in last["content"]] == [str(m.id) for m in messages[40:]]
    assert last["cursors"] == {"older": str(messages[40].id), "newer": None}
    beyond = api.get(url(conversation, "/messages"), {"size": 10, "page": 5}).json()
    assert beyond["content"] == [] and beyond["cursors"] == {"older": None, "newer": None}
    default = api.get(url(conversation, "/messages")).json()
    assert default["page"]["size"] == 20 and len(default["content"]) == 20


def test_walking_back_with_before_visits_every_message_once(user):
    conversation = make_conversation(user)
    messages = add_exchanges(conversation, 45)
    api = APIClient()
    newest = api.get(url(conversation)).json()["messages"][-1]["id"]
    assert newest == str(messages[-1].id)
    seen, cursor, requests = [newest], newest, 0
    while cursor is not None:
        body = api.get(url(conversation, "/messages"), {"before": cursor, "size": 10}).json()
        assert body["page"] is None
        assert len(body["content"]) <= 10
        seen = [m["id"] for m in body["content"]] + seen
        cursor = body["cursors"]["older"]
        requests += 1
        assert requests <= 10, "the walk does not end"
    assert seen == [str(m.id) for m in messages]
    assert len(set(seen)) == 45
    assert requests == 5  # 44 older messages: 10 + 10 + 10 + 10 + 4


def test_walking_forward_with_after(user):
    conversation = make_conversation(user)
    messages = add_exchanges(conversation, 25)
    api = APIClient()
    seen, cursor = [str(messages[0].id)], str(messages[0].id)
    while cursor is not None:
        body = api.get(url(conversation, "/messages"), {"after": cursor, "size": 7}).json()
        assert body["page"] is None
        seen += [m["id"] for m in body["content"]]
        cursor = body["cursors"]["newer"]
    assert seen == [str(m.id) for m in messages]
    window = api.get(url(conversation, "/messages"), {"after": str(messages[9].id), "size": 3}).json()
    assert [m["id"] for m in window["content"]] == [str(m.id) for m in messages[10:13]]
    assert window["cursors"] == {"older": str(messages[10].id), "newer": str(messages[12].id)}


def test_before_and_after_together_give_the_messages_between(user):
    conversation = make_conversation(user)
    messages = add_exchanges(conversation, 10)
    api = APIClient()
    between = {"after": str(messages[1].id), "before": str(messages[7].id)}
    body = api.get(url(conversation, "/messages"), {**between, "size": 3}).json()
    assert [m["id"] for m in body["content"]] == [str(m.id) for m in messages[2:5]]
    assert body["cursors"] == {"older": str(messages[2].id), "newer": str(messages[4].id)}
    body = api.get(url(conversation, "/messages"), between).json()
    assert [m["id"] for m in body["content"]] == [str(m.id) for m in messages[2:7]]
    crossed = {"after": str(messages[7].id), "before": str(messages[1].id)}
    assert api.get(url(conversation, "/messages"), crossed).json()["content"] == []


def test_history_cursor_errors(user):
    conversation = make_conversation(user)
    add_exchanges(conversation, 4)
    other = make_conversation(user)
    foreign = add_exchanges(other, 2)
    api = APIClient()
    assert_envelope(api.get(url(conversation, "/messages"), {"before": str(foreign[1].id)}), 404, "NOT_FOUND")
    assert_envelope(api.get(url(conversation, "/messages"), {"after": str(uuid.uuid4())}), 404)
    body = assert_envelope(api.get(url(conversation, "/messages"), {"before": "abc"}), 400)
    assert "before" in body["details"]
    body = assert_envelope(api.get(url(conversation, "/messages"), {"after": "123"}), 400)
    assert "after" in body["details"]
    assert_envelope(api.get(url(conversation, "/messages"), {"size": 101}), 400)
    assert_envelope(api.get(f"{CONVERSATIONS}/{uuid.uuid4()}/messages"), 404)


# -- non-UUID ids in paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, suffix",
    [
        ("get", ""),
        ("put", ""),
        ("delete", ""),
        ("get", "/messages"),
        ("post", "/messages"),
        ("post", "/fork"),
        ("get", "/tree"),
        ("post", "/like"),
        ("delete", "/unlike"),
        ("get", "/liked"),
        ("get", "/memo"),
        ("post", "/memo"),
        ("delete", "/memo"),
    ],
)
def test_non_uuid_ids_in_paths_are_404_envelopes(user, method, suffix):
    client = client_for(user)
    for bad in ("not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"):
        response = getattr(client, method)(f"{CONVERSATIONS}/{bad}{suffix}", {}, format="json")
        assert_envelope(response, 404, "NOT_FOUND")
