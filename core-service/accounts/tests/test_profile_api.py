"""Public profiles and profile updates."""

from __future__ import annotations

from datetime import datetime

import pytest

from accounts.models import User
from conftest import assert_envelope
from social.models import Follow

PROFILE = "/api/v1/users/profile"


def _get(api, username):
    return api.get(f"/api/v1/users/{username}")


def test_public_profile(api, make_user):
    user = make_user(username="Hermione_Fan", bio="Slytherin", avatar_url="https://example.com/a.jpg")
    response = _get(api, "Hermione_Fan")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": str(user.id),
        "username": "Hermione_Fan",
        "bio": "Slytherin",
        "avatar_url": "https://example.com/a.jpg",
        "follower_count": 0,
        "following_count": 0,
        "scenario_count": 0,
        "conversation_count": 0,
        "joined_at": body["joined_at"],
    }
    joined = datetime.fromisoformat(body["joined_at"].replace("Z", "+00:00"))
    assert joined == user.created_at
    assert "email" not in body  # the email is private


def test_public_profile_lookup_is_case_insensitive(api, make_user):
    user = make_user(username="CaseUser")
    for spelling in ("caseuser", "CASEUSER", "cAsEuSeR"):
        response = _get(api, spelling)
        assert response.status_code == 200
        assert response.json()["id"] == str(user.id)
        assert response.json()["username"] == "CaseUser"


def test_public_profile_counts_follows(api, make_user):
    star, a, b, c = make_user(), make_user(), make_user(), make_user()
    for fan in (a, b, c):
        Follow.objects.create(follower=fan, following=star)
    Follow.objects.create(follower=star, following=a)
    body = _get(api, star.username).json()
    assert body["follower_count"] == 3
    assert body["following_count"] == 1
    body_a = _get(api, a.username).json()
    assert body_a["follower_count"] == 1
    assert body_a["following_count"] == 1


def test_public_profile_counts_after_follow_api(api, make_user):
    from conftest import bearer_for

    star, fan = make_user(), make_user()
    api.credentials(HTTP_AUTHORIZATION=bearer_for(fan))
    assert api.post(f"/api/v1/users/{star.id}/follow").status_code == 200
    api.credentials()
    assert _get(api, star.username).json()["follower_count"] == 1
    assert _get(api, fan.username).json()["following_count"] == 1


@pytest.mark.django_db
def test_public_profile_unknown_user(api):
    assert_envelope(_get(api, "nobody_here"), 404, "NOT_FOUND")


def test_public_profile_inactive_user_hidden(api, make_user):
    user = make_user(is_active=False)
    assert_envelope(_get(api, user.username), 404, "NOT_FOUND")


# --------------------------------------------------------------------------- update


def test_update_profile(auth_api, user):
    response = auth_api.put(
        PROFILE, {"bio": "Exploring timelines", "avatar_url": "https://example.com/new.jpg"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == str(user.id)
    assert body["username"] == user.username
    assert body["email"] == user.email
    assert body["bio"] == "Exploring timelines"
    assert body["avatar_url"] == "https://example.com/new.jpg"
    datetime.fromisoformat(body["updated_at"].replace("Z", "+00:00"))
    user.refresh_from_db()
    assert user.bio == "Exploring timelines"
    assert user.avatar_url == "https://example.com/new.jpg"


def test_update_profile_partial_keeps_other_field(auth_api, user):
    User.objects.filter(id=user.id).update(avatar_url="https://example.com/keep.jpg")
    body = auth_api.put(PROFILE, {"bio": "only bio"}, format="json").json()
    assert body["avatar_url"] == "https://example.com/keep.jpg"
    user.refresh_from_db()
    assert user.avatar_url == "https://example.com/keep.jpg"


def test_update_profile_clear_avatar_with_null(auth_api, user):
    User.objects.filter(id=user.id).update(avatar_url="https://example.com/keep.jpg")
    body = auth_api.put(PROFILE, {"avatar_url": None}, format="json").json()
    assert body["avatar_url"] is None
    user.refresh_from_db()
    assert user.avatar_url == ""


def test_bio_of_500_chars_accepted(auth_api, user):
    assert auth_api.put(PROFILE, {"bio": "x" * 500}, format="json").status_code == 200
    user.refresh_from_db()
    assert len(user.bio) == 500


@pytest.mark.parametrize("bio", [0, 1.5, True, ["x"], {"x": 1}])
def test_bio_that_is_not_text_refused(auth_api, user, bio):
    """Found by the OpenAPI fuzzer: `{"bio": 0}` was stored as "0"."""
    body = assert_envelope(auth_api.put(PROFILE, {"bio": bio}, format="json"), 400, "VALIDATION_ERROR")
    assert body["details"] == {"bio": ["Must be a string."]}
    user.refresh_from_db()
    assert user.bio == ""


def test_bio_of_501_chars_refused(auth_api, user):
    body = assert_envelope(auth_api.put(PROFILE, {"bio": "x" * 501}, format="json"), 400, "VALIDATION_ERROR")
    assert "bio" in body["details"]
    user.refresh_from_db()
    assert user.bio == ""


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.com/a.jpg", "data:image/png;base64,AAAA", "not a url"]
)
def test_avatar_url_must_be_http(auth_api, user, url):
    body = assert_envelope(auth_api.put(PROFILE, {"avatar_url": url}, format="json"), 400, "VALIDATION_ERROR")
    assert "avatar_url" in body["details"]
    user.refresh_from_db()
    assert user.avatar_url == ""


@pytest.mark.parametrize("url", ["http://example.com/a.png", "https://cdn.example.com/x/y.webp"])
def test_avatar_url_http_and_https_accepted(auth_api, url):
    assert auth_api.put(PROFILE, {"avatar_url": url}, format="json").json()["avatar_url"] == url


@pytest.mark.parametrize("field", ["email", "username"])
def test_email_and_username_cannot_change_here(auth_api, user, field):
    body = assert_envelope(
        auth_api.put(PROFILE, {field: "changed@example.com", "bio": "x"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert field in body["details"]
    user.refresh_from_db()
    assert user.bio == ""


@pytest.mark.parametrize("field", ["is_staff", "id", "follower_count"])
def test_unknown_field_refused(auth_api, user, field):
    body = assert_envelope(auth_api.put(PROFILE, {field: True}, format="json"), 400, "VALIDATION_ERROR")
    assert body["details"] == {field: ["Unknown field."]}
    user.refresh_from_db()
    assert not user.is_staff


@pytest.mark.django_db
def test_update_profile_anonymous(api):
    response = api.put(PROFILE, {"bio": "x"}, format="json")
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_html_in_bio_stored_verbatim_and_returned_as_json_text(auth_api, api, user):
    html = '<script>alert("x")</script><b>bold</b> & more'
    response = auth_api.put(PROFILE, {"bio": html}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["bio"] == html
    user.refresh_from_db()
    assert user.bio == html
    public = _get(api, user.username)
    assert public["Content-Type"].startswith("application/json")
    assert public.json()["bio"] == html
