"""POST /users/me/password and the password reset by mail
(POST /auth/password-reset, POST /auth/password-reset/confirm)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from rest_framework.test import APIClient

from accounts import services
from accounts.emails import uid_of
from accounts.models import User
from accounts.tokens import tokens_for
from conftest import PASSWORD, assert_envelope
from scenarios.tests.helpers import client_for

PASSWORD_URL = "/api/v1/users/me/password"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
NEW = "N3wPassword"

pytestmark = pytest.mark.django_db


def _login(email, password):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json")


def _refresh(refresh_token):
    return APIClient().post(REFRESH, {"refresh_token": refresh_token}, format="json")


def _field_error(response, field: str) -> dict:
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["details"], body
    return body


# --------------------------------------------------------------------------- change


def test_change_answers_like_login_and_revokes_every_earlier_refresh_token(user):
    laptop, phone = tokens_for(user), tokens_for(user)
    response = client_for(user).post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    login_shape = _login(user.email, NEW).json()
    assert set(body) == set(login_shape) == {"user", "tokens"}
    assert set(body["user"]) == set(login_shape["user"])
    assert set(body["tokens"]) == set(login_shape["tokens"])
    assert body["user"]["id"] == str(user.id)
    # Every refresh token issued before is refused; the fresh one works.
    for old in (laptop, phone):
        assert_envelope(_refresh(old["refresh_token"]), 403, "TOKEN_BLACKLISTED")
    assert _refresh(body["tokens"]["refresh_token"]).status_code == 200
    # The new password logs in, the old one no longer does.
    assert_envelope(_login(user.email, PASSWORD), 401, "INVALID_CREDENTIALS")
    assert _login(user.email, NEW).status_code == 200


def test_change_does_not_touch_other_readers_tokens(make_user):
    user, other = make_user(), make_user()
    theirs = tokens_for(other)
    client_for(user).post(PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert _refresh(theirs["refresh_token"]).status_code == 200


def test_change_with_a_wrong_current_password_is_400_and_changes_nothing(user):
    session = tokens_for(user)
    response = client_for(user).post(
        PASSWORD_URL, {"current_password": "Wr0ngPassword", "new_password": NEW}, format="json"
    )
    body = _field_error(response, "current_password")
    assert body["details"]["current_password"] == [services.PASSWORD_WRONG]
    assert _login(user.email, PASSWORD).status_code == 200
    assert _refresh(session["refresh_token"]).status_code == 200


@pytest.mark.parametrize("weak", ["short1A", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere", ""])
def test_change_to_a_weak_password_is_400_on_new_password(user, weak):
    response = client_for(user).post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": weak}, format="json"
    )
    _field_error(response, "new_password")
    assert _login(user.email, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"current_password": PASSWORD}, {"new_password": NEW}, {"current_password": 1, "new_password": NEW}],
)
def test_change_needs_both_passwords_as_text(user, body):
    response = client_for(user).post(PASSWORD_URL, body, format="json")
    assert_envelope(response, 400, "VALIDATION_ERROR")


def test_change_needs_a_token():
    response = APIClient().post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW}, format="json"
    )
    assert_envelope(response, 401, "NOT_AUTHENTICATED")


def test_wrong_current_passwords_are_limited(user):
    client = client_for(user)
    for _ in range(5):
        response = client.post(
            PASSWORD_URL, {"current_password": "Wr0ngPassword", "new_password": NEW}, format="json"
        )
        _field_error(response, "current_password")
    response = client.post(PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert_envelope(response, 429, "RATE_LIMITED")
    assert _login(user.email, PASSWORD).status_code == 200


# --------------------------------------------------------------------------- reset: request


def _ask(email, ip="10.0.0.1"):
    return APIClient().post(RESET, {"email": email}, format="json", REMOTE_ADDR=ip)


def _link_of(message) -> dict:
    found = re.search(r"(http://testserver/#/reset-password\?\S+)", message.body)
    assert found, message.body
    query = parse_qs(urlsplit(found.group(1)).fragment.split("?", 1)[1])
    return {"uid": query["uid"][0], "token": query["token"][0]}


def _confirm(link, password=NEW):
    return APIClient().post(CONFIRM, {**link, "new_password": password}, format="json")


def test_reset_mails_a_link_to_the_web_app(user):
    response = _ask(user.email.upper())  # addresses are matched case-insensitively
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"detail"}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.from_email
    assert user.username in message.body
    link = _link_of(message)
    assert link["uid"] == uid_of(user)


def test_reset_answers_the_same_for_an_unknown_address(user):
    known = _ask(user.email)
    unknown = _ask("nobody@example.com")
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert len(mail.outbox) == 1  # only the real account got one


def test_reset_sends_nothing_to_an_inactive_or_passwordless_account(make_user):
    inactive = make_user(is_active=False)
    passwordless = make_user(password=None)
    assert _ask(inactive.email).status_code == 202
    assert _ask(passwordless.email, ip="10.0.0.2").status_code == 202
    assert mail.outbox == []


def test_reset_refuses_bad_input_with_the_envelope():
    _field_error(APIClient().post(RESET, {"email": "not-an-address"}, format="json"), "email")
    _field_error(APIClient().post(RESET, {}, format="json"), "email")
    _field_error(APIClient().post(RESET, {"email": "a@example.com", "extra": 1}, format="json"), "extra")


def test_reset_refuses_the_service_token(settings, user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
    assert_envelope(client.post(RESET, {"email": user.email}, format="json"), 403)
    assert mail.outbox == []


def test_reset_requests_are_limited_per_ip_like_login_in_their_own_window(user):
    for _ in range(5):
        assert _ask("nobody@example.com").status_code == 202
    refused = _ask(user.email)
    assert_envelope(refused, 429, "RATE_LIMITED")
    assert int(refused["Retry-After"]) > 0
    assert mail.outbox == []
    assert _ask(user.email, ip="10.0.0.9").status_code == 202  # another client
    # Login has its own window: asking for resets did not spend it.
    login = APIClient().post(
        LOGIN, {"email": user.email, "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.1"
    )
    assert login.status_code == 200


def test_one_address_gets_at_most_three_mails_an_hour(user):
    for n in range(5):
        assert _ask(user.email, ip=f"10.0.1.{n}").status_code == 202
    assert len(mail.outbox) == 3


def test_a_mail_that_cannot_be_sent_is_still_202(user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    response = _ask(user.email)
    assert response.status_code == 202
    assert response.json() == _ask("nobody@example.com", ip="10.0.0.3").json()


def test_reset_by_file_backend_writes_under_the_mail_folder(user, settings, tmp_path):
    """The default backend: each mail a file `make run` can point to."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    assert _ask(user.email).status_code == 202
    files = list((tmp_path / "mail").iterdir())
    assert len(files) == 1
    assert "/#/reset-password?uid=" in files[0].read_text()


