"""A stand-in for the ai service's chat-turn endpoints: a real HTTP server on
a free local port (not a mock object), so core's real client, timeouts and
error handling are exercised. Used by the conversation tests and by the
send-message benchmark (where it isolates core's own cost).

POST GENERATIONS_PATH, by `mode`: "accept" (202 GenerationAccepted), "refuse"
(503 envelope), "slow" (sleeps past core's enqueue timeout), "garbage" (202
with a body that is not the contract), "invalid_model" (400 INVALID_MODEL
envelope, as ai answers a model it does not offer).
GET MODELS_PATH answers a ModelList of `models` (503 when `models` is None);
like ai's public routes it refuses the service token (when given one).
POST generation_cancel_path(id) answers CancelAccepted and records the id.
`down()` closes the port, so connects are refused.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gaji_contracts.characters import NovelCast
from gaji_contracts.conventions import bearer_token, is_service_token
from gaji_contracts.conversations import (
    GENERATIONS_PATH,
    MODELS_PATH,
    CancelAccepted,
    GenerationAccepted,
    GenerationRequest,
    ModelList,
)

DEFAULT_MODELS = ["smollm2-135m-instruct"]
CANCEL_PATH = re.compile(rf"^{re.escape(GENERATIONS_PATH)}/([0-9a-fA-F-]{{36}})/cancel$")


def _envelope(status: int, code: str, message: str, details: dict | None = None) -> bytes:
    body = {"status": status, "code": code, "message": message}
    if details is not None:
        body["details"] = details
    return json.dumps(body).encode()


class StubAi:
    def __init__(self, *, record: bool = True, service_token: str | None = None) -> None:
        self.mode = "accept"
        self.slow_seconds = 5.0
        self.record = record
        self.requests: list[dict] = []  # {"headers": {...}, "body": GenerationRequest}
        self.models: list[str] | None = list(DEFAULT_MODELS)
        self.model_requests: list[dict] = []  # headers of each GET MODELS_PATH
        self.cancels: list[dict] = []  # {"headers": {...}, "message_id": str}
        # Each novel's cast (novel id -> CastEntry list); None: the store is away (503).
        self.cast: dict[str, list] | None = {}
        self.cast_requests: list[str] = []
        self._lock = threading.Lock()
        self._connections: set = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered: headers and body leave in one send (flushed after each
            # request), not two, which would wait ~40 ms on a delayed ACK.
            wbufsize = 1 << 16

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def setup(self) -> None:
                super().setup()
                with stub._lock:
                    stub._connections.add(self.connection)

            def finish(self) -> None:
                with stub._lock:
                    stub._connections.discard(self.connection)
                super().finish()

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/api/ai/internal/novels/") and self.path.endswith("/cast"):
                    novel_id = self.path.split("/")[-2]
                    with stub._lock:
                        stub.cast_requests.append(novel_id)
                    if stub.cast is None:
                        self._send(503, _envelope(503, "SERVICE_UNAVAILABLE", "Store unavailable"))
                        return
                    entries = stub.cast.get(novel_id, [])
                    self._send(
                        200, NovelCast(novel_id=novel_id, characters=entries).model_dump_json().encode()
                    )
                    return
                if self.path != MODELS_PATH:
                    self._send(404, b'{"code": "NOT_FOUND"}')
                    return
                with stub._lock:
                    stub.model_requests.append(dict(self.headers))
                token = bearer_token(self.headers.get("Authorization"))
                if service_token and is_service_token(token, service_token):
                    self._send(403, _envelope(403, "SERVICE_TOKEN_NOT_ALLOWED", "Not on public routes"))
                elif stub.models is None:
                    self._send(503, _envelope(503, "SERVICE_UNAVAILABLE", "Models unavailable"))
                else:
                    default = stub.models[0] if stub.models else ""
                    body = ModelList(provider="stub", default=default, models=stub.models)
                    self._send(200, body.model_dump_json().encode())

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                cancel = CANCEL_PATH.match(self.path)
                if cancel:
                    with stub._lock:
                        stub.cancels.append({"headers": dict(self.headers), "message_id": cancel[1]})
                    self._send(200, CancelAccepted(message_id=cancel[1]).model_dump_json().encode())
                    return
                if self.path != GENERATIONS_PATH:
                    self._send(404, b'{"code": "NOT_FOUND"}')
                    return
                request = GenerationRequest.model_validate_json(raw)
                if stub.record:
                    with stub._lock:
                        stub.requests.append({"headers": dict(self.headers), "body": request})
                if stub.mode == "refuse":
                    self._send(503, b'{"code": "SERVICE_UNAVAILABLE"}')
                elif stub.mode == "slow":
                    threading.Event().wait(stub.slow_seconds)
                    self._send(
                        202,
                        GenerationAccepted(message_id=request.assistant_message_id)
                        .model_dump_json()
                        .encode(),
                    )
                elif stub.mode == "garbage":
                    self._send(202, b"<html>not json</html>")
                elif stub.mode == "invalid_model":
                    listed = ", ".join(stub.models or [])
                    self._send(
                        400,
                        _envelope(
                            400,
                            "INVALID_MODEL",
                            f"Unknown model. Available: {listed}.",
                            {"model": [f"Must be one of: {listed}."]},
                        ),
                    )
                else:
                    body = GenerationAccepted(message_id=request.assistant_message_id).model_dump_json()
                    self._send(202, body.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def last(self) -> dict:
        return self.requests[-1]

    def down(self) -> None:
        """Stop serving, close the port and drop kept-alive connections: every
        request fails from now on (connects are refused)."""
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
