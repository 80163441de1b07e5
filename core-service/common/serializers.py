"""Serializer bases shared by the apps (their fields' documentation: common.fields)."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
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


class SortField(serializers.CharField):
    """`?sort=<field>[,asc|desc]` with field one of `fields` (direction desc
    when left out), validated as (field, descending). The rule is a pattern,
    so the API document states it."""

    def __init__(self, fields, *, default: str):
        names = sorted(fields)
        super().__init__(
            required=False,
            default=default,
            max_length=50,
            validators=[
                RegexValidator(
                    rf"^(?:{'|'.join(map(re.escape, names))})(?:,(?:asc|desc))?$",
                    message=f"Use <field>,<asc|desc> with field one of: {', '.join(names)}.",
                )
            ],
            help_text=f"field,direction; field in {', '.join(names)}; "
            "direction asc or desc (desc if left out)",
        )

    def run_validation(self, data=serializers.empty) -> tuple[str, bool]:
        # The default too (DRF hands it back without to_internal_value).
        field, _, direction = super().run_validation(data).partition(",")
        return field, (direction or "desc") == "desc"
