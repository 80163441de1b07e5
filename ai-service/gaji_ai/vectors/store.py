"""Where vectors live: Qdrant Edge embedded in this process, or a Qdrant server.

Only the lifecycle is here for now (open, ping, close); collections come with
ingestion. Qdrant Edge opens a storage folder for one process only (its WAL is
locked), so with several ai processes set QDRANT_URL to a shared server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from qdrant_client import AsyncQdrantClient
from qdrant_edge import Distance, EdgeConfig, EdgeShard, EdgeVectorParams

from gaji_ai.config import Settings


class VectorStoreError(Exception):
    """The vector store cannot be opened or does not answer."""


class VectorStore(Protocol):
    async def ping(self) -> None:
        """Return when the store answers; raise when it does not."""

    async def close(self) -> None: ...


class EdgeVectorStore:
    """Qdrant Edge shards under one storage folder, one shard per collection.

    A tiny `_health` shard is opened with the store: it proves the engine and
    the folder work, and holding it open claims the folder for this process.
    """

    HEALTH_SHARD = "_health"

    def __init__(self, path: Path, health_shard: EdgeShard) -> None:
        self.path = path
        self._health = health_shard
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> EdgeVectorStore:
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: Path) -> EdgeVectorStore:
        shard_path = path / cls.HEALTH_SHARD
        try:
            path.mkdir(parents=True, exist_ok=True)
            if (shard_path / "edge_config.json").exists():
                shard = EdgeShard.load(str(shard_path))
            else:
                config = EdgeConfig(vectors=EdgeVectorParams(size=1, distance=Distance.Dot))
                shard = EdgeShard.create(str(shard_path), config)
        except Exception as exc:  # the bindings raise bare Exception
            raise VectorStoreError(
                f"cannot open Qdrant Edge storage at {path} (is another process using it? "
                "then set QDRANT_URL to a shared Qdrant server)"
            ) from exc
        return cls(path, shard)

    async def ping(self) -> None:
        if self._closed:
            raise VectorStoreError("vector store is closed")
        try:
            await asyncio.to_thread(self._health.info)
        except Exception as exc:
            raise VectorStoreError("Qdrant Edge does not answer") from exc

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._health.close)


class ServerVectorStore:
    """A Qdrant server (or cluster) shared by every ai process, via qdrant-client."""

    def __init__(self, client: AsyncQdrantClient) -> None:
        self._client = client

    @classmethod
    def connect(cls, url: str, *, api_key: str | None, timeout_seconds: float) -> ServerVectorStore:
        # No version check at construction: it would call the server from a
        # background thread at import time; /readyz pings instead.
        client = AsyncQdrantClient(
            url=url,
            api_key=api_key,
            timeout=max(1, round(timeout_seconds)),
            check_compatibility=False,
        )
        return cls(client)

    async def ping(self) -> None:
        try:
            await self._client.get_collections()
        except Exception as exc:  # httpx, grpc and qdrant errors alike
            raise VectorStoreError("Qdrant server does not answer") from exc

    async def close(self) -> None:
        await self._client.close()


async def open_vector_store(settings: Settings) -> VectorStore:
    """A Qdrant server when QDRANT_URL is set, else the embedded Qdrant Edge."""
    vectors = settings.vectors
    if vectors.qdrant_url:
        return ServerVectorStore.connect(
            vectors.qdrant_url,
            api_key=vectors.qdrant_api_key,
            timeout_seconds=settings.app.http_timeout_seconds,
        )
    return await EdgeVectorStore.open(vectors.qdrant_path)
