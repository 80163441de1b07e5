"""Conversation endpoints under /api/v1/conversations (and the user's liked
list). Public and unlisted conversations are readable by anyone, a private
one by its owner and staff only (a 404 for everyone else, on every route:
selectors.may_read); lists show public ones. Writing is the owner's."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from gaji_contracts.conversations import (
    MAX_CHARACTER_ID_CHARS,
    MAX_CHARACTER_NAME_CHARS,
    MAX_SPEAKERS,
    MAX_USER_MESSAGE_CHARS,
    MessageStatus,
    SpeakerKind,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.scenarios import ScenarioType
from gaji_contracts.text import CLEAN_TEXT_PATTERN, NO_NUL_PATTERN
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import ApplicationError
from common.fields import CitationsField
from common.pagination import (
    PageInfo,
    PageQuerySerializer,
    PageRequest,
    page_info,
    page_serializer,
    paginate,
    shared_count,
)
from common.request_id import request_id_of
from common.schema import errors
from common.serializers import SortField, StrictSerializer
from conversations import reads, selectors, services
from conversations.cast import DEFAULT_TALKATIVENESS, MAX_CAST_MEMBERS, SPEAKERS_OR_CHARACTER
from conversations.models import Conversation, ConversationMemo, Visibility
from scenarios.apis import CreatorSerializer
from scenarios.reads import json_response

NUL = "\x00"
VISIBILITY_HELP = (
    "private: you (and staff) only, a 404 for everyone else; unlisted: anyone with the link, but in no "
    "list or count; public: everyone, everywhere"
)
TITLE_OR_VISIBILITY = "Give a title, a visibility or both."


class TextField(serializers.CharField):
    """A CharField that takes only strings (no 42 -> "42"), refuses NUL
    characters (PostgreSQL text cannot hold them) and, unless blank is
    allowed, whitespace-only text even when it keeps whitespace as written.
    The API document states the same rule (`openapi_pattern`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.openapi_pattern = NO_NUL_PATTERN if self.allow_blank else CLEAN_TEXT_PATTERN

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        value = super().to_internal_value(data)
        if not self.allow_blank and not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        if NUL in value:
            raise serializers.ValidationError("Must not contain NUL characters.")
        return value


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string: DRF would turn the JSON number 42 into
    UUID(int=42) and look it up; that is a malformed id, not an unknown one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a UUID string.")
        return super().to_internal_value(data)


class TitleField(TextField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("min_length", 1)
        super().__init__(**kwargs)


def visibility_field() -> serializers.ChoiceField:
    """An optional visibility; omitted on creation: the reader's `default_visibility` setting."""
    return serializers.ChoiceField(choices=Visibility.values, required=False, help_text=VISIBILITY_HELP)


# -- output shapes ------------------------------------------------------------------


class ScenarioSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    base_story = serializers.CharField()
    scenario_type = serializers.ChoiceField(choices=[t.value for t in ScenarioType])
    parameters = serializers.JSONField()
    is_deleted = serializers.BooleanField()


class ScenarioRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    base_story = serializers.CharField()
    scenario_type = serializers.CharField()


class MessageSpeakerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in SpeakerKind])
    character_id = serializers.CharField(
        allow_null=True, help_text="The character's id in its novel's cast; null for a character named freely"
    )
    name = serializers.CharField(allow_blank=True)


def speaker_json(message) -> dict:
    return {
        "kind": message.speaker_kind,
        "character_id": message.speaker_character_id or None,
        "name": message.speaker_name,
    }


class ConversationMessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.CharField()
    speaker = serializers.SerializerMethodField(
        help_text="Who said it: the reader, a character or the narrator"
    )
    content = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in MessageStatus])
    model = serializers.CharField(allow_blank=True)
    total_tokens = serializers.IntegerField(allow_null=True)
    degraded = serializers.BooleanField()
    grounded = serializers.BooleanField(
        allow_null=True, help_text="Passages of the novel reached the model (null until answered)"
    )
    citations = CitationsField()
    position = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    edited_at = serializers.DateTimeField(allow_null=True, help_text="When the reader last edited it")
    deleted = serializers.BooleanField(help_text="Withdrawn by the reader: kept in its place, emptied")
    stale = serializers.BooleanField(
        help_text="An answer to a message edited or deleted after it was answered"
    )
    alternatives_count = serializers.SerializerMethodField(
        help_text="How many versions of this answer are kept (0: only the one shown)"
    )
    chosen = serializers.IntegerField(allow_null=True, help_text="The index of the version shown")

    @extend_schema_field(MessageSpeakerSerializer)
    def get_speaker(self, message) -> dict:
        return speaker_json(message)

    def get_alternatives_count(self, message) -> int:
        return len(message.alternatives)


class ConversationListItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    visibility = serializers.ChoiceField(choices=Visibility.values, help_text=VISIBILITY_HELP)
    parent_conversation_id = serializers.SerializerMethodField(
        help_text="The conversation this one was forked from; null for a root, and when that one is "
        "private or unlisted and someone else's (an unlisted one is readable by its link, but never named)"
    )
    is_fork = serializers.SerializerMethodField()
    scenario = ScenarioRefSerializer()
    user = CreatorSerializer()
    like_count = serializers.IntegerField()
    message_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_is_fork(self, conversation) -> bool:
        return conversation.depth > 0

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_parent_conversation_id(self, conversation) -> str | None:
        # `shown_parent_id`: set by selectors.with_shown_parent for lists.
        parent = getattr(conversation, "shown_parent_id", conversation.parent_id)
        return str(parent) if parent else None


class ConversationSerializer(ConversationListItemSerializer):
    scenario_id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    scenario = ScenarioSummarySerializer()
    messages = ConversationMessageSerializer(many=True)
    messages_truncated = serializers.BooleanField()


ConversationPageSerializer = page_serializer("ConversationPage", ConversationListItemSerializer)


def conversation_json(conversation: Conversation, *, messages=None) -> dict:
    """The full shape: the most recent messages (at most DETAIL_MESSAGES), in order."""
    if messages is None:
        messages = selectors.latest_messages(conversation.id, selectors.DETAIL_MESSAGES)
    conversation.messages = messages
    conversation.messages_truncated = conversation.message_count > len(messages)
    return ConversationSerializer(conversation).data


def list_item_json(conversation: Conversation) -> dict:
    return ConversationListItemSerializer(conversation).data


def message_json(message) -> dict:
    return ConversationMessageSerializer(message).data


# -- conversations ------------------------------------------------------------------------


