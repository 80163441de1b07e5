"""The security matrix of the ai service (OWASP API Top 10: API1/API2/API5/API8).

- Every route is classified (public-anonymous / user / staff / internal) in
  ROUTES: a route added without a classification fails the inventory test.
- Every user, staff and internal route refuses the wrong caller before doing
  any work: nothing reaches core (beyond the JWKS fetch that verifies a user
  token), Celery, or the test's Redis keys.
- Token attacks on a user route and a staff route (test_jwt.py proves the
  verifier on /api/ai/me; here the routes that do work, plus stream tickets,
  header injection and oversized junk).
- Ingestion path traversal beyond test_ingest_api.py: deep relative paths,
  symlinked folders and chains, absolute paths, FIFOs, upload file names.
- Secrets (service token, LLM/Qdrant/embeddings keys) never in the OpenAPI
  document, public answers, error envelopes or logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from fastapi.routing import APIRoute
from redis.asyncio import Redis

from gaji_ai.main import create_app
from gaji_ai.taskqueue import celery_app

from support import SERVICE_AUTH, SERVICE_TOKEN, TEST_REDIS_URL, SigningKey, bearer, running

PUBLIC, USER, STAFF, INTERNAL = "public-anonymous", "user", "staff", "internal"
INTERNAL_PREFIX = "/api/ai/internal/"
JWKS_PATH = "/api/v1/auth/jwks.json"
ENVELOPE_KEYS = {"timestamp", "status", "error", "message", "path", "trace_id", "code"}

# Every APIRoute of the app, by (method, path template). Add new routes here.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/api/ai/models"): PUBLIC,
    ("GET", "/api/ai/me"): USER,
    ("GET", "/api/ai/novels/{novel_id}/characters"): USER,
    ("GET", "/api/ai/novels/{novel_id}/vectors"): USER,
    ("GET", "/api/ai/characters/{vectordb_id}"): USER,
    ("POST", "/api/ai/search/passages"): USER,
    ("GET", "/api/ai/conversations/{conversation_id}/stream"): USER,
    ("POST", "/api/ai/conversations/{conversation_id}/messages"): USER,
    ("GET", "/api/ai/notifications/stream"): USER,
    ("POST", "/api/ai/novels/ingest"): STAFF,
    ("GET", "/api/ai/novels/jobs"): STAFF,
    # Its creator and staff (test_ingest_api.py); anyone else: 404, as for no such job.
    ("GET", "/api/ai/novels/status/{job_id}"): USER,
    ("POST", "/api/ai/characters/extract"): STAFF,
    ("POST", "/api/ai/llm/test"): STAFF,
    ("GET", "/api/ai/internal/health"): INTERNAL,
    ("POST", "/api/ai/internal/echo"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/upsert"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/delete"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/count"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/search"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/get"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/scroll"): INTERNAL,
    ("POST", "/api/ai/internal/vectors/{collection}/optimize"): INTERNAL,
    ("POST", "/api/ai/internal/search/passages"): INTERNAL,
    ("DELETE", "/api/ai/internal/novels/{novel_id}/vectors"): INTERNAL,
    ("GET", "/api/ai/internal/novels/{novel_id}/cast"): INTERNAL,
    ("GET", "/api/ai/internal/novels/{novel_id}/lore"): INTERNAL,
    # A reader's import, sent by core (test_reader_ingest.py).
    ("POST", "/api/ai/internal/novels/{novel_id}/ingest"): INTERNAL,
    ("POST", "/api/ai/internal/generations"): INTERNAL,
    ("POST", "/api/ai/internal/generations/{message_id}/cancel"): INTERNAL,
}
# Routes that are not APIRoutes (no dependencies of ours): all anonymous, read only.
OTHER_ROUTES = {"/openapi.json", "/docs-assets"}

NOVEL = str(uuid.uuid4())
POINT = str(uuid.uuid4())  # point ids are UUIDs
DENSE = [0.0] * 384
GENERATION = {
    "conversation_id": str(uuid.uuid4()),
    "user_id": str(uuid.uuid4()),
    "user_message_id": str(uuid.uuid4()),
    "assistant_message_id": str(uuid.uuid4()),
    "user_message": "hi",
    "scenario": {
        "id": str(uuid.uuid4()),
        "base_story": "A Tale",
        "scenario_type": "character_change",
        "parameters": {},
    },
}
# A body that would pass validation, so only the caller decides the answer.
BODIES: dict[str, Any] = {
    "/api/ai/search/passages": {"query": "who is she", "novel_id": NOVEL},
    "/api/ai/conversations/{conversation_id}/messages": {"content": "hello"},
    "/api/ai/novels/ingest": {"novel_file_path": "tale.txt"},
    "/api/ai/characters/extract": {"novel_id": NOVEL},
    "/api/ai/llm/test": {"prompt": "hi"},
    "/api/ai/internal/echo": {"message": "hi"},
    "/api/ai/internal/vectors/{collection}/upsert": {
        "points": [{"id": POINT, "dense": DENSE, "payload": {"novel_id": NOVEL}}]
    },
    "/api/ai/internal/vectors/{collection}/delete": {"novel_id": NOVEL},
    "/api/ai/internal/vectors/{collection}/count": {"novel_id": NOVEL},
    "/api/ai/internal/vectors/{collection}/search": {"dense": DENSE, "novel_id": NOVEL},
    "/api/ai/internal/vectors/{collection}/get": {"id": POINT},
    "/api/ai/internal/vectors/{collection}/scroll": {"novel_id": NOVEL},
    "/api/ai/internal/search/passages": {"query": "who is she", "novel_id": NOVEL},
    "/api/ai/internal/novels/{novel_id}/ingest": {
        "text": "Chapter 1\n\n" + "A quiet tale. " * 50,
        "created_by": str(uuid.uuid4()),
        "title": "A Tale",
    },
    "/api/ai/internal/generations": GENERATION,
}
QUERIES: dict[str, dict[str, str]] = {
    "/api/ai/conversations/{conversation_id}/stream": {"message_id": str(uuid.uuid4())},
}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(method, full path, route) of every APIRoute, included routers flattened.

    FastAPI >= 0.16x keeps included routers lazy (`app.routes` shows one
    `_IncludedRouter` per include); `iter_route_contexts` walks them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        contexts = [(route, route) for route in app.routes]
    else:
        contexts = [(ctx.original_route, ctx) for ctx in iter_route_contexts(app.routes)]
    for original, effective in contexts:
        if isinstance(original, APIRoute):
            for method in sorted(effective.methods or ()):
                yield method, effective.path, original
        else:
            yield "*", getattr(effective, "path", None) or "", original


def concrete(path: str) -> str:
    """A request path for a template: uuid4 for ids, a real collection name."""
    values = {"collection": "novel_passages", "job_id": uuid.uuid4().hex}
    while "{" in path:
        name = path[path.index("{") + 1 : path.index("}")]
        path = path.replace("{" + name + "}", values.get(name, str(uuid.uuid4())))
    return path


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.request.url, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= ENVELOPE_KEYS, body
    assert body["status"] == status and body["code"] == code, body
    assert body["trace_id"] == response.headers["x-request-id"]
    return body


def no_echo(response, *secrets: str) -> None:
    wire = response.text + json.dumps(dict(response.headers))
    for secret in secrets:
        assert secret not in wire, "the answer echoes a secret or the token"


@pytest.fixture
def sent(monkeypatch) -> list:
    """Every Celery message the API would send."""
    calls: list = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls


async def keys_written(prefix: str) -> list[str]:
    """The test's Redis keys other than rate-limit windows: the trace of work."""
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}:*")]
    finally:
        await redis.aclose()
    return [key for key in keys if not key.startswith(f"{prefix}:rl:")]


