"""Input validation shared by the accounts views."""

from __future__ import annotations

import re

from rest_framework import serializers


def validate_password_strength(value: str) -> str:
    problems = []
    if len(value) < 8:
        problems.append("Password must be at least 8 characters.")
    if not re.search(r"[A-Z]", value):
        problems.append("Password must contain an uppercase letter.")
    if not re.search(r"[a-z]", value):
        problems.append("Password must contain a lowercase letter.")
    if not re.search(r"[0-9]", value):
        problems.append("Password must contain a digit.")
    if problems:
        raise serializers.ValidationError(problems)
    return value


# The same rule for the API document (no NUL: every DRF CharField refuses it).
validate_password_strength.openapi_pattern = (
    r"^(?=[^\u0000]*[A-Z])(?=[^\u0000]*[a-z])(?=[^\u0000]*[0-9])[^\u0000]{8,}$"
)


class HttpUrlField(serializers.URLField):
    """An http(s) URL as Django's URLValidator accepts it. The API document
    states a subset of that rule (letters, digits and hyphens in host labels;
    a host of at most 253 characters): every URL it allows is accepted."""

    openapi_pattern = (
        r"^https?://(?=[^/?#:]{1,253}(?:[/?#:]|$))"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
        r"(?::[0-9]{1,5})?(?:[/?#][^\s\u0000]*)?$"
    )

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Must be an http(s) URL.")
        return value
