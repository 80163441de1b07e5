"""A reader's own messages changed after they were sent, and an answer's
versions chosen: edit, delete, choose (conversations.versions holds the
copy-on-write and version rules these share with regenerate).

An edited or deleted message keeps its place (positions stay gapless); the
answers after it, up to the reader's next message, no longer answer what it
says: they are kept but marked `stale`, or, when the edit asks for it and
the message is the conversation's last turn, generated again."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from gaji_contracts.conversations import MessageRole

from accounts.user_settings import prepare_turn
from common.exceptions import ApplicationError
from conversations import memory, selectors, services
from conversations.models import Conversation, ConversationMessageLink, Message, MessagePrompt
from conversations.versions import (
    UNSETTLED,
    conflict,
    kept_versions,
    locked_message,
    mark_stale,
    next_attempt,
    own_copy,
    show_version,
)
from scenarios.models import Scenario


def _not_a(role: str, action: str) -> ApplicationError:
    kind = "a user" if role == MessageRole.USER.value else "an assistant"
    return conflict(f"Only {kind} message can be {action}.", message_id=[f"Not {kind} message."])


def _answers_after(conversation_id, position: int) -> list[Message]:
    """The answers after `position` up to the reader's next message (or the
    end), in order, each locked and with its position."""
    links = ConversationMessageLink.objects.filter(conversation_id=conversation_id, position__gt=position)
    next_user = (
        links.filter(message__role=MessageRole.USER.value)
        .order_by("position")
        .values_list("position", flat=True)
    ).first()
    if next_user is not None:
        links = links.filter(position__lt=next_user)
    found = list(links.order_by("position").values_list("message_id", "position"))
    rows = Message.objects.select_for_update().in_bulk([message_id for message_id, _ in found])
    answers = []
    for message_id, position_ in found:
        answer = rows[message_id]
        answer.position = position_
        answers.append(answer)
    return answers


def _settled(answers: list[Message], action: str) -> None:
    if any(answer.status in UNSETTLED for answer in answers):
        raise conflict(
            f"The answer to this message is still being generated; wait for it (or cancel it) before "
            f"the message is {action}."
        )


def _own_message(conversation: Conversation, message_id, action: str) -> Message:
    """The reader's message in this conversation, locked (404 unless shown here; 400 for an answer)."""
    position = selectors.position_of(conversation.id, message_id)
    message = locked_message(message_id)
    if message.role != MessageRole.USER.value:
        raise _not_a(MessageRole.USER.value, action)
    message.position = position
    return message


def message_edit(
    *,
    conversation_id,
    message_id,
    user,
    content: str | None = None,
    regenerate: bool = False,
    request_id=None,
) -> tuple[Message, services.ChatTurn | None]:
    """Change the text of one of the reader's messages. Its answers are
    marked stale, or with `regenerate` (the last turn only: 409 otherwise)
    generated again as one turn (each keeps its earlier text as a version).
    No `content`: the message stays as it is (only with `regenerate`)."""
    if regenerate:
        prepare_turn(user.id, request_id=request_id)  # nothing waits on ai under the lock
    with transaction.atomic():
        conversation = services._owned(conversation_id, user, "edit messages in")
        message = _own_message(conversation, message_id, "edited")
        if message.deleted:
            raise conflict("A deleted message cannot be edited.", message_id=["Deleted."])
        answers = _answers_after(conversation.id, message.position)
        _settled(answers, "edited")
        last = message.position + len(answers) == conversation.message_count - 1
        if regenerate and not last:
            raise conflict(
                "Only the conversation's last turn can be regenerated on edit; later messages answer this "
                "one as it was. Edit without `regenerate` (its answers are marked stale), or regenerate "
                "an answer on its own.",
                regenerate=["Not the last turn."],
            )
        versions = [kept_versions(answer) for answer in answers] if regenerate else []
        message = own_copy(conversation.id, message)
        if content is not None:
            message.content = content
            message.edited_at = timezone.now()
            message.save(update_fields=["content", "edited_at", "updated_at"])
        Conversation.objects.filter(id=conversation.id).update(updated_at=timezone.now())
        if not regenerate:
            mark_stale(conversation.id, answers)
            return message, None
        request = _regenerate_turn(conversation, message, answers, versions)
    return message, services._dispatch(request, request_id=request_id)


