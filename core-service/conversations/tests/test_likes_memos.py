"""Likes (idempotent, exact under concurrency) and private memos."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import services
from conversations.models import Conversation, ConversationLike, ConversationMemo
from conversations.tests.helpers import (
    CONVERSATIONS,
    client_for,
    fetch,
    make_conversation,
    make_scenario,
)
from scenarios.models import Scenario
from scenarios.quality import quality_formula

pytestmark = pytest.mark.django_db

LIKED = "/api/v1/users/me/liked-conversations"
NO_MEMO = "No memo found for this conversation"


def path(conversation, suffix: str) -> str:
    return f"{CONVERSATIONS}/{conversation.id}/{suffix}"


def assert_likes_consistent(conversation, likers: set) -> None:
    stored = fetch(conversation.id)
    rows = set(ConversationLike.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    assert rows == likers
    assert (
        stored.like_count == len(likers) == ConversationLike.objects.filter(conversation=conversation).count()
    )


# -- like / unlike / liked -------------------------------------------------------------------


def test_like_is_idempotent_and_unlike_too(make_user):
    owner, fan = make_user(), make_user()
    conversation = make_conversation(owner)
    client = client_for(fan)
    first = client.post(path(conversation, "like"))
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["user_id"] == str(fan.id) and body["conversation_id"] == str(conversation.id)
    assert body["total_likes"] == 1 and body["liked_at"]
    again = client.post(path(conversation, "like")).json()
    assert again["total_likes"] == 1 and again["liked_at"] == body["liked_at"]
    assert_likes_consistent(conversation, {fan.id})

    liked = client.get(path(conversation, "liked")).json()
    assert liked == {"is_liked": True, "liked_at": body["liked_at"]}
    assert client_for(owner).get(path(conversation, "liked")).json() == {"is_liked": False, "liked_at": None}

    response = client.delete(path(conversation, "unlike"))
    assert response.status_code == 200
    assert response.json() == {"message": "Unliked successfully", "total_likes": 0}
    assert client.delete(path(conversation, "unlike")).json()["total_likes"] == 0
    assert_likes_consistent(conversation, set())
    assert client.get(path(conversation, "liked")).json() == {"is_liked": False, "liked_at": None}


def test_total_likes_counts_everyone(make_user):
    conversation = make_conversation(make_user())
    fans = [make_user() for _ in range(3)]
    totals = [client_for(f).post(path(conversation, "like")).json()["total_likes"] for f in fans]
    assert totals == [1, 2, 3]
    assert client_for(fans[0]).delete(path(conversation, "unlike")).json()["total_likes"] == 2
    assert client_for(fans[0]).post(path(conversation, "like")).json()["total_likes"] == 3
    assert_likes_consistent(conversation, {f.id for f in fans})
    assert APIClient().get(f"{CONVERSATIONS}/{conversation.id}").json()["like_count"] == 3


def test_like_moves_the_scenarios_like_count_and_quality(make_user):
    owner, fan = make_user(), make_user()
    scenario = make_scenario(owner)
    a, b = make_conversation(owner, scenario), make_conversation(owner, scenario)
    client_for(fan).post(path(a, "like"))
    client_for(fan).post(path(b, "like"))
    client_for(owner).post(path(b, "like"))
    client_for(fan).post(path(b, "like"))  # no change
    scenario.refresh_from_db()
    assert scenario.like_count == 3
    assert scenario.quality_score == pytest.approx(quality_formula(0, 2, 3), rel=1e-9)
    client_for(fan).delete(path(b, "unlike"))
    client_for(fan).delete(path(b, "unlike"))  # no change
    scenario.refresh_from_db()
    assert scenario.like_count == 2
    assert scenario.quality_score == pytest.approx(quality_formula(0, 2, 2), rel=1e-9)


def test_like_endpoints_need_auth_and_an_existing_conversation(user):
    conversation = make_conversation(user)
    anonymous = APIClient()
    assert_envelope(anonymous.post(path(conversation, "like")), 401, "NOT_AUTHENTICATED")
    assert_envelope(anonymous.delete(path(conversation, "unlike")), 401, "NOT_AUTHENTICATED")
    assert_envelope(anonymous.get(path(conversation, "liked")), 401, "NOT_AUTHENTICATED")
    client = client_for(user)
    unknown = f"{CONVERSATIONS}/{uuid.uuid4()}"
    assert_envelope(client.post(f"{unknown}/like"), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"{unknown}/unlike"), 404, "NOT_FOUND")
    assert_envelope(client.get(f"{unknown}/liked"), 404, "NOT_FOUND")
    assert ConversationLike.objects.count() == 0 and fetch(conversation.id).like_count == 0


def test_liked_conversations_most_recent_first(make_user):
    owner, fan = make_user(), make_user()
    a, b, c = (make_conversation(owner, title=t) for t in "abc")
    client = client_for(fan)
    for conversation in (a, b, c):
        client.post(path(conversation, "like"))
    ConversationLike.objects.filter(conversation=a).update(created_at=datetime(2031, 1, 1, tzinfo=UTC))
    ConversationLike.objects.filter(conversation=b).update(created_at=datetime(2030, 1, 1, tzinfo=UTC))
    ConversationLike.objects.filter(conversation=c).update(created_at=datetime(2030, 6, 1, tzinfo=UTC))

    response = client.get(LIKED, {"size": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["page"] == {"number": 0, "size": 2, "total_elements": 3, "total_pages": 2}
    assert [item["title"] for item in body["content"]] == ["a", "c"]
    assert body["content"][0]["liked_at"].startswith("2031-01-01")
    assert body["content"][0]["like_count"] == 1
    assert body["content"][0]["user"]["username"] == owner.username
    rest = client.get(LIKED, {"size": 2, "page": 1}).json()
    assert [item["title"] for item in rest["content"]] == ["b"]
    assert client_for(owner).get(LIKED).json()["content"] == []  # only your own likes

    client.delete(path(c, "unlike"))
    services.conversation_delete(conversation_id=a.id, user=owner)
    assert [item["title"] for item in client.get(LIKED).json()["content"]] == ["b"]


def test_liked_conversations_needs_auth(api):
    assert_envelope(api.get(LIKED), 401, "NOT_AUTHENTICATED")


# -- concurrency -----------------------------------------------------------------------------


def run_together(jobs) -> list:
    """Run `jobs` (callables) at once in threads; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index, job):
        try:
            barrier.wait(timeout=30)
            results[index] = job()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return results


