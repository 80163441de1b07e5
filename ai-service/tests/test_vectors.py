"""The vector store: embedded Qdrant Edge (real, in a tmp folder) or a Qdrant server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gaji_ai.vectors.store import (
    COLLECTIONS,
    EdgeVectorStore,
    ServerVectorStore,
    VectorStoreError,
    open_vector_store,
)

from support import build_settings, unused_url


async def test_edge_store_opens_pings_and_closes(tmp_path):
    store = await EdgeVectorStore.open(tmp_path / "qdrant")
    await store.ping()
    for collection in COLLECTIONS:
        assert (tmp_path / "qdrant" / collection / "edge_config.json").exists()
    await store.close()
    with pytest.raises(VectorStoreError):
        await store.ping()
    await store.close()  # closing twice is harmless


async def test_edge_store_reopens_existing_storage(tmp_path):
    first = await EdgeVectorStore.open(tmp_path)
    await first.close()
    second = await EdgeVectorStore.open(tmp_path)
    await second.ping()
    await second.close()


async def test_edge_storage_is_owned_by_one_opener(tmp_path):
    owner = await EdgeVectorStore.open(tmp_path)
    try:
        with pytest.raises(VectorStoreError, match="QDRANT_URL"):
            await EdgeVectorStore.open(tmp_path)
    finally:
        await owner.close()


async def test_factory_picks_edge_without_qdrant_url(tmp_path):
    store = await open_vector_store(build_settings(qdrant_url=None, qdrant_path=tmp_path))
    try:
        assert isinstance(store, EdgeVectorStore)
    finally:
        await store.close()


class _QdrantStub:
    """Answers `GET /collections` like a Qdrant server and records the api-key."""

    def __init__(self) -> None:
        self.api_keys: list[str | None] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.api_keys.append(self.headers.get("api-key"))
                body: dict[str, Any] = {"result": {"collections": []}, "status": "ok", "time": 0}
                data = json.dumps(body).encode()
                status = 200 if self.path.startswith("/collections") else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def qdrant_stub() -> Iterator[_QdrantStub]:
    stub = _QdrantStub()
    thread = threading.Thread(target=stub.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()
    thread.join()


async def test_factory_picks_server_with_qdrant_url_and_sends_api_key(qdrant_stub, tmp_path):
    settings = build_settings(
        qdrant_url=qdrant_stub.url, qdrant_api_key="k-123", qdrant_path=tmp_path / "unused"
    )
    with pytest.warns(UserWarning, match="insecure"):
        store = await open_vector_store(settings)
    try:
        assert isinstance(store, ServerVectorStore)
        await store.ping()
    finally:
        await store.close()
    assert qdrant_stub.api_keys == ["k-123"]
    assert not (tmp_path / "unused").exists()


async def test_unreachable_server_ping_raises():
    store = ServerVectorStore.connect(unused_url(), api_key=None, timeout_seconds=1)
    try:
        with pytest.raises(VectorStoreError):
            await store.ping()
    finally:
        await store.close()
