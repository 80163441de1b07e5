"""X-Request-ID: kept when clean, replaced when hostile, echoed everywhere, logged."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from gaji_contracts.conventions import JsonFormatter

from gaji_ai.common.logging import ACCESS_LOGGER, configure_logging

from support import SERVICE_AUTH


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def test_clean_request_id_is_echoed(client):
    response = await client.get("/healthz", headers={"X-Request-ID": "req-123.abc:1"})
    assert response.headers["x-request-id"] == "req-123.abc:1"


async def test_missing_request_id_is_generated(client):
    response = await client.get("/healthz")
    assert _is_uuid(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "hostile",
    ["has space", "x" * 129, "<script>", "a\tb", "ü-nicode".encode()],
)
async def test_hostile_request_id_is_replaced(client, hostile):
    response = await client.get("/healthz", headers={"X-Request-ID": hostile})
    assert response.headers["x-request-id"] != hostile
    assert _is_uuid(response.headers["x-request-id"])


async def test_request_id_is_echoed_on_errors_and_is_the_trace_id(client):
    response = await client.get("/missing", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-me"
    assert response.json()["trace_id"] == "trace-me"


async def test_request_id_reaches_route_handlers(client):
    response = await client.get(
        "/api/ai/internal/health", headers={**SERVICE_AUTH, "X-Request-ID": "inner-1"}
    )
    assert response.json()["request_id"] == "inner-1"


async def test_request_id_is_forwarded_to_core(client, core_stub):
    await client.get("/readyz", headers={"X-Request-ID": "forward-me"})
    [headers] = core_stub.requests_to("/api/internal/health")
    assert headers["x-request-id"] == "forward-me"


async def test_one_access_log_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    await client.get("/missing", headers={"X-Request-ID": "log-me"})

    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(records) == 1
    line = json.loads(JsonFormatter("ai").format(records[0]))
    assert line["method"] == "GET"
    assert line["path"] == "/missing"
    assert line["status"] == 404
    assert line["request_id"] == "log-me"
    assert line["service"] == "ai"
    assert isinstance(line["duration_ms"], float)


def test_configure_logging_installs_one_json_handler_and_keeps_others():
    root = logging.getLogger()
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        configure_logging("INFO")
        configure_logging("DEBUG")
        json_handlers = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
        assert len(json_handlers) == 1
        assert other in root.handlers
        assert root.level == logging.DEBUG
    finally:
        root.removeHandler(other)
        configure_logging("INFO")
