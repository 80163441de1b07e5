"""A stand-in for the ai service's internal generation endpoint: a real HTTP
server on a free local port (not a mock object), so core's real client,
timeouts and error handling are exercised. Used by the conversation tests
and by the send-message benchmark (where it isolates core's own cost).

Modes: "accept" (202 GenerationAccepted), "refuse" (503 envelope), "slow"
(sleeps past core's enqueue timeout), "garbage" (202 with a body that is not
the contract). `down()` closes the port, so connects are refused.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gaji_contracts.conversations import GENERATIONS_PATH, GenerationAccepted, GenerationRequest


class StubAi:
    def __init__(self, *, record: bool = True) -> None:
        self.mode = "accept"
        self.slow_seconds = 5.0
        self.record = record
        self.requests: list[dict] = []  # {"headers": {...}, "body": GenerationRequest}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered: headers and body leave in one send (flushed after each
            # request), not two, which would wait ~40 ms on a delayed ACK.
            wbufsize = 1 << 16

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
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
        """Stop serving and close the port: connects are refused from now on."""
        self.server.shutdown()
        self.server.server_close()
