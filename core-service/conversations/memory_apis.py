"""A conversation's memory as readers see it: list, add, edit, pin and
delete entries, and the spoiler boundary (the owner only; staff may read)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from gaji_contracts.memory import (
    MAX_MEMORY_TEXT_CHARS,
    MemoryEntryCreate,
    MemoryEntryUpdate,
    MemoryKind,
)
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import ApplicationError
from common.pagination import PageQuerySerializer, PageRequest, page_serializer, paginate
from common.schema import errors
from common.serializers import StrictSerializer
from conversations import memory
from conversations.cast import cast_of
from conversations.models import Conversation, MemoryEntry
from internal.apis import parse_contract

MAX_CANON_CHAPTER = 100_000
PAIR_NEEDED = "A relationship needs a subject and a target."
VALUE_ONLY = "Only a relationship has a value."
# Refusals JSON Schema cannot state; the API document says them in words.
RULES_IN_WORDS = (PAIR_NEEDED, VALUE_ONLY)


class RelationshipChangeSerializer(serializers.Serializer):
    value = serializers.IntegerField(allow_null=True, help_text="The stance after the change")
    change = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    source = serializers.CharField(help_text="model, rule or reader")
    source_message_id = serializers.UUIDField(allow_null=True)
    at = serializers.CharField()


class MemoryEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=[k.value for k in MemoryKind])
    subject = serializers.CharField(help_text="The character it is about, or `world`")
    target = serializers.CharField(allow_blank=True, help_text="relationship: the other character")
    text = serializers.CharField()
    value = serializers.IntegerField(allow_null=True, help_text="relationship: -100 (hostile) .. 100")
    trend = serializers.SerializerMethodField(help_text="relationship: the last change (+ warmer, - colder)")
    history = RelationshipChangeSerializer(many=True, help_text="relationship: every change, oldest first")
    source = serializers.CharField(help_text="model, rule or reader: who wrote it")
    source_message_id = serializers.UUIDField(allow_null=True, help_text="The answer it was written about")
    pinned = serializers.BooleanField(help_text="Always in the prompt (within its budget)")
    known_by = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="Character keys of those who know it (a cast id, or `name:<name>`); null: everyone",
    )
    layer = serializers.IntegerField(help_text="summary: 1 folds messages, 2 and up fold summaries")
    covers_from = serializers.IntegerField(allow_null=True)
    covers_to = serializers.IntegerField(allow_null=True)
    covered = serializers.BooleanField(help_text="summary: folded into one of the layer above")
    inherited = serializers.BooleanField(help_text="Copied from the conversation this one was forked from")
    position = serializers.IntegerField(help_text="The message position it comes from (0 when inherited)")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_trend(self, entry: MemoryEntry) -> int | None:
        history = entry.history or []
        return int(history[-1].get("change") or 0) if history else None


class KnowerSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()


_MemoryPage = page_serializer("MemoryEntryPage", MemoryEntrySerializer)


class MemoryPageSerializer(_MemoryPage):
    canon_chapter = serializers.IntegerField(allow_null=True)
    characters = KnowerSerializer(many=True, help_text="The scene's characters and their knower keys")


def entry_json(entry: MemoryEntry) -> dict:
    return MemoryEntrySerializer(entry).data


def _checked(data: MemoryEntryCreate) -> None:
    if data.kind == MemoryKind.RELATIONSHIP and (not data.subject or not data.target):
        field = "subject" if not data.subject else "target"
        raise ApplicationError(PAIR_NEEDED, details={field: [PAIR_NEEDED]})
    if data.kind != MemoryKind.RELATIONSHIP and data.value is not None:
        raise ApplicationError(VALUE_ONLY, details={"value": [VALUE_ONLY]})


def characters(conversation: Conversation) -> list[dict]:
    present = memory.present_of(cast_of(conversation), [])
    return [{"key": key, "name": name} for key, name in present.names.items()]


class MemoryListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class QuerySerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=[k.value for k in MemoryKind], required=False)
        subject = serializers.CharField(required=False, max_length=100, help_text="`world` or a character")

    @extend_schema(
        operation_id="conversations_memory_list",
        parameters=[QuerySerializer, PageQuerySerializer],
        responses={200: MemoryPageSerializer, **errors(401, 403, 404)},
        description="What the branch remembers: pinned first, then newest. Facts, events, what each "
        "character knows (`known_by`), relationships with their stance, trend and history, layered "
        "summaries of older turns, and the reader's pins; each says who wrote it (`source`). Also "
        "the spoiler boundary and the scene's characters with their knower keys. The owner only "
        "(staff may read).",
    )
    def get(self, request, conversation_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = PageRequest.from_request(request)
        conversation, entries = memory.memory_list(
            conversation_id=conversation_id, user=request.user, **query.validated_data
        )
        body = paginate(entries, page, entry_json)
        body.update(canon_chapter=conversation.canon_chapter, characters=characters(conversation))
        return Response(body)

    @extend_schema(
        operation_id="conversations_memory_create",
        request=MemoryEntryCreate,
        responses={201: MemoryEntrySerializer, **errors(401, 403, 404)},
        description=f"Add an entry of your own (`source: reader`, pinned unless `pinned: false`; at most "
        f"{MAX_MEMORY_TEXT_CHARS} characters). `known_by` limits who knows it (null: everyone). "
        f"{PAIR_NEEDED} {VALUE_ONLY} The owner only.",
    )
    def post(self, request, conversation_id):
        data = parse_contract(MemoryEntryCreate, request.data)
        _checked(data)
        entry = memory.memory_create(conversation_id=conversation_id, user=request.user, data=data)
        return Response(entry_json(entry), status=status.HTTP_201_CREATED)


class MemoryEntryApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_memory_update",
        request=MemoryEntryUpdate,
        responses={200: MemoryEntrySerializer, **errors(401, 403, 404)},
        description="Edit an entry: its text, pin, who knows it (`known_by`, or `everyone: true`) and, for "
        f"a relationship, its stance (`value`; the change joins its history). {VALUE_ONLY} The owner only.",
    )
    def patch(self, request, conversation_id, entry_id):
        data = parse_contract(MemoryEntryUpdate, request.data)
        entry = memory.memory_update(
            conversation_id=conversation_id, entry_id=entry_id, user=request.user, data=data
        )
        return Response(entry_json(entry))

    @extend_schema(
        operation_id="conversations_memory_delete",
        responses={204: None, **errors(401, 403, 404)},
        description="Delete an entry (an inherited one goes from this branch only). The owner only.",
    )
    def delete(self, request, conversation_id, entry_id):
        memory.memory_delete(conversation_id=conversation_id, entry_id=entry_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CanonSerializer(StrictSerializer):
    canon_chapter = serializers.IntegerField(
        min_value=1,
        max_value=MAX_CANON_CHAPTER,
        allow_null=True,
        help_text="Retrieval and canon knowledge stop at this chapter; null: where the scenario sits",
    )


class CanonOutSerializer(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    canon_chapter = serializers.IntegerField(allow_null=True)


class CanonApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_canon_set",
        request=CanonSerializer,
        responses={200: CanonOutSerializer, **errors(401, 403, 404)},
        description="Set the spoiler boundary: the novel's passages the model reads and what characters "
        "know of canon stop at `canon_chapter` (null: the point the scenario sits at, when it names one). "
        "A fork copies it. The owner only.",
    )
    def put(self, request, conversation_id):
        data = CanonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = memory.canon_set(
            conversation_id=conversation_id,
            user=request.user,
            canon_chapter=data.validated_data["canon_chapter"],
        )
        return Response({"conversation_id": conversation.id, "canon_chapter": conversation.canon_chapter})