def _regenerate_turn(conversation: Conversation, message: Message, answers: list[Message], versions):
    """The answers to an edited last message generated again, as one turn
    spoken in the first one's stream (new answers if it had none)."""
    conversation.scenario = Scenario.objects.select_related("novel").get(id=conversation.scenario_id)
    if not answers:
        speakers = services._speakers_for(
            conversation, text=message.content, seed=str(message.id), speakers=None, character=None
        )
        answers = services._pending_answers(speakers, None)
        services._append(conversation, answers)
    else:
        answers = [own_copy(conversation.id, answer) for answer in answers]
        for answer, kept in zip(answers, versions, strict=True):
            next_attempt(answer, kept=kept, stream_id=answers[0].id)
            answer.save()
    return services._generation_request(
        conversation, message, answers, None, history_position=message.position
    )


@transaction.atomic
def message_delete(*, conversation_id, message_id, user) -> None:
    """Withdraw one of the reader's messages: it keeps its place, emptied and
    marked deleted (the model no longer sees it); its answers are marked
    stale. The text goes from what this conversation kept of it too: the
    memory written about its answers (conversations.memory._revert) and the
    prompts of this conversation's later answers (which quoted it). Deleting
    it again changes nothing."""
    conversation = services._owned(conversation_id, user, "delete messages in")
    message = _own_message(conversation, message_id, "deleted")
    if message.deleted:
        return
    answers = _answers_after(conversation.id, message.position)
    _settled(answers, "deleted")
    message = own_copy(conversation.id, message)
    message.content = ""
    message.deleted = True
    message.save(update_fields=["content", "deleted", "updated_at"])
    for answer in mark_stale(conversation.id, answers):
        memory._revert(conversation.id, answer.id)
    MessagePrompt.objects.filter(
        produced_in=conversation.id,
        message__links__conversation_id=conversation.id,
        message__links__position__gt=message.position,
    ).delete()
    Conversation.objects.filter(id=conversation.id).update(updated_at=timezone.now())


def _answer_in(conversation_id, message_id) -> Message:
    message = selectors.message_in(conversation_id, message_id)
    if message.role != MessageRole.ASSISTANT.value:
        raise conflict("Only an answer has versions.", message_id=["Not an assistant message."])
    return message


def alternatives_of(*, conversation_id, message_id, viewer) -> Message:
    """An answer with its versions, for whoever may read the conversation (404 else)."""
    selectors.check_readable(conversation_id, viewer)
    return _answer_in(conversation_id, message_id)


@transaction.atomic
def alternative_choose(*, conversation_id, message_id, user, index: int) -> Message:
    """Show version `index` of an answer: its text becomes the answer's
    (what the model is told of it from now on, and what later forks share).
    A shared row is copied first, so earlier forks keep the version they had."""
    conversation = services._owned(conversation_id, user, "choose answers in")
    position = selectors.position_of(conversation.id, message_id)
    message = locked_message(message_id)
    if message.role != MessageRole.ASSISTANT.value:
        raise conflict("Only an answer has versions.", message_id=["Not an assistant message."])
    if message.status in UNSETTLED:
        raise conflict(
            "This answer is being generated; wait for it (or cancel it) before choosing a version."
        )
    count = len(message.alternatives)
    if index >= count:
        problem = f"Must be below {count}." if count else "This answer has a single version."
        raise conflict(f"No version {index} of this answer.", index=[problem])
    message = own_copy(conversation.id, message)
    show_version(message, index)
    message.save()
    Conversation.objects.filter(id=conversation.id).update(updated_at=timezone.now())
    message.position = position
    return message
