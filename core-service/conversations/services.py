"""Writes of conversations, messages, likes and memos.

Counters (a conversation's messages and likes, its scenario's conversations
and likes) move in the same transaction as the rows they count, under the
conversation's row lock, so they never drift; a scenario's quality moves
with them (scenarios.services.scenario_count_engagement).

The chat turn (DESIGN.md): the user's message and a pending assistant
message are committed *before* ai is called, so nothing the user typed is
lost whatever ai does; if ai cannot take the turn the assistant message is
marked `failed` and can be regenerated later.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from gaji_contracts.conversations import (
    FORK_MESSAGE_WINDOW,
    AssistantMessageResult,
    ChatMessage,
    GenerationRequest,
    MessageRole,
    MessageStatus,
    PersistResult,
    PlannedAnswer,
    PromptRecord,
    ScenarioBrief,
    Speaker,
    SpeakerKind,
    stream_path,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import RETRY_AFTER

from accounts.tokens import stream_ticket_for
from accounts.user_settings import prepare_turn, settings_for, turn_settings
from common.exceptions import ApplicationError
from conversations import card_turns, selectors
from conversations.cast import (
    Cast,
    cast_of,
    characters_of,
    checked_cast,
    checked_speakers,
    default_cast,
    responders,
)
from conversations.memory import memory_context, memory_copy, present_of
from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    Message,
    MessagePrompt,
    Visibility,
    speaker_fields,
)
from conversations.versions import (
    add_completed_version,
    kept_versions,
    locked_message,
    next_attempt,
    own_copy,
    prompt_producer,
)
from integrations.ai import AiClient, AiInvalidModel, AiUnavailable, check_model
from notifications import services as notify
from novels.selectors import can_read as can_read_novel
from novels.selectors import can_read_by_id as can_read_novel_by_id
from scenarios import selectors as scenario_selectors
from scenarios.models import Scenario
from scenarios.search import reader_wrote
from scenarios.services import scenario_count_engagement

logger = logging.getLogger("gaji.conversations")


def _forbidden(message: str) -> ApplicationError:
    return ApplicationError(message, status=403, code=ErrorCode.PERMISSION_DENIED)


def _locked(conversation_id, *, no_key: bool = False) -> Conversation:
    """The conversation's row, locked until the transaction ends (404 if gone)."""
    conversation = Conversation.objects.select_for_update(no_key=no_key).filter(id=conversation_id).first()
    if conversation is None:
        raise Http404
    return conversation


def _readable(conversation: Conversation | None, user) -> Conversation:
    """404 unless it exists and `user` may see it (a private conversation is
    its owner's and staff's: for anyone else it does not exist)."""
    if conversation is None or not selectors.may_read(
        user, owner_id=conversation.user_id, visibility=conversation.visibility
    ):
        raise Http404
    return conversation


def _readable_locked(conversation_id, user, *, no_key: bool = True) -> Conversation:
    """The row, locked, if `user` may see it (else 404)."""
    rows = Conversation.objects.select_for_update(no_key=no_key)
    return _readable(rows.filter(id=conversation_id).first(), user)


def _owned(conversation_id, user, action: str) -> Conversation:
    """The row, locked, for its owner: 404 for one `user` may not see (private), else 403."""
    rows = Conversation.objects.select_for_update()
    conversation = _readable(rows.filter(id=conversation_id).first(), user)
    if conversation.user_id != user.id:
        raise _forbidden(f"Only the owner can {action} this conversation.")
    return conversation


def _owner_check(conversation_id, user, action: str) -> None:
    """404/403 as _owned, without locking the row (for checks before a write, or with none)."""
    row = Conversation.objects.filter(id=conversation_id).values_list("user_id", "visibility").first()
    if row is None or not selectors.may_read(user, owner_id=row[0], visibility=row[1]):
        raise Http404
    if row[0] != user.id:
        raise _forbidden(f"Only the owner can {action} this conversation.")


def _append(conversation: Conversation, messages: list[Message]) -> None:
    """Link messages at the end of a locked conversation."""
    start = conversation.message_count
    ConversationMessageLink.objects.bulk_create(
        ConversationMessageLink(conversation=conversation, message=message, position=start + i)
        for i, message in enumerate(messages)
    )
    for i, message in enumerate(messages):
        message.position = start + i
    Conversation.objects.filter(id=conversation.id).update(
        message_count=F("message_count") + len(messages), updated_at=timezone.now()
    )
    conversation.message_count += len(messages)


def default_title(scenario: Scenario) -> str:
    return f"What if… ({scenario.base_story})"[:200]


# -- conversations -------------------------------------------------------------


