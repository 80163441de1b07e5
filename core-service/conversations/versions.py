"""Message rows changed in place: copy-on-write for rows a fork shares, the
versions of a regenerated answer, and answers that went stale.

A fork shows its root's rows (ConversationMessageLink), so a row one of
them edits, deletes, regenerates or re-chooses is first copied for that
conversation: the copy takes the link's place and the other conversations
keep the row as it was. Every caller holds its conversation's row lock and
locks the message row before asking whether it is shared, so two owners
copying the same row at once never both copy it (the second one finds it
no longer shared and changes it in place).

An answer's versions (`Message.alternatives`): once it is regenerated the
version it had is kept, each completed regeneration is added, and the
message's own fields hold the version shown (`chosen`, its index).
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from gaji_contracts.conversations import MessageRole, MessageStatus
from gaji_contracts.errors import ErrorCode

from common.exceptions import ApplicationError
from conversations.models import ConversationMessageLink, MemoryEntry, Message, MessagePrompt

# Versions an answer may hold; one more regenerate is a 409 (choose one, or
# delete the conversation's later turns, rather than keep growing the row).
MAX_VERSIONS = 10
# A version as stored: what choosing it restores (the API shows the first seven).
VERSION_FIELDS = ("content", "citations", "grounded", "model", "total_tokens", "degraded")
SPEAKER_FIELDS = ("speaker_kind", "speaker_character_id", "speaker_name")
COPIED_FIELDS = (
    "role",
    *SPEAKER_FIELDS,
    "content",
    "status",
    "model",
    "total_tokens",
    "degraded",
    "grounded",
    "citations",
    "attempt",
    "error_code",
    "edited_at",
    "deleted",
    "stale",
    "alternatives",
    "chosen",
    "completed_at",
)
UNSETTLED = (MessageStatus.PENDING.value, MessageStatus.STREAMING.value)


def conflict(message: str, **details: list[str]) -> ApplicationError:
    return ApplicationError(message, status=409, code=ErrorCode.CONFLICT, details=details or None)


def locked_message(message_id) -> Message:
    return Message.objects.select_for_update().get(id=message_id)


def is_shared(message: Message, conversation_id) -> bool:
    return (
        ConversationMessageLink.objects.filter(message_id=message.id)
        .exclude(conversation_id=conversation_id)
        .exists()
    )


def prompt_producer(prompt: MessagePrompt):
    """The conversation whose turn produced a prompt: recorded, or for older
    rows the conversation that first linked the answer (a fork links it later)."""
    if prompt.produced_in is not None:
        return prompt.produced_in
    return (
        ConversationMessageLink.objects.filter(message_id=prompt.message_id)
        .order_by("created_at", "id")
        .values_list("conversation_id", flat=True)
        .first()
    )


def own_copy(conversation_id, message: Message) -> Message:
    """The row this conversation may change: `message` itself unless another
    conversation links it too; then a copy (its own id, the original's
    created_at, prompt record and memory sources) that replaces it in this
    conversation's link. The caller has locked `message` (locked_message).
    Never used on an answer being generated: ai would persist it under the
    original id, which this conversation no longer shows."""
    if not is_shared(message, conversation_id):
        return message
    copy = Message(**{name: getattr(message, name) for name in COPIED_FIELDS})
    # Opening the answer's stream again still finds the stream ai spoke it in.
    copy.stream_id = message.stream_id or (
        message.id if message.role == MessageRole.ASSISTANT.value else None
    )
    copy.save()
    Message.objects.filter(id=copy.id).update(created_at=message.created_at)
    copy.created_at = message.created_at
    ConversationMessageLink.objects.filter(conversation_id=conversation_id, message_id=message.id).update(
        message_id=copy.id
    )
    prompt = MessagePrompt.objects.filter(message_id=message.id).first()
    if prompt is not None and prompt_producer(prompt) == conversation_id:
        # Only this conversation's own prompt goes with its copy; another's
        # holds that conversation's history (conversations.services.message_prompt).
        MessagePrompt.objects.create(
            message=copy, attempt=prompt.attempt, record=prompt.record, produced_in=conversation_id
        )
    MemoryEntry.objects.filter(conversation_id=conversation_id, source_message_id=message.id).update(
        source_message_id=copy.id
    )
    _move_history_markers(conversation_id, str(message.id), str(copy.id))
    if hasattr(message, "position"):
        copy.position = message.position
    return copy


def _move_history_markers(conversation_id, old: str, new: str) -> None:
    """Relationship history rows name the answer that moved them
    (conversations.memory._revert undoes a rewritten answer's changes by that
    name): they follow the answer to its copy."""
    rows = MemoryEntry.objects.filter(
        conversation_id=conversation_id, history__contains=[{"source_message_id": old}]
    ).select_for_update()
    for row in rows:
        row.history = [
            {**h, "source_message_id": new} if h.get("source_message_id") == old else h for h in row.history
        ]
        row.save(update_fields=["history", "updated_at"])


# -- versions -------------------------------------------------------------------------------


def next_attempt(answer: Message, *, kept: list[dict], model: str = "", stream_id=None) -> None:
    """An answer made ready to be generated again (not saved): pending and
    empty, its attempt bumped, `kept` its versions so far, no longer stale
    (it answers its message as it reads now)."""
    answer.status = MessageStatus.PENDING.value
    answer.stream_id = stream_id
    answer.content = ""
    answer.attempt += 1
    answer.error_code = ""
    answer.total_tokens = None
    answer.degraded = False
    answer.grounded = None
    answer.citations = []
    answer.completed_at = None
    answer.model = model
    answer.alternatives = kept
    answer.chosen = None
    answer.stale = False


def version_of(message: Message) -> dict:
    """The answer as it is now, as one stored version."""
    version = {name: getattr(message, name) for name in (*VERSION_FIELDS, *SPEAKER_FIELDS, "stale")}
    version["completed_at"] = message.completed_at.isoformat() if message.completed_at else None
    return version


def kept_versions(message: Message) -> list[dict]:
    """The versions to keep when the answer is generated again: those it has,
    with the one shown now when it is a completed answer not kept yet (a
    failed or cancelled attempt is not a version). 409 at MAX_VERSIONS."""
    versions = list(message.alternatives)
    if message.status == MessageStatus.COMPLETED.value and message.chosen is None:
        versions.append(version_of(message))
    if len(versions) >= MAX_VERSIONS:
        raise conflict(
            f"This answer already has {MAX_VERSIONS} versions, the most kept; choose one of them "
            "(PUT .../alternatives) instead of generating another.",
            message_id=["Too many versions."],
        )
    return versions


def add_completed_version(message: Message) -> None:
    """A regeneration completed: it becomes the newest version and the one shown.
    An answer never regenerated (no versions kept) keeps none."""
    if message.alternatives:
        message.alternatives = [*message.alternatives, version_of(message)]
        message.chosen = len(message.alternatives) - 1


def show_version(message: Message, index: int) -> None:
    """Copy version `index` into the message's own fields (what the history
    sent to the model and later forks read)."""
    version = message.alternatives[index]
    for name in (*VERSION_FIELDS, *SPEAKER_FIELDS, "stale"):
        if name in version:
            setattr(message, name, version[name])
    completed = version.get("completed_at")
    message.completed_at = parse_datetime(completed) if completed else timezone.now()
    message.status = MessageStatus.COMPLETED.value
    message.error_code = ""
    message.chosen = index


def mark_stale(conversation_id, answers: list[Message]) -> list[Message]:
    """The answers no longer answer their message as it now reads: each
    (copied first when shared) is marked stale, every kept version too."""
    marked = []
    for answer in answers:
        if answer.stale:
            marked.append(answer)
            continue
        answer = own_copy(conversation_id, answer)
        answer.stale = True
        answer.alternatives = [{**version, "stale": True} for version in answer.alternatives]
        answer.save(update_fields=["stale", "alternatives", "updated_at"])
        marked.append(answer)
    return marked
