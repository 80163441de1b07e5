"""Writes of notifications: the hooks the other apps call, marking read, and
the live stream's ticket.

A hook never changes the act that triggered it: it runs once the act's
transaction has committed (`transaction.on_commit`; a rolled-back act
notifies nobody), and any failure there is logged and swallowed, so a
reader's like or fork never fails because of a notification. Nobody is
notified of their own act. Then, in order:

1. store it, unless the same actor already notified the same reader of the
   same act on the same target within DEDUPE_WINDOW (like, unlike, like
   again is one notification; forking the same parent again is one too,
   whichever the new fork), keeping each reader's newest
   KEPT_PER_RECIPIENT (a busy or hostile actor cannot grow the table
   without bound);
2. push it to the reader's live stream: a capped Redis Stream
   (gaji_contracts.notifications) that ai's SSE route tails. Redis away
   loses only the push; the stored notification is listed as usual.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from gaji_contracts.conversations import MessageStatus
from gaji_contracts.notifications import (
    NOTIFICATION,
    NOTIFICATION_STREAM_MAXLEN,
    NOTIFICATION_STREAM_TTL_SECONDS,
    NOTIFICATION_TEXT_MAX_CHARS,
    NOTIFICATIONS_STREAM_PATH,
    NotificationEvent,
    NotificationKind,
    notification_stream_key,
)

from accounts.models import User
from accounts.tokens import notification_ticket_for
from common.redis import get_redis
from conversations.models import Conversation, Visibility
from notifications import selectors
from notifications.models import Notification

logger = logging.getLogger("gaji.notifications")

KEPT_PER_RECIPIENT = 500
DEDUPE_WINDOW = timedelta(hours=24)
# Acts a reader can repeat at will (undo and redo, or fork the same parent
# again: a new fork each time, one parent): told once per window. An answer
# is new each time.
DEDUPED = frozenset(
    {
        NotificationKind.CONVERSATION_LIKED,
        NotificationKind.FOLLOWED,
        NotificationKind.SCENARIO_FORKED,
        NotificationKind.CONVERSATION_FORKED,
    }
)
TITLE_CHARS = 80


@dataclass(frozen=True)
class Pending:
    recipient_id: UUID
    kind: NotificationKind
    text: str
    actor_id: UUID | None = None
    scenario_id: UUID | None = None
    conversation_id: UUID | None = None
    message_id: UUID | None = None
    forked_from_id: UUID | None = None  # a fork's parent: forks dedupe on it


def _quoted(title: str) -> str:
    title = " ".join(title.split())
    return f"“{title[: TITLE_CHARS - 1]}…”" if len(title) > TITLE_CHARS else f"“{title}”"


def _after_commit(build: Callable[[], Pending | None]) -> None:
    """Run `build` and deliver what it returns once the current transaction
    commits (at once outside one); never raises into the caller."""

    def run() -> None:
        try:
            pending = build()
            if pending is not None:
                deliver(pending)
        except Exception:
            logger.exception("notification not delivered")

    transaction.on_commit(run, robust=True)


# -- the hooks ---------------------------------------------------------------------


def scenario_forked(*, parent, fork, actor) -> None:
    """`actor` forked `parent` (someone else's scenario) into `fork`."""
    if parent.creator_id == actor.id:
        return
    _after_commit(
        lambda: Pending(
            recipient_id=parent.creator_id,
            kind=NotificationKind.SCENARIO_FORKED,
            actor_id=actor.id,
            scenario_id=fork.id,
            forked_from_id=parent.id,
            text=f"{actor.username} forked your scenario on {parent.base_story}.",
        )
    )


def conversation_liked(*, conversation, actor) -> None:
    """`actor` liked `conversation` (a new like, not a repeat)."""
    if conversation.user_id == actor.id:
        return
    _after_commit(
        lambda: Pending(
            recipient_id=conversation.user_id,
            kind=NotificationKind.CONVERSATION_LIKED,
            actor_id=actor.id,
            conversation_id=conversation.id,
            text=f"{actor.username} liked your conversation {_quoted(conversation.title)}.",
        )
    )


def conversation_forked(*, source, fork, actor) -> None:
    """`actor` forked `source` into `fork`. Only a public fork is announced
    (read once committed): an unlisted or private one was not published, and
    a notification would reveal it; `conversation_id` is the fork."""
    if source.user_id == actor.id:
        return

    def build() -> Pending | None:
        if not Conversation.objects.filter(id=fork.id, visibility=Visibility.PUBLIC).exists():
            return None
        return Pending(
            recipient_id=source.user_id,
            kind=NotificationKind.CONVERSATION_FORKED,
            actor_id=actor.id,
            conversation_id=fork.id,
            forked_from_id=source.id,
            text=f"{actor.username} forked your conversation {_quoted(source.title)}.",
        )

    _after_commit(build)


def followed(*, follower, following) -> None:
    """`follower` started following `following`."""
    if follower.id == following.id:
        return
    _after_commit(
        lambda: Pending(
            recipient_id=following.id,
            kind=NotificationKind.FOLLOWED,
            actor_id=follower.id,
            text=f"{follower.username} started following you.",
        )
    )


def answer_ready(*, conversation_id, message_id) -> None:
    """An answer completed while nobody was reading its stream (ai says so
    when it persists the turn's last answer): tell the conversation's owner."""

    def build() -> Pending | None:
        conversation = Conversation.objects.filter(id=conversation_id).values("user_id", "title").first()
        if conversation is None:
            return None
        return Pending(
            recipient_id=conversation["user_id"],
            kind=NotificationKind.ANSWER_READY,
            conversation_id=conversation_id,
            message_id=message_id,
            text=f"Your answer in {_quoted(conversation['title'])} is ready.",
        )

    _after_commit(build)


def answer_persisted(*, conversation_id, result, outcome) -> None:
    """After ai persisted an answer: `answer_ready` when it is the turn's
    last, it completed now (not a retry) and nobody was reading the stream."""
    if outcome.applied and outcome.status == MessageStatus.COMPLETED and result.reader_attached is False:
        answer_ready(conversation_id=conversation_id, message_id=result.message_id)


# -- storing and pushing -------------------------------------------------------------


def deliver(pending: Pending) -> Notification | None:
    """Store (deduped, capped), then push. None when nothing was stored."""
    if pending.actor_id is not None and pending.actor_id == pending.recipient_id:
        return None
    kind = NotificationKind(pending.kind)
    with transaction.atomic():
        # The recipient's row, locked: concurrent notifications of one reader
        # dedupe and trim one after the other (and a deleted reader gets none).
        recipient = User.objects.filter(id=pending.recipient_id, is_active=True)
        if not list(recipient.select_for_update(no_key=True).values_list("id", flat=True)):
            return None
        if kind in DEDUPED and _recently_told(pending):
            return None
        notification = Notification.objects.create(
            recipient_id=pending.recipient_id,
            kind=kind.value,
            actor_id=pending.actor_id,
            scenario_id=pending.scenario_id,
            conversation_id=pending.conversation_id,
            message_id=pending.message_id,
            forked_from_id=pending.forked_from_id,
            text=pending.text[:NOTIFICATION_TEXT_MAX_CHARS],
        )
        _trim(pending.recipient_id)
    push(notification)
    return notification


def _recently_told(pending: Pending) -> bool:
    """The same actor told the same reader of the same act on the same target
    within DEDUPE_WINDOW; a fork's target is its parent (each fork is new)."""
    if pending.forked_from_id is not None:
        target = {"forked_from_id": pending.forked_from_id}
    else:
        target = {
            "scenario_id": pending.scenario_id,
            "conversation_id": pending.conversation_id,
            "message_id": pending.message_id,
        }
    return Notification.objects.filter(
        recipient_id=pending.recipient_id,
        created_at__gte=timezone.now() - DEDUPE_WINDOW,
        kind=NotificationKind(pending.kind).value,
        actor_id=pending.actor_id,
        **target,
    ).exists()


def _trim(recipient_id) -> None:
    """Keep the recipient's newest KEPT_PER_RECIPIENT."""
    older = (
        Notification.objects.filter(recipient_id=recipient_id)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[KEPT_PER_RECIPIENT:]
    )
    if stale := list(older):
        Notification.objects.filter(id__in=stale).delete()


def push(notification: Notification) -> str | None:
    """Append to the recipient's live stream; the entry id, or None when Redis is away."""
    event = NotificationEvent(
        notification=selectors.notification_body(notification),
        unread_count=selectors.unread_count(user_id=notification.recipient_id),
    )
    key = notification_stream_key(settings.REDIS_KEY_PREFIX, notification.recipient_id)
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.xadd(
            key,
            {"event": NOTIFICATION, "data": event.model_dump_json()},
            maxlen=NOTIFICATION_STREAM_MAXLEN,
            approximate=True,
        )
        pipe.expire(key, NOTIFICATION_STREAM_TTL_SECONDS)
        entry_id, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("notification %s stored, not pushed: %s", notification.id, type(exc).__name__)
        return None
    return entry_id


# -- the reader's own writes -----------------------------------------------------------


def mark_read(*, user, ids: list[UUID] | None = None, everything: bool = False) -> int:
    """Mark the reader's unread notifications read: those of `ids` (others'
    ids and unknown ones are ignored) or all of them. Returns how many changed."""
    unread = Notification.objects.filter(recipient=user, read=False)
    if not everything:
        unread = unread.filter(id__in=ids or [])
    return unread.update(read=True)


def forget(*, user_id) -> None:
    """A deleted account's live stream goes at once (its rows go with the
    user, by cascade); Redis away: it expires by itself."""
    with contextlib.suppress(redis.RedisError):
        get_redis().delete(notification_stream_key(settings.REDIS_KEY_PREFIX, user_id))


def stream_url_for(*, user) -> tuple[str, datetime]:
    """The absolute URL of the reader's notification stream on ai, with a
    fresh ticket naming the reader's Redis Stream, and when that expires."""
    ticket, expires = notification_ticket_for(
        user_id=user.id, stream=notification_stream_key(settings.REDIS_KEY_PREFIX, user.id)
    )
    base = settings.AI_PUBLIC_URL.rstrip("/")
    return f"{base}{NOTIFICATIONS_STREAM_PATH}?ticket={ticket}", datetime.fromtimestamp(expires, UTC)
