"""A conversation's memory (gaji_contracts.memory): what ai reads with every
turn, what it writes after one, what readers pin, edit and delete, and how a
fork inherits it.

Reading: `memory_context` hands ai at most MAX_MEMORY_CANDIDATES entries in
priority order: the reader's pins, entries sharing words with the message
(more shared first, then newer), the newest summary of each layer, the
relationships, then the newest of the rest. ai keeps those the speaking
character may know and fits them into the prompt's memory budget.

Layered summaries: once FOLD_CHUNK messages lie more than FOLD_KEEP_RECENT
messages back and no summary covers them, the turn asks ai to fold them
into a layer-1 summary; once FOLD_FAN summaries of one layer are not yet
folded, into one of the layer above. Only unfolded summaries reach the
prompt, so it holds a few per layer however long the story grows.

Forks copy (`memory_copy`): a fork starts with its parent's entries as they
are when it is made and owns its copies from then on."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from gaji_contracts.characters import match_character
from gaji_contracts.conversations import MessageRole, MessageStatus, Speaker, SpeakerKind
from gaji_contracts.errors import ErrorCode
from gaji_contracts.memory import (
    MAX_FOLD_TEXT_CHARS,
    MAX_FOLD_TEXTS,
    MAX_KNOWERS,
    MAX_MEMORY_CANDIDATES,
    MAX_MEMORY_ENTRIES,
    MAX_RELATIONSHIP_HISTORY,
    RELATIONSHIP_MAX,
    RELATIONSHIP_MIN,
    WORLD,
    FoldJob,
    MemoryContext,
    MemoryEntryCreate,
    MemoryEntryUpdate,
    MemoryItem,
    MemoryKind,
    MemorySource,
    MemoryWrite,
    MemoryWritten,
    WrittenDraft,
    knower_key,
    words,
)

from common.exceptions import ApplicationError
from common.redis import shared_claim
from conversations.cast import TITLES, Cast, cast_of
from conversations.models import Conversation, ConversationMessageLink, MemoryEntry
from conversations.selectors import may_read

# Entries read per turn to choose from (the newest; pins always).
SCAN = 2000
MAX_PINS = 20
MAX_RELATIONSHIPS = 10
MAX_SUMMARIES = 12
FOLD_CHUNK = 8
FOLD_KEEP_RECENT = 8
FOLD_FAN = 4
FOLD_LINE_CHARS = 600
# A fold handed to a turn is not handed again for this long (its summary is
# written within seconds to a minute; after that, it was lost: hand it again).
FOLD_CLAIM_SECONDS = 600
NOT_FOUND = "Memory entry not found."


def _forbidden(action: str) -> ApplicationError:
    return ApplicationError(
        f"Only the owner can {action} this conversation's memory.",
        status=403,
        code=ErrorCode.PERMISSION_DENIED,
    )


def _clamp(value: int) -> int:
    return max(RELATIONSHIP_MIN, min(RELATIONSHIP_MAX, value))


# -- who is in the scene ------------------------------------------------------------


@dataclass(frozen=True)
class Present:
    """The characters in the scene of a turn: their knower keys and names."""

    keys: list[str]
    names: dict[str, str]

    def key_of(self, name: str) -> str | None:
        """The key of the character present that `name` names (by name or a part of it)."""
        wanted = name.strip().lower()
        if not wanted or wanted == WORLD:
            return None
        entries = [{"id": key, "name": shown} for key, shown in self.names.items()]
        found = match_character(name, entries)
        if found is None:  # "Mr. Darcy" for "Fitzwilliam Darcy": without the title
            bare = [w for w in wanted.replace(".", " ").split() if w not in TITLES]
            found = match_character(" ".join(bare), entries) if bare else None
        return found["id"] if found else None


def present_of(cast: Cast, speakers: list[Speaker]) -> Present:
    names: dict[str, str] = {}
    for member in cast.members:
        names.setdefault(knower_key(member.character_id, member.name), member.name)
    for speaker in speakers:
        if speaker.kind == SpeakerKind.CHARACTER:
            names.setdefault(knower_key(speaker.character_id, speaker.name), speaker.name)
    keys = list(names)[:MAX_KNOWERS]
    return Present(keys=keys, names={k: names[k] for k in keys})


# -- reading: the candidates of a turn ----------------------------------------------


def _item(row: MemoryEntry) -> MemoryItem:
    return MemoryItem(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        target=row.target,
        text=row.text[:500],
        value=row.value,
        pinned=row.pinned,
        known_by=row.known_by,
        layer=row.layer,
        position=row.position,
    )


def _overlap(row: MemoryEntry, wanted: set[str]) -> int:
    if not wanted:
        return 0
    return len(words(f"{row.subject} {row.target} {row.text}") & wanted)


def candidates(rows: list[MemoryEntry], query: str) -> list[MemoryEntry]:
    """`rows` (newest first) in the order the prompt should take them."""
    wanted = words(query)
    pins = [r for r in rows if r.pinned or r.kind == MemoryKind.PIN][:MAX_PINS]
    summaries = sorted(
        (r for r in rows if r.kind == MemoryKind.SUMMARY and not r.covered),
        key=lambda r: (-r.layer, r.position),
    )[:MAX_SUMMARIES]
    relationships = [r for r in rows if r.kind == MemoryKind.RELATIONSHIP][:MAX_RELATIONSHIPS]
    rest = [r for r in rows if r.kind in (MemoryKind.FACT, MemoryKind.EVENT, MemoryKind.CHARACTER_KNOWLEDGE)]
    scored = [(_overlap(r, wanted), i, r) for i, r in enumerate(rest)]
    relevant = [r for score, _, r in sorted(scored, key=lambda t: (-t[0], t[1])) if score > 0]
    recent = [r for score, _, r in scored if score == 0]
    ordered, seen = [], set()
    for row in (*pins, *relevant, *summaries, *relationships, *recent):
        if row.id not in seen:
            seen.add(row.id)
            ordered.append(row)
    return ordered[:MAX_MEMORY_CANDIDATES]


def _rows(conversation_id) -> list[MemoryEntry]:
    newest = list(
        MemoryEntry.objects.filter(conversation_id=conversation_id).order_by("-position", "-created_at")[
            :SCAN
        ]
    )
    if len(newest) == SCAN:  # pins and unfolded summaries however old
        seen = {r.id for r in newest}
        older = MemoryEntry.objects.filter(conversation_id=conversation_id).filter(
            Q(pinned=True) | Q(kind=MemoryKind.PIN) | Q(kind=MemoryKind.SUMMARY, covered=False)
        )
        newest += [r for r in older if r.id not in seen]
    return newest


def memory_context(
    conversation: Conversation, *, query: str, position: int, present: Present
) -> MemoryContext:
    rows = _rows(conversation.id)
    return MemoryContext(
        entries=[_item(r) for r in candidates(rows, query)],
        present=present.keys,
        names=present.names,
        canon_chapter=conversation.canon_chapter,
        position=position,
        fold=fold_job(conversation, rows, position, present),
    )


# -- layered summaries ----------------------------------------------------------------


def _union(lists: list[list[str] | None]) -> list[str] | None:
    keys: list[str] = []
    for known in lists:
        if known is None:
            return None
        keys += [k for k in known if k not in keys]
    return keys[:MAX_KNOWERS]


def _higher_fold(rows: list[MemoryEntry]) -> FoldJob | None:
    open_summaries = [r for r in rows if r.kind == MemoryKind.SUMMARY and not r.covered]
    for layer in sorted({r.layer for r in open_summaries}, reverse=True):
        group = sorted(
            (r for r in open_summaries if r.layer == layer), key=lambda r: (r.position, r.created_at)
        )
        if len(group) >= FOLD_FAN and layer < 10:
            group = group[:FOLD_FAN]
            return FoldJob(
                layer=layer + 1,
                covers_from=min(r.covers_from or 0 for r in group),
                covers_to=max(r.covers_to or 0 for r in group),
                texts=[r.text[:MAX_FOLD_TEXT_CHARS] for r in group],
                known_by=_union([r.known_by for r in group]),
                summaries=[r.id for r in group],
            )
    return None


def _claimed(conversation: Conversation, job: FoldJob) -> bool:
    """Whether this turn may hand `job` out: a job is handed to one turn at a
    time (the next turn is often sent before the last one's summary is
    written; folding the same lines twice would only cost the model's time)."""
    key = f"{settings.REDIS_KEY_PREFIX}:fold:{conversation.id}:{job.layer}:{job.covers_from}:{job.covers_to}"
    return shared_claim(key, FOLD_CLAIM_SECONDS)


def fold_job(
    conversation: Conversation, rows: list[MemoryEntry], position: int, present: Present
) -> FoldJob | None:
    """What the turn should fold, if anything (higher layers first), unless
    an earlier turn was handed the same job in the last FOLD_CLAIM_SECONDS."""
    job = _fold(conversation, rows, position, present)
    return job if job is not None and _claimed(conversation, job) else None


def _fold(
    conversation: Conversation, rows: list[MemoryEntry], position: int, present: Present
) -> FoldJob | None:
    higher = _higher_fold(rows)
    if higher is not None:
        return higher
    own = [r.covers_to for r in rows if r.kind == MemoryKind.SUMMARY and r.layer == 1 and not r.inherited]
    start = max(own) + 1 if own else 0
    end = start + FOLD_CHUNK
    if end > position - FOLD_KEEP_RECENT:
        return None
    links = (
        ConversationMessageLink.objects.filter(
            conversation_id=conversation.id, position__gte=start, position__lt=end
        )
        .select_related("message")
        .order_by("position")
    )
    texts, speakers = [], []
    for link in links:
        message = link.message
        if message.status != MessageStatus.COMPLETED.value or not message.content.strip():
            continue
        who = "Reader" if message.role == MessageRole.USER.value else (message.speaker_name or "Narrator")
        texts.append(f"{who}: {message.content[:FOLD_LINE_CHARS]}")
        if message.speaker_kind == SpeakerKind.CHARACTER.value:
            speakers.append(knower_key(message.speaker_character_id or None, message.speaker_name))
    witnessed = [
        r.known_by
        for r in rows
        if r.layer == 0 and r.source != MemorySource.READER and start <= r.position < end
    ]
    known = _union([*witnessed, speakers]) if witnessed else _union([present.keys, speakers])
    return FoldJob(
        layer=1,
        covers_from=start,
        covers_to=end - 1,
        texts=texts[:MAX_FOLD_TEXTS] or ["(nothing said)"],
        known_by=known,
    )


# -- writing: after a turn (ai) ---------------------------------------------------------


def _knowers(draft: WrittenDraft, present: Present) -> list[str] | None:
    if draft.known_by is not None:
        return draft.known_by
    if draft.kind == MemoryKind.CHARACTER_KNOWLEDGE:
        key = present.key_of(draft.subject)
        if key:
            return [key]
    return present.keys


def _pair(subject: str, target: str) -> tuple[str, str]:
    return " ".join(subject.lower().split()), " ".join(target.lower().split())


def _revert(conversation_id, source_message_id) -> int:
    """Undo what an earlier write about the same answer did (a retry, or the answer regenerated)."""
    removed, _ = (
        MemoryEntry.objects.filter(conversation_id=conversation_id, source_message_id=source_message_id)
        .exclude(source=MemorySource.READER)
        .exclude(kind__in=(MemoryKind.RELATIONSHIP, MemoryKind.SUMMARY))
        .delete()
    )
    marker = str(source_message_id)
    for row in MemoryEntry.objects.filter(
        conversation_id=conversation_id,
        kind=MemoryKind.RELATIONSHIP,
        history__contains=[{"source_message_id": marker}],
    ).select_for_update():
        undone = [h for h in row.history if h.get("source_message_id") == marker]
        row.history = [h for h in row.history if h.get("source_message_id") != marker]
        row.value = _clamp((row.value or 0) - sum(int(h.get("change") or 0) for h in undone))
        if not row.history and row.source != MemorySource.READER:
            row.delete()
        else:
            row.save(update_fields=["history", "value", "updated_at"])
        removed += 1
    return removed


def _relationship(
    conversation_id, draft: WrittenDraft, *, write: MemoryWrite, known: list[str] | None
) -> None:
    subject, target = _pair(draft.subject, draft.target)
    row = next(
        (
            r
            for r in MemoryEntry.objects.select_for_update().filter(
                conversation_id=conversation_id, kind=MemoryKind.RELATIONSHIP
            )
            if _pair(r.subject, r.target) == (subject, target)
        ),
        None,
    )
    now = timezone.now()
    change = {
        "value": None,
        "change": draft.change,
        "text": draft.text,
        "source": draft.source,
        "source_message_id": str(write.source_message_id),
        "at": now.isoformat(),
    }
    if row is None:
        row = MemoryEntry(
            conversation_id=conversation_id,
            kind=MemoryKind.RELATIONSHIP,
            subject=draft.subject.strip()[:100],
            target=draft.target.strip()[:100],
            source=draft.source,
            value=0,
            known_by=known,
            position=write.position,
            source_message_id=write.source_message_id,
        )
    row.value = _clamp((row.value or 0) + draft.change)
    change["value"] = row.value
    row.text = draft.text
    row.history = [*(row.history or []), change][-MAX_RELATIONSHIP_HISTORY:]
    row.position = max(row.position, write.position)
    if row.known_by is not None:
        row.known_by = _union([row.known_by, known])
    row.save()


def _summary(conversation_id, write: MemoryWrite) -> bool:
    draft = write.summary
    if draft is None or draft.covers_to < draft.covers_from:
        return False
    MemoryEntry.objects.filter(
        conversation_id=conversation_id,
        kind=MemoryKind.SUMMARY,
        layer=draft.layer,
        covers_from=draft.covers_from,
        covers_to=draft.covers_to,
        inherited=False,
    ).delete()
    MemoryEntry.objects.create(
        conversation_id=conversation_id,
        kind=MemoryKind.SUMMARY,
        subject=WORLD,
        text=draft.text,
        source=draft.source,
        source_message_id=write.source_message_id,
        position=draft.covers_from,
        layer=draft.layer,
        covers_from=draft.covers_from,
        covers_to=draft.covers_to,
        known_by=draft.known_by,
    )
    if draft.summaries:
        MemoryEntry.objects.filter(
            conversation_id=conversation_id, kind=MemoryKind.SUMMARY, id__in=draft.summaries
        ).update(covered=True, updated_at=timezone.now())
    return True


def _trim(conversation_id) -> None:
    """Past MAX_MEMORY_ENTRIES, the oldest model- and rule-written facts and events go first."""
    extra = MemoryEntry.objects.filter(conversation_id=conversation_id).count() - MAX_MEMORY_ENTRIES
    if extra > 0:
        oldest = (
            MemoryEntry.objects.filter(
                conversation_id=conversation_id,
                pinned=False,
                kind__in=(MemoryKind.FACT, MemoryKind.EVENT, MemoryKind.CHARACTER_KNOWLEDGE),
            )
            .exclude(source=MemorySource.READER)
            .order_by("position", "created_at")
            .values_list("id", flat=True)[:extra]
        )
        MemoryEntry.objects.filter(id__in=list(oldest)).delete()


@transaction.atomic
def memory_write(*, conversation_id, write: MemoryWrite) -> MemoryWritten:
    """Store what ai wrote about a completed answer. A second write about the
    same answer replaces the first (a retry changes nothing; a regenerated
    answer's memory replaces the old answer's)."""
    conversation = Conversation.objects.select_for_update(no_key=True).filter(id=conversation_id).first()
    if conversation is None:
        raise Http404
    if write.present:  # the scene of that turn, as core handed it to ai
        present = Present(keys=write.present, names={k: write.names.get(k, k) for k in write.present})
    else:
        present = present_of(cast_of(conversation), [])
    replaced = _revert(conversation.id, write.source_message_id)
    written = 0
    for draft in write.entries:
        if not draft.text.strip():
            continue
        known = _knowers(draft, present)
        if draft.kind == MemoryKind.RELATIONSHIP:
            subject, target = _pair(draft.subject, draft.target)
            if subject and target and subject != target:
                _relationship(conversation.id, draft, write=write, known=known)
                written += 1
            continue
        MemoryEntry.objects.create(
            conversation=conversation,
            kind=draft.kind,
            subject=(draft.subject.strip() or WORLD)[:100],
            text=draft.text.strip(),
            source=draft.source,
            source_message_id=write.source_message_id,
            position=write.position,
            known_by=known,
        )
        written += 1
    summarized = _summary(conversation.id, write)
    _trim(conversation.id)
    return MemoryWritten(written=written, summarized=summarized, replaced=replaced)


# -- forks ------------------------------------------------------------------------------

_COPY_SQL = """
INSERT INTO conversations_memoryentry (
    id, conversation_id, kind, subject, target, text, value, history, source, source_message_id,
    position, pinned, known_by, layer, covers_from, covers_to, covered, origin_id, inherited,
    created_at, updated_at
)
SELECT gen_random_uuid(), %(fork)s, kind, subject, target, text, value, history, source, source_message_id,
       0, pinned, known_by, layer, covers_from, covers_to, covered, COALESCE(origin_id, id), TRUE,
       created_at, now()
FROM conversations_memoryentry WHERE conversation_id = %(source)s
"""


def memory_copy(*, source_id, fork_id) -> int:
    """The fork's memory: a copy of the parent's as it is now (positions set
    to 0: everything inherited lies before the fork's own messages)."""
    with connection.cursor() as cursor:
        cursor.execute(_COPY_SQL, {"fork": fork_id, "source": source_id})
        return cursor.rowcount


# -- the reader's API -------------------------------------------------------------------


def _owned(conversation_id, user, action: str, *, lock: bool = False) -> Conversation:
    rows = Conversation.objects.select_for_update(no_key=True) if lock else Conversation.objects
    conversation = rows.filter(id=conversation_id).first()
    if conversation is None or not may_read(
        user, owner_id=conversation.user_id, visibility=conversation.visibility
    ):
        raise Http404  # someone else's private conversation does not exist for them
    if conversation.user_id != user.id and not (action == "read" and user.is_staff):
        raise _forbidden(action)
    return conversation


def memory_list(*, conversation_id, user, kind: str | None = None, subject: str | None = None):
    conversation = _owned(conversation_id, user, "read")
    entries = MemoryEntry.objects.filter(conversation_id=conversation.id)
    if kind:
        entries = entries.filter(kind=kind)
    if subject:
        entries = entries.filter(subject__iexact=subject)
    return conversation, entries.order_by("-pinned", "-position", "-created_at", "id")


def _entry(conversation_id, entry_id) -> MemoryEntry:
    entry = (
        MemoryEntry.objects.select_for_update().filter(id=entry_id, conversation_id=conversation_id).first()
    )
    if entry is None:
        raise ApplicationError(NOT_FOUND, status=404, code=ErrorCode.NOT_FOUND)
    return entry


def _reader_change(entry: MemoryEntry, value: int, text: str) -> None:
    change = value - (entry.value or 0)
    entry.history = [
        *(entry.history or []),
        {
            "value": value,
            "change": change,
            "text": text,
            "source": MemorySource.READER.value,
            "source_message_id": None,
            "at": timezone.now().isoformat(),
        },
    ][-MAX_RELATIONSHIP_HISTORY:]
    entry.value = value


@transaction.atomic
def memory_create(*, conversation_id, user, data: MemoryEntryCreate) -> MemoryEntry:
    conversation = _owned(conversation_id, user, "write", lock=True)
    entry = MemoryEntry(
        conversation=conversation,
        kind=data.kind,
        subject=data.subject or WORLD,
        target=data.target or "",
        text=data.text,
        source=MemorySource.READER,
        position=conversation.message_count,
        pinned=data.pinned,
        known_by=data.known_by,
    )
    if data.kind == MemoryKind.RELATIONSHIP:
        entry.value = 0
        _reader_change(entry, data.value or 0, data.text)
    entry.save()
    _trim(conversation.id)
    return entry


@transaction.atomic
def memory_update(*, conversation_id, entry_id, user, data: MemoryEntryUpdate) -> MemoryEntry:
    conversation = _owned(conversation_id, user, "edit", lock=True)
    entry = _entry(conversation.id, entry_id)
    fields = data.model_fields_set
    if "value" in fields and data.value is not None:
        if entry.kind != MemoryKind.RELATIONSHIP:
            raise ApplicationError(
                "Only a relationship has a value.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"value": ["Only a relationship has a value."]},
            )
        _reader_change(entry, data.value, data.text or entry.text)
    if data.text is not None:
        entry.text = data.text
    if data.pinned is not None:
        entry.pinned = data.pinned
    if data.everyone:
        entry.known_by = None
    elif "known_by" in fields and data.known_by is not None:
        entry.known_by = data.known_by
    entry.save()
    return entry


@transaction.atomic
def memory_delete(*, conversation_id, entry_id, user) -> None:
    conversation = _owned(conversation_id, user, "edit", lock=True)
    _entry(conversation.id, entry_id).delete()


@transaction.atomic
def canon_set(*, conversation_id, user, canon_chapter: int | None) -> Conversation:
    conversation = _owned(conversation_id, user, "edit", lock=True)
    conversation.canon_chapter = canon_chapter
    conversation.save(update_fields=["canon_chapter", "updated_at"])
    return conversation
