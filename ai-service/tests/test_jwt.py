"""User tokens are verified with core's public key, fetched as JWKS over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from gaji_contracts.auth import WhoAmI

from gaji_ai.auth.dependencies import StaffUser
from gaji_ai.auth.jwks import JwksUnavailable, JwksVerifier, TokenInvalid
from gaji_ai.main import create_app

from support import SigningKey, bearer, running, unused_url


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def alg_none_token(key: SigningKey) -> str:
    return _segments({"alg": "none", "typ": "JWT", "kid": key.kid}, key.claims()) + "."


def hs256_with_public_pem(key: SigningKey) -> str:
    """The classic confusion attack: HMAC keyed with the RSA public key."""
    pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _segments({"alg": "HS256", "typ": "JWT", "kid": key.kid}, key.claims())
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def without_claim(key: SigningKey, claim: str) -> str:
    claims = key.claims()
    claims.pop(claim)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def tampered(key: SigningKey) -> str:
    header, _, signature = key.token().split(".")
    forged = _b64(json.dumps(key.claims(is_staff=True, username="admin")).encode())
    return f"{header}.{forged}.{signature}"


async def test_valid_token_is_accepted(client, published_key):
    token = published_key.token(sub="6f1c3a52-1b36-4c8e-9a55-2d2a8f0e4a10", username="ana")
    response = await client.get("/api/ai/me", headers=bearer(token))
    assert response.status_code == 200
    assert WhoAmI.model_validate(response.json()) == WhoAmI(
        user_id="6f1c3a52-1b36-4c8e-9a55-2d2a8f0e4a10", username="ana", is_staff=False
    )


async def test_staff_claim_travels(client, published_key):
    response = await client.get("/api/ai/me", headers=bearer(published_key.token(is_staff=True)))
    assert response.json()["is_staff"] is True


async def test_anonymous_is_401_not_authenticated(client):
    response = await client.get("/api/ai/me")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


BAD_TOKENS = {
    "expired": lambda k, f: k.token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "wrong_issuer": lambda k, f: k.token(iss="someone-else"),
    "wrong_audience": lambda k, f: k.token(aud="other-app"),
    "tampered_payload": lambda k, f: tampered(k),
    "foreign_key": lambda k, f: f.token(),
    "alg_none": lambda k, f: alg_none_token(k),
    "hs256_public_pem": lambda k, f: hs256_with_public_pem(k),
    "refresh_token": lambda k, f: k.token(token_type="refresh"),
    "unknown_token_type": lambda k, f: k.token(token_type="id"),
    "no_exp": lambda k, f: without_claim(k, "exp"),
    "no_sub": lambda k, f: without_claim(k, "sub"),
    "unknown_kid": lambda k, f: SigningKey(k.private_key, "other-kid").token(),
    "garbage": lambda k, f: "not.a.jwt",
}


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_bad_tokens_are_401_token_invalid(client, published_key, foreign_key, case):
    token = BAD_TOKENS[case](published_key, foreign_key)
    response = await client.get("/api/ai/me", headers=bearer(token))
    assert response.status_code == 401, case
    body = response.json()
    assert body["code"] == "TOKEN_INVALID"
    assert token not in response.text
    assert token.split(".")[0] not in body["message"]


async def test_jwks_unreachable_is_503(make_client, signing_key):
    async with make_client(jwks_url=f"{unused_url()}/jwks.json") as client:
        response = await client.get("/api/ai/me", headers=bearer(signing_key.token()))
    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"


async def test_jwks_is_fetched_once_and_cached(client, core_stub, published_key):
    for attempt in range(3):
        response = await client.get(
            "/api/ai/me",
            headers={**bearer(published_key.token()), "X-Request-ID": f"me-{attempt}"},
        )
        assert response.status_code == 200
    [fetch] = core_stub.requests_to("/api/v1/auth/jwks.json")
    assert fetch["x-request-id"] == "me-0"


async def test_staff_user_dependency(test_settings, published_key):
    app: FastAPI = create_app(test_settings())

    @app.get("/api/ai/staff-only")
    async def staff_only(user: StaffUser) -> dict[str, str]:
        return {"user": user.username}

    async with running(app) as client:
        staff = await client.get(
            "/api/ai/staff-only", headers=bearer(published_key.token(is_staff=True))
        )
        reader = await client.get("/api/ai/staff-only", headers=bearer(published_key.token()))
    assert staff.status_code == 200
    assert reader.status_code == 403
    assert reader.json()["code"] == "PERMISSION_DENIED"


# --- the verifier's key cache, with a controlled clock --------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


def _verifier(http: httpx.AsyncClient, url: str, clock: Clock) -> JwksVerifier:
    return JwksVerifier(
        http, jwks_url=f"{url}/api/v1/auth/jwks.json", cache_seconds=300, clock=clock
    )


async def test_unknown_kid_refetches_at_most_once_per_30s(http, core_stub, published_key):
    clock = Clock()
    verifier = _verifier(http, core_stub.url, clock)
    await verifier.verify(published_key.token())
    assert verifier.fetch_count == 1

    rotated = SigningKey.generate("core-key-2")
    core_stub.jwks = {"keys": [published_key.jwk(), rotated.jwk()]}

    clock.now += 5  # too soon after the last fetch: the new kid is not looked up
    with pytest.raises(TokenInvalid):
        await verifier.verify(rotated.token())
    assert verifier.fetch_count == 1

    clock.now += 30  # now an unknown kid may refetch once
    claims = await verifier.verify(rotated.token(username="rotated"))
    assert claims.username == "rotated"
    assert verifier.fetch_count == 2

    for _ in range(5):  # a flood of made-up kids costs core nothing more
        with pytest.raises(TokenInvalid):
            await verifier.verify(SigningKey(rotated.private_key, "made-up").token())
    assert verifier.fetch_count == 2


async def test_keys_are_refetched_after_cache_expiry(http, core_stub, published_key):
    clock = Clock()
    verifier = _verifier(http, core_stub.url, clock)
    await verifier.verify(published_key.token())
    clock.now += 299
    await verifier.verify(published_key.token())
    assert verifier.fetch_count == 1
    clock.now += 2
    await verifier.verify(published_key.token())
    assert verifier.fetch_count == 2


async def test_cached_keys_survive_a_failed_refresh(http, core_stub, published_key):
    clock = Clock()
    verifier = _verifier(http, core_stub.url, clock)
    await verifier.verify(published_key.token())
    core_stub.jwks_status = 503
    clock.now += 301
    claims = await verifier.verify(published_key.token(username="still-ok"))
    assert claims.username == "still-ok"
    assert verifier.fetch_count == 2


async def test_no_keys_and_no_jwks_raises_unavailable(http, signing_key):
    verifier = _verifier(http, unused_url(), Clock())
    with pytest.raises(JwksUnavailable):
        await verifier.verify(signing_key.token())


async def test_alg_none_never_costs_a_fetch(http, core_stub, published_key):
    verifier = _verifier(http, core_stub.url, Clock())
    with pytest.raises(TokenInvalid):
        await verifier.verify(alg_none_token(published_key))
    assert verifier.fetch_count == 0