def _counted(visibility: str) -> int:
    """A scenario's conversation and like counters (and so its quality score)
    count its public conversations only: a private or unlisted one is in no
    count. 1 when a conversation of this visibility counts."""
    return 1 if visibility == Visibility.PUBLIC else 0


_OPENNESS = {Visibility.PRIVATE: 0, Visibility.UNLISTED: 1, Visibility.PUBLIC: 2}
# A conversation on a reader's private or unlisted import shows the novel's
# text: it is never more visible than the novel.
ABOVE_NOVEL = "A conversation cannot be more visible than its novel (a reader's private or unlisted import)."


def novel_ceiling(scenario: Scenario) -> str:
    """The most a conversation on `scenario` may be seen: its novel's visibility."""
    novel = scenario.novel
    return novel.visibility if novel is not None else Visibility.PUBLIC


def visibility_for(user, scenario: Scenario, visibility: str | None) -> str:
    """The visibility asked for (400 above the novel's), or the reader's
    default lowered to the novel's."""
    ceiling = novel_ceiling(scenario)
    if visibility is None:
        chosen = settings_for(user)["default_visibility"]
        return chosen if _OPENNESS[chosen] <= _OPENNESS[ceiling] else ceiling
    if _OPENNESS[visibility] > _OPENNESS[ceiling]:
        raise ApplicationError(ABOVE_NOVEL, details={"visibility": [ABOVE_NOVEL]})
    return visibility


def conversations_follow_novel(novel) -> int:
    """After a novel became less visible: its conversations that are now
    more visible than it come down to it (counters moved). How many changed."""
    ceiling = novel.visibility
    changed = 0
    over = [v for v, rank in _OPENNESS.items() if rank > _OPENNESS[ceiling]]
    for conversation in Conversation.objects.select_for_update().filter(
        scenario__novel=novel, visibility__in=over
    ):
        delta = _counted(ceiling) - _counted(conversation.visibility)
        conversation.visibility = ceiling
        conversation.save(update_fields=["visibility", "updated_at"])
        if delta:
            scenario_count_engagement(
                scenario_id=conversation.scenario_id,
                conversations=delta,
                likes=delta * conversation.like_count,
            )
        changed += 1
    return changed


@transaction.atomic
def conversation_create(
    *, user, scenario_id, title: str | None = None, visibility: str | None = None
) -> Conversation:
    """A new conversation; its visibility defaults to the reader's `default_visibility` setting."""
    scenario = (
        Scenario.objects.select_for_update(no_key=True, of=("self",))
        .select_related("novel")
        .filter(id=scenario_id, deleted_at__isnull=True)
        .first()
    )
    if scenario is None or (scenario.novel is not None and not can_read_novel(scenario.novel, user)):
        raise ApplicationError("Scenario not found.", status=404, code=ErrorCode.NOT_FOUND)
    conversation = Conversation.objects.create(
        scenario=scenario,
        user=user,
        title=title or default_title(scenario),
        cast=default_cast(scenario).json(),
        visibility=visibility_for(user, scenario, visibility),
    )
    scenario_count_engagement(scenario_id=scenario.id, conversations=_counted(conversation.visibility))
    reader_wrote(user.id)
    return conversation


@transaction.atomic
def conversation_update(
    *, conversation_id, user, title: str | None = None, visibility: str | None = None
) -> Conversation:
    """Rename and/or change the visibility (the owner only). Nothing caches a
    conversation's visibility: every read checks the row, so a conversation
    made private is a 404 for everyone else from the next request; its
    scenario's counters move with it."""
    conversation = _owned(conversation_id, user, "change")
    fields = ["updated_at"]
    if title is not None:
        conversation.title = title
        fields.append("title")
    if visibility is not None:
        visibility = visibility_for(user, conversation.scenario, visibility)
    if visibility is not None and visibility != conversation.visibility:
        delta = _counted(visibility) - _counted(conversation.visibility)
        conversation.visibility = visibility
        fields.append("visibility")
        scenario_count_engagement(
            scenario_id=conversation.scenario_id, conversations=delta, likes=delta * conversation.like_count
        )
        reader_wrote(user.id)
    conversation.save(update_fields=fields)
    return conversation


_ORPHANS_SQL = """
SELECT l.message_id FROM conversation_message_links l
WHERE l.conversation_id = %(id)s
  AND NOT EXISTS (
      SELECT 1 FROM conversation_message_links o
      WHERE o.message_id = l.message_id AND o.conversation_id <> %(id)s
  )
"""


