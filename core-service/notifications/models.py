from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from gaji_contracts.notifications import NOTIFICATION_TEXT_MAX_CHARS, NotificationKind


class Notification(models.Model):
    """Something a reader should hear about (gaji_contracts.notifications).

    The scenario, conversation and message it is about are plain ids, not
    foreign keys: deleting any of them never fails nor cascades here, and a
    notification about something gone simply links nowhere. Each reader keeps
    their newest KEPT_PER_RECIPIENT (notifications.services)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: both indexes below lead with it.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=30, choices=[(k.value, k.value) for k in NotificationKind])
    # Who did it; null once their account is deleted (or for answer_ready).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scenario_id = models.UUIDField(null=True, blank=True)
    conversation_id = models.UUIDField(null=True, blank=True)
    message_id = models.UUIDField(null=True, blank=True)
    # A fork's parent (scenario or conversation; the fork itself is
    # scenario_id / conversation_id): what forks dedupe on, never shown.
    forked_from_id = models.UUIDField(null=True, blank=True)
    text = models.CharField(max_length=NOTIFICATION_TEXT_MAX_CHARS)
    read = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The list (newest first), the cap and the dedupe look-up.
            models.Index(fields=["recipient", "-created_at"], name="notification_recent"),
            # The unread count and the unread filter: only unread rows.
            models.Index(
                fields=["recipient", "-created_at"],
                condition=models.Q(read=False),
                name="notification_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"