def work_reaching_core(core_stub) -> list[str]:
    return [path for path, _ in core_stub.requests if path != JWKS_PATH]


def ticket(key: SigningKey, **overrides: Any) -> str:
    return key.token(
        aud="gaji-stream",
        token_type="stream_ticket",
        conversation_id=str(uuid.uuid4()),
        message_id=str(uuid.uuid4()),
        **overrides,
    )


# --- 1. route inventory --------------------------------------------------------


def test_every_route_is_classified(test_settings):
    app = create_app(test_settings())
    found = {(method, path) for method, path, _ in app_routes(app) if method != "*"}
    others = {path for method, path, _ in app_routes(app) if method == "*"}
    assert len(found) > 20, "route enumeration found too little: FastAPI changed?"
    unclassified = found - set(ROUTES)
    assert not unclassified, f"classify these routes in ROUTES: {sorted(unclassified)}"
    stale = set(ROUTES) - found
    assert not stale, f"ROUTES lists routes the app no longer has: {sorted(stale)}"
    assert others == OTHER_ROUTES, "a non-API route appeared: classify it"
    for (method, path), kind in ROUTES.items():
        assert (kind == INTERNAL) == path.startswith(INTERNAL_PREFIX), (method, path, kind)


async def test_public_routes_answer_anonymously(client):
    """What is classified public really is, and nothing else is: the matrix
    below proves every other route refuses an anonymous caller."""
    for method, path in (key for key, kind in ROUTES.items() if kind == PUBLIC):
        response = await client.request(method, concrete(path))
        assert response.status_code in (200, 503), (path, response.text[:200])  # readyz may 503
    for path in OTHER_ROUTES:
        probe = "/docs-assets/swagger-ui.css" if path == "/docs-assets" else path
        assert (await client.get(probe)).status_code == 200