def post(client, url):
    return lambda: client.post(url)


def delete(client, url):
    return lambda: client.delete(url)


@pytest.mark.django_db(transaction=True)
def test_many_users_liking_at_once_count_exactly(make_user):
    owner = make_user()
    scenario = make_scenario(owner)
    first, second = make_conversation(owner, scenario), make_conversation(owner, scenario)
    fans = [make_user() for _ in range(10)]
    jobs = [post(client_for(f), path(c, "like")) for f in fans for c in (first, second)]
    responses = run_together(jobs)
    assert [r.status_code for r in responses] == [200] * 20
    for conversation in (first, second):
        totals = sorted(
            r.json()["total_likes"] for r in responses if r.json()["conversation_id"] == str(conversation.id)
        )
        assert totals == list(range(1, 11))  # each like saw an exact count
        assert_likes_consistent(conversation, {f.id for f in fans})
    scenario.refresh_from_db()
    assert scenario.like_count == 20 == ConversationLike.objects.count()
    assert scenario.quality_score == pytest.approx(quality_formula(0, 2, 20), rel=1e-9)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_counts_once(make_user):
    owner, fan = make_user(), make_user()
    conversation = make_conversation(owner)
    clients = [client_for(fan) for _ in range(8)]
    responses = run_together([post(client, path(conversation, "like")) for client in clients])
    assert [r.status_code for r in responses] == [200] * 8
    assert {r.json()["total_likes"] for r in responses} == {1}
    assert len({r.json()["liked_at"] for r in responses}) == 1
    assert_likes_consistent(conversation, {fan.id})
    assert Scenario.objects.get(id=conversation.scenario_id).like_count == 1


