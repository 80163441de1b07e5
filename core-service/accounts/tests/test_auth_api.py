"""Register, login, refresh, logout, JWKS and token verification over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import User
from conftest import PASSWORD, assert_envelope, bearer_for

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
JWKS = "/api/v1/auth/jwks.json"
PROFILE = "/api/v1/users/profile"

GOOD = {"email": "reader@example.com", "username": "reader_one", "password": "Passw0rdX"}


def _register(client, **overrides):
    return client.post(REGISTER, {**GOOD, **overrides}, format="json")


def _login(client, email, password=PASSWORD, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", **extra)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user: User, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "sub": str(user.id),
        "username": user.username,
        "is_staff": False,
        "aud": "gaji",
        "iss": "gaji-core",
    }
    claims.update(overrides)
    return claims


def _sign_with_our_key(claims: dict) -> str:
    return jwt.encode(
        claims,
        django_settings.JWT_SIGNING_KEY.private_pem,
        algorithm="RS256",
        headers={"kid": django_settings.JWT_SIGNING_KEY.kid},
    )


# --------------------------------------------------------------------------- register


@pytest.mark.django_db
def test_register_returns_user_and_tokens(api):
    response = _register(api, email="Reader@Example.com")
    assert response.status_code == 201, response.json()
    body = response.json()
    user = body["user"]
    assert set(user) == {"id", "email", "username", "created_at"}
    assert user["email"] == "reader@example.com"
    assert user["username"] == "reader_one"
    uuid.UUID(user["id"])
    datetime.fromisoformat(user["created_at"].replace("Z", "+00:00"))
    tokens = body["tokens"]
    assert tokens["expires_in"] == 3600
    assert tokens["token_type"] == "Bearer"
    assert tokens["access_token"] and tokens["refresh_token"]
    stored = User.objects.get(id=user["id"])
    assert stored.check_password("Passw0rdX")
    assert not stored.is_staff
    # The access token works on an authenticated route right away.
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.put(PROFILE, {"bio": "hi"}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 244 + "@example.com"}, "email"),  # 256 chars
        ({"username": "ab"}, "username"),
        ({"username": "a" * 51}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"username": "héllo"}, "username"),
        ({"username": "profile"}, "username"),
        ({"username": "Profile"}, "username"),
        ({"password": "Sh0rtX"}, "password"),
        ({"password": "alllower123"}, "password"),
        ({"password": "ALLUPPER123"}, "password"),
        ({"password": "NoDigitsHere"}, "password"),
        ({"is_staff": True}, "is_staff"),
        ({"id": str(uuid.uuid4())}, "id"),
    ],
)
@pytest.mark.django_db
def test_register_validation_rules(api, overrides, field):
    body = assert_envelope(_register(api, **overrides), 400, "VALIDATION_ERROR")
    assert field in body["details"], body
    assert all(isinstance(m, str) for m in body["details"][field])
    assert field in body["message"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_register_email_of_255_chars_is_accepted(api):
    email = "a" * 243 + "@example.com"
    assert len(email) == 255
    assert _register(api, email=email).status_code == 201


@pytest.mark.parametrize("missing", ["email", "username", "password"])
@pytest.mark.django_db
def test_register_missing_field(api, missing):
    payload = {k: v for k, v in GOOD.items() if k != missing}
    body = assert_envelope(api.post(REGISTER, payload, format="json"), 400, "VALIDATION_ERROR")
    assert body["details"] == {missing: ["This field is required."]}


@pytest.mark.django_db
def test_register_reports_every_password_problem(api):
    body = assert_envelope(_register(api, password="abc"), 400, "VALIDATION_ERROR")
    problems = " ".join(body["details"]["password"])
    assert "8 characters" in problems
    assert "uppercase" in problems
    assert "digit" in problems


@pytest.mark.parametrize("payload", [[GOOD], "a string", 42, None])
@pytest.mark.django_db
def test_register_non_object_body(api, payload):
    response = api.post(REGISTER, json.dumps(payload), content_type="application/json")
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_register_duplicate_email_differing_in_case_conflicts(api, settings):
    settings.RATE_LIMIT_SCALE = 10
    assert _register(api).status_code == 201
    response = _register(api, email="READER@example.COM", username="someone_else")
    body = assert_envelope(response, 409, "CONFLICT")
    assert "email" in body["details"]
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_register_duplicate_username_differing_in_case_conflicts(api, settings):
    settings.RATE_LIMIT_SCALE = 10
    assert _register(api).status_code == 201
    response = _register(api, email="other@example.com", username="READER_One")
    body = assert_envelope(response, 409, "CONFLICT")
    assert "username" in body["details"]
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_register_race_creates_one_user(settings):
    settings.RATE_LIMIT_SCALE = 100
    threads_n = 6
    barrier = threading.Barrier(threads_n)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        client = APIClient()
        try:
            barrier.wait()
            response = client.post(
                REGISTER,
                {"email": "Race@Example.com", "username": f"racer_{n}", "password": "Passw0rdX"},
                format="json",
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * (threads_n - 1)
    assert User.objects.filter(email="race@example.com").count() == 1


@pytest.mark.django_db
def test_register_rate_limit_fourth_attempt_in_an_hour(api):
    for n in range(3):
        response = _register(api, email=f"r{n}@example.com", username=f"reader_{n}")
        assert response.status_code == 201
        assert response["X-RateLimit-Limit"] == "3"
        assert response["X-RateLimit-Remaining"] == str(2 - n)
    response = _register(api, email="r4@example.com", username="reader_4")
    assert_envelope(response, 429, "RATE_LIMITED")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert User.objects.count() == 3


@pytest.mark.django_db
def test_register_rate_limit_counts_failed_attempts_too(api):
    for _ in range(3):
        assert _register(api, password="weak").status_code == 400
    assert _register(api).status_code == 429


# --------------------------------------------------------------------------- login


def test_login_returns_user_and_tokens(api, make_user):
    user = make_user(email="login@example.com", bio="a bio", avatar_url="https://example.com/a.jpg")
    response = _login(api, "login@example.com")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["user"] == {
        "id": str(user.id),
        "email": "login@example.com",
        "username": user.username,
        "bio": "a bio",
        "avatar_url": "https://example.com/a.jpg",
    }
    assert body["tokens"]["expires_in"] == 3600
    assert body["tokens"]["token_type"] == "Bearer"


def test_login_without_avatar_returns_null(api, user):
    assert _login(api, user.email).json()["user"]["avatar_url"] is None


def test_login_email_is_case_insensitive(api, make_user):
    make_user(email="mixed@example.com")
    assert _login(api, "  MiXeD@Example.COM ").status_code == 200


def test_login_wrong_password_and_unknown_email_look_the_same(api, user):
    wrong = assert_envelope(_login(api, user.email, "Wr0ngPassword"), 401, "INVALID_CREDENTIALS")
    unknown = assert_envelope(_login(api, "nobody@example.com"), 401, "INVALID_CREDENTIALS")
    assert wrong["message"] == unknown["message"]
    assert "details" not in wrong and "details" not in unknown


def test_login_inactive_user_refused(api, make_user):
    user = make_user(is_active=False)
    body = assert_envelope(_login(api, user.email), 401, "INVALID_CREDENTIALS")
    assert body["message"] == "Invalid email or password."


def test_login_missing_password_is_validation_error(api, user):
    body = assert_envelope(api.post(LOGIN, {"email": user.email}, format="json"), 400, "VALIDATION_ERROR")
    assert "password" in body["details"]


def test_login_rate_limit_sixth_attempt(api, user):
    for n in range(5):
        response = _login(api, user.email, "Wr0ngPassword")
        assert response.status_code == 401
        assert response["X-RateLimit-Limit"] == "5"
        assert response["X-RateLimit-Remaining"] == str(4 - n)
        assert int(response["X-RateLimit-Reset"]) > time.time()
    # Even the right password is refused once the budget is spent.
    response = _login(api, user.email)
    body = assert_envelope(response, 429, "RATE_LIMITED")
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert response["X-RateLimit-Remaining"] == "0"
    assert "tokens" not in body


def test_access_token_verifies_with_jwks(api, make_user):
    user = make_user(is_staff=True)
    access = _login(api, user.email).json()["tokens"]["access_token"]
    jwks_response = api.get(JWKS)
    assert jwks_response.status_code == 200
    keys = jwks_response.json()["keys"]
    assert len(keys) == 1
    jwk = keys[0]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert "d" not in jwk  # never the private part
    header = jwt.get_unverified_header(access)
    assert header["alg"] == "RS256"
    assert header["kid"] == jwk["kid"]
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(access, public_key, algorithms=["RS256"], audience="gaji", issuer="gaji-core")
    assert claims["sub"] == str(user.id)
    assert claims["username"] == user.username
    assert claims["is_staff"] is True
    assert claims["token_type"] == "access"
    assert claims["iss"] == "gaji-core"
    assert claims["aud"] == "gaji"
    # iat and exp are stamped by separate clock reads: they may straddle a second.
    assert 3599 <= claims["exp"] - claims["iat"] <= 3600
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(access, public_key, algorithms=["RS256"], audience="someone-else")


# --------------------------------------------------------------------------- refresh


def _tokens(api, user) -> dict:
    return _login(api, user.email).json()["tokens"]


def test_refresh_returns_new_access_token(api, user):
    tokens = _tokens(api, user)
    response = api.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    claims = jwt.decode(
        body["access_token"],
        django_settings.JWT_SIGNING_KEY.public_pem,
        algorithms=["RS256"],
        audience="gaji",
        issuer="gaji-core",
    )
    assert claims["sub"] == str(user.id)
    assert claims["token_type"] == "access"
    assert claims["jti"] != jwt.decode(tokens["access_token"], options={"verify_signature": False})["jti"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert api.put(PROFILE, {"bio": "x"}, format="json").status_code == 200


def test_refresh_rejects_garbage(api, user):
    assert_envelope(api.post(REFRESH, {"refresh_token": "not.a.jwt"}, format="json"), 401, "TOKEN_INVALID")


def test_refresh_rejects_expired(api, user):
    expired = _sign_with_our_key(_claims(user, token_type="refresh", exp=int(time.time()) - 10))
    assert_envelope(api.post(REFRESH, {"refresh_token": expired}, format="json"), 401, "TOKEN_INVALID")


def test_refresh_rejects_tampered(api, user, make_user):
    other = make_user()
    header, payload, signature = _tokens(api, user)["refresh_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(other.id)
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    assert_envelope(api.post(REFRESH, {"refresh_token": forged}, format="json"), 401, "TOKEN_INVALID")


def test_refresh_rejects_access_token(api, user):
    access = _tokens(api, user)["access_token"]
    assert_envelope(api.post(REFRESH, {"refresh_token": access}, format="json"), 401, "TOKEN_INVALID")


def test_refresh_rejected_for_deactivated_user(api, user):
    refresh = _tokens(api, user)["refresh_token"]
    User.objects.filter(id=user.id).update(is_active=False)
    assert_envelope(api.post(REFRESH, {"refresh_token": refresh}, format="json"), 401, "TOKEN_INVALID")


def test_refresh_after_logout_is_blacklisted(api, user):
    tokens = _tokens(api, user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.post(LOGOUT, {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 200
    api.credentials()
    response = api.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json")
    assert_envelope(response, 403, "TOKEN_BLACKLISTED")


# --------------------------------------------------------------------------- logout


def test_logout_requires_bearer(api, user):
    refresh = _tokens(api, user)["refresh_token"]
    response = api.post(LOGOUT, {"refresh_token": refresh}, format="json")
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not BlacklistedToken.objects.exists()


def test_logout_blacklists_and_is_repeatable(api, user):
    tokens = _tokens(api, user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    for _ in range(2):
        response = api.post(LOGOUT, {"refresh_token": tokens["refresh_token"]}, format="json")
        assert response.status_code == 200
        assert response.json() == {"message": "Logged out successfully"}
    jti = jwt.decode(tokens["refresh_token"], options={"verify_signature": False})["jti"]
    assert BlacklistedToken.objects.filter(token__jti=jti).count() == 1


def test_logout_someone_elses_refresh_token_forbidden(api, user, make_user):
    victim = make_user()
    victim_refresh = _tokens(api, victim)["refresh_token"]
    api.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    assert_envelope(
        api.post(LOGOUT, {"refresh_token": victim_refresh}, format="json"), 403, "PERMISSION_DENIED"
    )
    assert not BlacklistedToken.objects.exists()
    # The victim's token still works.
    api.credentials()
    assert api.post(REFRESH, {"refresh_token": victim_refresh}, format="json").status_code == 200


def test_logout_with_invalid_refresh_token(api, user):
    api.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    assert_envelope(api.post(LOGOUT, {"refresh_token": "garbage"}, format="json"), 401, "TOKEN_INVALID")


# --------------------------------------------------------------------------- hostile tokens


def _put_profile_with(api, token: str):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api.put(PROFILE, {"bio": "pwned"}, format="json")


def test_alg_none_token_refused(api, user):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{_b64(json.dumps(_claims(user)).encode())}."
    assert_envelope(_put_profile_with(api, token), 401, "TOKEN_INVALID")
    user.refresh_from_db()
    assert user.bio == ""


def test_foreign_rsa_key_refused(api, user):
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = foreign.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = jwt.encode(
        _claims(user), pem, algorithm="RS256", headers={"kid": django_settings.JWT_SIGNING_KEY.kid}
    )
    assert_envelope(_put_profile_with(api, token), 401, "TOKEN_INVALID")


def test_hs256_signed_with_public_pem_refused(api, user):
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(user)).encode())
    signing_input = f"{header}.{payload}".encode()
    secret = django_settings.JWT_SIGNING_KEY.public_pem.encode()
    signature = _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
    assert_envelope(_put_profile_with(api, f"{header}.{payload}.{signature}"), 401, "TOKEN_INVALID")


def test_expired_access_token_refused(api, user):
    token = _sign_with_our_key(_claims(user, exp=int(time.time()) - 5, iat=int(time.time()) - 3605))
    assert_envelope(_put_profile_with(api, token), 401, "TOKEN_INVALID")


def test_refresh_token_used_as_access_token_refused(api, user):
    refresh = _tokens(api, user)["refresh_token"]
    assert_envelope(_put_profile_with(api, refresh), 401, "TOKEN_INVALID")


def test_wrong_audience_refused(api, user):
    token = _sign_with_our_key(_claims(user, aud="other-app"))
    assert_envelope(_put_profile_with(api, token), 401, "TOKEN_INVALID")


def test_correctly_signed_token_accepted(api, user):
    """Control for the hostile-token tests: the same claims, properly signed, work."""
    response = _put_profile_with(api, _sign_with_our_key(_claims(user)))
    assert response.status_code == 200
    assert response.json()["bio"] == "pwned"


def test_token_of_deactivated_user_refused(api, user):
    token = bearer_for(user)
    User.objects.filter(id=user.id).update(is_active=False)
    api.credentials(HTTP_AUTHORIZATION=token)
    assert api.put(PROFILE, {"bio": "x"}, format="json").status_code == 401