async def test_public_api_route_still_refuses_the_service_token(client):
    """/api/ai/models needs no login but sits behind the public prefix: the
    service token is refused there too (a leaked token is useless on it)."""
    response = await client.get("/api/ai/models", headers=SERVICE_AUTH)
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")


# --- 2. the caller matrix ---------------------------------------------------------

GUARDED = sorted(key for key, kind in ROUTES.items() if kind in (USER, STAFF))
INTERNAL_ROUTES = sorted(key for key, kind in ROUTES.items() if kind == INTERNAL)


def _call(client, method: str, template: str, headers: dict[str, str], body: Any = None):
    body = BODIES.get(template) if body is None else body
    return client.request(
        method,
        concrete(template),
        params=QUERIES.get(template),
        json=body,
        headers=headers,
    )


@pytest.mark.parametrize(("method", "template"), GUARDED, ids=[f"{m} {p}" for m, p in GUARDED])
async def test_user_and_staff_routes_refuse_the_wrong_caller(
    client, published_key, core_stub, sent, redis_prefix, method, template
):
    kind = ROUTES[(method, template)]
    anonymous = await _call(client, method, template, {})
    assert_envelope(anonymous, 401, "NOT_AUTHENTICATED")
    assert anonymous.headers.get("www-authenticate") == "Bearer"
    if method == "POST":  # auth is decided before the body is validated
        probe = await _call(client, method, template, {}, body={"unexpected": ["x"] * 3})
        assert_envelope(probe, 401, "NOT_AUTHENTICATED")

    service = await _call(client, method, template, SERVICE_AUTH)
    assert_envelope(service, 403, "SERVICE_TOKEN_NOT_ALLOWED")
    no_echo(service, SERVICE_TOKEN)

    if kind == STAFF:
        reader = published_key.token(is_staff=False)
        refused = await _call(client, method, template, bearer(reader))
        assert_envelope(refused, 403, "PERMISSION_DENIED")
        no_echo(refused, reader)

    assert sent == []
    assert work_reaching_core(core_stub) == []
    assert await keys_written(redis_prefix) == []


@pytest.mark.parametrize(
    ("method", "template"), INTERNAL_ROUTES, ids=[f"{m} {p}" for m, p in INTERNAL_ROUTES]
)
async def test_internal_routes_take_only_the_service_token(
    client, published_key, core_stub, sent, redis_prefix, method, template
):
    anonymous = await _call(client, method, template, {})
    assert_envelope(anonymous, 401, "NOT_AUTHENTICATED")
    user_tokens = {
        "reader": published_key.token(),
        "staff": published_key.token(is_staff=True),  # staff is a user, not core
        "stream ticket": ticket(published_key),
        "service token prefix": SERVICE_TOKEN[:-1],
        "service token in another case": SERVICE_TOKEN.upper(),
    }
    for label, token in user_tokens.items():
        response = await _call(client, method, template, bearer(token))
        assert_envelope(response, 403, "SERVICE_TOKEN_REQUIRED")
        no_echo(response, token, SERVICE_TOKEN)
        assert response.status_code == 403, label
    assert sent == []
    assert core_stub.requests == []  # a user token is not even verified here
    assert await keys_written(redis_prefix) == []


# --- 3. token attacks on a user route and a staff route -----------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _alg_none(key: SigningKey, foreign: SigningKey, core_url: str) -> str:
    return _unsigned({"alg": "none", "typ": "JWT", "kid": key.kid}, key.claims(is_staff=True)) + "."


