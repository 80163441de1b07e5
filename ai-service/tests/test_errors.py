"""Every error is the shared JSON envelope, never HTML, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from gaji_ai.main import create_app

from support import SERVICE_AUTH, running

ENVELOPE_KEYS = {"timestamp", "status", "error", "message", "path", "trace_id", "code"}


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body.keys() >= ENVELOPE_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["trace_id"] == response.headers["x-request-id"]
    assert body["timestamp"].endswith("Z")
    return body


async def test_unknown_route_is_404_envelope(client):
    response = await client.get("/no/such/route", headers={"Accept": "text/html"})
    body = assert_envelope(response, 404, "NOT_FOUND")
    assert body["path"] == "/no/such/route"
    assert body["error"] == "Not Found"


async def test_wrong_method_is_405_envelope_with_allow(client):
    response = await client.post("/healthz")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET"


async def test_malformed_json_is_400(client):
    response = await client.post(
        "/api/ai/internal/echo",
        content=b'{"message": ',
        headers={**SERVICE_AUTH, "Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "MALFORMED_JSON")


async def test_validation_errors_are_400_with_field_details(client):
    response = await client.post(
        "/api/ai/internal/echo",
        json={"message": "", "tags": "not-a-list", "extra": 1},
        headers=SERVICE_AUTH,
    )
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert set(body["details"]) == {"message", "tags", "extra"}
    assert all(isinstance(msgs, list) and msgs for msgs in body["details"].values())


async def test_nested_field_path_is_dotted(client):
    response = await client.post(
        "/api/ai/internal/echo", json={"message": "hi", "tags": ["ok", 3]}, headers=SERVICE_AUTH
    )
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert list(body["details"]) == ["tags.1"]


async def test_missing_body_is_validation_error(client):
    response = await client.post(
        "/api/ai/internal/echo", headers={**SERVICE_AUTH, "Content-Type": "application/json"}
    )
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "body" in body["details"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_non_json_content_type_is_415(client, content_type):
    response = await client.post(
        "/api/ai/internal/echo",
        content=b'{"message": "hi"}',
        headers={**SERVICE_AUTH, "Content-Type": content_type},
    )
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_json_with_charset_is_accepted(client):
    response = await client.post(
        "/api/ai/internal/echo",
        content=b'{"message": "hi"}',
        headers={**SERVICE_AUTH, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json() == {"message": "hi", "tags": []}


async def test_body_over_limit_by_content_length_is_413(make_client):
    async with make_client(max_body_bytes=64) as client:
        response = await client.post(
            "/api/ai/internal/echo", json={"message": "x" * 100}, headers=SERVICE_AUTH
        )
        assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
        at_limit = await client.post(
            "/api/ai/internal/echo",
            content=b'{"message": "' + b"x" * 49 + b'"}',
            headers={**SERVICE_AUTH, "Content-Type": "application/json"},
        )
        assert at_limit.status_code == 200


async def test_chunked_body_over_limit_is_413(make_client):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"message": "'
        for _ in range(10):
            yield b"x" * 20
        yield b'"}'

    async with make_client(max_body_bytes=64) as client:
        response = await client.post(
            "/api/ai/internal/echo",
            content=chunks(),
            headers={**SERVICE_AUTH, "Content-Type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


async def test_chunked_body_under_limit_passes(make_client):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"message": '
        yield b'"hello"}'

    async with make_client(max_body_bytes=64) as client:
        response = await client.post(
            "/api/ai/internal/echo",
            content=chunks(),
            headers={**SERVICE_AUTH, "Content-Type": "application/json"},
        )
    assert response.status_code == 200
    assert response.json()["message"] == "hello"


async def test_unhandled_exception_is_500_without_details_and_is_logged(test_settings, caplog):
    app = create_app(test_settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    caplog.set_level(logging.ERROR)
    async with running(app) as client:
        response = await client.get("/boom")

    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "Internal server error"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.message == "unhandled error"]
    assert record.exc_info is not None
    assert "hunter2" in caplog.text
    assert getattr(record, "path", None) == "/boom"


@pytest.mark.parametrize(
    "message_id",
    ["0" * 36, "-" * 36, "0" * 32 + "----", "6f1c3a52-1b36-4c8e-9a55-2d2a8f0e4a1-0"],
)
async def test_ids_that_only_look_like_uuids_are_400(client, message_id):
    """Found by the OpenAPI fuzzer: 36 zeros passed the route's id pattern,
    then failed as a UUID inside the route (a 500)."""
    response = await client.post(
        f"/api/ai/internal/generations/{message_id}/cancel", headers=SERVICE_AUTH
    )
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert set(body["details"]) == {"message_id"}


async def test_error_path_is_the_decoded_request_path_whoever_answers(client):
    """Found by the OpenAPI fuzzer: a route's errors gave `request.url.path`,
    which re-quotes `#` as `%23`, while the middlewares' gave the path as sent."""
    from_route = await client.post(
        "/api/ai/internal/generations/a%23b/cancel", headers=SERVICE_AUTH
    )
    assert assert_envelope(from_route, 400, "VALIDATION_ERROR")["path"] == (
        "/api/ai/internal/generations/a#b/cancel"
    )
    from_router = await client.get("/no/such%23route")
    assert assert_envelope(from_router, 404, "NOT_FOUND")["path"] == "/no/such#route"
