"""Follow, unfollow, follower/following lists and is-following."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from conftest import assert_envelope, bearer_for
from social.models import Follow


def url(user_or_id, action: str) -> str:
    target = getattr(user_or_id, "id", user_or_id)
    return f"/api/v1/users/{target}/{action}"


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    return client


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- follow


def test_follow(auth_api, user, make_user):
    target = make_user()
    response = auth_api.post(url(target, "follow"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["follower_id"] == str(user.id)
    assert body["following_id"] == str(target.id)
    assert body["is_mutual"] is False
    row = Follow.objects.get(follower=user, following=target)
    assert _ts(body["created_at"]) == row.created_at


def test_follow_back_is_mutual(auth_api, user, make_user):
    target = make_user()
    Follow.objects.create(follower=target, following=user)
    assert auth_api.post(url(target, "follow")).json()["is_mutual"] is True


def test_follow_is_idempotent(auth_api, api, user, make_user):
    target = make_user()
    first = auth_api.post(url(target, "follow")).json()
    second = auth_api.post(url(target, "follow"))
    assert second.status_code == 200
    assert second.json() == first  # same row, same created_at
    assert Follow.objects.filter(follower=user, following=target).count() == 1
    profile = api.get(f"/api/v1/users/{target.username}").json()
    assert profile["follower_count"] == 1
    assert api.get(f"/api/v1/users/{user.username}").json()["following_count"] == 1


@pytest.mark.django_db(transaction=True)
def test_follow_race_creates_one_row(make_user):
    follower, target = make_user(), make_user()
    n = 6
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        client = client_for(follower)
        try:
            barrier.wait()
            response = client.post(url(target, "follow"))
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * n
    assert Follow.objects.filter(follower=follower, following=target).count() == 1


def test_follow_self_refused(auth_api, user):
    body = assert_envelope(auth_api.post(url(user, "follow")), 409, "CONFLICT")
    assert "yourself" in body["message"]
    assert not Follow.objects.exists()


def test_follow_unknown_user(auth_api):
    assert_envelope(auth_api.post(url(uuid.uuid4(), "follow")), 404, "NOT_FOUND")


def test_follow_inactive_user(auth_api, make_user):
    assert_envelope(auth_api.post(url(make_user(is_active=False), "follow")), 404, "NOT_FOUND")


@pytest.mark.parametrize("bad", ["abc", "123", "not-a-uuid-at-all", "%20"])
def test_follow_non_uuid_id(auth_api, bad):
    assert_envelope(auth_api.post(f"/api/v1/users/{bad}/follow"), 404, "NOT_FOUND")


def test_follow_anonymous(api, make_user):
    target = make_user()
    assert_envelope(api.post(url(target, "follow")), 401, "NOT_AUTHENTICATED")
    assert not Follow.objects.exists()


def test_follow_get_not_allowed(auth_api, make_user):
    response = auth_api.get(url(make_user(), "follow"))
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response["Allow"]


# --------------------------------------------------------------------------- unfollow


def test_unfollow_is_idempotent(auth_api, user, make_user):
    target = make_user()
    Follow.objects.create(follower=user, following=target)
    for _ in range(2):
        response = auth_api.delete(url(target, "unfollow"))
        assert response.status_code == 200
        assert response.json() == {"message": "Unfollowed successfully"}
    assert not Follow.objects.exists()


def test_unfollow_leaves_reverse_edge(auth_api, user, make_user):
    target = make_user()
    Follow.objects.create(follower=user, following=target)
    Follow.objects.create(follower=target, following=user)
    auth_api.delete(url(target, "unfollow"))
    assert list(Follow.objects.values_list("follower_id", "following_id")) == [(target.id, user.id)]


def test_unfollow_unknown_user(auth_api):
    assert_envelope(auth_api.delete(url(uuid.uuid4(), "unfollow")), 404, "NOT_FOUND")


def test_unfollow_anonymous(api, make_user):
    assert_envelope(api.delete(url(make_user(), "unfollow")), 401, "NOT_AUTHENTICATED")


# --------------------------------------------------------------------------- lists


@pytest.fixture
def graph(make_user):
    """star is followed by a, b, c (in that order, one minute apart); star follows b."""
    star, a, b, c = (make_user(username=name) for name in ("star", "fan_a", "fan_b", "fan_c"))
    base = timezone.now() - timedelta(hours=1)
    for minutes, fan in enumerate((a, b, c)):
        follow = Follow.objects.create(follower=fan, following=star)
        Follow.objects.filter(id=follow.id).update(created_at=base + timedelta(minutes=minutes))
    back = Follow.objects.create(follower=star, following=b)
    Follow.objects.filter(id=back.id).update(created_at=base + timedelta(minutes=10))
    return star, a, b, c


def test_followers_list(api, graph):
    star, a, _b, _c = graph
    response = api.get(url(star, "followers"))
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == {"number": 0, "size": 20, "total_elements": 3, "total_pages": 1}
    assert [e["username"] for e in body["content"]] == ["fan_c", "fan_b", "fan_a"]  # newest first
    entries = {e["username"]: e for e in body["content"]}
    assert entries["fan_b"]["is_mutual"] is True
    assert entries["fan_a"]["is_mutual"] is False
    assert entries["fan_c"]["is_mutual"] is False
    assert set(entries["fan_a"]) == {"id", "username", "avatar_url", "is_mutual", "followed_at"}
    assert entries["fan_a"]["id"] == str(a.id)
    assert entries["fan_a"]["avatar_url"] is None
    row = Follow.objects.get(follower=a, following=star)
    assert _ts(entries["fan_a"]["followed_at"]) == row.created_at


def test_following_list(api, graph):
    star, a, b, _c = graph
    body = api.get(url(b, "following")).json()
    assert body["page"]["total_elements"] == 1
    assert body["content"][0]["username"] == "star"
    assert body["content"][0]["is_mutual"] is True
    body = api.get(url(star, "following")).json()
    assert [(e["username"], e["is_mutual"]) for e in body["content"]] == [("fan_b", True)]
    body = api.get(url(a, "following")).json()
    assert [(e["username"], e["is_mutual"]) for e in body["content"]] == [("star", False)]


def test_lists_paginate(api, graph):
    star, *_ = graph
    page0 = api.get(url(star, "followers"), {"page": 0, "size": 2}).json()
    page1 = api.get(url(star, "followers"), {"page": 1, "size": 2}).json()
    assert page0["page"] == {"number": 0, "size": 2, "total_elements": 3, "total_pages": 2}
    assert page1["page"] == {"number": 1, "size": 2, "total_elements": 3, "total_pages": 2}
    assert [e["username"] for e in page0["content"]] == ["fan_c", "fan_b"]
    assert [e["username"] for e in page1["content"]] == ["fan_a"]


def test_page_far_beyond_end_is_empty(api, graph):
    star, *_ = graph
    body = api.get(url(star, "followers"), {"page": 9999, "size": 100}).json()
    assert body["content"] == []
    assert body["page"] == {"number": 9999, "size": 100, "total_elements": 3, "total_pages": 1}


def test_empty_list(api, make_user):
    body = api.get(url(make_user(), "following")).json()
    assert body == {"content": [], "page": {"number": 0, "size": 20, "total_elements": 0, "total_pages": 0}}


@pytest.mark.parametrize("action", ["followers", "following"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"size": 101}, "size"),
        ({"size": 0}, "size"),
        ({"size": "abc"}, "size"),
        ({"page": -1}, "page"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_page_params(api, make_user, action, params, field):
    body = assert_envelope(api.get(url(make_user(), action), params), 400, "VALIDATION_ERROR")
    assert field in body["details"]


def test_size_100_allowed(api, make_user):
    assert api.get(url(make_user(), "followers"), {"size": 100}).json()["page"]["size"] == 100


@pytest.mark.parametrize("action", ["followers", "following"])
def test_lists_unknown_user(api, action, db):
    assert_envelope(api.get(url(uuid.uuid4(), action)), 404, "NOT_FOUND")


def test_lists_use_a_bounded_number_of_queries(api, graph, django_assert_max_num_queries):
    star, *_ = graph
    with django_assert_max_num_queries(4):
        assert api.get(url(star, "followers")).status_code == 200


# --------------------------------------------------------------------------- is-following


def test_is_following(auth_api, user, make_user):
    target = make_user()
    body = auth_api.get(url(target, "is-following")).json()
    assert body == {"is_following": False, "is_mutual": False, "followed_at": None}

    follow = Follow.objects.create(follower=user, following=target)
    body = auth_api.get(url(target, "is-following")).json()
    assert body["is_following"] is True and body["is_mutual"] is False
    assert _ts(body["followed_at"]) == follow.created_at

    Follow.objects.create(follower=target, following=user)
    body = auth_api.get(url(target, "is-following")).json()
    assert body["is_following"] is True and body["is_mutual"] is True


def test_followed_by_but_not_following_is_not_mutual(auth_api, user, make_user):
    target = make_user()
    Follow.objects.create(follower=target, following=user)
    assert auth_api.get(url(target, "is-following")).json() == {
        "is_following": False,
        "is_mutual": False,
        "followed_at": None,
    }


def test_is_following_anonymous(api, make_user):
    assert_envelope(api.get(url(make_user(), "is-following")), 401, "NOT_AUTHENTICATED")


def test_is_following_unknown_user(auth_api):
    assert_envelope(auth_api.get(url(uuid.uuid4(), "is-following")), 404, "NOT_FOUND")


def test_follow_unfollow_round_trip_updates_is_following(auth_api, make_user):
    target = make_user()
    auth_api.post(url(target, "follow"))
    assert auth_api.get(url(target, "is-following")).json()["is_following"] is True
    auth_api.delete(url(target, "unfollow"))
    assert auth_api.get(url(target, "is-following")).json()["is_following"] is False