@pytest.mark.django_db(transaction=True)
def test_a_double_unlike_counts_once(make_user):
    owner, fan, other = make_user(), make_user(), make_user()
    conversation = make_conversation(owner)
    services.like(user=fan, conversation_id=conversation.id)
    services.like(user=other, conversation_id=conversation.id)
    clients = [client_for(fan) for _ in range(6)]
    responses = run_together([delete(client, path(conversation, "unlike")) for client in clients])
    assert [r.status_code for r in responses] == [200] * 6
    assert {r.json()["total_likes"] for r in responses} == {1}
    assert_likes_consistent(conversation, {other.id})
    assert Scenario.objects.get(id=conversation.scenario_id).like_count == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_likes_and_unlikes_end_consistent(make_user):
    owner = make_user()
    conversation = make_conversation(owner)
    leaving = [make_user() for _ in range(6)]
    staying = [make_user() for _ in range(3)]
    joining = [make_user() for _ in range(6)]
    for user in leaving + staying:
        services.like(user=user, conversation_id=conversation.id)
    jobs = [delete(client_for(u), path(conversation, "unlike")) for u in leaving]
    jobs += [post(client_for(u), path(conversation, "like")) for u in joining + staying]
    responses = run_together(jobs)
    assert [r.status_code for r in responses] == [200] * len(jobs)
    assert_likes_consistent(conversation, {u.id for u in staying + joining})
    scenario = Scenario.objects.get(id=conversation.scenario_id)
    assert scenario.like_count == 9
    assert scenario.quality_score == pytest.approx(quality_formula(0, 1, 9), rel=1e-9)


# -- memos --------------------------------------------------------------------------------------


def test_no_memo_is_a_404_envelope_with_its_message(user):
    conversation = make_conversation(user)
    body = assert_envelope(client_for(user).get(path(conversation, "memo")), 404, "NOT_FOUND")
    assert body["message"] == NO_MEMO


