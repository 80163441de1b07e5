"""A reader's notifications under /api/v1/notifications: the list, marking
read, and a ticket for the live stream on ai."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from gaji_contracts.notifications import NotificationKind
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.pagination import PageInfo, PageQuerySerializer, PageRequest, paginate
from common.schema import errors
from common.serializers import StrictSerializer
from notifications import selectors, services
from notifications.models import Notification
from scenarios.search_api import QueryBooleanField

MAX_IDS = services.KEPT_PER_RECIPIENT


class ActorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class NotificationSerializer(serializers.Serializer):
    """gaji_contracts.notifications.Notification."""

    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=[k.value for k in NotificationKind])
    actor = ActorSerializer(allow_null=True, help_text="Who did it (null: nobody, or a deleted account)")
    scenario_id = serializers.UUIDField(allow_null=True)
    conversation_id = serializers.UUIDField(allow_null=True)
    message_id = serializers.UUIDField(allow_null=True)
    text = serializers.CharField()
    read = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class NotificationPageSerializer(serializers.Serializer):
    content = NotificationSerializer(many=True)
    page = PageInfo()
    unread_count = serializers.IntegerField(help_text="Your unread notifications, whatever the filter")


def _body(notification: Notification) -> dict:
    return selectors.notification_body(notification).model_dump(mode="json")


class NotificationListApi(APIView):
    permission_classes = [IsAuthenticated]

    class QuerySerializer(PageQuerySerializer):
        unread = QueryBooleanField(help_text="true: only unread, false: only read; all when left out")

    @extend_schema(
        operation_id="notifications_list",
        parameters=[QuerySerializer],
        responses={200: NotificationPageSerializer, **errors(401)},
        description="Your notifications, newest first (the newest "
        f"{services.KEPT_PER_RECIPIENT} are kept), and how many are unread.",
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = PageRequest(number=query.validated_data["page"], size=query.validated_data["size"])
        rows = selectors.notifications_of(user=request.user, unread=query.validated_data["unread"])
        body = paginate(rows, page, _body)
        body["unread_count"] = selectors.unread_count(user_id=request.user.id)
        return Response(NotificationPageSerializer(body).data)


class ReadResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="How many notifications became read")
    unread_count = serializers.IntegerField()


IDS_OR_ALL = "Give either ids or all, not both."
IDS_OR_ALL_TRUE = "Give the ids to mark read, or all: true."
# Refusals of well-formed bodies, stated in words (the API fuzz test reads them).
RULES_IN_WORDS = (IDS_OR_ALL, IDS_OR_ALL_TRUE)


class NotificationReadApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        ids = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            max_length=MAX_IDS,
            help_text="Notifications to mark read (ids that are not yours are ignored)",
        )
        all = serializers.BooleanField(required=False, help_text="true: mark every notification read")

        def validate(self, attrs):
            if "ids" in attrs and "all" in attrs:
                raise serializers.ValidationError({"all": [IDS_OR_ALL]})
            if "ids" not in attrs and attrs.get("all") is not True:
                raise serializers.ValidationError({"ids": [IDS_OR_ALL_TRUE]})
            return attrs

    @extend_schema(
        operation_id="notifications_read",
        request=InputSerializer,
        responses={200: ReadResultSerializer, **errors(401, 415)},
        description="Mark notifications read: `{ids: [...]}` or `{all: true}`. Marking one twice, "
        "or an id that is not yours, changes nothing.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.mark_read(
            user=request.user, ids=data.validated_data.get("ids"), everything="all" in data.validated_data
        )
        unread = selectors.unread_count(user_id=request.user.id)
        return Response(ReadResultSerializer({"updated": updated, "unread_count": unread}).data)


class NotificationStreamSerializer(serializers.Serializer):
    stream_url = serializers.URLField()
    stream_expires_at = serializers.DateTimeField()


class NotificationStreamApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="notifications_stream",
        request=None,
        responses={200: NotificationStreamSerializer, **errors(401)},
        description="A `stream_url` (an EventSource URL on ai with a short-lived ticket) of your live "
        "notifications: events `notification` with data `{notification, unread_count}` and the stream "
        "entry's `id`; comments as heartbeats. It ends when the ticket expires: ask for a new URL and "
        "reconnect with `Last-Event-ID` (or `last_event_id=`) to receive what came in between. Open it "
        "before loading the list, so nothing falls between the two.",
    )
    def post(self, request):
        url, expires_at = services.stream_url_for(user=request.user)
        body = {"stream_url": url, "stream_expires_at": expires_at}
        return Response(NotificationStreamSerializer(body).data)
