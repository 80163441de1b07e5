"""Dependencies shared by every domain: the clients the lifespan opened, and
the JSON content-type check of JSON endpoints."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email.message import Message
from typing import Annotated

from fastapi import Depends, Request
from gaji_contracts.errors import ErrorCode
from redis.asyncio import Redis

from gaji_ai.clients.core import CoreClient
from gaji_ai.common.errors import AppError
from gaji_ai.config import Settings
from gaji_ai.vectors.store import VectorStore, VectorStoreError


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_redis(request: Request) -> Redis:
    return request.app.state.redis


def get_vector_store(request: Request) -> VectorStore:
    return request.app.state.vector_store


def get_core_client(request: Request) -> CoreClient:
    return request.app.state.core_client


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RedisDep = Annotated[Redis, Depends(get_redis)]
VectorStoreDep = Annotated[VectorStore, Depends(get_vector_store)]
CoreClientDep = Annotated[CoreClient, Depends(get_core_client)]


def is_json_content_type(value: str | None) -> bool:
    if not value:
        return False
    message = Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def require_json_body(request: Request) -> None:
    """415 unless the request says its body is JSON.

    FastAPI would otherwise validate a text/plain body as raw bytes and answer
    a confusing validation error. Dependencies run before body validation."""
    if not is_json_content_type(request.headers.get("content-type")):
        raise AppError(
            415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"
        )


JsonBody = Depends(require_json_body)


@contextlib.contextmanager
def store_unavailable_as_503() -> Iterator[None]:
    """A vector store outage is a 503 envelope, never a 500."""
    try:
        yield
    except VectorStoreError as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "The vector store is unavailable."
        ) from exc
