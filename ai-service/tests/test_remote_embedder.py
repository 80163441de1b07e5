"""EMBEDDINGS_BASE_URL: the OpenAI-compatible embeddings client against a
local HTTP server speaking that wire format."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from gaji_ai.embeddings import DENSE_SIZE, RemoteEmbedder


@pytest.fixture
def embeddings_server():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            size = DENSE_SIZE if body["model"] != "wrong-size" else 3
            # Out of order on purpose: clients must sort by index.
            data = [
                {"index": i, "embedding": [float(i)] * size} for i in range(len(body["input"]))
            ][::-1]
            raw = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_remote_embeddings_in_order_with_the_key(embeddings_server):
    url, seen = embeddings_server
    embedder = RemoteEmbedder(base_url=url, api_key="sk-test", model="mini", timeout=5)
    vectors = embedder.embed(["a", "b", "c"])
    assert [v[0] for v in vectors] == [0.0, 1.0, 2.0] and all(len(v) == DENSE_SIZE for v in vectors)
    assert seen == [
        {
            "path": "/v1/embeddings",
            "auth": "Bearer sk-test",
            "body": {"model": "mini", "input": ["a", "b", "c"]},
        }
    ]


def test_wrong_dimensions_are_refused(embeddings_server):
    url, _ = embeddings_server
    with pytest.raises(ValueError, match="384"):
        RemoteEmbedder(base_url=url, api_key=None, model="wrong-size", timeout=5).embed(["a"])


def test_unreachable_endpoint_raises():
    with pytest.raises(httpx.HTTPError):
        RemoteEmbedder(base_url="http://127.0.0.1:1/v1", api_key=None, model="m", timeout=1).embed(
            ["a"]
        )
