"""Minting and checking tokens. RS256, `kid` in the header so verifiers
(the ai service) can pick the key from JWKS."""

from __future__ import annotations

import time
import uuid

import jwt
from django.conf import settings
from gaji_contracts.auth import ACCESS_TOKEN_LIFETIME_SECONDS, JWT_ALGORITHM, JWT_ISSUER
from gaji_contracts.conversations import STREAM_TICKET_TTL_SECONDS, StreamTicketClaims
from gaji_contracts.notifications import NOTIFICATION_TICKET_TTL_SECONDS, NotificationTicketClaims
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User


class KidTokenBackend(TokenBackend):
    @classmethod
    def from_state(cls, backend: TokenBackend) -> KidTokenBackend:
        clone = cls.__new__(cls)
        clone.__dict__.update(backend.__dict__)
        return clone

    def encode(self, payload: dict) -> str:
        jwt_payload = dict(payload)
        if self.audience is not None:
            jwt_payload["aud"] = self.audience
        if self.issuer is not None:
            jwt_payload["iss"] = self.issuer
        return jwt.encode(
            jwt_payload,
            self.prepared_signing_key,
            algorithm=self.algorithm,
            json_encoder=self.json_encoder,
            headers={"kid": settings.JWT_SIGNING_KEY.kid},
        )


def _with_claims(token: RefreshToken, user: User) -> RefreshToken:
    # Copied into every access token minted from this refresh token.
    token["username"] = user.username
    token["is_staff"] = user.is_staff
    return token


def tokens_for(user: User) -> dict:
    refresh = _with_claims(RefreshToken.for_user(user), user)
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        "token_type": "Bearer",
    }


def access_token_for(user: User, refresh: RefreshToken) -> str:
    """A fresh access token with the user's current name and staff flag."""
    return str(_with_claims(refresh, user).access_token)


def jwks() -> dict:
    return {"keys": [settings.JWT_SIGNING_KEY.jwk]}


def stream_ticket_for(*, user_id, conversation_id, message_id) -> tuple[str, int]:
    """A short-lived RS256 ticket for one message's SSE stream on the ai
    service (a browser EventSource cannot send headers). Its audience and
    token_type differ from an access token's, so neither passes for the other.
    Returns (ticket, expires_at epoch)."""
    now = int(time.time())
    expires = now + STREAM_TICKET_TTL_SECONDS
    claims = StreamTicketClaims(
        sub=str(user_id),
        conversation_id=str(conversation_id),
        message_id=str(message_id),
        iss=JWT_ISSUER,
        iat=now,
        exp=expires,
        jti=uuid.uuid4().hex,
    )
    return _signed(claims.model_dump()), expires


def _signed(claims: dict) -> str:
    """Claims signed with core's key (RS256, its `kid`), as ai verifies them by the JWKS."""
    return jwt.encode(
        claims,
        settings.JWT_SIGNING_KEY.private_key,
        algorithm=JWT_ALGORITHM,
        headers={"kid": settings.JWT_SIGNING_KEY.kid},
    )


def notification_ticket_for(*, user_id, stream: str) -> tuple[str, int]:
    """A short-lived RS256 ticket for the reader's notification stream on ai
    (GET /api/ai/notifications/stream), naming the Redis Stream core pushes
    their notifications to. Its audience and token_type are its own: neither
    an answer's stream ticket nor an access token passes for it, nor it for
    them. Returns (ticket, expires_at epoch)."""
    now = int(time.time())
    expires = now + NOTIFICATION_TICKET_TTL_SECONDS
    claims = NotificationTicketClaims(
        sub=str(user_id), stream=stream, iss=JWT_ISSUER, iat=now, exp=expires, jti=uuid.uuid4().hex
    )
    return _signed(claims.model_dump()), expires