@transaction.atomic
def conversation_delete(*, conversation_id, user) -> None:
    """Delete the conversation, its links, likes and memos, and every message
    no other conversation still links to. Its forks stay (as forks whose
    parent is gone) with the messages they share."""
    _delete(_owned(conversation_id, user, "delete"))


@transaction.atomic
def conversation_delete_as_staff(*, conversation_id) -> None:
    """The same delete, from the admin console (no owner check)."""
    _delete(_locked(conversation_id))


def _delete(conversation: Conversation) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_ORPHANS_SQL, {"id": conversation.id})
        orphans = [row[0] for row in cursor.fetchall()]
    conversation.delete()
    Message.objects.filter(id__in=orphans).delete()
    counted = _counted(conversation.visibility)
    scenario_count_engagement(
        scenario_id=conversation.scenario_id, conversations=-counted, likes=-counted * conversation.like_count
    )
    reader_wrote(conversation.user_id)


@transaction.atomic
def conversation_fork(
    *, conversation_id, user, title: str | None = None, visibility: str | None = None
) -> Conversation:
    """A fork of a root conversation: it links the last
    min(FORK_MESSAGE_WINDOW, total) messages of the root, in their order,
    and starts with a copy of the root's memory as it is now.
    Anyone signed in may fork a public or unlisted conversation; a private
    one only its owner (staff, who may read it, get 403: a fork would copy
    its messages out of the owner's hands). Forks of forks are refused (max
    depth 1). The fork's visibility defaults to the reader's setting."""
    source = _readable_locked(conversation_id, user)
    if source.visibility == Visibility.PRIVATE and source.user_id != user.id:
        raise _forbidden("Only the owner can fork a private conversation.")
    novel = source.scenario.novel
    if novel is not None and not can_read_novel(novel, user):
        raise Http404  # a novel made private since: as if the conversation did not exist
    if source.depth >= 1:
        raise ApplicationError(
            "This conversation is already a fork; only root conversations can be forked (max depth 1).",
            status=409,
            code=ErrorCode.FORK_DEPTH_EXCEEDED,
        )
    fork = Conversation.objects.create(
        scenario_id=source.scenario_id,
        user=user,
        parent=source,
        depth=1,
        title=title or f"Fork of {source.title}"[:200],
        cast=source.cast,
        canon_chapter=source.canon_chapter,
        visibility=visibility_for(user, source.scenario, visibility),
    )
    window = selectors.latest_messages(source.id, FORK_MESSAGE_WINDOW)
    if window:
        _append(fork, window)
    memory_copy(source_id=source.id, fork_id=fork.id)
    scenario_count_engagement(scenario_id=source.scenario_id, conversations=_counted(fork.visibility))
    reader_wrote(user.id)
    notify.conversation_forked(source=source, fork=fork, actor=user)
    return fork


# -- the chat turn ---------------------------------------------------------------


@dataclass(frozen=True)
class ChatTurn:
    user_message_id: object
    assistant_message: Message
    stream_url: str
    stream_expires_at: datetime
    answers: list[Message]


def scenario_brief(scenario: Scenario) -> ScenarioBrief:
    return ScenarioBrief(
        id=scenario.id,
        base_story=scenario.base_story,
        scenario_type=scenario.scenario_type,
        parameters=scenario.parameters,
    )


def chat_message(message: Message) -> ChatMessage:
    return ChatMessage(
        id=message.id,
        role=message.role,
        content=message.content,
        status=message.status,
        created_at=message.created_at,
        speaker=message.speaker,
    )


def _generation_request(
    conversation: Conversation,
    user_message: Message | None,
    answers: list[Message],
    model: str | None,
    *,
    history_position: int,
) -> GenerationRequest:
    """The turn for ai: the answers in speaking order (the first one's id is
    the stream), the history before `history_position`, and the whole
    timeline as the brief."""
    scenario = conversation.scenario
    novel = scenario.novel
    # A novel its owner has since made private grounds nobody else's turns.
    grounded = (
        novel is not None
        and novel.ingestion_status == "completed"
        and can_read_novel_by_id(novel, conversation.user_id)
    )
    history = selectors.history_before(conversation.id, history_position, settings.CHAT_HISTORY_MESSAGES)
    first = answers[0]
    query = user_message.content if user_message else " ".join(m.content for m in history[-2:])
    cast = cast_of(conversation)
    memory = memory_context(
        conversation,
        query=query,
        position=history_position,
        present=present_of(cast, [a.speaker for a in answers]),
    )
    # The owner's settings; their default model unless the request named one.
    options, model = turn_settings(conversation.user_id, model)
    speakers = [a.speaker for a in answers]
    personas = card_turns.personas_for(conversation.user_id, speakers)
    lines = [m.content for m in history] + ([user_message.content] if user_message else [])
    cast_ids = [m.character_id for m in cast.members if m.character_id]
    lore = card_turns.lore_for_turn(conversation, lines, cast_ids + [s.character_id or "" for s in speakers])
    return GenerationRequest(
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        user_message_id=user_message.id if user_message else None,
        assistant_message_id=first.id,
        attempt=first.attempt,
        answers=[
            PlannedAnswer(message_id=a.id, attempt=a.attempt, speaker=a.speaker, persona=persona)
            for a, persona in zip(answers, personas, strict=True)
        ],
        user_message=user_message.content if user_message else "",
        scenario=scenario_brief(scenario),
        brief=scenario_selectors.timeline(scenario_id=scenario.id).brief,
        novel_id=novel.id if grounded else None,
        recent_messages=[chat_message(m) for m in history],
        model=model,
        character=first.speaker.name if first.speaker.kind == SpeakerKind.CHARACTER else None,
        memory=memory,
        options=options,
        lore=lore,
    )


