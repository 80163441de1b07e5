"""The reader's settings under /api/v1/users/me/settings: what their turns
use unless a request says otherwise (accounts.user_settings)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from gaji_contracts.conversations import (
    MAX_ANSWER_TOKENS_LIMIT,
    MAX_PERSONA_NAME_CHARS,
    MAX_TEMPERATURE,
    MIN_ANSWER_TOKENS,
    NO_CONTROL_PATTERN,
    RESPONSE_STYLES,
    no_control,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import user_settings
from common.request_id import request_id_of
from common.schema import errors
from common.serializers import StrictSerializer
from conversations.models import Visibility


class StrictFloatField(serializers.FloatField):
    """A JSON number only: DRF would read "1.5" and true as numbers."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF would read "512", 512.0 and true as 512."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def _no_control(value: str) -> None:
    try:
        no_control(value)
    except ValueError as exc:
        raise serializers.ValidationError("Must not contain control characters.") from exc


# The API document states the rule (common.schema.text_pattern): no Unicode Cc character.
_no_control.openapi_pattern = NO_CONTROL_PATTERN


class SettingsSerializer(serializers.Serializer):
    default_model = serializers.CharField(
        allow_null=True, help_text="A model from GET /api/ai/models; null: the service's default"
    )
    temperature = serializers.FloatField(
        allow_null=True, min_value=0, max_value=MAX_TEMPERATURE, help_text="null: the service's default"
    )
    max_tokens = serializers.IntegerField(
        allow_null=True,
        min_value=MIN_ANSWER_TOKENS,
        max_value=MAX_ANSWER_TOKENS_LIMIT,
        help_text="An answer's length cap in tokens; null: the service's default",
    )
    response_style = serializers.ChoiceField(choices=RESPONSE_STYLES)
    persona_name = serializers.CharField(
        max_length=MAX_PERSONA_NAME_CHARS,
        allow_blank=True,
        help_text="What characters call you; empty: your username",
    )
    default_visibility = serializers.ChoiceField(
        choices=Visibility.values, help_text="A new conversation's visibility"
    )


class SettingsApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        """Any subset of the settings: a key left out keeps its value, null
        puts it back to its default."""

        default_model = serializers.CharField(max_length=100, required=False, allow_null=True)
        temperature = StrictFloatField(
            min_value=0, max_value=MAX_TEMPERATURE, required=False, allow_null=True
        )
        max_tokens = StrictIntegerField(
            min_value=MIN_ANSWER_TOKENS, max_value=MAX_ANSWER_TOKENS_LIMIT, required=False, allow_null=True
        )
        response_style = serializers.ChoiceField(choices=RESPONSE_STYLES, required=False, allow_null=True)
        persona_name = serializers.CharField(
            max_length=MAX_PERSONA_NAME_CHARS,
            allow_blank=True,
            required=False,
            allow_null=True,
            validators=[_no_control],
        )
        default_visibility = serializers.ChoiceField(
            choices=Visibility.values, required=False, allow_null=True
        )

    @extend_schema(
        operation_id="users_settings_get",
        responses={200: SettingsSerializer, **errors(401)},
        description="Your settings, the defaults filled in.",
    )
    def get(self, request):
        return Response(SettingsSerializer(user_settings.settings_for(request.user)).data)

    @extend_schema(
        operation_id="users_settings_put",
        request=InputSerializer,
        responses={200: SettingsSerializer, **errors(401)},
        description="Change any of your settings: keys left out keep their values, null puts a key back "
        "to its default. `default_model` must be a model ai offers (400 `INVALID_MODEL`). Your turns "
        "(send, continue, regenerate, ai's direct route) use these unless the request says otherwise.",
    )
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settings = user_settings.settings_update(
            user=request.user, changes=data.validated_data, request_id=request_id_of(request)
        )
        return Response(SettingsSerializer(settings).data)