# --------------------------------------------------------------------------- reset: confirm


def test_the_link_sets_the_password_once_and_revokes_the_sessions(user):
    session = tokens_for(user)
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    response = _confirm(link)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"detail"}
    assert _login(user.email, NEW).status_code == 200
    assert_envelope(_login(user.email, PASSWORD), 401)
    assert_envelope(_refresh(session["refresh_token"]), 403, "TOKEN_BLACKLISTED")
    # Single use: the same link again is refused, and does not change the password.
    again = _confirm(link, password="An0therPassword")
    body = _field_error(again, "token")
    assert body["details"]["token"] == [services.RESET_LINK_BAD]
    assert _login(user.email, NEW).status_code == 200


def test_an_expired_link_is_400_on_token(user, settings, monkeypatch):
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    later = PasswordResetTokenGenerator._now(None) + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    _field_error(_confirm(link), "token")
    assert _login(user.email, PASSWORD).status_code == 200


def test_a_link_within_its_time_works(user, settings, monkeypatch):
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    later = PasswordResetTokenGenerator._now(None) + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT - 60)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    assert _confirm(link).status_code == 200


def test_a_link_dies_when_the_password_changes_another_way(user):
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    client_for(user).post(PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    _field_error(_confirm(link, password="Th1rdPassword"), "token")
    assert _login(user.email, NEW).status_code == 200


def test_a_link_dies_when_the_email_changes(user):
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    client_for(user).patch(
        "/api/v1/users/me", {"email": "moved@example.com", "current_password": PASSWORD}, format="json"
    )
    _field_error(_confirm(link), "token")


def test_a_link_is_for_its_own_account_only(make_user):
    user, other = make_user(), make_user()
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    _field_error(_confirm({"uid": uid_of(other), "token": link["token"]}), "token")
    assert _login(other.email, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "link",
    [
        {"uid": "!!!", "token": "abc-def"},
        {"uid": "bm90LWEtdXVpZA", "token": "abc-def"},  # base64 of "not-a-uuid"
        {"uid": "", "token": "abc-def"},
        {"uid": "MTIz", "token": ""},
        {"uid": "\u00e9\u00e9", "token": "x"},
    ],
)
def test_malformed_links_are_400_never_500(user, link):
    response = _confirm(link)
    assert_envelope(response, 400, "VALIDATION_ERROR")


def test_a_forged_token_for_a_real_uid_is_400_on_token(user):
    _field_error(_confirm({"uid": uid_of(user), "token": "cz0x2f-0123456789abcdef0123456789abcdef"}), "token")


def test_a_weak_new_password_keeps_the_link_usable(user):
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    _field_error(_confirm(link, password="weak"), "new_password")
    assert _confirm(link).status_code == 200


def test_an_inactive_account_cannot_use_a_link(user):
    _ask(user.email)
    link = _link_of(mail.outbox[0])
    User.objects.filter(id=user.id).update(is_active=False)
    _field_error(_confirm(link), "token")
