"""The OpenAPI document and Swagger UI."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

SCHEMA = "/api/v1/openapi.json"

# path -> method -> statuses that must be documented
EXPECTED = {
    "/api/v1/auth/register": {"post": {201, 400, 409, 429}},
    "/api/v1/auth/login": {"post": {200, 400, 401, 429}},
    "/api/v1/auth/refresh": {"post": {200, 400, 401, 403}},
    "/api/v1/auth/logout": {"post": {200, 401, 403}},
    "/api/v1/auth/jwks.json": {"get": {200}},
    "/api/v1/users/profile": {"put": {200, 400, 401}},
    "/api/v1/users/profile/avatar": {"post": {200, 400, 401, 413}},
    "/api/v1/users/{username}": {"get": {200, 404}},
    "/api/v1/users/{user_id}/follow": {"post": {200, 401, 404}},
    "/api/v1/users/{user_id}/unfollow": {"delete": {200, 401, 404}},
    "/api/v1/users/{user_id}/followers": {"get": {200, 400, 404}},
    "/api/v1/users/{user_id}/following": {"get": {200, 400, 404}},
    "/api/v1/users/{user_id}/is-following": {"get": {200, 401, 404}},
}


@pytest.fixture
def schema(api, db) -> dict:
    response = api.get(SCHEMA)
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        node = schema["components"]["schemas"][name]
    return node


def request_properties(schema: dict, operation: dict, media="application/json") -> set[str]:
    body = operation["requestBody"]["content"][media]["schema"]
    return set(resolve(schema, body)["properties"])


def response_properties(schema: dict, operation: dict, status: int) -> set[str]:
    body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return set(resolve(schema, body)["properties"])


def test_schema_is_json_openapi_3(api, db):
    response = api.get(SCHEMA)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(("application/json", "application/vnd.oai.openapi+json"))
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert body["info"]["title"] == "Gaji core API"


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, ms in EXPECTED.items() for m in ms])
def test_every_public_route_documents_its_errors(schema, path, method):
    assert path in schema["paths"], sorted(schema["paths"])
    operation = schema["paths"][path][method]
    documented = {int(s) for s in operation["responses"]}
    assert EXPECTED[path][method] <= documented, (path, method, documented)
    for status in documented:
        if status >= 400:
            props = response_properties(schema, operation, status)
            assert {"timestamp", "status", "error", "message", "path", "trace_id", "code"} <= props


def test_request_bodies_describe_their_own_serializers(schema):
    """Each view's nested InputSerializer gets its own component (no name clashes)."""
    paths = schema["paths"]
    assert request_properties(schema, paths["/api/v1/auth/register"]["post"]) == {
        "email",
        "username",
        "password",
    }
    assert request_properties(schema, paths["/api/v1/auth/login"]["post"]) == {"email", "password"}
    assert request_properties(schema, paths["/api/v1/auth/refresh"]["post"]) == {"refresh_token"}
    assert request_properties(schema, paths["/api/v1/auth/logout"]["post"]) == {"refresh_token"}
    assert request_properties(schema, paths["/api/v1/users/profile"]["put"]) == {"bio", "avatar_url"}
    avatar = paths["/api/v1/users/profile/avatar"]["post"]
    assert request_properties(schema, avatar, "multipart/form-data") == {"avatar"}


def test_response_bodies_describe_their_own_serializers(schema):
    paths = schema["paths"]
    assert response_properties(schema, paths["/api/v1/auth/register"]["post"], 201) == {"user", "tokens"}
    assert response_properties(schema, paths["/api/v1/auth/refresh"]["post"], 200) == {
        "access_token",
        "expires_in",
        "token_type",
    }
    assert response_properties(schema, paths["/api/v1/users/{user_id}/follow"]["post"], 200) == {
        "follower_id",
        "following_id",
        "created_at",
        "is_mutual",
    }
    assert response_properties(schema, paths["/api/v1/users/{user_id}/is-following"]["get"], 200) == {
        "is_following",
        "is_mutual",
        "followed_at",
    }
    register_user = resolve(
        schema,
        resolve(
            schema,
            paths["/api/v1/auth/register"]["post"]["responses"]["201"]["content"]["application/json"][
                "schema"
            ],
        )["properties"]["user"],
    )
    login_user = resolve(
        schema,
        resolve(
            schema,
            paths["/api/v1/auth/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"],
        )["properties"]["user"],
    )
    assert set(register_user["properties"]) == {"id", "email", "username", "created_at"}
    assert set(login_user["properties"]) == {"id", "email", "username", "bio", "avatar_url"}


def test_pagination_parameters_documented(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/users/{user_id}/followers"]["get"]["parameters"]}
    assert {"page", "size", "user_id"} <= params


def test_authenticated_routes_declare_bearer_security(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"]["scheme"] == "bearer"
    assert {"jwtAuth": []} in schema["paths"]["/api/v1/users/profile"]["put"]["security"]
    # Public auth routes need no token.
    assert schema["paths"]["/api/v1/auth/login"]["post"].get("security") in (None, [], [{}])


def test_schema_never_contains_secrets(api, db, settings):
    text = api.get(SCHEMA).content.decode()
    assert settings.SERVICE_TOKEN not in text
    assert "PRIVATE KEY" not in text
    assert settings.SECRET_KEY not in text


def test_schema_generates_without_warnings_and_validates(tmp_path, db):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    assert out.read_text().startswith("openapi: 3")


def test_swagger_ui_is_served_with_local_assets(api, db, settings):
    response = api.get("/swagger-ui.html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert SCHEMA in html
    for cdn in ("jsdelivr", "unpkg", "cdnjs", "googleapis", "//cdn."):
        assert cdn not in html
    assert settings.SERVICE_TOKEN not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        served = api.get(asset)
        assert served.status_code == 200, asset
        content = b"".join(served.streaming_content) if served.streaming else served.content
        assert len(content) > 100