def _tampered(key: SigningKey, foreign: SigningKey, core_url: str) -> str:
    header, _, signature = key.token().split(".")
    forged = _b64(json.dumps(key.claims(is_staff=True, username="admin")).encode())
    return f"{header}.{forged}.{signature}"


def _hs256_public_pem(key: SigningKey, foreign: SigningKey, core_url: str) -> str:
    pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "kid": key.kid}, key.claims(is_staff=True))
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _jku_injection(key: SigningKey, foreign: SigningKey, core_url: str) -> str:
    """A forger's key, with headers pointing at the forger's JWKS: never fetched."""
    import jwt

    headers = {"kid": foreign.kid, "jku": f"{core_url}/attacker/jwks.json", "jwk": foreign.jwk()}
    return jwt.encode(
        key.claims(is_staff=True), foreign.private_key, algorithm="RS256", headers=headers
    )


def _expired(key: SigningKey, foreign: SigningKey, core_url: str) -> str:
    now = int(time.time())
    return key.token(is_staff=True, iat=now - 7200, exp=now - 3600)


ATTACKS = {
    "alg_none": _alg_none,
    "foreign_key_same_kid": lambda k, f, u: f.token(is_staff=True),
    "expired": _expired,
    "not_yet_valid": lambda k, f, u: k.token(is_staff=True, nbf=int(time.time()) + 3600),
    "tampered_payload": _tampered,
    "hs256_with_public_key": _hs256_public_pem,
    "jku_jwk_header_injection": _jku_injection,
    "wrong_audience": lambda k, f, u: k.token(is_staff=True, aud="gaji-admin"),
    "wrong_issuer": lambda k, f, u: k.token(is_staff=True, iss="https://evil.example"),
    "refresh_token": lambda k, f, u: k.token(is_staff=True, token_type="refresh"),
    "stream_ticket_as_access": lambda k, f, u: ticket(k, is_staff=True),
    "kid_path_traversal": lambda k, f, u: SigningKey(k.private_key, "../../../../etc/passwd").token(
        is_staff=True
    ),
    "junk_10kb": lambda k, f, u: "x" * 10_240,
    "junk_10kb_three_segments": lambda k, f, u: ".".join(["eyJ" + "A" * 3410] * 3),
}
ATTACKED_ROUTES = {
    "user": ("GET", "/api/ai/novels/{novel_id}/characters"),
    "staff": ("POST", "/api/ai/novels/ingest"),
}


@pytest.mark.parametrize("route", ATTACKED_ROUTES)
async def test_token_attacks_are_401(
    client, published_key, foreign_key, core_stub, sent, redis_prefix, route
):
    method, template = ATTACKED_ROUTES[route]
    for attack, make in ATTACKS.items():
        token = make(published_key, foreign_key, core_stub.url)
        response = await _call(client, method, template, bearer(token))
        assert response.status_code == 401, (attack, response.text[:300])
        assert_envelope(response, 401, "TOKEN_INVALID")
        assert response.headers.get("www-authenticate") == "Bearer", attack
        no_echo(response, token, token[:24], token[-24:])
    assert sent == []
    assert work_reaching_core(core_stub) == []  # nor the jku URL: only core's JWKS
    assert await keys_written(redis_prefix) == []


def notification_ticket(key: SigningKey, **overrides: Any) -> str:
    user = str(uuid.uuid4())
    claims = {
        "aud": "gaji-notifications",
        "token_type": "notification_ticket",
        "sub": user,
        "stream": f"gaji:core:notify:{user}",
        **overrides,
    }
    return key.token(**claims)


NOTIFICATION_TICKET_ATTACKS = {
    # Junk over 4096 characters is refused by the query's limit (400) first.
    **{name: make for name, make in ATTACKS.items() if not name.startswith("junk")},
    "junk_4kb": lambda k, f, u: "x" * 4096,
    "expired_ticket": lambda k, f, u: notification_ticket(
        k, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600
    ),
    "ticket_signed_by_a_forger": lambda k, f, u: notification_ticket(f),
    "answer_stream_ticket": lambda k, f, u: ticket(k),
    "ticket_with_the_answer_audience": lambda k, f, u: notification_ticket(k, aud="gaji-stream"),
    "ticket_with_the_access_audience": lambda k, f, u: notification_ticket(k, aud="gaji"),
    "ticket_of_another_type": lambda k, f, u: notification_ticket(k, token_type="stream_ticket"),
    "ticket_for_another_readers_stream": lambda k, f, u: notification_ticket(
        k, stream=f"gaji:core:notify:{uuid.uuid4()}"
    ),
    "ticket_for_any_key": lambda k, f, u: notification_ticket(k, stream="gaji:core:anything"),
}


