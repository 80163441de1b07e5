"""Reads of a reader's notifications."""

from __future__ import annotations

from django.db.models import QuerySet
from gaji_contracts.notifications import Notification as NotificationBody
from gaji_contracts.notifications import NotificationActor

from notifications.models import Notification


def notifications_of(*, user, unread: bool | None = None) -> QuerySet[Notification]:
    """Newest first; `unread` True: only unread, False: only read, None: all."""
    rows = Notification.objects.filter(recipient=user).select_related("actor")
    if unread is not None:
        rows = rows.filter(read=not unread)
    return rows.order_by("-created_at", "-id")


def unread_count(*, user_id) -> int:
    """Counted on the partial index of unread rows."""
    return Notification.objects.filter(recipient_id=user_id, read=False).count()


def notification_body(notification: Notification) -> NotificationBody:
    """The shared-contracts body: what the list answers and the live stream pushes."""
    actor = notification.actor
    return NotificationBody(
        id=notification.id,
        kind=notification.kind,
        actor=NotificationActor(id=actor.id, username=actor.username) if actor else None,
        scenario_id=notification.scenario_id,
        conversation_id=notification.conversation_id,
        message_id=notification.message_id,
        text=notification.text,
        read=notification.read,
        created_at=notification.created_at,
    )
