"""Who is calling: a user with a JWT, or the ai service with the service token.

Public routes authenticate users with RS256 JWTs and refuse the service
token; internal routes (`/api/internal/...`) accept only the service token.
"""

from __future__ import annotations

from django.conf import settings
from gaji_contracts.conventions import bearer_token, is_service_token
from gaji_contracts.errors import ErrorCode
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication

from common.exceptions import ApplicationError


class ServicePrincipal:
    """request.user on internal routes."""

    is_authenticated = True
    is_staff = False
    is_service = True
    pk = id = None

    def __str__(self) -> str:
        return "service:ai"


def refuse_service_token(request) -> None:
    raw = bearer_token(request.headers.get("Authorization"))
    if raw and is_service_token(raw, settings.SERVICE_TOKEN):
        raise ApplicationError(
            "The service token is not accepted on public routes.",
            status=403,
            code=ErrorCode.SERVICE_TOKEN_NOT_ALLOWED,
        )


class AnonymousOnlyAuthentication(BaseAuthentication):
    """For public routes that need no user (login, register, refresh, JWKS):
    nobody is authenticated, and the service token is still refused."""

    def authenticate(self, request):
        refuse_service_token(request)
        return None


class UserJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        refuse_service_token(request)
        self._django_request = getattr(request, "_request", request)
        return super().authenticate(request)

    def get_validated_token(self, raw_token):
        # The rate limiter already verified this very token for this request
        # (common.ratelimit.subject_of): do not verify the signature twice.
        request = getattr(self, "_django_request", None)
        seen = getattr(request, "gaji_access_token", None)
        if seen is not None:
            raw = raw_token.decode("latin-1") if isinstance(raw_token, bytes) else raw_token
            if seen[0] == raw:
                return seen[1]
        return super().get_validated_token(raw_token)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ServiceTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization")
        if not header:
            return None  # -> 401 from the permission check
        if is_service_token(bearer_token(header), settings.SERVICE_TOKEN):
            return (ServicePrincipal(), None)
        raise ApplicationError(
            "This internal route accepts only the service token.",
            status=403,
            code=ErrorCode.SERVICE_TOKEN_REQUIRED,
        )

    def authenticate_header(self, request):
        return 'Bearer realm="internal"'


class IsInternalService(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_service", False))