class ConversationListCreateApi(APIView):
    class InputSerializer(StrictSerializer):
        scenario_id = StrictUUIDField()
        title = TitleField(required=False)
        visibility = visibility_field()

    class QuerySerializer(serializers.Serializer):
        user_id = serializers.UUIDField(
            required=False,
            help_text="Only this user's conversations (yours: all of them, private and unlisted too)",
        )
        scenario_id = serializers.UUIDField(required=False, help_text="Only conversations on this scenario")
        sort = SortField(selectors.SORT_FIELDS, default="updated_at,desc")

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="conversations_list",
        parameters=[QuerySerializer, PageQuerySerializer],
        responses={200: ConversationPageSerializer, **errors()},
        auth=[],
        description="Public conversations, newest activity first by default; with `user_id` set to "
        "yourself, all of yours (private and unlisted too). Without filters, `total_elements` is counted at "
        "most every 10 seconds (shared by all servers).",
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        sort_field, descending = data.pop("sort")
        conversations = selectors.with_shown_parent(
            selectors.conversation_list(
                viewer=request.user, **data, sort_field=sort_field, descending=descending
            ),
            request.user,
        )
        # Unfiltered, the list is the whole table: share its count for a few seconds.
        total = None if data else shared_count(conversations, "conversations")
        return Response(
            paginate(conversations, PageRequest.from_request(request), list_item_json, total=total)
        )

    @extend_schema(
        operation_id="conversations_create",
        request=InputSerializer,
        responses={201: ConversationSerializer, **errors(401, 404)},
        description="Start a conversation on a (live) scenario; the title defaults to one from the scenario, "
        "the visibility to your settings' `default_visibility`.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_create(user=request.user, **data.validated_data)
        conversation = selectors.conversation_get(conversation_id=conversation.id, viewer=request.user)
        return Response(conversation_json(conversation, messages=[]), status=status.HTTP_201_CREATED)


class ConversationDetailApi(APIView):
    class UpdateSerializer(StrictSerializer):
        # The API document says it: {} is refused (minProperties, common.schema).
        openapi_min_properties = 1

        title = TitleField(required=False)
        visibility = visibility_field()

        def validate(self, attrs):
            if not attrs:
                raise serializers.ValidationError({"non_field_errors": [TITLE_OR_VISIBILITY]})
            return attrs

    class UpdatedSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        title = serializers.CharField()
        visibility = serializers.ChoiceField(choices=Visibility.values)
        updated_at = serializers.DateTimeField()

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="conversations_get",
        responses={200: ConversationSerializer, **errors(404)},
        auth=[],
        description=f"A conversation with its most recent {selectors.DETAIL_MESSAGES} messages in order "
        "(`messages_truncated` says whether older ones exist: page them with /messages). A private "
        "conversation is a 404 for everyone but its owner and staff.",
    )
    def get(self, request, conversation_id):
        # request.user: absent on the anonymous fast path (common.fastget).
        viewer = getattr(request, "user", None)
        return json_response(reads.conversation_document(conversation_id, viewer))

    @extend_schema(
        operation_id="conversations_update",
        request=UpdateSerializer,
        responses={200: UpdatedSerializer, **errors(401, 403, 404)},
        description="Rename it and/or change its visibility (the owner only; at least one of the two). "
        "Holds at once: a conversation made private is a 404 for everyone else from the next request.",
    )
    def put(self, request, conversation_id):
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_update(
            conversation_id=conversation_id, user=request.user, **data.validated_data
        )
        return Response(self.UpdatedSerializer(conversation).data)

    @extend_schema(
        operation_id="conversations_delete",
        responses={204: None, **errors(401, 403, 404)},
        description="Deletes the conversation with its links, likes and memos, and every message no other "
        "conversation (a fork) still shows. Its forks remain.",
    )
    def delete(self, request, conversation_id):
        services.conversation_delete(conversation_id=conversation_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- messages ---------------------------------------------------------------------------------


class TurnAnswerSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    speaker = MessageSpeakerSerializer()


class ChatTurnSerializer(serializers.Serializer):
    message_id = serializers.UUIDField(
        allow_null=True, help_text="Your message (null when the scene goes on)"
    )
    assistant_message_id = serializers.UUIDField(help_text="The first answer")
    answers = TurnAnswerSerializer(
        many=True, help_text="Every answer of the turn in speaking order, all spoken in `stream_url`"
    )
    stream_url = serializers.URLField()
    stream_expires_at = serializers.DateTimeField()


def chat_turn_json(turn: services.ChatTurn) -> dict:
    return ChatTurnSerializer(
        {
            "message_id": turn.user_message_id,
            "assistant_message_id": turn.assistant_message.id,
            "answers": [{"message_id": a.id, "speaker": speaker_json(a)} for a in turn.answers],
            "stream_url": turn.stream_url,
            "stream_expires_at": turn.stream_expires_at,
        }
    ).data


class CursorsSerializer(serializers.Serializer):
    older = serializers.UUIDField(allow_null=True, help_text="Pass as `before` for the previous messages")
    newer = serializers.UUIDField(allow_null=True, help_text="Pass as `after` for the next messages")


class MessagePageSerializer(serializers.Serializer):
    content = ConversationMessageSerializer(many=True)
    page = PageInfo(allow_null=True, help_text="Page mode only; null when paging by cursor")
    cursors = CursorsSerializer()


MODEL_HELP = (
    "A model from the ai service's GET /api/ai/models; the configured default when omitted. "
    "Any other: 400 `INVALID_MODEL`."
)
CHARACTER_HELP = (
    "The character you address, e.g. 'Mr. Darcy'; default: the scenario's character, else the narrator."
)


def character_field() -> TextField:
    """Stripped; blank is refused (omit the field for the default)."""
    return TextField(max_length=MAX_CHARACTER_NAME_CHARS, required=False, help_text=CHARACTER_HELP)


class SpeakerInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=[SpeakerKind.CHARACTER.value, SpeakerKind.NARRATOR.value])
    character_id = TextField(
        max_length=MAX_CHARACTER_ID_CHARS,
        required=False,
        allow_null=True,
        help_text="A character of the novel, or `card:<id>` for one of your imported characters",
    )
    name = TextField(
        max_length=MAX_CHARACTER_NAME_CHARS, required=False, help_text="A character named freely"
    )


