"""GET/PATCH /api/v1/users/me: the reader's own account."""

from __future__ import annotations

import pytest
from django.db.models.query import QuerySet
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from conftest import PASSWORD, assert_envelope
from scenarios.tests.helpers import client_for

ME = "/api/v1/users/me"
LOGIN = "/api/v1/auth/login"

pytestmark = pytest.mark.django_db

ME_FIELDS = {"id", "email", "username", "bio", "avatar_url", "is_staff", "created_at", "updated_at"}


def _patch(client, body):
    return client.patch(ME, body, format="json")


def _field_error(response, field: str) -> dict:
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["details"], body
    return body


# --------------------------------------------------------------------------- GET


def test_me_shows_the_callers_own_account(make_user):
    user = make_user(bio="Reads Austen.", avatar_url="https://img.example.com/a.jpg")
    response = client_for(user).get(ME)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ME_FIELDS
    assert body["id"] == str(user.id)
    assert body["email"] == user.email
    assert body["username"] == user.username
    assert body["bio"] == "Reads Austen."
    assert body["avatar_url"] == "https://img.example.com/a.jpg"
    assert body["is_staff"] is False


def test_me_avatar_url_is_null_when_unset_and_staff_is_shown(make_user):
    staff = make_user(is_staff=True)
    body = client_for(staff).get(ME).json()
    assert body["avatar_url"] is None
    assert body["is_staff"] is True


def test_me_needs_a_token():
    response = APIClient().get(ME)
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_refuses_the_service_token(settings):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
    assert_envelope(client.get(ME), 403, "SERVICE_TOKEN_NOT_ALLOWED")


def test_me_is_not_taken_for_a_username_and_neighbours_still_route(user):
    """users/<str:username> would match "me": the me routes come first, and
    the public profile and the liked list keep working."""
    client = client_for(user)
    assert client.get(ME).json()["email"] == user.email  # not a public profile
    liked = client.get(f"{ME}/liked-conversations")
    assert liked.status_code == 200, liked.content
    assert liked.json()["content"] == []
    profile = APIClient().get(f"/api/v1/users/{user.username}")
    assert profile.status_code == 200
    assert "email" not in profile.json()


# --------------------------------------------------------------------------- PATCH: bio and username


def test_patch_bio(user):
    response = _patch(client_for(user), {"bio": "Now reading Brontë."})
    assert response.status_code == 200, response.content
    assert set(response.json()) == ME_FIELDS
    assert response.json()["bio"] == "Now reading Brontë."
    user.refresh_from_db()
    assert user.bio == "Now reading Brontë."
    assert _patch(client_for(user), {"bio": None}).json()["bio"] == ""
    user.refresh_from_db()
    assert user.bio == ""


def test_patch_nothing_changes_nothing(user):
    before = User.objects.get(id=user.id).updated_at
    response = _patch(client_for(user), {})
    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert User.objects.get(id=user.id).updated_at == before


def test_patch_username_needs_no_password_and_moves_the_profile(user):
    old = user.username
    response = _patch(client_for(user), {"username": "Lizzy_Bennet"})
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "Lizzy_Bennet"
    assert User.objects.get(id=user.id).username == "Lizzy_Bennet"
    assert APIClient().get("/api/v1/users/lizzy_bennet").json()["id"] == str(user.id)
    assert_envelope(APIClient().get(f"/api/v1/users/{old}"), 404)


def test_patch_username_of_another_account_is_400_case_insensitively(make_user):
    make_user(username="Darcy")
    user = make_user()
    response = _patch(client_for(user), {"username": "dARCY"})
    body = _field_error(response, "username")
    assert body["details"]["username"] == [services.USERNAME_TAKEN]
    assert User.objects.get(id=user.id).username == user.username


def test_patch_own_username_in_another_case_is_allowed(make_user):
    user = make_user(username="jane_b")
    response = _patch(client_for(user), {"username": "Jane_B"})
    assert response.status_code == 200, response.content
    assert User.objects.get(id=user.id).username == "Jane_B"


@pytest.mark.parametrize("name", ["me", "ME", "profile", "ab", "has space", "deleted-user", "x" * 51, ""])
def test_patch_username_follows_the_register_rules(user, name):
    _field_error(_patch(client_for(user), {"username": name}), "username")
    assert User.objects.get(id=user.id).username == user.username


def test_patch_username_null_or_number_is_400(user):
    _field_error(_patch(client_for(user), {"username": None}), "username")
    _field_error(_patch(client_for(user), {"username": 12345}), "username")


def test_a_username_race_past_the_check_is_400_not_500(make_user, monkeypatch):
    """Two renames to one name at once: both pass the look-up, the unique
    index refuses the second, and the answer is the same 400."""
    make_user(username="Emma")
    user = make_user()
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    response = _patch(client_for(user), {"username": "emma"})
    body = _field_error(response, "username")
    assert body["details"]["username"] == [services.USERNAME_TAKEN]


def test_an_email_race_past_the_check_is_400_not_500(make_user, monkeypatch):
    make_user(email="taken@example.com")
    user = make_user()
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    response = _patch(client_for(user), {"email": "taken@example.com", "current_password": PASSWORD})
    _field_error(response, "email")


