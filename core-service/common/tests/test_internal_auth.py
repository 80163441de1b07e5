"""Service token vs user JWTs: internal routes take only the first, public
routes refuse it."""

from __future__ import annotations

from datetime import datetime

import pytest

from conftest import assert_envelope, bearer_for

INTERNAL_HEALTH = "/api/internal/health"


@pytest.fixture
def service_auth(settings) -> str:
    return f"Bearer {settings.SERVICE_TOKEN}"


def test_internal_health_with_service_token(api, db, service_auth):
    response = api.get(INTERNAL_HEALTH, HTTP_AUTHORIZATION=service_auth, HTTP_X_REQUEST_ID="ai-call-1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"service", "status", "version", "time", "request_id"}
    assert body["service"] == "core"
    assert body["status"] == "ok"
    assert body["version"]
    assert body["request_id"] == "ai-call-1" == response["X-Request-ID"]
    assert datetime.fromisoformat(body["time"].replace("Z", "+00:00")).tzinfo is not None


def test_internal_health_anonymous(api, db):
    response = api.get(INTERNAL_HEALTH)
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert "WWW-Authenticate" in response


def test_internal_health_with_user_jwt(api, user):
    response = api.get(INTERNAL_HEALTH, HTTP_AUTHORIZATION=bearer_for(user))
    assert_envelope(response, 403, "SERVICE_TOKEN_REQUIRED")


@pytest.mark.parametrize(
    "header_fn",
    [
        lambda token: f"Bearer {token}x",
        lambda token: f"Bearer {token[:-1]}",
        lambda token: "Bearer wrong-token",
        lambda token: f"Basic {token}",
        lambda token: token,
    ],
)
def test_internal_health_with_wrong_token(api, db, settings, header_fn):
    response = api.get(INTERNAL_HEALTH, HTTP_AUTHORIZATION=header_fn(settings.SERVICE_TOKEN))
    assert_envelope(response, 403, "SERVICE_TOKEN_REQUIRED")


def test_empty_configured_service_token_accepts_nothing(api, db, settings):
    settings.SERVICE_TOKEN = ""
    for header in ("Bearer ", "Bearer  ", "Bearer x"):
        assert_envelope(api.get(INTERNAL_HEALTH, HTTP_AUTHORIZATION=header), 403, "SERVICE_TOKEN_REQUIRED")


def test_public_write_route_refuses_service_token(api, user, service_auth):
    response = api.put("/api/v1/users/profile", {"bio": "x"}, format="json", HTTP_AUTHORIZATION=service_auth)
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")


def test_public_read_route_refuses_service_token(api, user, service_auth):
    response = api.get(f"/api/v1/users/{user.username}", HTTP_AUTHORIZATION=service_auth)
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")
    # The same route without it is public.
    assert api.get(f"/api/v1/users/{user.username}").status_code == 200


def test_follow_route_refuses_service_token(api, user, service_auth):
    response = api.post(f"/api/v1/users/{user.id}/follow", HTTP_AUTHORIZATION=service_auth)
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")