SPEAKERS_HELP = (
    f"Who answers, in order (at most {MAX_SPEAKERS}, each once): the narrator, a character of the novel "
    "by `character_id` (400 for an unknown one) or a character by `name` (one of the two is required). "
    "Omitted: the characters your message mentions, then the talkative members of the scene, and the "
    "narrator when it is in the scene."
)


def speakers_field() -> serializers.ListField:
    return serializers.ListField(
        child=SpeakerInputSerializer(),
        min_length=1,
        max_length=MAX_SPEAKERS,
        required=False,
        help_text=SPEAKERS_HELP,
    )


class MessageListSendApi(APIView):
    class InputSerializer(StrictSerializer):
        content = TextField(min_length=1, max_length=MAX_USER_MESSAGE_CHARS, trim_whitespace=False)
        model = serializers.CharField(max_length=100, required=False, help_text=MODEL_HELP)
        character = character_field()
        speakers = speakers_field()

        def validate(self, attrs):
            if attrs.get("character") and attrs.get("speakers"):
                raise serializers.ValidationError({"speakers": [SPEAKERS_OR_CHARACTER]})
            return attrs

    class QuerySerializer(serializers.Serializer):
        before = serializers.UUIDField(
            required=False, help_text="A message id: the `size` messages before it"
        )
        after = serializers.UUIDField(required=False, help_text="A message id: the `size` messages after it")

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="conversations_messages",
        parameters=[QuerySerializer, PageQuerySerializer],
        responses={200: MessagePageSerializer, **errors(404)},
        auth=[],
        description="The conversation's history, oldest first: by page (`page`, `size`) or by cursor "
        "(`before` or `after` a message id, with `size`; with both, the first `size` messages between the "
        "two). `cursors` gives the ids to continue with.",
    )
    def get(self, request, conversation_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = PageRequest.from_request(request)
        conversation = selectors.conversation_get(conversation_id=conversation_id, viewer=request.user)
        cursor = query.validated_data
        if cursor:
            window = selectors.messages_around(conversation.id, size=page.size, **cursor)
            messages, info = window.messages, None
            older = window.older and bool(messages)
            newer = window.newer and bool(messages)
        else:
            start = page.number * page.size
            messages = selectors.page_of_messages(conversation.id, start=start, size=page.size)
            info = page_info(page, conversation.message_count)
            older = bool(messages) and messages[0].position > 0
            newer = bool(messages) and messages[-1].position < conversation.message_count - 1
        return Response(
            {
                "content": [message_json(m) for m in messages],
                "page": info,
                "cursors": {
                    "older": messages[0].id if older else None,
                    "newer": messages[-1].id if newer else None,
                },
            }
        )

    @extend_schema(
        operation_id="conversations_send_message",
        request=InputSerializer,
        responses={202: ChatTurnSerializer, **errors(401, 403, 404, 429, 503)},
        description="Stores your message and a pending answer per speaker, hands the turn to the ai service "
        "and answers at once. Open `stream_url` (an EventSource URL with a short-lived ticket): the answers "
        "are spoken one after another in it, each chunk and `message_complete` naming its `message_id` and "
        "`speaker`, `more: true` on every `message_complete` but the last. Who answers: `speakers`, else "
        "`character`, else the scene's choice (see GET /cast). If the "
        "ai service is unavailable: 503 `AI_UNAVAILABLE` with `message_id` and `assistant_message_id` "
        "(your message is kept; regenerate the answer later). A model the ai service does not offer: 400 "
        "`INVALID_MODEL` (nothing stored, unless ai refuses it only on hand-over: then with both ids, "
        "like the 503). 10 per minute.",
    )
    def post(self, request, conversation_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        turn = services.message_send(
            conversation_id=conversation_id,
            user=request.user,
            request_id=request_id_of(request),
            **data.validated_data,
        )
        return Response(chat_turn_json(turn), status=status.HTTP_202_ACCEPTED)


class MessageRegenerateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        model = serializers.CharField(max_length=100, required=False, help_text=MODEL_HELP)
        character = character_field()

    @extend_schema(
        operation_id="conversations_regenerate_message",
        request=InputSerializer,
        responses={202: ChatTurnSerializer, **errors(401, 403, 404, 409, 429, 503)},
        description="Generate an answer again (same message id), spoken by the same speaker in its own "
        "stream: a failed, cancelled or completed one (409 while it is being generated, or for a user "
        "message). A completed answer keeps its text as a version (GET .../alternatives; the new text "
        "is added and shown when it completes; at most 10 versions, then 409). An answer a fork shares "
        "is copied first, so the fork keeps it: the turn then names the copy's id. `character` gives it "
        "to another speaker; `model` as when sending.",
    )
    def post(self, request, conversation_id, message_id):
        data = self.InputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        turn = services.message_regenerate(
            conversation_id=conversation_id,
            message_id=message_id,
            user=request.user,
            request_id=request_id_of(request),
            **data.validated_data,
        )
        return Response(chat_turn_json(turn), status=status.HTTP_202_ACCEPTED)


class CancelResultSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=[MessageStatus.PENDING.value, MessageStatus.STREAMING.value],
        help_text="The answer's status when the cancel was asked; `cancelled` once the worker stops",
    )
    cancel_requested = serializers.BooleanField()


class MessageCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_cancel_message",
        request=None,
        responses={202: CancelResultSerializer, **errors(401, 403, 404, 409, 503)},
        description="Stop an answer being generated (pending or streaming), with the rest of its turn. "
        "The ai worker stops within a second and stores the text so far with status `cancelled` (answers "
        "of the turn not reached: cancelled and empty); each can then be regenerated. 409 for an "
        "answer already completed, cancelled or failed; 400 for a user message; 503 `AI_UNAVAILABLE` if "
        "the ai service cannot be reached.",
    )
    def post(self, request, conversation_id, message_id):
        message = services.message_cancel(
            conversation_id=conversation_id,
            message_id=message_id,
            user=request.user,
            request_id=request_id_of(request),
        )
        return Response(
            CancelResultSerializer(
                {"message_id": message.id, "status": message.status, "cancel_requested": True}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


class MessageCitationsSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[s.value for s in MessageStatus])
    citations = CitationsField()


class MessageCitationsApi(APIView):
    @extend_schema(
        operation_id="conversations_message_citations",
        responses={200: MessageCitationsSerializer, **errors(404, 409)},
        auth=[],
        description="The passages of the novel an answer is grounded in: those its prompt held, in the "
        "order the prompt numbered them ([1], [2], ...), each with its chapter, the chapter's title, its "
        "position in the novel and a short quote of the text the model read. [] while the answer is not "
        "finished and for an answer without grounding (no ingested novel, passages unavailable). Readable "
        "by anyone who can read the conversation. 404 unless the message is in this conversation; 400 "
        "for a user message.",
    )
    def get(self, request, conversation_id, message_id):
        message = services.message_citations(
            conversation_id=conversation_id, message_id=message_id, viewer=request.user
        )
        return Response(
            MessageCitationsSerializer(
                {"message_id": message.id, "status": message.status, "citations": message.citations}
            ).data
        )


class MessageStreamSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[s.value for s in MessageStatus])
    stream_url = serializers.URLField()
    stream_expires_at = serializers.DateTimeField()


class MessageStreamApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_message_stream",
        request=None,
        responses={200: MessageStreamSerializer, **errors(401, 403, 404, 409)},
        description="A fresh `stream_url` (new ticket) for one of your answers, in any state: after a page "
        "reload or an expired ticket the stream is opened again and replays from the start (or from "
        "`Last-Event-ID`) while ai keeps it; an older stream ends with `not_resumable`, and the stored "
        "message is the answer. 400 for a user message.",
    )
    def post(self, request, conversation_id, message_id):
        message, url, expires_at = services.message_stream(
            conversation_id=conversation_id, message_id=message_id, user=request.user
        )
        body = {"message_id": message.id, "status": message.status, "stream_url": url}
        body["stream_expires_at"] = expires_at
        return Response(MessageStreamSerializer(body).data)


class ContinueApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        model = serializers.CharField(max_length=100, required=False, help_text=MODEL_HELP)
        speakers = speakers_field()

    @extend_schema(
        operation_id="conversations_continue",
        request=InputSerializer,
        responses={202: ChatTurnSerializer, **errors(401, 403, 404, 429, 503)},
        description="Let the scene go on without a message of yours: the `speakers` named, else the members "
        "the last line mentions and the talkative ones (not the one who just spoke, when others are in the "
        "scene), and the narrator when it is in the scene. Streams like a sent message (`message_id` null). "
        "Counts against the message rate limit.",
    )
    def post(self, request, conversation_id):
        data = self.InputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        turn = services.scene_continue(
            conversation_id=conversation_id,
            user=request.user,
            request_id=request_id_of(request),
            **data.validated_data,
        )
        return Response(chat_turn_json(turn), status=status.HTTP_202_ACCEPTED)


