"""Writes for accounts: register, login, refresh, logout, profile, avatar."""

from __future__ import annotations

import io
import threading
import uuid
import warnings
from urllib.parse import urlparse

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from gaji_contracts.errors import ErrorCode
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework_simplejwt import state
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.tokens import access_token_for, tokens_for
from common.exceptions import ApplicationError

ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def _conflict(field: str) -> ApplicationError:
    return ApplicationError(
        f"A user with this {field} already exists.",
        status=409,
        code=ErrorCode.CONFLICT,
        details={field: [f"This {field} is already taken."]},
    )


def user_register(*, email: str, username: str, password: str) -> tuple[User, dict]:
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise _conflict("email")
    if User.objects.alias(username_ci=Lower("username")).filter(username_ci=username.lower()).exists():
        raise _conflict("username")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, username=username, password=password)
    except IntegrityError as exc:
        # Two registrations raced past the checks above: the unique index decides.
        raise _conflict("username" if "username" in str(exc) else "email") from None
    return user, tokens_for(user)


def _invalid_credentials() -> ApplicationError:
    return ApplicationError("Invalid email or password.", status=401, code=ErrorCode.INVALID_CREDENTIALS)


def user_login(*, email: str, password: str) -> tuple[User, dict]:
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        # Hash anyway so response time does not reveal which emails exist.
        User().set_password(password)
        raise _invalid_credentials()
    if not user.check_password(password) or not user.is_active:
        raise _invalid_credentials()
    return user, tokens_for(user)


def _parse_refresh(raw: str) -> RefreshToken:
    """Signature, expiry, audience, issuer and type: 401 on any failure;
    403 if the token is valid but blacklisted."""
    try:
        payload = state.token_backend.decode(raw, verify=True)
    except TokenBackendError:
        raise _invalid_refresh() from None
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh":
        raise _invalid_refresh()
    if BlacklistedToken.objects.filter(token__jti=payload.get(jwt_settings.JTI_CLAIM)).exists():
        raise ApplicationError(
            "Refresh token has been revoked.", status=403, code=ErrorCode.TOKEN_BLACKLISTED
        )
    # Signature, exp, aud and iss were verified above; don't decode twice.
    token = RefreshToken(raw, verify=False)
    if not token.get(jwt_settings.JTI_CLAIM):
        raise _invalid_refresh()
    return token


def _invalid_refresh() -> ApplicationError:
    return ApplicationError("Refresh token is invalid or expired.", status=401, code=ErrorCode.TOKEN_INVALID)


def token_refresh(*, refresh_token: str) -> str:
    token = _parse_refresh(refresh_token)
    user = User.objects.filter(id=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None:
        raise _invalid_refresh()
    return access_token_for(user, token)


def user_logout(*, user: User, refresh_token: str) -> None:
    """Blacklist the caller's refresh token. Repeating it is harmless."""
    try:
        token = _parse_refresh(refresh_token)
    except ApplicationError as exc:
        if exc.code == ErrorCode.TOKEN_BLACKLISTED:
            return
        raise
    if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.id):
        raise ApplicationError(
            "This refresh token belongs to another user.", status=403, code=ErrorCode.PERMISSION_DENIED
        )
    try:
        with transaction.atomic():
            token.blacklist()
    except IntegrityError:
        pass  # a concurrent logout blacklisted it first


@transaction.atomic
def profile_update(*, user: User, fields: dict) -> User:
    for name in ("bio", "avatar_url"):
        if name in fields:
            setattr(user, name, fields[name] or "")
    user.save(update_fields=[*(n for n in ("bio", "avatar_url") if n in fields), "updated_at"])
    return user


def _bad_image(message: str) -> ApplicationError:
    return ApplicationError(
        message, status=400, code=ErrorCode.VALIDATION_ERROR, details={"avatar": [message]}
    )


# Decoding is the one memory-hungry step (a 16 MP RGBA frame is 64 MB):
# at most two at a time per process, whatever the thread count.
_DECODE_SLOTS = threading.BoundedSemaphore(2)


def _decode_avatar(data: bytes) -> Image.Image:
    """Judge the file by its bytes, refuse decompression bombs, and return
    a square RGB image of AVATAR_SIZE_PX with no metadata."""
    size = settings.AVATAR_SIZE_PX
    with _DECODE_SLOTS, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_IMAGE_FORMATS:
                    raise _bad_image("Avatar must be a JPG, PNG, GIF or WEBP image.")
                width, height = probe.size
                if width * height > settings.AVATAR_MAX_PIXELS:
                    raise _bad_image("Avatar image dimensions are too large.")
                probe.seek(0)  # first frame of an animation
                # Shrink before any mode conversion, so no full-size RGBA copy
                # is ever made (JPEG even decodes at reduced scale via draft).
                probe.thumbnail((size * 2, size * 2))
                image = ImageOps.exif_transpose(probe)
                if image.mode in ("P", "LA", "PA"):
                    image = image.convert("RGBA")
                image.load()
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            OSError,
            SyntaxError,
            ValueError,
        ) as exc:
            if isinstance(exc, ApplicationError):
                raise
            raise _bad_image("Avatar is not a valid JPG, PNG, GIF or WEBP image.") from None
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    return ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)


def avatar_upload(*, user: User, upload, absolute_url) -> str:
    """`absolute_url` turns the stored file's path into the URL clients load."""
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise ApplicationError(
            f"Avatar exceeds {settings.AVATAR_MAX_BYTES // (1024 * 1024)} MB.",
            status=413,
            code=ErrorCode.PAYLOAD_TOO_LARGE,
        )
    image = _decode_avatar(upload.read())
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88, optimize=True)  # a fresh file: no EXIF, no GPS
    name = default_storage.save(f"avatars/{user.id}-{uuid.uuid4().hex[:12]}.jpg", ContentFile(out.getvalue()))
    old_name = _own_stored_avatar(user)
    user.avatar_url = absolute_url(default_storage.url(name))
    user.save(update_fields=["avatar_url", "updated_at"])
    if old_name and old_name != name:
        transaction.on_commit(lambda: default_storage.delete(old_name))
    return user.avatar_url


def _own_stored_avatar(user: User) -> str | None:
    """The storage name of an avatar we stored for this user earlier; None
    for external URLs and for anyone else's file (a user may point
    avatar_url at any URL, including another user's avatar)."""
    prefix = settings.MEDIA_URL + "avatars/"
    path = urlparse(user.avatar_url).path if user.avatar_url else ""
    name = path[len(prefix) :] if path.startswith(prefix) else ""
    if name.startswith(f"{user.id}-") and "/" not in name:
        return "avatars/" + name
    return None
