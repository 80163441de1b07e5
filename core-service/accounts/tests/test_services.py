"""accounts.services and helpers, called directly."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from rest_framework import serializers
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.models import User
from accounts.serializers import validate_password_strength
from accounts.validators import validate_username
from common.exceptions import ApplicationError
from conftest import PASSWORD


def _code(excinfo) -> tuple[int, str]:
    return excinfo.value.status, str(excinfo.value.code)


# --------------------------------------------------------------------------- register


@pytest.mark.django_db
def test_register_normalises_email_and_keeps_username_case():
    user, tokens = services.user_register(
        email="  Mixed@Example.COM ", username="MixedCase", password="Passw0rdX"
    )
    assert user.email == "mixed@example.com"
    assert user.username == "MixedCase"
    assert set(tokens) == {"access_token", "refresh_token", "expires_in", "token_type"}
    assert OutstandingToken.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_register_conflicts(make_user):
    make_user(email="taken@example.com", username="Taken_Name")
    with pytest.raises(ApplicationError) as exc:
        services.user_register(email="TAKEN@example.com", username="fresh", password="Passw0rdX")
    assert _code(exc) == (409, "CONFLICT")
    assert exc.value.details == {"email": ["This email is already taken."]}
    with pytest.raises(ApplicationError) as exc:
        services.user_register(email="fresh@example.com", username="taken_name", password="Passw0rdX")
    assert _code(exc) == (409, "CONFLICT")
    assert exc.value.details == {"username": ["This username is already taken."]}
    assert User.objects.count() == 1


@pytest.mark.parametrize("field", ["email", "username"])
@pytest.mark.django_db(transaction=True)
def test_register_race_in_threads_one_winner(field):
    n = 5
    barrier = threading.Barrier(n)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            email = "same@example.com" if field == "email" else f"u{i}@example.com"
            username = "same_name" if field == "username" else f"name_{i}"
            barrier.wait()
            try:
                services.user_register(email=email, username=username, password="Passw0rdX")
                result: object = "created"
            except ApplicationError as exc:
                result = (exc.status, exc.details)
            with lock:
                outcomes.append(result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 1
    losers = [o for o in outcomes if o != "created"]
    assert len(losers) == n - 1
    assert all(status == 409 and field in details for status, details in losers)
    assert User.objects.count() == 1


# --------------------------------------------------------------------------- login


@pytest.mark.django_db
def test_login_ok_and_failures(make_user):
    user = make_user(email="who@example.com")
    logged, tokens = services.user_login(email="WHO@example.com", password=PASSWORD)
    assert logged == user and tokens["token_type"] == "Bearer"
    for email, password in [("who@example.com", "nope"), ("ghost@example.com", PASSWORD)]:
        with pytest.raises(ApplicationError) as exc:
            services.user_login(email=email, password=password)
        assert _code(exc) == (401, "INVALID_CREDENTIALS")


@pytest.mark.django_db
def test_login_unknown_email_still_hashes(monkeypatch):
    calls = []
    real = User.set_password
    monkeypatch.setattr(User, "set_password", lambda self, raw: calls.append(raw) or real(self, raw))
    with pytest.raises(ApplicationError):
        services.user_login(email="ghost@example.com", password="Whatever1")
    assert calls == ["Whatever1"]


# --------------------------------------------------------------------------- refresh / logout


@pytest.mark.django_db
def test_refresh_and_logout_cycle(user, make_user):
    tokens = services.user_login(email=user.email, password=PASSWORD)[1]
    assert services.token_refresh(refresh_token=tokens["refresh_token"])
    other = make_user()
    with pytest.raises(ApplicationError) as exc:
        services.user_logout(user=other, refresh_token=tokens["refresh_token"])
    assert _code(exc) == (403, "PERMISSION_DENIED")
    services.user_logout(user=user, refresh_token=tokens["refresh_token"])
    services.user_logout(user=user, refresh_token=tokens["refresh_token"])  # idempotent
    assert BlacklistedToken.objects.count() == 1
    with pytest.raises(ApplicationError) as exc:
        services.token_refresh(refresh_token=tokens["refresh_token"])
    assert _code(exc) == (403, "TOKEN_BLACKLISTED")


@pytest.mark.django_db
def test_refresh_copies_current_username_and_staff_flag(user):
    import jwt

    refresh = services.user_login(email=user.email, password=PASSWORD)[1]["refresh_token"]
    User.objects.filter(id=user.id).update(is_staff=True, username="renamed")
    access = services.token_refresh(refresh_token=refresh)
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["is_staff"] is True
    assert claims["username"] == "renamed"


@pytest.mark.django_db
def test_refresh_token_of_deleted_user_is_invalid(user):
    refresh = str(RefreshToken.for_user(user))
    User.objects.filter(id=user.id).delete()
    with pytest.raises(ApplicationError) as exc:
        services.token_refresh(refresh_token=refresh)
    assert _code(exc) == (401, "TOKEN_INVALID")


# --------------------------------------------------------------------------- profile


@pytest.mark.django_db
def test_profile_update_only_touches_given_fields(user):
    services.profile_update(user=user, fields={"bio": "hello"})
    services.profile_update(user=user, fields={"avatar_url": "https://example.com/a.jpg"})
    user.refresh_from_db()
    assert (user.bio, user.avatar_url) == ("hello", "https://example.com/a.jpg")
    services.profile_update(user=user, fields={"bio": None})
    user.refresh_from_db()
    assert user.bio == ""


OWNER = "0b4c5c4e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://testserver/media/avatars/{OWNER}-abc123.jpg", f"avatars/{OWNER}-abc123.jpg"),
        (f"/media/avatars/{OWNER}-abc.jpg", f"avatars/{OWNER}-abc.jpg"),
        # Someone else's file, even on our own host: never this user's to delete.
        ("http://testserver/media/avatars/0b4c5c4e-0000-4000-8000-000000000002-abc.jpg", None),
        (f"https://example.com/avatars/{OWNER}-abc.jpg", None),
        (f"http://testserver/media/avatars/{OWNER}-x/../../etc/passwd", None),
        ("http://testserver/media/other/abc.jpg", None),
        ("", None),
    ],
)
def test_own_stored_avatar(url, expected):
    user = User(id=uuid.UUID(OWNER), avatar_url=url)
    assert services._own_stored_avatar(user) == expected


# --------------------------------------------------------------------------- validators


@pytest.mark.parametrize("name", ["abc", "a_b_c", "A" * 50, "user_123"])
def test_valid_usernames(name):
    assert validate_username(name) == name


@pytest.mark.parametrize("name", ["ab", "A" * 51, "has space", "dash-ed", "dot.ted", "ME", "admin", "api"])
def test_invalid_usernames(name):
    with pytest.raises(DjangoValidationError):
        validate_username(name)


@pytest.mark.parametrize("password", ["Passw0rd", "Ab1" + "x" * 5, "ÜberSecret9"])
def test_strong_passwords(password):
    assert validate_password_strength(password) == password


@pytest.mark.parametrize("password", ["Pass0rd", "password1", "PASSWORD1", "Password", ""])
def test_weak_passwords(password):
    with pytest.raises(serializers.ValidationError):
        validate_password_strength(password)


# --------------------------------------------------------------------------- argon2


@pytest.mark.django_db
def test_password_hash_is_argon2id_with_tuned_parameters(make_user):
    user = make_user(password="Passw0rdX")
    assert user.password.startswith("argon2$argon2id$")
    assert "$m=19456,t=2,p=1$" in user.password
    decoded = identify_hasher(user.password).decode(user.password)
    assert (decoded["memory_cost"], decoded["time_cost"], decoded["parallelism"]) == (19456, 2, 1)
    assert user.check_password("Passw0rdX")
    assert not user.check_password("passw0rdx")


@pytest.mark.django_db
def test_register_api_stores_argon2id(api):
    response = api.post(
        "/api/v1/auth/register",
        {"email": "argon@example.com", "username": "argon_user", "password": "Passw0rdX"},
        format="json",
    )
    assert response.status_code == 201
    stored = User.objects.get(email="argon@example.com").password
    assert stored.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