# -- the scene's cast -----------------------------------------------------------------------


class CastMemberSerializer(StrictSerializer):
    character_id = TextField(
        max_length=MAX_CHARACTER_ID_CHARS,
        allow_null=True,
        required=False,
        help_text="A character of the conversation's novel (GET /api/ai/novels/{id}/characters), or "
        "`card:<id>` for one of the owner's imported characters (GET /api/v1/characters); null for one "
        "named freely",
    )
    name = TextField(max_length=MAX_CHARACTER_NAME_CHARS, help_text="How the scene names the character")
    talkativeness = serializers.FloatField(
        min_value=0, max_value=1, default=DEFAULT_TALKATIVENESS, help_text="The chance to speak unaddressed"
    )


class CastSerializer(StrictSerializer):
    narrator = serializers.BooleanField(help_text="A narrator describes the scene after the characters")
    members = serializers.ListField(child=CastMemberSerializer(), max_length=MAX_CAST_MEMBERS)


class CastApi(APIView):
    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="conversations_cast_get",
        responses={200: CastSerializer, **errors(404)},
        auth=[],
        description="Who is in the scene: the members (characters of the novel by id, or named freely) with "
        "their talkativeness, and whether a narrator is. A new conversation starts with the scenario's "
        "character (or the novel's two most central characters) and no narrator.",
    )
    def get(self, request, conversation_id):
        return Response(services.cast_get(conversation_id=conversation_id, viewer=request.user).json())

    @extend_schema(
        operation_id="conversations_cast_put",
        request=CastSerializer,
        responses={200: CastSerializer, **errors(401, 403, 404, 503)},
        description=f"Replace the scene's cast (at most {MAX_CAST_MEMBERS} members, each character once; "
        "the owner only: 403). An unknown `character_id` is 400 with the field; 503 `AI_UNAVAILABLE` when "
        "the novel's cast cannot be read to check it.",
    )
    def put(self, request, conversation_id):
        data = CastSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cast = services.cast_put(conversation_id=conversation_id, user=request.user, data=data.validated_data)
        return Response(cast.json())


# -- the prompt inspector ---------------------------------------------------------------------


class InspectedMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField(allow_blank=True)


class InspectedSectionSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="persona, brief, history, lore, memory, passages, message")
    tokens = serializers.IntegerField(help_text="Counted with the model's own tokenizer when it has one")
    text = serializers.CharField(allow_blank=True)


class InspectedLoreSerializer(serializers.Serializer):
    book = serializers.CharField(allow_blank=True, help_text="The lorebook's name")
    name = serializers.CharField(allow_blank=True, help_text="The entry's name (or comment)")
    content = serializers.CharField()
    position = serializers.ChoiceField(choices=["before_char", "after_char"])
    reason = serializers.CharField(
        allow_blank=True, help_text='Why it fired: "constant", "key: <the key that matched>", ...'
    )


class MessagePromptSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    attempt = serializers.IntegerField()
    model = serializers.CharField(allow_blank=True)
    provider = serializers.CharField(allow_blank=True)
    settings = serializers.DictField(help_text="temperature, max_tokens, context_tokens, grounding_tokens")
    messages = InspectedMessageSerializer(
        many=True, help_text="The chat messages the model received, in order"
    )
    sections = InspectedSectionSerializer(many=True)
    lore = InspectedLoreSerializer(
        many=True, help_text="The lorebook entries that fired and reached the prompt (its `lore` section)"
    )
    prompt_tokens = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text="Texts were cut to keep the record bounded")


class MessagePromptApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_message_prompt",
        responses={200: MessagePromptSerializer, **errors(401, 404, 409)},
        description="Why this answer? Exactly what the model received for it: the model and settings, the "
        "chat messages in order, and each section labelled with its token count (`persona`, `brief`, "
        "`history`, `lore`, `memory`, `passages` with their citation numbers, `message`), and the lorebook "
        "entries that fired (`lore`, with why). The conversation's owner and staff "
        "only: 404 for anyone else, as for a message that does not exist. 404 too while the answer has none "
        "(not answered yet); 409 for a user message. Deleted with the answer.",
    )
    def get(self, request, conversation_id, message_id):
        prompt = services.message_prompt(
            conversation_id=conversation_id, message_id=message_id, user=request.user
        )
        record = prompt.record
        return Response(
            MessagePromptSerializer(
                {
                    "message_id": prompt.message_id,
                    "attempt": prompt.attempt,
                    "model": record.get("model", ""),
                    "provider": record.get("provider", ""),
                    "settings": record.get("settings", {}),
                    "messages": record.get("messages", []),
                    "sections": record.get("sections", []),
                    "lore": record.get("lore", []),
                    "prompt_tokens": record.get("prompt_tokens", 0),
                    "truncated": record.get("truncated", False),
                }
            ).data
        )


# -- forks ----------------------------------------------------------------------------------


class ConversationForkApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        title = TitleField(required=False)
        visibility = visibility_field()

    @extend_schema(
        operation_id="conversations_fork",
        request=InputSerializer,
        responses={201: ConversationSerializer, **errors(401, 403, 404, 409)},
        description="Fork a root conversation (forks cannot be forked: 409 `FORK_DEPTH_EXCEEDED`). The fork "
        "shows the last min(6, total) messages of the source, shared rather than copied, and is yours; its "
        "visibility defaults to your settings' `default_visibility`. A private conversation: its owner "
        "only (staff: 403, anyone else: 404).",
    )
    def post(self, request, conversation_id):
        data = self.InputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        fork = services.conversation_fork(
            conversation_id=conversation_id, user=request.user, **data.validated_data
        )
        return Response(
            conversation_json(selectors.conversation_get(conversation_id=fork.id, viewer=request.user)),
            status=status.HTTP_201_CREATED,
        )


class ConversationTreeApi(APIView):
    class QuerySerializer(serializers.Serializer):
        limit = serializers.IntegerField(
            min_value=1, max_value=selectors.TREE_CHILDREN_MAX, default=100, help_text="Children shown"
        )

    @staticmethod
    def node(conversation: Conversation) -> dict:
        return {
            "id": conversation.id,
            "title": conversation.title,
            "scenario_id": conversation.scenario_id,
            "user": {"id": conversation.user.id, "username": conversation.user.username},
            "like_count": conversation.like_count,
            "message_count": conversation.message_count,
            "created_at": conversation.created_at,
        }

    @extend_schema(
        operation_id="conversations_tree",
        parameters=[QuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **errors(404)},
        auth=[],
        description="This conversation with its forks as `children` (most liked first, at most `limit`). "
        "`depth` counts edges below it (0 alone, 1 with forks); `total_descendants` counts all forks. Only "
        "the forks a list may show you: private and unlisted forks of others are left out (and counted "
        "nowhere), and a parent private or unlisted and someone else's is null.",
    )
    def get(self, request, conversation_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        root = selectors.conversation_get(conversation_id=conversation_id, viewer=request.user)
        children, total = selectors.children_of(root, query.validated_data["limit"], viewer=request.user)
        return Response(
            {
                **self.node(root),
                "parent_conversation_id": selectors.shown_parent_id(root, request.user),
                "children": [{**self.node(child), "children": []} for child in children],
                "depth": 1 if total else 0,
                "total_descendants": total,
            }
        )


# -- likes ----------------------------------------------------------------------------------


class LikeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_like",
        request=None,
        responses={
            200: inline_serializer(
                "LikeResult",
                {
                    "user_id": serializers.UUIDField(),
                    "conversation_id": serializers.UUIDField(),
                    "liked_at": serializers.DateTimeField(),
                    "total_likes": serializers.IntegerField(),
                },
            ),
            **errors(401, 404),
        },
        description="Idempotent: liking twice changes nothing.",
    )
    def post(self, request, conversation_id):
        state = services.like(user=request.user, conversation_id=conversation_id)
        return Response(
            {
                "user_id": request.user.id,
                "conversation_id": conversation_id,
                "liked_at": serializers.DateTimeField().to_representation(state.liked_at),
                "total_likes": state.total_likes,
            }
        )


class UnlikeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_unlike",
        responses={
            200: inline_serializer(
                "UnlikeResult",
                {"message": serializers.CharField(), "total_likes": serializers.IntegerField()},
            ),
            **errors(401, 404),
        },
        description="Idempotent: unliking what you do not like changes nothing.",
    )
    def delete(self, request, conversation_id):
        state = services.unlike(user=request.user, conversation_id=conversation_id)
        return Response({"message": "Unliked successfully", "total_likes": state.total_likes})


class LikedApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_liked",
        responses={
            200: inline_serializer(
                "LikedStatus",
                {
                    "is_liked": serializers.BooleanField(),
                    "liked_at": serializers.DateTimeField(allow_null=True),
                },
            ),
            **errors(401, 404),
        },
    )
    def get(self, request, conversation_id):
        conversation = selectors.conversation_get(conversation_id=conversation_id, viewer=request.user)
        existing = selectors.like_of(user=request.user, conversation_id=conversation.id)
        return Response(
            {
                "is_liked": existing is not None,
                "liked_at": serializers.DateTimeField().to_representation(existing.created_at)
                if existing
                else None,
            }
        )


class LikedConversationSerializer(ConversationListItemSerializer):
    liked_at = serializers.DateTimeField()


class LikedConversationsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_liked_conversations",
        parameters=[PageQuerySerializer],
        responses={200: page_serializer("LikedConversationPage", LikedConversationSerializer), **errors(401)},
        description="Conversations you liked, most recently liked first: the public ones and your own "
        "(a conversation made private or unlisted since leaves the list).",
    )
    def get(self, request):
        def item(like) -> dict:
            conversation = like.conversation
            conversation.liked_at = like.created_at
            conversation.shown_parent_id = like.shown_parent_id
            return LikedConversationSerializer(conversation).data

        return Response(
            paginate(
                selectors.with_shown_parent(
                    selectors.liked_by(user=request.user), request.user, "conversation__"
                ),
                PageRequest.from_request(request),
                item,
            )
        )


# -- memos ----------------------------------------------------------------------------------

NO_MEMO = "No memo found for this conversation"


class MemoSerializer(serializers.Serializer):
    memo_text = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MemoApi(APIView):
    """Your private note on a conversation. Nobody else (other users, the
    conversation's owner) can read it; staff see only that it exists."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        memo_text = TextField(max_length=ConversationMemo.MAX_CHARS, allow_blank=False, trim_whitespace=False)

    @extend_schema(operation_id="conversations_memo_get", responses={200: MemoSerializer, **errors(401, 404)})
    def get(self, request, conversation_id):
        conversation = selectors.conversation_get(conversation_id=conversation_id, viewer=request.user)
        memo = selectors.memo_of(user=request.user, conversation_id=conversation.id)
        if memo is None:
            raise ApplicationError(NO_MEMO, status=404, code=ErrorCode.NOT_FOUND)
        return Response(MemoSerializer(memo).data)

    @extend_schema(
        operation_id="conversations_memo_upsert",
        request=InputSerializer,
        responses={201: MemoSerializer, 200: MemoSerializer, **errors(401, 404)},
        description="Create (201) or replace (200) your memo: Markdown, stored as written, at most 1,000 "
        "characters. It is never rendered as HTML by Gaji.",
    )
    def post(self, request, conversation_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        memo, created = services.memo_upsert(
            user=request.user, conversation_id=conversation_id, **data.validated_data
        )
        return Response(
            MemoSerializer(memo).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(operation_id="conversations_memo_delete", responses={204: None, **errors(401, 404)})
    def delete(self, request, conversation_id):
        services.memo_delete(user=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
