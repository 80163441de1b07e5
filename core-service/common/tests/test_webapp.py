"""The reader web app served by core (common/webapp.py) and CORS for apps on
other origins (CorsMiddleware)."""

from __future__ import annotations

import pytest

from conftest import assert_envelope


@pytest.fixture
def dist(tmp_path, settings):
    (tmp_path / "assets").mkdir()
    page = '<!doctype html><script type="module" src="./assets/app-1a2b.js"></script>'
    (tmp_path / "index.html").write_text(page)
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('gaji')")
    (tmp_path / "secret.txt").write_text("not an asset")
    settings.WEB_DIST_DIR = str(tmp_path)
    settings.AI_PUBLIC_URL = "https://ai.example.org/"
    return tmp_path


def test_the_page_its_config_and_assets(client, dist, settings):
    page = client.get("/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert b"app-1a2b.js" in b"".join(page.streaming_content)
    assert page["Cache-Control"] == "no-cache"
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self' https://ai.example.org" in policy
    config = client.get("/config.json").json()
    assert config == {"core_url": "http://testserver", "ai_url": "https://ai.example.org"}
    settings.CORE_PUBLIC_URL = "https://gaji.example.org/"
    assert client.get("/config.json").json()["core_url"] == "https://gaji.example.org"
    asset = client.get("/assets/app-1a2b.js")
    assert asset.status_code == 200 and "immutable" in asset["Cache-Control"]
    assert "X-RateLimit-Limit" not in asset  # static files are not rate limited


def test_nothing_outside_the_assets_and_no_writes(client, dist):
    for path in ("/assets/../secret.txt", "/assets/%2e%2e/secret.txt", "/assets/missing.js", "/secret.txt"):
        assert_envelope(client.get(path), 404)
    assert_envelope(client.post("/"), 405)
    assert_envelope(client.delete("/config.json"), 405)


def test_an_unbuilt_app_is_a_clear_503(client, settings, tmp_path):
    settings.WEB_DIST_DIR = str(tmp_path / "nothing")
    data = assert_envelope(client.get("/"), 503)
    assert "make web" in data["message"]


ALLOWED = "http://127.0.0.1:8080"


def test_an_allowed_origin_can_read_answers_and_errors(client, db):
    for path, status in (("/api/v1/novels", 200), ("/api/v1/scenarios/not-a-uuid", 404)):
        response = client.get(path, HTTP_ORIGIN=ALLOWED)
        assert response.status_code == status
        assert response["Access-Control-Allow-Origin"] == ALLOWED
        assert "X-Request-ID" in response["Access-Control-Expose-Headers"]
        assert "Origin" in response["Vary"]
        assert "Access-Control-Allow-Credentials" not in response


def test_another_origin_gets_no_cors_headers(client, db):
    for origin in ("https://evil.example", "http://127.0.0.1:8081", "null"):
        response = client.get("/api/v1/novels", HTTP_ORIGIN=origin)
        assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response


def test_preflight_is_answered_before_rate_limits_and_auth(client, db, settings):
    settings.RATE_LIMIT_SCALE = 0.001  # a budget of 1 read a minute
    for _ in range(3):
        response = client.options(
            "/api/v1/users/me/liked-conversations",
            HTTP_ORIGIN=ALLOWED,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
        )
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == ALLOWED
        assert "Authorization" in response["Access-Control-Allow-Headers"]
        assert response["Access-Control-Max-Age"] == "600"
        assert "X-RateLimit-Limit" not in response


def test_a_refused_preflight_is_an_envelope(client, db):
    for origin, method, headers in (
        ("https://evil.example", "GET", ""),
        (ALLOWED, "TRACE", ""),
        (ALLOWED, "GET", "x-secret"),
    ):
        response = client.options(
            "/api/v1/novels",
            HTTP_ORIGIN=origin,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
        )
        assert_envelope(response, 400, "CORS_REJECTED")
        assert "Access-Control-Allow-Origin" not in response
