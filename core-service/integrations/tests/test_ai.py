"""AiClient against a real HTTP server started by the test."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.ai import AiClient, AiUnavailable


class StubAi:
    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.seen: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stub.seen.append({"path": self.path, **dict(self.headers)})
                payload = json.dumps(
                    body
                    if body is not None
                    else {
                        "service": "ai",
                        "status": "ok",
                        "version": "0.1.0",
                        "time": datetime.now(UTC).isoformat(),
                        "request_id": self.headers.get("X-Request-ID", ""),
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_ai():
    stubs: list[StubAi] = []

    def make(**kwargs) -> StubAi:
        stubs.append(StubAi(**kwargs))
        return stubs[-1]

    yield make
    for stub in stubs:
        stub.close()


def test_health_sends_service_token_and_request_id(stub_ai, settings):
    ai = stub_ai()
    health = AiClient(base_url=ai.url).health(request_id="rid-core-1")
    assert health.service == "ai" and health.request_id == "rid-core-1"
    (call,) = ai.seen
    assert call["path"] == "/api/ai/internal/health"
    assert call["Authorization"] == f"Bearer {settings.SERVICE_TOKEN}"
    assert call["X-Request-ID"] == "rid-core-1"


def test_refusal_and_garbage_are_ai_unavailable(stub_ai):
    with pytest.raises(AiUnavailable, match="403"):
        AiClient(base_url=stub_ai(status=403, body={"code": "SERVICE_TOKEN_REQUIRED"}).url).health()
    with pytest.raises(AiUnavailable, match="unexpected"):
        AiClient(base_url=stub_ai(body={"hello": "world"}).url).health()


def test_unreachable_ai_is_ai_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(AiUnavailable):
        AiClient(base_url=f"http://127.0.0.1:{closed_port}").health()


def test_check_ai_command(stub_ai, settings, capsys):
    settings.AI_BASE_URL = stub_ai().url
    call_command("check_ai", "--request-id", "rid-cmd")
    assert json.loads(capsys.readouterr().out)["request_id"] == "rid-cmd"
    settings.AI_BASE_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError):
        call_command("check_ai")


@pytest.fixture
def chat_ai(settings):
    from django.core.cache import cache

    from integrations.ai import models_cache_key
    from integrations.tests.stub_ai import StubAi

    stub = StubAi(service_token=settings.SERVICE_TOKEN)
    cache.delete(models_cache_key(stub.url))
    yield stub
    stub.down()
    cache.delete(models_cache_key(stub.url))


def test_models_are_cached_and_failures_are_not(chat_ai):
    client = AiClient(base_url=chat_ai.url)
    chat_ai.models = None
    with pytest.raises(AiUnavailable, match="503"):
        client.models()
    chat_ai.models = ["a", "b"]
    assert client.models() == ["a", "b"]
    chat_ai.models = ["c"]
    assert client.models() == ["a", "b"]  # cached for a minute
    assert len(chat_ai.model_requests) == 2


def test_cancel_generation_sends_the_service_token(chat_ai, settings):
    message_id = "0b7c4a9e-58f1-4a53-9b1b-3f3d0e6f5a11"
    accepted = AiClient(base_url=chat_ai.url).cancel_generation(message_id, request_id="rid-cancel")
    assert str(accepted.message_id) == message_id and accepted.cancel_requested
    (call,) = chat_ai.cancels
    assert call["message_id"] == message_id
    assert call["headers"]["Authorization"] == f"Bearer {settings.SERVICE_TOKEN}"
    assert call["headers"]["X-Request-ID"] == "rid-cancel"


def test_cancel_refused_is_ai_unavailable(chat_ai):
    with pytest.raises(AiUnavailable, match="404"):
        AiClient(base_url=chat_ai.url).cancel_generation("not-a-message-id")  # the stub answers 404
    chat_ai.down()
    with pytest.raises(AiUnavailable, match="ConnectError"):
        AiClient(base_url=chat_ai.url).cancel_generation("0b7c4a9e-58f1-4a53-9b1b-3f3d0e6f5a11")
