"""CORS for the browser apps in WEB_ORIGINS: the allowed origin is echoed on
every answer (routes, error envelopes from the routes and the middlewares,
the SSE stream), others get no Access-Control-Allow-Origin, a preflight is
answered before authentication and rate limiting, and WEB_ORIGINS empty
turns CORS off."""

from __future__ import annotations

import logging
import uuid

import pytest
from chat_support import fill, parse, ticket

from gaji_ai.main import create_app

from support import bearer, running

WEB = "http://127.0.0.1:8080"
OTHER = "http://evil.example"
ACAO = "access-control-allow-origin"
EXPOSED = {"x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


def preflight(method: str = "POST", headers: str = "authorization,content-type", **extra):
    return {
        "Origin": WEB,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
        **extra,
    }


def assert_allowed(response, origin: str = WEB) -> None:
    assert response.headers.get(ACAO) == origin, dict(response.headers)
    assert "Origin" in response.headers.get("vary", "")
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert EXPOSED | {"retry-after"} <= exposed
    assert "access-control-allow-credentials" not in response.headers


async def test_an_allowed_origin_is_echoed_on_a_normal_answer(make_client, published_key):
    async with make_client() as client:
        health = await client.get("/healthz", headers={"Origin": WEB})
        me = await client.get(
            "/api/ai/me",
            headers={"Origin": "http://localhost:8080", **bearer(published_key.token())},
        )
    assert health.status_code == 200
    assert_allowed(health)
    assert me.status_code == 200
    assert_allowed(me, "http://localhost:8080")
    assert me.headers["x-ratelimit-limit"]  # the headers a browser may now read


async def test_another_origin_gets_no_allow_origin(make_client):
    async with make_client() as client:
        response = await client.get("/healthz", headers={"Origin": OTHER})
        # A near miss is another origin: exact match only.
        port = await client.get("/healthz", headers={"Origin": "http://127.0.0.1:8081"})
        no_origin = await client.get("/healthz")
    assert response.status_code == 200 and port.status_code == 200
    assert ACAO not in response.headers and ACAO not in port.headers
    assert ACAO not in no_origin.headers
    assert "Origin" in response.headers["vary"]  # caches keep answers per origin


async def test_error_envelopes_carry_it(make_client, test_settings):
    async with make_client(rate_limit_scale=0.01) as client:  # 3 reads a minute
        unauthenticated = await client.get("/api/ai/me", headers={"Origin": WEB})
        missing = await client.get("/api/ai/nowhere", headers={"Origin": WEB})
        await client.get("/api/ai/nowhere", headers={"Origin": WEB})
        limited = await client.get("/api/ai/me", headers={"Origin": WEB})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["code"]
    assert_allowed(unauthenticated)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert_allowed(missing)
    assert limited.status_code == 429 and limited.json()["code"] == "RATE_LIMITED"
    assert_allowed(limited)
    assert limited.headers["retry-after"]

    # The 500 envelope RequestContextMiddleware writes for an unhandled error.
    app = create_app(test_settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with running(app) as client:
        crashed = await client.get("/boom", headers={"Origin": WEB})
    assert crashed.status_code == 500 and crashed.json()["code"] == "INTERNAL_ERROR"
    assert_allowed(crashed)
    assert crashed.headers["x-request-id"] == crashed.json()["trace_id"]


async def test_the_sse_stream_carries_it(make_client, published_key, redis_prefix):
    conversation, message = str(uuid.uuid4()), str(uuid.uuid4())
    fill(redis_prefix, message, ["Once ", "upon."])
    url = f"/api/ai/conversations/{conversation}/stream"
    params = {"message_id": message, "ticket": ticket(published_key, conversation, message)}
    async with make_client() as client:
        stream = await client.get(url, params=params, headers={"Origin": WEB})
        refused = await client.get(
            url, params={**params, "ticket": "not-a-ticket"}, headers={"Origin": WEB}
        )
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert_allowed(stream)
    assert [f["event"] for f in parse(stream.text)][-1] == "message_complete"
    assert refused.status_code == 401
    assert_allowed(refused)


async def test_preflight_needs_no_auth_and_is_not_rate_limited(make_client, caplog):
    caplog.set_level(logging.INFO, logger="gaji_ai.access")
    async with make_client(rate_limit_scale=0.01) as client:  # 3 reads a minute
        answers = [
            await client.options(
                "/api/ai/search/passages", headers=preflight(**{"X-Request-ID": f"pre-{i}"})
            )
            for i in range(5)
        ]
        stream = await client.options(
            f"/api/ai/conversations/{uuid.uuid4()}/stream",
            headers=preflight("GET", "last-event-id,x-request-id"),
        )
        read = await client.get("/api/ai/nowhere", headers={"Origin": WEB})
    for i, answer in enumerate(answers):
        assert answer.status_code == 200, answer.text
        assert answer.headers[ACAO] == WEB
        methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
        assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
        allowed = {h.strip() for h in answer.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "x-request-id", "last-event-id"} <= {
            h.lower() for h in allowed
        }
        assert answer.headers["access-control-max-age"] == "600"
        assert "access-control-allow-credentials" not in answer.headers
        assert answer.headers["x-request-id"] == f"pre-{i}"
        assert "x-ratelimit-limit" not in answer.headers  # never reached the limiter
    assert stream.status_code == 200 and stream.headers[ACAO] == WEB
    # The limiter saw none of the six preflights: this is the first read counted.
    assert read.status_code == 404
    assert read.headers["x-ratelimit-limit"] == "3"
    assert read.headers["x-ratelimit-remaining"] == "2"
    logged = [r for r in caplog.records if getattr(r, "cors_preflight", False)]
    assert len(logged) == 6 and {r.status for r in logged} == {200}


async def test_a_refused_preflight_is_an_envelope_without_allow_origin(make_client):
    async with make_client() as client:
        other = await client.options("/api/ai/search/passages", headers=preflight(Origin=OTHER))
        header = await client.options(
            "/api/ai/search/passages", headers=preflight(headers="x-secret")
        )
    assert other.status_code == 400 and ACAO not in other.headers
    body = other.json()
    assert body["code"] == "CORS_REJECTED" and "origin" in body["message"]
    assert body["trace_id"] == other.headers["x-request-id"]
    assert body["path"] == "/api/ai/search/passages"
    assert header.status_code == 400 and header.json()["code"] == "CORS_REJECTED"
    assert "headers" in header.json()["message"]


async def test_empty_web_origins_turns_cors_off(make_client):
    async with make_client(web_origins="") as client:
        response = await client.get("/healthz", headers={"Origin": WEB})
        options = await client.options("/api/ai/search/passages", headers=preflight())
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)
    # No preflight handling at all: the router answers OPTIONS like any method.
    assert options.status_code == 405 and options.json()["code"] == "METHOD_NOT_ALLOWED"
    assert ACAO not in options.headers


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", []),
        (" , ", []),
        (
            "https://App.Example.com/, http://127.0.0.1:3000",
            ["https://app.example.com", "http://127.0.0.1:3000"],
        ),
    ],
)
def test_web_origins_are_parsed(test_settings, value, expected):
    assert test_settings(web_origins=value).app.web_origin_list() == expected


@pytest.mark.parametrize("value", ["*", "http://a.example/path", "a.example", "ftp://a.example"])
def test_web_origins_refuse_anything_but_origins(test_settings, value):
    with pytest.raises(ValueError, match="WEB_ORIGINS"):
        test_settings(web_origins=value)