# --------------------------------------------------------------------------- PATCH: email


def test_patch_email_with_the_current_password(user, api):
    response = _patch(client_for(user), {"email": "New.Address@Example.com", "current_password": PASSWORD})
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "new.address@example.com"
    assert User.objects.get(id=user.id).email == "new.address@example.com"
    login = api.post(LOGIN, {"email": "new.address@example.com", "password": PASSWORD}, format="json")
    assert login.status_code == 200


def test_patch_email_without_the_password_is_400_and_changes_nothing(user):
    response = _patch(client_for(user), {"email": "other@example.com", "bio": "changed"})
    body = _field_error(response, "current_password")
    assert body["details"]["current_password"] == [services.PASSWORD_REQUIRED]
    fresh = User.objects.get(id=user.id)
    assert fresh.email == user.email
    assert fresh.bio == ""  # nothing of the request applied


def test_patch_email_with_a_wrong_password_is_400(user):
    response = _patch(client_for(user), {"email": "other@example.com", "current_password": "Wr0ngPassword"})
    body = _field_error(response, "current_password")
    assert body["details"]["current_password"] == [services.PASSWORD_WRONG]
    assert User.objects.get(id=user.id).email == user.email


def test_patch_email_of_another_account_is_400_on_email(make_user):
    make_user(email="taken@example.com")
    user = make_user()
    response = _patch(client_for(user), {"email": "TAKEN@example.com", "current_password": PASSWORD})
    body = _field_error(response, "email")
    assert body["details"]["email"] == [services.EMAIL_TAKEN]


def test_patch_email_of_another_account_with_a_wrong_password_tells_nothing(make_user):
    """The password is checked first: a stolen token cannot probe addresses."""
    make_user(email="taken@example.com")
    user = make_user()
    response = _patch(client_for(user), {"email": "taken@example.com", "current_password": "Wr0ngPass"})
    body = _field_error(response, "current_password")
    assert "email" not in body["details"]


def test_patch_own_email_in_another_case_needs_no_password(user):
    response = _patch(client_for(user), {"email": user.email.upper()})
    assert response.status_code == 200, response.content
    assert response.json()["email"] == user.email


@pytest.mark.parametrize("email", ["not-an-email", "", None, "a" * 250 + "@example.com"])
def test_patch_email_must_be_an_address(user, email):
    _field_error(_patch(client_for(user), {"email": email, "current_password": PASSWORD}), "email")


def test_current_password_alone_is_accepted_and_ignored(user):
    response = _patch(client_for(user), {"current_password": "anything at all"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "field", ["is_staff", "id", "password", "avatar_url", "is_active", "settings", "created_at"]
)
def test_patch_refuses_fields_it_does_not_change(user, field):
    body = _field_error(_patch(client_for(user), {field: True}), field)
    assert body["details"][field] == ["Unknown field."]
    fresh = User.objects.get(id=user.id)
    assert fresh.is_staff is False and fresh.is_active is True


def test_patch_refuses_a_body_that_is_not_an_object(user):
    response = client_for(user).patch(ME, [1, 2], format="json")
    assert_envelope(response, 400, "VALIDATION_ERROR")
    response = client_for(user).generic("PATCH", ME, b"{nope", content_type="application/json")
    assert_envelope(response, 400, "MALFORMED_JSON")


def test_patch_needs_a_token():
    assert_envelope(APIClient().patch(ME, {"bio": "x"}, format="json"), 401, "NOT_AUTHENTICATED")


def test_a_renamed_reader_gets_tokens_with_the_new_name(user, api):
    _patch(client_for(user), {"username": "Renamed_Reader"})
    login = api.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").json()
    assert login["user"]["username"] == "Renamed_Reader"


# --------------------------------------------------------------------------- guessing


def test_wrong_passwords_are_limited_per_user_like_login(make_user):
    user, other = make_user(), make_user()
    client = client_for(user)
    for _ in range(5):
        response = _patch(client, {"email": "x@example.com", "current_password": "Wr0ngPassword"})
        _field_error(response, "current_password")
    refused = _patch(client, {"email": "x@example.com", "current_password": PASSWORD})
    assert_envelope(refused, 429, "RATE_LIMITED")
    assert int(refused["Retry-After"]) > 0
    assert User.objects.get(id=user.id).email == user.email  # not even the right password gets through
    # Other readers are not affected, and nothing else of the account is.
    ok = _patch(client_for(other), {"email": "y@example.com", "current_password": PASSWORD})
    assert ok.status_code == 200
    assert _patch(client, {"bio": "still editable"}).status_code == 200


def test_right_passwords_are_not_counted(user):
    client = client_for(user)
    for n in range(7):
        response = _patch(client, {"email": f"addr{n}@example.com", "current_password": PASSWORD})
        assert response.status_code == 200, (n, response.content)


def test_the_limit_fails_open_without_redis(user, redis_down):
    response = _patch(client_for(user), {"email": "x@example.com", "current_password": "Wr0ngPassword"})
    _field_error(response, "current_password")