def test_memo_is_created_then_updated_keeping_created_at(user):
    conversation = make_conversation(user)
    client = client_for(user)
    created = client.post(path(conversation, "memo"), {"memo_text": "first"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["memo_text"] == "first"
    old = datetime(2020, 1, 1, tzinfo=UTC)
    ConversationMemo.objects.filter(user=user).update(created_at=old, updated_at=old)
    updated = client.post(path(conversation, "memo"), {"memo_text": "second"}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["memo_text"] == "second"
    assert updated.json()["created_at"].startswith("2020-01-01")
    assert not updated.json()["updated_at"].startswith("2020-01-01")
    memo = ConversationMemo.objects.get(user=user, conversation=conversation)
    assert (memo.memo_text, memo.created_at) == ("second", old)
    assert ConversationMemo.objects.count() == 1
    assert client.get(path(conversation, "memo")).json()["memo_text"] == "second"


def test_memo_is_stored_and_returned_exactly_as_written(user):
    conversation = make_conversation(user)
    text = "<script>alert(1)</script> **bold**\n\n- a & b < c\n  `code` 'q' \"dq\"  \n"
    client = client_for(user)
    response = client.post(path(conversation, "memo"), {"memo_text": text}, format="json")
    assert response.status_code == 201 and response.json()["memo_text"] == text
    assert response["Content-Type"].startswith("application/json")
    assert client.get(path(conversation, "memo")).json()["memo_text"] == text
    assert ConversationMemo.objects.get().memo_text == text


def test_memo_of_1000_characters_is_accepted(user):
    conversation = make_conversation(user)
    response = client_for(user).post(path(conversation, "memo"), {"memo_text": "é" * 1000}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "payload",
    [
        {"memo_text": "x" * 1001},
        {"memo_text": ""},
        {"memo_text": "  \n\t "},
        {"memo_text": 42},
        {"memo_text": True},
        {"memo_text": ["a"]},
        {"memo_text": {"a": 1}},
        {"memo_text": None},
        {"memo_text": "nul\x00"},
        {},
        {"memo_text": "ok", "user_id": "x"},
    ],
)
def test_bad_memos_are_400(user, payload):
    conversation = make_conversation(user)
    response = client_for(user).post(path(conversation, "memo"), payload, format="json")
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert ConversationMemo.objects.count() == 0


def test_memo_is_private(make_user):
    author, owner, other = make_user(), make_user(), make_user()
    conversation = make_conversation(owner)
    secret = "my secret thoughts 7f3a"
    client_for(author).post(path(conversation, "memo"), {"memo_text": secret}, format="json")
    for intruder in (owner, other):
        client = client_for(intruder)
        assert assert_envelope(client.get(path(conversation, "memo")), 404)["message"] == NO_MEMO
        assert assert_envelope(client.delete(path(conversation, "memo")), 404)["message"] == NO_MEMO
    assert ConversationMemo.objects.get(user=author).memo_text == secret
    client_for(other).post(path(conversation, "memo"), {"memo_text": "mine"}, format="json")
    assert client_for(author).get(path(conversation, "memo")).json()["memo_text"] == secret
    assert client_for(other).get(path(conversation, "memo")).json()["memo_text"] == "mine"
    client_for(author).post(path(conversation, "like"))
    for client in (client_for(author), APIClient()):
        for url in (
            f"{CONVERSATIONS}/{conversation.id}",
            CONVERSATIONS,
            f"{CONVERSATIONS}?user_id={owner.id}",
            path(conversation, "tree"),
            path(conversation, "messages"),
        ):
            response = client.get(url)
            assert response.status_code == 200
            assert secret not in response.content.decode() and "memo" not in response.json()
    assert secret not in client_for(author).get(LIKED).content.decode()


def test_memo_needs_auth_and_an_existing_conversation(user):
    conversation = make_conversation(user)
    anonymous = APIClient()
    assert_envelope(anonymous.get(path(conversation, "memo")), 401, "NOT_AUTHENTICATED")
    assert_envelope(anonymous.post(path(conversation, "memo"), {"memo_text": "x"}, format="json"), 401)
    assert_envelope(anonymous.delete(path(conversation, "memo")), 401)
    client = client_for(user)
    unknown = f"{CONVERSATIONS}/{uuid.uuid4()}/memo"
    assert_envelope(client.get(unknown), 404, "NOT_FOUND")
    assert_envelope(client.post(unknown, {"memo_text": "x"}, format="json"), 404, "NOT_FOUND")
    assert_envelope(client.delete(unknown), 404, "NOT_FOUND")
    assert ConversationMemo.objects.count() == 0


def test_memo_delete_then_again_is_404(user):
    conversation = make_conversation(user)
    client = client_for(user)
    client.post(path(conversation, "memo"), {"memo_text": "bye"}, format="json")
    assert client.delete(path(conversation, "memo")).status_code == 204
    assert ConversationMemo.objects.count() == 0
    body = assert_envelope(client.delete(path(conversation, "memo")), 404, "NOT_FOUND")
    assert body["message"] == NO_MEMO
    assert_envelope(client.get(path(conversation, "memo")), 404)


def test_memos_and_likes_go_with_their_conversation(make_user):
    owner, fan = make_user(), make_user()
    conversation = make_conversation(owner)
    client_for(fan).post(path(conversation, "memo"), {"memo_text": "keep?"}, format="json")
    client_for(fan).post(path(conversation, "like"))
    assert client_for(owner).delete(f"{CONVERSATIONS}/{conversation.id}").status_code == 204
    assert ConversationMemo.objects.count() == 0 and ConversationLike.objects.count() == 0
    assert not Conversation.objects.filter(id=conversation.id).exists()
    assert_envelope(client_for(fan).get(path(conversation, "memo")), 404)
    assert client_for(fan).get(LIKED).json()["content"] == []
