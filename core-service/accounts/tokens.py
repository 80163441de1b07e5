"""Minting and checking tokens. RS256, `kid` in the header so verifiers
(the ai service) can pick the key from JWKS."""

from __future__ import annotations

import jwt
from django.conf import settings
from gaji_contracts.auth import ACCESS_TOKEN_LIFETIME_SECONDS
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
