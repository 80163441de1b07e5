"""Token claims and JWKS shapes: core mints, ai verifies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

JWT_ALGORITHM = "RS256"
JWT_ISSUER = "gaji-core"
JWT_AUDIENCE = "gaji"
ACCESS_TOKEN_LIFETIME_SECONDS = 3600


class TokenClaims(BaseModel):
    """The claims of an access token, as the ai service reads them."""

    sub: str = Field(description="User id (UUID)")
    username: str
    is_staff: bool = False
    token_type: Literal["access", "refresh"]
    exp: int
    iat: int
    jti: str
    iss: str = JWT_ISSUER
    aud: str = JWT_AUDIENCE


class Jwk(BaseModel):
    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"] = "sig"
    alg: str = JWT_ALGORITHM
    n: str
    e: str


class Jwks(BaseModel):
    keys: list[Jwk]


class WhoAmI(BaseModel):
    """What a service learned about the caller from a verified user token."""

    user_id: str
    username: str
    is_staff: bool
