"""The ai service's view of conversations (/api/internal/conversations,
service token only): a generation's context, persisting its answer,
storing a turn for ai's direct endpoint, and the memory written after a turn."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from gaji_contracts.conversations import (
    AssistantMessageResult,
    ConversationContext,
    ConversationRef,
    GenerationRequest,
    NovelRef,
    OwnerRef,
    PersistResult,
    TurnCreate,
)
from gaji_contracts.memory import MemoryWrite, MemoryWritten
from gaji_contracts.text import NUL_MESSAGE, clean_text
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.user_settings import prepare_turn
from common import ratelimit
from common.exceptions import ApplicationError, validation_message
from common.request_id import request_id_of
from common.schema import errors
from conversations import memory, selectors, services
from internal.apis import InternalApiView, parse_contract
from notifications import services as notify

CONTEXT_MAX_MESSAGES = 100


class InternalConversationContextApi(InternalApiView):
    class QuerySerializer(serializers.Serializer):
        messages = serializers.IntegerField(min_value=0, max_value=CONTEXT_MAX_MESSAGES, default=20)
        message_id = serializers.UUIDField(
            required=False, help_text="404 unless the conversation shows this message"
        )

    @extend_schema(
        operation_id="internal_conversation_context",
        parameters=[QuerySerializer],
        responses={200: ConversationContext, **errors(401, 403, 404)},
        description="Scenario, novel, owner and the last N messages (oldest first): the shared-contracts "
        "model gaji_contracts.conversations.ConversationContext. With `message_id`, 404 unless the "
        "conversation shows that message (ai's stream route checks a Bearer reader's message this way: "
        "owning one conversation must not open another's answer). Service token only.",
    )
    def get(self, request, conversation_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # The ai service acts for the owner: it sees the conversation whatever its visibility.
        conversation = selectors.conversation_get(conversation_id=conversation_id, viewer=request.user)
        if "message_id" in query.validated_data:
            selectors.position_of(conversation.id, query.validated_data["message_id"])  # 404 if not shown
        scenario = conversation.scenario
        novel = scenario.novel
        messages = selectors.latest_messages(conversation.id, query.validated_data["messages"])
        context = ConversationContext(
            conversation=ConversationRef(
                id=conversation.id,
                title=conversation.title,
                user_id=conversation.user_id,
                parent_conversation_id=conversation.parent_id,
                message_count=conversation.message_count,
            ),
            scenario=services.scenario_brief(scenario),
            novel=NovelRef(
                id=novel.id,
                slug=novel.slug,
                title=novel.title,
                author=novel.author,
                ingestion_status=novel.ingestion_status,
            )
            if novel
            else None,
            owner=OwnerRef(id=conversation.user.id, username=conversation.user.username),
            messages=[services.chat_message(m) for m in messages if not m.deleted],
        )
        return Response(context.model_dump(mode="json"))


class InternalMessagePersistApi(InternalApiView):
    @extend_schema(
        operation_id="internal_conversation_persist_message",
        request=AssistantMessageResult,
        responses={
            200: PersistResult,
            **errors(401, 403, 404, 409),
        },
        description="Store a pending assistant message's final content and status, idempotently by "
        "`message_id` (a retry answers `applied: false` and changes nothing), with the `citations` of the "
        "passages its prompt held (at most 20; a malformed one is a 400 and nothing is stored). 404 when "
        "the conversation or the message in it is gone (deleted meanwhile), 409 when it is not an answer: "
        "do not retry. Service token only.",
    )
    def post(self, request, conversation_id):
        result = parse_contract(AssistantMessageResult, request.data)
        outcome = services.assistant_message_persist(conversation_id=conversation_id, result=result)
        notify.answer_persisted(conversation_id=conversation_id, result=result, outcome=outcome)
        return Response(outcome.model_dump(mode="json"))


def _text(field: str, value: str | None) -> str | None:
    """Stripped; blank or holding NUL (PostgreSQL text cannot) is a 400, as on the public routes."""
    if value is None:
        return None
    try:
        return clean_text(value)
    except ValueError as exc:
        problem = (
            "Must not contain NUL characters." if str(exc) == NUL_MESSAGE else "This field may not be blank."
        )
        details = {field: [problem]}
        raise ApplicationError(validation_message(details), details=details) from exc


class InternalTurnCreateApi(InternalApiView):
    @extend_schema(
        operation_id="internal_conversation_create_turn",
        request=TurnCreate,
        responses={201: GenerationRequest, **errors(401, 403, 404, 429)},
        description="Store a chat turn for `user_id` (ai's direct endpoint): the user message and a pending "
        "answer, exactly as the public send does. Answers 201 with the shared-contracts model "
        "gaji_contracts.conversations.GenerationRequest, which is not dispatched: the caller queues it. "
        "403 `PERMISSION_DENIED` unless `user_id` owns the conversation (404 for someone else's private "
        "one, as on the public route). Counts against `user_id`'s "
        "message rate limit, the same budget as POST /api/v1/conversations/{id}/messages: 429 "
        "`RATE_LIMITED` with Retry-After once it is spent (nothing stored). Service token only.",
    )
    def post(self, request, conversation_id):
        turn = parse_contract(TurnCreate, request.data)
        ratelimit.enforce("messages", ratelimit.user_subject(turn.user_id))
        if not turn.model:
            # The reader's default model: ai's list is fetched before the turn locks its conversation.
            prepare_turn(turn.user_id, request_id=request_id_of(request))
        generation = services.turn_create(
            conversation_id=conversation_id,
            user_id=turn.user_id,
            content=_text("content", turn.content),
            model=turn.model or None,
            character=_text("character", turn.character),
        )
        return Response(generation.model_dump(mode="json"), status=status.HTTP_201_CREATED)


class InternalMemoryWriteApi(InternalApiView):
    @extend_schema(
        operation_id="internal_conversation_write_memory",
        request=MemoryWrite,
        responses={200: MemoryWritten, **errors(401, 403, 404)},
        description="Store what ai wrote about a completed answer (gaji_contracts.memory.MemoryWrite): "
        "facts, events, what a character knows, relationship changes (each kept in the relationship's "
        "history) and, when the turn asked for a fold, a summary. A second write about the same answer "
        "replaces the first. 404 when the conversation is gone. Service token only.",
    )
    def post(self, request, conversation_id):
        write = parse_contract(MemoryWrite, request.data)
        written = memory.memory_write(conversation_id=conversation_id, write=write)
        return Response(written.model_dump(mode="json"))