async def test_the_notification_stream_takes_only_a_notification_ticket(
    client, published_key, foreign_key, core_stub, sent, redis_prefix
):
    """Tickets go in the query (an EventSource sends no headers): every forged,
    expired or other token there is 401, and an access token in the header
    does not open it either."""
    url = "/api/ai/notifications/stream"
    for attack, make in NOTIFICATION_TICKET_ATTACKS.items():
        token = make(published_key, foreign_key, core_stub.url)
        response = await client.get(url, params={"ticket": token})
        assert response.status_code == 401, (attack, response.text[:300])
        assert_envelope(response, 401, "TOKEN_INVALID")
        assert response.headers.get("www-authenticate") == "Bearer", attack
        no_echo(response, token, token[:24], token[-24:])
    header_only = await client.get(url, headers=bearer(published_key.token()))
    assert_envelope(header_only, 401, "NOT_AUTHENTICATED")
    too_long = await client.get(url, params={"ticket": "x" * 4097})
    assert_envelope(too_long, 400, "VALIDATION_ERROR")
    assert sent == []
    assert work_reaching_core(core_stub) == []
    assert await keys_written(redis_prefix) == []


@pytest.mark.parametrize("route", ATTACKED_ROUTES)
async def test_the_same_routes_accept_a_genuine_token(client, published_key, sent, route):
    """The control: the attacks fail because of the token, not the request."""
    method, template = ATTACKED_ROUTES[route]
    token = published_key.token(is_staff=True)
    response = await _call(client, method, template, bearer(token))
    # No cast for a random novel; no tale.txt in the default data folder.
    assert response.status_code in (400, 404), response.text
    assert sent == []


# --- 4. ingestion path traversal --------------------------------------------------

INGEST = "/api/ai/novels/ingest"


@pytest.fixture
def shelf(tmp_path) -> dict[str, Path]:
    """The data folder and, next to it, a folder it must never read."""
    data = tmp_path / "novels"
    outside = tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    (data / "tale.txt").write_text("Chapter 1\n\n" + "A quiet tale. " * 50)
    (outside / "secret.txt").write_text("TOP SECRET outside the shelf")
    (data / "shelf").symlink_to(outside, target_is_directory=True)  # a symlinked folder
    (data / "hop2.txt").symlink_to(outside / "secret.txt")
    (data / "hop1.txt").symlink_to(data / "hop2.txt")  # a chain that ends outside
    (data / "passwd.txt").symlink_to("/etc/passwd")  # a .txt name, a target elsewhere
    (data / "alias.txt").symlink_to(data / "tale.txt")  # inside -> inside: allowed
    (data / "folder.txt").mkdir()
    os.mkfifo(data / "pipe.txt")  # would block a reader forever
    return {"data": data, "outside": outside}


@pytest.fixture
async def staff_client(make_client, shelf, tmp_path, published_key):
    async with make_client(
        novel_data_dir=shelf["data"], upload_dir=tmp_path / "uploads", max_upload_bytes=4096
    ) as client:
        client.headers.update(bearer(published_key.token(is_staff=True)))
        yield client


def _traversals(shelf: dict[str, Path]) -> list[str]:
    data, outside = shelf["data"], shelf["outside"]
    return [
        "../../etc/passwd",
        "../../../../../../../../../../etc/hostname",
        "./../outside/secret.txt",
        "shelf/secret.txt",
        "hop1.txt",
        "passwd.txt",
        str(outside / "secret.txt"),
        f"{data}/../outside/secret.txt",
        "/proc/self/environ",
        "/dev/zero",
        "folder.txt",
        "pipe.txt",
        "%2e%2e/outside/secret.txt",
        "..\\outside\\secret.txt",
        "~/secret.txt",
        "file:///etc/passwd",
        "a/" * 511 + "x.txt",  # over the 1024-character limit
    ]


