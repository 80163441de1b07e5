"""Mail to readers, through Django's email framework (EMAIL_BACKEND: files
under var/mail by default, SMTP by settings)."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User

logger = logging.getLogger("gaji.accounts")


def uid_of(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_id_from_uid(uid: str) -> uuid.UUID | None:
    """The user id a reset link carries; None for anything malformed."""
    try:
        return uuid.UUID(urlsafe_base64_decode(uid).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def password_reset_link(user: User) -> str:
    """`<WEB_BASE_URL>/#/reset-password?uid=...&token=...`. The token (Django's
    PasswordResetTokenGenerator) hashes the password, last login and email, so
    it stops working once used, and expires after PASSWORD_RESET_TIMEOUT."""
    query = urlencode({"uid": uid_of(user), "token": default_token_generator.make_token(user)})
    return f"{settings.WEB_BASE_URL}/#/reset-password?{query}"


def send_password_reset(user: User) -> bool:
    """Mail the reset link; False (logged) when the mail could not be sent.
    The caller answers the same either way: the answer never tells whether
    an address has an account."""
    minutes = max(settings.PASSWORD_RESET_TIMEOUT // 60, 1)
    body = (
        f"Hello {user.username},\n\n"
        "Someone (hopefully you) asked to reset the password of your Gaji account.\n"
        f"Open this link within {minutes} minutes to choose a new one:\n\n"
        f"{password_reset_link(user)}\n\n"
        "The link works once. If you did not ask for this, ignore this mail: "
        "your password stays as it is.\n"
    )
    try:
        send_mail("Reset your Gaji password", body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception as exc:  # SMTP down, unwritable mail folder, ...: never a 500
        logger.warning("password reset mail not sent: %s", exc.__class__.__name__)
        return False
    return True
