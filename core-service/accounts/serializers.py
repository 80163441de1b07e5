"""Input validation shared by the accounts views."""

from __future__ import annotations

import re

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses unknown keys: a client sending `is_staff` or `id` learns it
    had no effect instead of silently believing it did. Text fields take
    only strings, as documented: DRF would store the JSON number 0 as "0"."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        not_text = {
            name: ["Must be a string."]
            for name, field in self.fields.items()
            if isinstance(field, serializers.CharField)
            and data.get(name) is not None
            and not isinstance(data[name], str)
        }
        if not_text:
            raise serializers.ValidationError(not_text)
        return super().to_internal_value(data)


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


class HttpUrlField(serializers.URLField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Must be an http(s) URL.")
        return value
