"""Verifies core's user tokens with the public keys core publishes as JWKS.

The ai service can check tokens but never mint them: it holds no private key.
Keys are cached for JWKS_CACHE_SECONDS. A token signed with a key id we do not
know triggers one refetch (key rotation), at most once per 30 s so a flood of
made-up key ids cannot turn into a flood of requests to core.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import httpx
import jwt
from gaji_contracts.auth import JWT_ALGORITHM, JWT_AUDIENCE, JWT_ISSUER, Jwks, TokenClaims
from gaji_contracts.conventions import outgoing_request_id
from gaji_contracts.conversations import STREAM_TICKET_AUDIENCE, StreamTicketClaims
from gaji_contracts.headers import REQUEST_ID_HEADER
from gaji_contracts.notifications import NOTIFICATION_TICKET_AUDIENCE, NotificationTicketClaims
from pydantic import ValidationError

logger = logging.getLogger(__name__)

UNKNOWN_KID_REFETCH_SECONDS = 30.0
CLOCK_SKEW_SECONDS = 10


class TokenInvalid(Exception):
    """The token is not a valid access token of core. The text never holds the token."""


class JwksUnavailable(Exception):
    """Core's keys could not be fetched and none are cached."""


class JwksVerifier:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        jwks_url: str,
        cache_seconds: float,
        refetch_seconds: float = UNKNOWN_KID_REFETCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self.jwks_url = jwks_url
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._next_fetch_at = -math.inf
        self._attempted_at = -math.inf
        self._generation = 0
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    async def verify(self, token: str) -> TokenClaims:
        """An access token (RS256, core's key, aud `gaji`, type `access`)."""
        payload = await self._decode(token, audience=JWT_AUDIENCE)
        try:
            claims = TokenClaims.model_validate(payload)
        except ValidationError as exc:
            raise TokenInvalid(type(exc).__name__) from exc
        if claims.token_type != "access":
            raise TokenInvalid("not an access token")
        return claims

    async def verify_stream_ticket(self, token: str) -> StreamTicketClaims:
        """A stream ticket from core's `stream_url` (aud `gaji-stream`): never
        an access token, and an access token is never a ticket."""
        payload = await self._decode(token, audience=STREAM_TICKET_AUDIENCE)
        try:
            return StreamTicketClaims.model_validate(payload)
        except ValidationError as exc:
            raise TokenInvalid("not a stream ticket") from exc

    async def verify_notification_ticket(self, token: str) -> NotificationTicketClaims:
        """A ticket from core's notifications `stream_url` (aud `gaji-notifications`):
        neither an access token nor an answer's stream ticket passes for one."""
        payload = await self._decode(token, audience=NOTIFICATION_TICKET_AUDIENCE)
        try:
            return NotificationTicketClaims.model_validate(payload)
        except ValidationError as exc:
            raise TokenInvalid("not a notification ticket") from exc

    async def _decode(self, token: str, *, audience: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed token") from exc
        # Checked before any key lookup so `alg: none` or HS256 tokens never
        # cost a JWKS fetch; jwt.decode below enforces it again.
        if header.get("alg") != JWT_ALGORITHM:
            raise TokenInvalid("unexpected algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenInvalid("no key id")

        key = await self._signing_key(kid)
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[JWT_ALGORITHM],
                audience=audience,
                issuer=JWT_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(type(exc).__name__) from exc

    async def _signing_key(self, kid: str) -> jwt.PyJWK:
        if self._keys is None or self._clock() >= self._next_fetch_at:
            await self._fetch()
        keys = self._keys or {}
        if kid not in keys and self._clock() - self._attempted_at >= self._refetch_seconds:
            await self._fetch()
            keys = self._keys or {}
        if kid not in keys:
            raise TokenInvalid("unknown key id")
        return keys[kid]

    async def _fetch(self) -> None:
        seen = self._generation
        async with self._lock:
            if self._generation != seen:
                # Another request fetched while we waited for the lock.
                if self._keys is None:
                    raise JwksUnavailable(self.jwks_url)
                return
            self._generation += 1
            self._attempted_at = self._clock()
            try:
                keys = await self._download()
            except JwksUnavailable:
                if self._keys is None:
                    raise
                # Keep trusting the keys we have rather than locking every
                # user out while core is briefly down.
                logger.warning("JWKS refresh failed, keeping cached keys", exc_info=True)
                self._next_fetch_at = self._attempted_at + self._refetch_seconds
                return
            self._keys = keys
            self._next_fetch_at = self._attempted_at + self._cache_seconds

    async def _download(self) -> dict[str, jwt.PyJWK]:
        self.fetch_count += 1
        try:
            response = await self._http.get(
                self.jwks_url, headers={REQUEST_ID_HEADER: outgoing_request_id()}
            )
            response.raise_for_status()
            jwks = Jwks.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            raise JwksUnavailable(f"cannot fetch JWKS from {self.jwks_url}") from exc
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in jwks.keys:
            try:
                keys[jwk.kid] = jwt.PyJWK(jwk.model_dump(), algorithm=JWT_ALGORITHM)
            except jwt.PyJWTError:
                logger.warning("skipping unusable JWK", extra={"kid": jwk.kid})
        return keys
