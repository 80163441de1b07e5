"""Test helpers: a real HTTP server standing in for core, signing keys, settings."""

from __future__ import annotations

import inspect
import json
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from gaji_contracts.auth import JWT_AUDIENCE, JWT_ISSUER

from gaji_ai.config import (
    AppSettings,
    AuthSettings,
    CoreSettings,
    EmbeddingSettings,
    IngestionSettings,
    LLMSettings,
    RateLimitSettings,
    RedisSettings,
    Settings,
    VectorSettings,
)

SERVICE_TOKEN = "test-service-token-0123456789abcdef"
SERVICE_AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
TEST_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
CLIENT_IP = "10.1.2.3"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- a stand-in for core, over real HTTP -------------------------------------


@dataclass
class CoreStub:
    """Serves `/api/v1/auth/jwks.json` and `/api/internal/health` like core does,
    and records the headers of every request it gets."""

    service_token: str = SERVICE_TOKEN
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    health_status: int = 200
    jwks_status: int = 200
    health_body: dict[str, Any] | None = None  # answered instead of a valid ServiceHealth
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    # Extra routes: path -> handler(method, body or None) -> (status, json body[, headers]).
    routes: dict[str, Any] = field(default_factory=dict)
    # GET /api/internal/novels/{id}/access: novel id -> NovelAccess body, or an
    # int status to answer instead. A novel not listed is a catalogue novel
    # (public, no owner) unless `novels_public_by_default` is off (then 404).
    novel_access: dict[str, Any] = field(default_factory=dict)
    novels_public_by_default: bool = True

    def requests_to(self, path: str) -> list[dict[str, str]]:
        return [headers for seen, headers in self.requests if seen == path]


def _handler_for(stub: CoreStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _route(self, method: str) -> bool:
            path, _, raw_query = self.path.partition("?")
            handler = stub.routes.get(path)
            if handler is None:
                return False
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if len(inspect.signature(handler).parameters) == 3:  # wants the query too
                query = dict(urllib.parse.parse_qsl(raw_query))
                self._json(*handler(method, body, query))
            else:
                self._json(*handler(method, body))
            return True

        def do_PATCH(self) -> None:
            stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if not self._route("PATCH"):
                self._json(404, {"code": "NOT_FOUND"})

        def do_POST(self) -> None:
            stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if not self._route("POST"):
                self._json(404, {"code": "NOT_FOUND"})

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            stub.requests.append((self.path, headers))
            if self._route("GET"):
                return
            if self.path == "/api/v1/auth/jwks.json":
                self._json(stub.jwks_status, stub.jwks)
            elif access := ACCESS_PATH.fullmatch(self.path):
                self._json(*_novel_access(stub, access.group(1)))
            elif self.path == "/api/internal/health":
                if headers.get("authorization") != f"Bearer {stub.service_token}":
                    self._json(403, {"code": "SERVICE_TOKEN_REQUIRED"})
                elif stub.health_status != 200:
                    self._json(stub.health_status, {"code": "INTERNAL_ERROR"})
                elif stub.health_body is not None:
                    self._json(200, stub.health_body)
                else:
                    self._json(200, _core_health(headers.get("x-request-id", "-")))
            else:
                self._json(404, {"code": "NOT_FOUND"})

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


ACCESS_PATH = re.compile(r"/api/internal/novels/([^/?]+)/access")


def _novel_access(stub: CoreStub, novel_id: str) -> tuple[int, Any]:
    answer = stub.novel_access.get(novel_id)
    if isinstance(answer, int):
        return answer, {"code": "INTERNAL_ERROR" if answer >= 500 else "NOT_FOUND"}
    if answer is None:
        if not stub.novels_public_by_default:
            return 404, {"code": "NOT_FOUND"}
        answer = {"id": novel_id, "owner_id": None, "visibility": "public"}
    return 200, answer


def _core_health(request_id: str) -> dict[str, Any]:
    return {
        "service": "core",
        "status": "ok",
        "version": "test",
        "time": datetime.now(UTC).isoformat(),
        "request_id": request_id,
    }


@contextmanager
def serving(stub: CoreStub) -> Iterator[CoreStub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(stub))
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def unused_url() -> str:
    """An http URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- signing keys and tokens --------------------------------------------------


@dataclass
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)

    def jwk(self) -> dict[str, Any]:
        data = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(uuid.uuid4()),
            "username": "reader",
            "is_staff": False,
            "token_type": "access",
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return claims

    def token(self, **overrides: Any) -> str:
        return jwt.encode(
            self.claims(**overrides), self.private_key, algorithm="RS256", headers={"kid": self.kid}
        )


# --- settings and the running app ---------------------------------------------

_SECTIONS: dict[str, type] = {
    "app": AppSettings,
    "auth": AuthSettings,
    "core": CoreSettings,
    "redis": RedisSettings,
    "vectors": VectorSettings,
    "rate_limit": RateLimitSettings,
    "embeddings": EmbeddingSettings,
    "ingestion": IngestionSettings,
    "llm": LLMSettings,
}


def build_settings(**fields: Any) -> Settings:
    """Settings from flat field names (`max_body_bytes=10`), each routed to its section."""
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for key, value in fields.items():
        owner = next((name for name, cls in _SECTIONS.items() if key in cls.model_fields), None)
        if owner is None:
            raise KeyError(f"no setting named {key}")
        sections[owner][key] = value
    return Settings(**{name: _SECTIONS[name](**values) for name, values in sections.items()})


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, and a client talking ASGI to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ai.test") as client:
            yield client
