"""Rules for account fields, shared by the API serializers and the admin
forms (both accept Django's ValidationError)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,50}$")
# Path segments under /users/ that a username must not shadow.
RESERVED_USERNAMES = {"profile", "me", "admin", "internal", "api", "system"}


def validate_username(value: str) -> str:
    if not USERNAME_RE.match(value):
        raise ValidationError("Username must be 3-50 characters: letters, digits or underscore.")
    if value.lower() in RESERVED_USERNAMES:
        raise ValidationError("This username is reserved.")
    return value


# The rule for the API document; a reserved name (any case) is refused too.
validate_username.openapi_pattern = USERNAME_RE.pattern
