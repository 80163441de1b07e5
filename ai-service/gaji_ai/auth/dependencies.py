"""Who is calling: a user with core's access token, or core with the service token.

Internal routes (`/api/ai/internal/...`) take only the service token; public
routes refuse it, so a leaked service token cannot act as a user and a user
token can never reach an internal route.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from gaji_contracts.auth import TokenClaims
from gaji_contracts.conventions import bearer_token, is_service_token
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import AUTHORIZATION

from gaji_ai.auth.jwks import JwksUnavailable, JwksVerifier, TokenInvalid
from gaji_ai.common.errors import AppError

logger = logging.getLogger(__name__)

# RFC 7235: every 401 names the scheme.
AUTHENTICATE = {"WWW-Authenticate": "Bearer"}
T = TypeVar("T")


@dataclass(frozen=True)
class ServicePrincipal:
    """A caller that proved it holds the service token (today: core)."""

    name: str = "service"


def _not_authenticated() -> AppError:
    return AppError(
        401, ErrorCode.NOT_AUTHENTICATED, "Authentication required", headers=AUTHENTICATE
    )


def require_service_token(request: Request) -> ServicePrincipal:
    token = bearer_token(request.headers.get(AUTHORIZATION))
    if token is None:
        raise _not_authenticated()
    if not is_service_token(token, request.app.state.settings.auth.service_token):
        raise AppError(
            403, ErrorCode.SERVICE_TOKEN_REQUIRED, "This route accepts only the service token"
        )
    return ServicePrincipal()


def reject_service_token(request: Request) -> None:
    token = bearer_token(request.headers.get(AUTHORIZATION))
    if is_service_token(token, request.app.state.settings.auth.service_token):
        raise AppError(
            403,
            ErrorCode.SERVICE_TOKEN_NOT_ALLOWED,
            "The service token is not accepted on public routes",
        )


async def current_user(request: Request) -> TokenClaims:
    reject_service_token(request)
    token = bearer_token(request.headers.get(AUTHORIZATION))
    if token is None:
        raise _not_authenticated()
    verifier: JwksVerifier = request.app.state.jwks_verifier
    try:
        return await verifier.verify(token)
    except TokenInvalid as exc:
        logger.info("token refused: %s", exc)
        raise AppError(
            401, ErrorCode.TOKEN_INVALID, "Token is invalid or expired", headers=AUTHENTICATE
        ) from exc
    except JwksUnavailable as exc:
        logger.warning("cannot verify tokens: %s", exc)
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "Cannot verify tokens right now, retry later"
        ) from exc


async def verified_ticket(verify: Callable[[str], Awaitable[T]], ticket: str, *, what: str) -> T:
    """A stream ticket's claims by `verify` (a JwksVerifier method): 401
    TOKEN_INVALID when it is not a valid `what` ticket, 503 when the keys
    cannot be had. The answer and notification streams share this."""
    try:
        return await verify(ticket)
    except TokenInvalid as exc:
        raise invalid_ticket(what) from exc
    except JwksUnavailable as exc:
        raise AppError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "Cannot verify tickets right now."
        ) from exc


def invalid_ticket(what: str) -> AppError:
    return AppError(
        401,
        ErrorCode.TOKEN_INVALID,
        f"The {what} ticket is invalid or expired.",
        headers=AUTHENTICATE,
    )


async def staff_user(user: Annotated[TokenClaims, Depends(current_user)]) -> TokenClaims:
    if not user.is_staff:
        raise AppError(403, ErrorCode.PERMISSION_DENIED, "Staff only")
    return user


CurrentUser = Annotated[TokenClaims, Depends(current_user)]
StaffUser = Annotated[TokenClaims, Depends(staff_user)]
ServiceCaller = Annotated[ServicePrincipal, Depends(require_service_token)]
