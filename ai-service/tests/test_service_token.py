"""Internal routes take only the service token; public routes refuse it."""

from __future__ import annotations

import pytest

from support import SERVICE_AUTH, SERVICE_TOKEN, bearer

INTERNAL_ROUTES = [
    ("GET", "/api/ai/internal/health"),
    ("POST", "/api/ai/internal/echo"),
]


@pytest.mark.parametrize(("method", "path"), INTERNAL_ROUTES)
async def test_anonymous_is_401(client, method, path):
    response = await client.request(method, path, json={"message": "hi"})
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), INTERNAL_ROUTES)
async def test_user_jwt_is_403(client, published_key, method, path):
    response = await client.request(
        method, path, json={"message": "hi"}, headers=bearer(published_key.token())
    )
    assert response.status_code == 403
    assert response.json()["code"] == "SERVICE_TOKEN_REQUIRED"


@pytest.mark.parametrize(
    "token",
    ["wrong-token", SERVICE_TOKEN + "x", SERVICE_TOKEN[:-1]],
)
async def test_other_bearer_is_403(client, token):
    response = await client.get("/api/ai/internal/health", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["code"] == "SERVICE_TOKEN_REQUIRED"


async def test_non_bearer_scheme_is_401(client):
    response = await client.get(
        "/api/ai/internal/health", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert response.status_code == 401


async def test_service_token_is_accepted(client):
    response = await client.get("/api/ai/internal/health", headers=SERVICE_AUTH)
    assert response.status_code == 200


async def test_every_documented_internal_route_requires_the_service_token(client):
    """Guards future routes: whatever lands under /api/ai/internal is gated."""
    schema = (await client.get("/openapi.json")).json()
    internal = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith("/api/ai/internal/")
        for method in item
    ]
    assert set(internal) >= set(INTERNAL_ROUTES)
    for method, path in internal:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)


async def test_public_route_refuses_service_token(client):
    response = await client.get("/api/ai/me", headers=SERVICE_AUTH)
    assert response.status_code == 403
    assert response.json()["code"] == "SERVICE_TOKEN_NOT_ALLOWED"