async def test_ingest_refuses_every_path_that_leaves_the_data_folder(
    staff_client, shelf, sent, redis_prefix
):
    for path in _traversals(shelf):
        response = await staff_client.post(INGEST, json={"novel_file_path": path})
        # 400 for a path that leaves the folder or is not a .txt/.md; 404 for a
        # name that is no regular file inside it (`%2e%2e/...`, a folder, a pipe).
        expected = {400: "VALIDATION_ERROR", 404: "NOT_FOUND"}
        assert response.status_code in expected, (path, response.text)
        body = assert_envelope(response, response.status_code, expected[response.status_code])
        assert "novel_file_path" in body["details"], (path, body)
        # Neither the server's folders nor the outside file's text are revealed.
        no_echo(response, str(shelf["data"].parent), "TOP SECRET")
    assert sent == []
    assert await keys_written(redis_prefix) == []


async def test_a_symlink_inside_the_folder_to_a_file_inside_is_accepted(
    staff_client, shelf, sent, redis_prefix
):
    """The control: the refusals are about where a path leads, not symlinks."""
    response = await staff_client.post(INGEST, json={"novel_file_path": "alias.txt"})
    assert response.status_code == 202, response.text
    assert len(sent) == 1
    assert str(shelf["data"]) not in response.text  # the message names the file only


async def test_an_uploaded_file_name_cannot_choose_where_it_is_written(
    staff_client, tmp_path, sent
):
    for name in ("../../outside/evil.txt", "/tmp/evil.txt", "..\\..\\evil.md"):
        files = {"file": (name, b"Chapter 1\n\nHello there.", "text/plain")}
        response = await staff_client.post(INGEST, files=files)
        assert response.status_code == 202, response.text
    stored = sorted(p.name for p in (tmp_path / "uploads").iterdir())
    assert len(stored) == 3 and all(len(Path(n).stem) == 32 for n in stored)  # uuid names
    assert not (tmp_path / "outside" / "evil.txt").exists()
    assert not any("evil" in p.name for p in tmp_path.rglob("*"))
    assert len(sent) == 3


# --- 5. secrets never appear ---------------------------------------------------------

SECRETS = {
    "llm_api_key": "sk-live-LLMKEY-0f9e8d7c6b5a4321",
    "qdrant_api_key": "qdrant-KEY-1a2b3c4d5e6f7788",
    "embeddings_api_key": "emb-KEY-99aa88bb77cc66dd",
}


@pytest.fixture
async def secret_client(make_client):
    async with make_client(**SECRETS) as client:
        yield client


async def test_public_documents_carry_no_secret(secret_client):
    for path in ("/openapi.json", "/docs", "/healthz", "/readyz", "/api/ai/models"):
        response = await secret_client.get(path)
        assert response.status_code in (200, 503), path
        no_echo(response, SERVICE_TOKEN, *SECRETS.values())


async def test_refusals_do_not_echo_tokens_or_keys(secret_client, published_key, foreign_key):
    answers = [
        await secret_client.get("/api/ai/me", headers=SERVICE_AUTH),
        await secret_client.get("/api/ai/internal/health", headers=bearer(SERVICE_TOKEN + "x")),
        await secret_client.get("/api/ai/internal/health", headers=bearer(published_key.token())),
        await secret_client.get("/api/ai/me", headers=bearer(foreign_key.token())),
        await secret_client.post("/api/ai/llm/test", headers=bearer(SECRETS["llm_api_key"])),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403, 401, 401]
    for answer in answers:
        no_echo(answer, SERVICE_TOKEN, *SECRETS.values())


async def test_bad_tokens_never_reach_the_logs(test_settings, published_key, foreign_key, caplog):
    app = create_app(test_settings(**SECRETS))
    caplog.set_level(logging.DEBUG)  # after create_app: it configures logging
    forged = foreign_key.token(is_staff=True)
    expired = published_key.token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    reader = published_key.token()
    async with running(app) as client:
        await client.get("/api/ai/me", headers=bearer(forged))
        await client.get("/api/ai/me", headers=bearer(expired))
        await client.get("/api/ai/me", headers=SERVICE_AUTH)
        await client.get("/api/ai/internal/health", headers=bearer(reader))
        await client.get("/api/ai/internal/health", headers=bearer(SERVICE_TOKEN + "x"))
    assert any(r.getMessage().startswith("token refused") for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + " " + json.dumps(vars(record), default=str)
        for secret in (forged, expired, reader, SERVICE_TOKEN, *SECRETS.values()):
            assert secret not in text, f"{record.name} logged a token or key"
            assert secret.split(".")[-1] not in text  # nor a signature