def _model_check(conversation_id, user, model: str | None, action: str, *, request_id: str | None) -> None:
    """400 INVALID_MODEL before anything is written, when ai's model list
    says so. Ownership is checked first (unlocked; the write re-checks it
    under the lock) so others still get 403/404 rather than a model error,
    and no row is locked while ai is asked. If ai cannot list its models the
    check is skipped: the dispatch then answers 503 AI_UNAVAILABLE. Without
    a model the reader's default is used: ai's list is fetched now if need
    be (prepare_turn), for the same reason."""
    if not model:
        prepare_turn(user.id, request_id=request_id)
        return
    _owner_check(conversation_id, user, action)
    check_model(model, field="model", request_id=request_id)


def _fail(request: GenerationRequest, code: ErrorCode) -> None:
    """Mark the answer failed, unless ai has already moved it on (or it was regenerated since)."""
    Message.objects.filter(
        id=request.assistant_message_id, status=MessageStatus.PENDING.value, attempt=request.attempt
    ).update(
        status=MessageStatus.FAILED.value,
        error_code=code.value,
        completed_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _dispatch(request: GenerationRequest, *, request_id: str | None) -> ChatTurn:
    """Hand the turn to ai; on failure mark the answer failed and answer 503
    (400 if ai refused the model) with both ids: the user's message is
    already stored, and the answer can be regenerated."""
    assistant_id = request.assistant_message_id
    ids = {"message_id": str(request.user_message_id), "assistant_message_id": str(assistant_id)}
    try:
        AiClient().enqueue_generation(request, request_id=request_id)
    except AiInvalidModel as exc:
        logger.info("ai refused the model of message %s: %s", assistant_id, exc.message)
        _fail(request, ErrorCode.INVALID_MODEL)
        raise ApplicationError(
            f"{exc.message} Your message was saved; regenerate the answer with an available model.",
            code=ErrorCode.INVALID_MODEL,
            details=exc.details,
            extra=ids,
        ) from None
    except AiUnavailable as exc:
        logger.warning("ai could not take message %s: %s", assistant_id, exc)
        _fail(request, ErrorCode.AI_UNAVAILABLE)
        raise ApplicationError(
            "The AI service is unavailable. Your message was saved; regenerate the answer later.",
            status=503,
            code=ErrorCode.AI_UNAVAILABLE,
            headers={RETRY_AFTER: "10"},
            extra=ids,
        ) from None
    url, expires_at = stream_url_for(
        user_id=request.user_id, conversation_id=request.conversation_id, message_id=assistant_id
    )
    ids = [a.message_id for a in request.answers] or [assistant_id]
    stored = Message.objects.in_bulk(ids)
    answers = [stored[i] for i in ids]
    return ChatTurn(
        user_message_id=request.user_message_id,
        assistant_message=answers[0],
        stream_url=url,
        stream_expires_at=expires_at,
        answers=answers,
    )


def stream_url_for(*, user_id, conversation_id, message_id) -> tuple[str, datetime]:
    """The absolute URL of an answer's SSE stream on ai, with a fresh ticket, and when that expires."""
    ticket, expires = stream_ticket_for(
        user_id=user_id, conversation_id=conversation_id, message_id=message_id
    )
    base = settings.AI_PUBLIC_URL.rstrip("/")
    url = f"{base}{stream_path(conversation_id)}?message_id={message_id}&ticket={ticket}"
    return url, datetime.fromtimestamp(expires, UTC)


def message_citations(*, conversation_id, message_id, viewer) -> Message:
    """An answer of this conversation, for its citations (readable by whoever
    may read the conversation): 404 unless the message is linked here, 409
    for a user message."""
    selectors.check_readable(conversation_id, viewer)
    message = selectors.message_in(conversation_id, message_id)
    if message.role != MessageRole.ASSISTANT.value:
        raise ApplicationError(
            "Only an answer cites passages.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"message_id": ["Not an assistant message."]},
        )
    return message


def message_stream(*, conversation_id, message_id, user) -> tuple[Message, str, datetime]:
    """A new stream ticket for one of the owner's answers: a reader who
    reloads the page, or whose ticket expired, opens the stream again (ai
    replays it from the start or from Last-Event-ID while it is kept)."""
    _owner_check(conversation_id, user, "open a stream in")
    selectors.position_of(conversation_id, message_id)  # 404 unless linked here
    message = Message.objects.get(id=message_id)
    if message.role != MessageRole.ASSISTANT.value:
        raise ApplicationError(
            "Only an answer has a stream.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"message_id": ["Not an assistant message."]},
        )
    url, expires_at = stream_url_for(
        user_id=user.id, conversation_id=conversation_id, message_id=message.stream_id or message.id
    )
    return message, url, expires_at


def _speakers_for(
    conversation: Conversation,
    *,
    text: str,
    seed: str,
    speakers: list[dict] | None,
    character: str | None,
    exclude: Speaker | None = None,
) -> list[Speaker]:
    """Who answers: the named speakers, the legacy `character`, or the scene's choice."""
    cast = cast_of(conversation)
    novel = conversation.scenario.novel
    if speakers:
        return checked_speakers(speakers, cast, novel, owner_id=conversation.user_id)
    entries = characters_of(novel)
    if character:
        # A member of the scene, else the novel's character of exactly that name, else named freely.
        wanted = character.lower()
        member = next((m for m in cast.members if m.name.lower() == wanted), None)
        if member:
            return [member.speaker()]
        entry = next((e for e in entries if e.name.lower() == wanted), None)
        if entry:
            return [Speaker(kind=SpeakerKind.CHARACTER, character_id=entry.id, name=entry.name)]
        return [Speaker(kind=SpeakerKind.CHARACTER, name=character)]
    return responders(cast, text, seed=seed, entries=entries, exclude=exclude)


def _pending_answers(speakers: list[Speaker], model: str | None) -> list[Message]:
    """One pending answer per speaker; they share the first one's stream."""
    answers = [
        Message(
            role=MessageRole.ASSISTANT.value,
            status=MessageStatus.PENDING.value,
            model=model or "",
            **speaker_fields(speaker),
        )
        for speaker in speakers
    ]
    for answer in answers:
        answer.stream_id = answers[0].id
    Message.objects.bulk_create(answers)
    return answers


def _lock_for_turn(conversation_id, user_id) -> Conversation:
    conversation = _locked(conversation_id)
    if conversation.user_id != user_id:
        staff = get_user_model().objects.filter(id=user_id, is_staff=True).exists()
        if conversation.visibility == Visibility.PRIVATE and not staff:
            raise Http404  # someone else's private conversation does not exist for them
        raise _forbidden("Only the owner can write in this conversation.")
    conversation.scenario = Scenario.objects.select_related("novel").get(id=conversation.scenario_id)
    return conversation


@transaction.atomic
def turn_create(
    *,
    conversation_id,
    user_id,
    content: str,
    model: str | None = None,
    character: str | None = None,
    speakers: list[dict] | None = None,
) -> GenerationRequest:
    """Store a chat turn: the user's message and a pending answer per
    speaker, linked at the end of the conversation. Returns the generation
    to run; dispatching it is the caller's (message_send hands it to ai;
    ai's direct endpoint queues it itself)."""
    conversation = _lock_for_turn(conversation_id, user_id)
    username = get_user_model().objects.values_list("username", flat=True).get(id=user_id)
    user_message = Message(
        role=MessageRole.USER.value, content=content, **speaker_fields(Speaker.reader(username))
    )
    chosen = _speakers_for(
        conversation, text=content, seed=str(user_message.id), speakers=speakers, character=character
    )
    user_message.save()
    answers = _pending_answers(chosen, model)
    _append(conversation, [user_message, *answers])
    return _generation_request(
        conversation, user_message, answers, model, history_position=user_message.position
    )


@transaction.atomic
def scene_continue_create(
    *, conversation_id, user_id, model: str | None = None, speakers: list[dict] | None = None
) -> GenerationRequest:
    """The scene goes on without a reader message: the speakers named, else
    the members the last line mentions and the talkative ones (not the one
    who just spoke, when others are in the scene)."""
    conversation = _lock_for_turn(conversation_id, user_id)
    last = selectors.history_before(conversation.id, conversation.message_count, 1)
    text = last[0].content if last else ""
    exclude = last[0].speaker if last and last[0].role == MessageRole.ASSISTANT.value else None
    chosen = _speakers_for(
        conversation, text=text, seed=str(uuid.uuid4()), speakers=speakers, character=None, exclude=exclude
    )
    answers = _pending_answers(chosen, model)
    _append(conversation, answers)
    return _generation_request(conversation, None, answers, model, history_position=answers[0].position)


def scene_continue(
    *, conversation_id, user, model: str | None = None, speakers: list[dict] | None = None, request_id=None
) -> ChatTurn:
    _model_check(conversation_id, user, model, "continue", request_id=request_id)
    request = scene_continue_create(
        conversation_id=conversation_id, user_id=user.id, model=model, speakers=speakers
    )
    return _dispatch(request, request_id=request_id)


def message_send(
    *,
    conversation_id,
    user,
    content: str,
    model: str | None = None,
    character: str | None = None,
    speakers: list[dict] | None = None,
    request_id: str | None = None,
) -> ChatTurn:
    _model_check(conversation_id, user, model, "write in", request_id=request_id)
    request = turn_create(
        conversation_id=conversation_id,
        user_id=user.id,
        content=content,
        model=model,
        character=character,
        speakers=speakers,
    )
    return _dispatch(request, request_id=request_id)


# A completed answer too: its text is kept as a version (conversations.versions).
REGENERABLE = (MessageStatus.FAILED.value, MessageStatus.CANCELLED.value, MessageStatus.COMPLETED.value)
CANCELLABLE = (MessageStatus.PENDING.value, MessageStatus.STREAMING.value)


def _check_answer(message: Message, allowed: tuple[str, ...], action: str) -> None:
    """409 unless an assistant message in one of the `allowed` states."""
    if message.role != MessageRole.ASSISTANT.value:
        raise ApplicationError(
            f"Only an assistant message can be {action}.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"message_id": ["Not an assistant message."]},
        )
    if message.status not in allowed:
        raise ApplicationError(
            f"This answer is {message.status}; only {' or '.join(allowed)} answers can be {action}.",
            status=409,
            code=ErrorCode.CONFLICT,
        )


def message_regenerate(
    *,
    conversation_id,
    message_id,
    user,
    model: str | None = None,
    character: str | None = None,
    request_id: str | None = None,
) -> ChatTurn:
    """Generate an answer again, in place (same id, next attempt), spoken by
    the same speaker (unless `character` names another), in its own stream,
    seeing everything said before it. A completed answer's text is kept as a
    version (the new one is added when it completes); an answer a fork
    shares is copied first, so the fork keeps it as it was (the turn then
    names the copy's id)."""
    _model_check(conversation_id, user, model, "regenerate in", request_id=request_id)
    with transaction.atomic():
        conversation = _owned(conversation_id, user, "regenerate in")
        conversation.scenario = Scenario.objects.select_related("novel").get(id=conversation.scenario_id)
        position = selectors.position_of(conversation.id, message_id)
        assistant = locked_message(message_id)
        _check_answer(assistant, REGENERABLE, "regenerated")
        versions = kept_versions(assistant)
        assistant = own_copy(conversation.id, assistant)
        previous = (
            ConversationMessageLink.objects.filter(conversation=conversation, position=position - 1)
            .select_related("message")
            .first()
        )
        user_message, history_position = None, position
        if (
            previous is not None
            and previous.message.role == MessageRole.USER.value
            and not previous.message.deleted
        ):
            # The reader's message it answers (else: a later answer of a turn,
            # the scene going on, or a message withdrawn: it sees the lines before it).
            user_message, history_position = previous.message, position - 1
        if character:
            for name, value in speaker_fields(
                _speakers_for(conversation, text="", seed="", speakers=None, character=character)[0]
            ).items():
                setattr(assistant, name, value)
        next_attempt(assistant, kept=versions, model=model or "")
        assistant.save()
        Conversation.objects.filter(id=conversation.id).update(updated_at=timezone.now())
        request = _generation_request(
            conversation, user_message, [assistant], model, history_position=history_position
        )
    return _dispatch(request, request_id=request_id)


def message_cancel(*, conversation_id, message_id, user, request_id: str | None = None) -> Message:
    """Ask ai to stop an answer being generated; returns the answer as it is
    now. Nothing is written here: the worker stops within a second and
    persists the partial text as `cancelled` (assistant_message_persist)."""
    _owner_check(conversation_id, user, "cancel in")
    selectors.position_of(conversation_id, message_id)  # 404 unless linked here
    message = Message.objects.get(id=message_id)
    _check_answer(message, CANCELLABLE, "cancelled")
    try:
        # A turn of several answers stops as a whole: its stream is the first answer's.
        AiClient().cancel_generation(message.stream_id or message.id, request_id=request_id)
    except AiUnavailable as exc:
        logger.warning("ai could not cancel message %s: %s", message.id, exc)
        raise ApplicationError(
            "The AI service is unavailable; the answer could not be cancelled. Retry shortly.",
            status=503,
            code=ErrorCode.AI_UNAVAILABLE,
            headers={RETRY_AFTER: "10"},
        ) from None
    return message


@transaction.atomic
def assistant_message_persist(*, conversation_id, result: AssistantMessageResult) -> PersistResult:
    """ai -> core: store an answer's final state (or `streaming` progress).

    Idempotent by message id: once an answer is completed or cancelled,
    further calls change nothing (`applied: false`); a result of an older
    attempt (the answer was regenerated since) is ignored. A `failed` answer
    still accepts a completion: core marks an answer failed when it could not
    reach ai, yet ai may have received the turn after all."""
    conversation = _locked(conversation_id, no_key=True)
    selectors.position_of(conversation.id, result.message_id)  # 404 unless linked here
    message = Message.objects.select_for_update().get(id=result.message_id)
    if message.role != MessageRole.ASSISTANT.value:
        raise ApplicationError(
            "Only an assistant message can be persisted.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"message_id": ["Not an assistant message."]},
        )

    def unchanged() -> PersistResult:
        return PersistResult(message_id=message.id, status=message.status, applied=False)

    current = MessageStatus(message.status)
    if result.attempt is not None and result.attempt != message.attempt:
        return unchanged()
    if current in {MessageStatus.COMPLETED, MessageStatus.CANCELLED}:
        return unchanged()
    if result.status == MessageStatus.STREAMING.value:
        if current != MessageStatus.PENDING:
            return unchanged()
        message.status = result.status
        if result.model:
            message.model = result.model
        message.save(update_fields=["status", "model", "updated_at"])
        return PersistResult(message_id=message.id, status=message.status, applied=True)
    if current == MessageStatus.FAILED and result.status == MessageStatus.FAILED.value:
        return unchanged()
    message.status = result.status
    message.content = result.content
    message.model = result.model or message.model
    message.total_tokens = result.total_tokens
    message.degraded = result.degraded
    message.grounded = result.grounded
    message.citations = [c.model_dump(mode="json") for c in result.citations]
    message.error_code = result.error_code
    message.completed_at = timezone.now()
    if message.status == MessageStatus.COMPLETED.value:
        add_completed_version(message)
    message.save()
    if result.prompt is not None:
        MessagePrompt.objects.update_or_create(
            message=message,
            defaults={
                "attempt": message.attempt,
                "record": bounded_prompt(result.prompt),
                "produced_in": conversation.id,
            },
        )
    Conversation.objects.filter(id=conversation.id).update(
        total_tokens=F("total_tokens") + result.total_tokens, updated_at=timezone.now()
    )
    return PersistResult(message_id=message.id, status=message.status, applied=True)


def bounded_prompt(prompt: PromptRecord) -> dict:
    """The record as stored: at most MessagePrompt.MAX_BYTES of JSON; when
    longer, each text is cut to fit (and `truncated` says so)."""
    record = prompt.model_dump(mode="json")
    record["truncated"] = False
    size = len(json.dumps(record))
    if size <= MessagePrompt.MAX_BYTES:
        return record
    keep = max(
        200, int(MessagePrompt.MAX_BYTES / size * 0.9 * max(len(m["content"]) for m in record["messages"]))
    )
    for item in record["messages"]:
        item["content"] = item["content"][:keep]
    for item in record["sections"]:
        item["text"] = item["text"][:keep]
    for item in record["lore"]:
        item["content"] = item["content"][:keep]
    record["truncated"] = True
    return record


def message_prompt(*, conversation_id, message_id, user) -> MessagePrompt:
    """What the model received for an answer: the conversation's owner and
    staff only (404 for anyone else, as for a message that does not exist)."""
    owner_id = Conversation.objects.filter(id=conversation_id).values_list("user_id", flat=True).first()
    if owner_id is None or not (user.is_authenticated and (owner_id == user.id or user.is_staff)):
        raise Http404
    message = selectors.message_in(conversation_id, message_id)
    if message.role != MessageRole.ASSISTANT.value:
        raise ApplicationError(
            "Only an answer has a prompt.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"message_id": ["Not an assistant message."]},
        )
    prompt = MessagePrompt.objects.filter(message_id=message.id).first()
    if prompt is None or prompt_producer(prompt) != conversation_id:
        # A fork shares its root's answer rows, not the root's prompts: they
        # hold the root's whole history (and what its reader deleted).
        raise ApplicationError(
            "No prompt is recorded for this answer (not answered yet, or answered before prompts were kept).",
            status=404,
            code=ErrorCode.NOT_FOUND,
        )
    return prompt


# -- the scene's cast ------------------------------------------------------------


def cast_get(*, conversation_id, viewer) -> Cast:
    conversation = Conversation.objects.select_related("scenario__novel").filter(id=conversation_id).first()
    return cast_of(_readable(conversation, viewer))


def cast_put(*, conversation_id, user, data: dict) -> Cast:
    """Replace the scene's cast (owner only; character ids checked against the novel's cast)."""
    _owner_check(conversation_id, user, "change the cast of")
    scenario = Conversation.objects.select_related("scenario__novel").get(id=conversation_id).scenario
    cast = checked_cast(data, scenario.novel, owner_id=user.id)
    with transaction.atomic():
        conversation = _owned(conversation_id, user, "change the cast of")
        conversation.cast = cast.json()
        conversation.save(update_fields=["cast", "updated_at"])
    return cast


# -- likes and memos -------------------------------------------------------------

_LIKE_SQL = """
INSERT INTO conversations_conversationlike (user_id, conversation_id, created_at)
VALUES (%(user)s, %(conversation)s, now())
ON CONFLICT (user_id, conversation_id) DO NOTHING
RETURNING created_at
"""


@dataclass(frozen=True)
class LikeState:
    liked_at: datetime | None
    total_likes: int


def _move_likes(conversation: Conversation, delta: int, user) -> int:
    # The row is locked by the caller, so like_count + delta is exact.
    Conversation.objects.filter(id=conversation.id).update(like_count=F("like_count") + delta)
    scenario_count_engagement(
        scenario_id=conversation.scenario_id, likes=delta * _counted(conversation.visibility)
    )
    reader_wrote(user.id)
    return conversation.like_count + delta


@transaction.atomic
def like(*, user, conversation_id) -> LikeState:
    """Idempotent: a second like changes nothing. The conversation's row is
    locked first, so concurrent likes count exactly and a concurrent delete
    waits (or wins, and this is a 404). A private conversation of someone
    else's is a 404; an unlisted one may be liked by its link."""
    conversation = _readable_locked(conversation_id, user)
    with connection.cursor() as cursor:
        cursor.execute(_LIKE_SQL, {"user": user.id, "conversation": conversation.id})
        row = cursor.fetchone()
    if row is None:
        existing = selectors.like_of(user=user, conversation_id=conversation.id)
        return LikeState(liked_at=existing.created_at, total_likes=conversation.like_count)
    notify.conversation_liked(conversation=conversation, actor=user)
    return LikeState(liked_at=row[0], total_likes=_move_likes(conversation, +1, user))


@transaction.atomic
def unlike(*, user, conversation_id) -> LikeState:
    conversation = _readable_locked(conversation_id, user)
    deleted, _ = ConversationLike.objects.filter(user=user, conversation=conversation).delete()
    if not deleted:
        return LikeState(liked_at=None, total_likes=conversation.like_count)
    return LikeState(liked_at=None, total_likes=_move_likes(conversation, -1, user))


_MEMO_SQL = """
INSERT INTO conversations_conversationmemo (user_id, conversation_id, memo_text, created_at, updated_at)
VALUES (%(user)s, %(conversation)s, %(text)s, now(), now())
ON CONFLICT (user_id, conversation_id)
DO UPDATE SET memo_text = EXCLUDED.memo_text, updated_at = now()
RETURNING id, (xmax = 0) AS created
"""


@transaction.atomic
def memo_upsert(*, user, conversation_id, memo_text: str) -> tuple[ConversationMemo, bool]:
    """Create or replace the user's memo; returns (memo, created)."""
    conversation = _readable_locked(conversation_id, user)
    with connection.cursor() as cursor:
        cursor.execute(_MEMO_SQL, {"user": user.id, "conversation": conversation.id, "text": memo_text})
        memo_id, created = cursor.fetchone()
    return ConversationMemo.objects.get(id=memo_id), created


@transaction.atomic
def memo_delete(*, user, conversation_id) -> None:
    conversation = _readable_locked(conversation_id, user)
    deleted, _ = ConversationMemo.objects.filter(user=user, conversation=conversation).delete()
    if not deleted:
        raise ApplicationError("No memo found for this conversation", status=404, code=ErrorCode.NOT_FOUND)
