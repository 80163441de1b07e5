"""A reader's messages after they were sent (edit, delete), an answer's
versions (list, choose) and message search, under /api/v1/conversations/{id}/messages
and /api/v1/users/me/messages. Services: conversations.message_services;
search: conversations.message_search."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common import ratelimit
from common.fields import CitationsField
from common.pagination import PageQuerySerializer, PageRequest, page_info, page_serializer
from common.request_id import request_id_of
from common.schema import errors
from common.serializers import StrictSerializer
from conversations import message_search, message_services, selectors
from conversations.apis import (
    ChatTurnSerializer,
    ConversationMessageSerializer,
    MessageListSendApi,
    TextField,
    chat_turn_json,
    message_json,
)
from conversations.models import Conversation
from conversations.versions import MAX_VERSIONS

# -- edit and delete ----------------------------------------------------------------------------


class MessageEditResultSerializer(serializers.Serializer):
    message = ConversationMessageSerializer()
    turn = ChatTurnSerializer(
        allow_null=True, help_text="The regenerated answers' turn; null unless asked for"
    )


def _optional(field: serializers.Field) -> serializers.Field:
    """A new instance of a declared field, not required (DRF rebuilds fields
    from their arguments, so the change must be one)."""
    return type(field)(*field._args, **{**field._kwargs, "required": False})


CONTENT_OR_REGENERATE = "Give the new content, regenerate: true, or both."


class MessageApi(APIView):
    permission_classes = [IsAuthenticated]

    class EditSerializer(StrictSerializer):
        openapi_min_properties = 1
        # The send route's own field (the same limits and text rules), optional here.
        content = _optional(MessageListSendApi.InputSerializer._declared_fields["content"])
        regenerate = serializers.BooleanField(
            default=False,
            help_text="Generate the answers again (the conversation's last turn only) instead of marking "
            "them stale; without `content`, the message stays as it is",
        )

        def validate(self, attrs):
            if "content" not in attrs and not attrs["regenerate"]:
                raise serializers.ValidationError({"non_field_errors": [CONTENT_OR_REGENERATE]})
            return attrs

    @extend_schema(
        operation_id="conversations_message_edit",
        request=EditSerializer,
        responses={200: MessageEditResultSerializer, **errors(401, 403, 404, 409, 503)},
        description="Change the text of one of your messages (`edited_at` is set), or with only "
        "`regenerate: true` answer it again as it is. The answers after it, up "
        "to your next message, are kept but marked `stale`; with `regenerate: true` (only when this is the "
        "conversation's last turn, else 409) they are generated again as one turn: `turn` has its "
        "`stream_url`, each answer keeps its earlier text as a version, and the regeneration counts "
        "against the message rate limit. 409 for an answer, for a deleted message or while its "
        "answers are still being generated. A message a fork shares is copied first, so the fork never "
        "changes: the body then has the copy's id. The owner only.",
    )
    def patch(self, request, conversation_id, message_id):
        data = self.EditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["regenerate"]:
            ratelimit.enforce("messages", ratelimit.user_subject(request.user.id))
        message, turn = message_services.message_edit(
            conversation_id=conversation_id,
            message_id=message_id,
            user=request.user,
            request_id=request_id_of(request),
            **data.validated_data,
        )
        return Response({"message": message_json(message), "turn": chat_turn_json(turn) if turn else None})

    @extend_schema(
        operation_id="conversations_message_delete",
        responses={204: None, **errors(401, 403, 404, 409)},
        description="Withdraw one of your messages: it keeps its place with `deleted: true` and empty "
        "`content`, and the model no longer sees it; the answers after it are marked `stale`. Deleting "
        "it again changes nothing (204). 409 for an answer, or while its answers are still being "
        "generated. A message a fork shares is copied first, so the fork's history never changes. The "
        "owner only.",
    )
    def delete(self, request, conversation_id, message_id):
        message_services.message_delete(
            conversation_id=conversation_id, message_id=message_id, user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- an answer's versions -----------------------------------------------------------------------


class AlternativeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    content = serializers.CharField(allow_blank=True)
    model = serializers.CharField(allow_blank=True)
    grounded = serializers.BooleanField(allow_null=True)
    total_tokens = serializers.IntegerField(allow_null=True)
    citations = CitationsField()
    completed_at = serializers.DateTimeField(allow_null=True)


class AlternativesSerializer(serializers.Serializer):
    chosen = serializers.IntegerField(allow_null=True, help_text="The index of the version shown")
    items = AlternativeSerializer(many=True, help_text="Every version kept, oldest first ([]: only one)")


def alternatives_json(message) -> dict:
    items = [
        {
            "index": index,
            "content": version.get("content", ""),
            "model": version.get("model", ""),
            "grounded": version.get("grounded"),
            "total_tokens": version.get("total_tokens"),
            "citations": version.get("citations", []),
            "completed_at": version.get("completed_at"),
        }
        for index, version in enumerate(message.alternatives)
    ]
    return {"chosen": message.chosen, "items": items}


class AlternativesApi(APIView):
    class ChooseSerializer(StrictSerializer):
        index = serializers.IntegerField(
            min_value=0, max_value=MAX_VERSIONS - 1, help_text="The version to show"
        )

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="conversations_message_alternatives",
        responses={200: AlternativesSerializer, **errors(404, 409)},
        auth=[],
        description="The versions of an answer: once it is regenerated, the text it had and each completed "
        f"regeneration (at most {MAX_VERSIONS}), with `chosen`, the one shown. `items` is [] while it has "
        "only one. Readable by anyone who can read the conversation; 409 for a user message.",
    )
    def get(self, request, conversation_id, message_id):
        message = message_services.alternatives_of(
            conversation_id=conversation_id, message_id=message_id, viewer=request.user
        )
        return Response(AlternativesSerializer(alternatives_json(message)).data)

    @extend_schema(
        operation_id="conversations_message_choose",
        request=ChooseSerializer,
        responses={200: ConversationMessageSerializer, **errors(401, 403, 404, 409)},
        description="Show version `index` of an answer: it becomes the answer's text, what the model is told "
        "of it from now on and what forks made later share (a fork made earlier keeps the version it "
        "had: a shared answer is copied first, and the body then has the copy's id). 409 for an index "
        "with no version, for a user message or while the answer is being generated. The owner only.",
    )
    def put(self, request, conversation_id, message_id):
        data = self.ChooseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_services.alternative_choose(
            conversation_id=conversation_id, message_id=message_id, user=request.user, **data.validated_data
        )
        return Response(message_json(message))


# -- search -------------------------------------------------------------------------------------


class SearchQuerySerializer(serializers.Serializer):
    q = TextField(
        min_length=1,
        max_length=message_search.MAX_QUERY_CHARS,
        help_text='Words to find (all of them), "a phrase", `or`, `-word` to leave out',
    )


class MessageHitSerializer(serializers.Serializer):
    message = ConversationMessageSerializer()
    position = serializers.IntegerField()
    snippet = serializers.CharField(
        allow_blank=True, help_text="Up to 30 words from the best match on, plain text"
    )


class HitConversationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()


class MyMessageHitSerializer(MessageHitSerializer):
    conversation = HitConversationSerializer()


def _query(request) -> tuple[str, PageRequest]:
    query = SearchQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["q"], PageRequest.from_request(request)


def hit_json(hit: message_search.Hit) -> dict:
    return {"message": message_json(hit.message), "position": hit.position, "snippet": hit.snippet}


class ConversationMessageSearchApi(APIView):
    @extend_schema(
        operation_id="conversations_message_search",
        parameters=[SearchQuerySerializer, PageQuerySerializer],
        responses={200: page_serializer("MessageHitPage", MessageHitSerializer), **errors(404)},
        auth=[],
        description="Full-text search of the conversation's messages, in conversation order (deleted ones "
        "are never found). Words match whole, case-insensitively and unstemmed (names as written). "
        "Anyone who can read the conversation.",
    )
    def get(self, request, conversation_id):
        q, page = _query(request)
        selectors.check_readable(conversation_id, request.user)
        hits, total = message_search.search_conversation(
            conversation_id, q, start=page.number * page.size, size=page.size
        )
        return Response({"content": [hit_json(hit) for hit in hits], "page": page_info(page, total)})


class MyMessageSearchApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_messages_search",
        parameters=[SearchQuerySerializer, PageQuerySerializer],
        responses={200: page_serializer("MyMessageHitPage", MyMessageHitSerializer), **errors(401)},
        description="Full-text search of the messages of your own conversations (every visibility), newest "
        "first; a message your fork shares with its root is found in each. Words match as in a "
        "conversation's search.",
    )
    def get(self, request):
        q, page = _query(request)
        hits, total = message_search.search_user(
            request.user.id, q, start=page.number * page.size, size=page.size
        )
        titles = dict(
            Conversation.objects.filter(id__in={hit.conversation_id for hit in hits}).values_list(
                "id", "title"
            )
        )
        # A conversation deleted since the search is left out (no title to show).
        content = [
            {
                "conversation": {"id": hit.conversation_id, "title": titles[hit.conversation_id]},
                **hit_json(hit),
            }
            for hit in hits
            if hit.conversation_id in titles
        ]
        return Response({"content": content, "page": page_info(page, total)})
