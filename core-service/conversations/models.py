"""Conversations, their messages (shared with forks through a link table),
likes and private memos."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from gaji_contracts.conversations import MessageRole, MessageStatus, Speaker, SpeakerKind
from gaji_contracts.memory import WORLD, MemoryKind, MemorySource


class Visibility(models.TextChoices):
    """Who may see a conversation: `private` its owner (and staff) only, everyone
    else gets 404 as if it did not exist; `unlisted` anyone with its link, but no
    list shows it; `public` everyone, everywhere."""

    PRIVATE = "private"
    UNLISTED = "unlisted"
    PUBLIC = "public"


class Conversation(models.Model):
    """A chat on a scenario. A fork (depth 1) starts from the last messages
    of a root (depth 0) and shares those message rows with it.

    `depth` is stored rather than read from `parent`: when a root is deleted
    its forks keep their history (parent becomes NULL) but stay forks, so
    they still cannot be forked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on the foreign keys: the composite indexes
    # below start with them (fewer indexes to write on every like and message).
    scenario = models.ForeignKey(
        "scenarios.Scenario", on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", db_index=False
    )
    depth = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    like_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    # Who is in the scene (conversations.cast): {"narrator": bool, "members":
    # [{"character_id", "name", "talkativeness"}]}; a fork copies it.
    cast = models.JSONField(default=dict, db_default={}, blank=True)
    # The spoiler boundary: retrieval and canon knowledge stop at this
    # chapter (null: the point the scenario sits at, when ai can tell).
    canon_chapter = models.PositiveIntegerField(null=True, blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC, db_default=Visibility.PUBLIC
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(depth__lte=1), name="conversation_depth_at_most_1"),
            models.CheckConstraint(
                condition=models.Q(parent__isnull=True) | models.Q(depth=1),
                name="conversation_fork_has_depth_1",
            ),
        ]
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="conversation_recent"),
            models.Index(fields=["user", "-updated_at"], name="conversation_user_recent"),
            models.Index(fields=["scenario", "-updated_at"], name="conversation_scenario_recent"),
            models.Index(fields=["parent", "-like_count"], name="conversation_children"),
        ]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    """One message. Rows are shared: a conversation shows the messages its
    links point at, so a fork's first messages are its root's rows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.CharField(max_length=20, choices=[(r.value, r.value) for r in MessageRole])
    # Who said it (gaji_contracts.conversations.Speaker): the reader, a
    # character (by the novel's cast id, or named freely: "") or the narrator.
    speaker_kind = models.CharField(
        max_length=20,
        choices=[(k.value, k.value) for k in SpeakerKind],
        default=SpeakerKind.USER.value,
        db_default=SpeakerKind.USER.value,
    )
    speaker_character_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    speaker_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    # The stream an answer is spoken in: the first answer of its turn (the
    # answers to one message share one stream); null: its own id.
    stream_id = models.UUIDField(null=True, blank=True)
    content = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20,
        choices=[(s.value, s.value) for s in MessageStatus],
        default=MessageStatus.COMPLETED.value,
    )
    model = models.CharField(max_length=100, blank=True, default="")
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    degraded = models.BooleanField(default=False)
    # Whether passages of the novel reached the model (null: not answered yet).
    grounded = models.BooleanField(null=True, blank=True)
    # The passages of the novel the answer's prompt held, in their [1], [2], ...
    # order: gaji_contracts.conversations.Citation objects ([] for user messages
    # and ungrounded answers).
    citations = models.JSONField(default=list, db_default=[], blank=True)
    # Regenerating an answer bumps the attempt; results of older attempts are ignored.
    attempt = models.PositiveIntegerField(default=1)
    error_code = models.CharField(max_length=50, blank=True, default="")
    # A reader's message changed after it was sent (edited_at) or withdrawn
    # (deleted: its content emptied, its place kept so positions stay gapless).
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False, db_default=False)
    # An answer whose message was edited or deleted after it was answered.
    stale = models.BooleanField(default=False, db_default=False)
    # Every version of an answer once it has been regenerated (dicts: content,
    # citations, grounded, model, total_tokens, degraded, completed_at); the
    # fields above hold the chosen one, `chosen` its index. Empty: one version.
    alternatives = models.JSONField(default=list, db_default=[], blank=True)
    chosen = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role=MessageRole.ASSISTANT.value)
                | models.Q(status=MessageStatus.COMPLETED.value),
                name="message_user_always_completed",
            ),
        ]

    @property
    def speaker(self) -> Speaker:
        return Speaker(
            kind=self.speaker_kind, character_id=self.speaker_character_id or None, name=self.speaker_name
        )

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


def speaker_fields(speaker: Speaker) -> dict:
    """A Speaker as the Message fields that store it."""
    return {
        "speaker_kind": speaker.kind.value,
        "speaker_character_id": speaker.character_id or "",
        "speaker_name": speaker.name,
    }


class MessagePrompt(models.Model):
    """What the model received for an answer (the prompt inspector): the
    model, its settings, the chat messages and the labelled sections. Bounded
    (MAX_BYTES of JSON, longer texts cut and marked) and deleted with the
    answer."""

    MAX_BYTES = 256 * 1024

    message = models.OneToOneField(Message, on_delete=models.CASCADE, primary_key=True, related_name="prompt")
    # The conversation whose turn produced it: its history is that
    # conversation's, so a fork sharing the answer row never reads it
    # (null: recorded before this was kept; the answer's first link decides).
    produced_in = models.UUIDField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    record = models.JSONField()
    created_at = models.DateTimeField(auto_now=True)


class ConversationMessageLink(models.Model):
    """`position` orders a conversation's messages (0, 1, 2, ... with no gaps:
    links are only added at the end, under the conversation's row lock)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="links")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="links")
    position = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "conversation_message_links"
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"], name="link_unique_position"),
            models.UniqueConstraint(fields=["conversation", "message"], name="link_unique_message"),
        ]
        indexes = [models.Index(fields=["message"], name="link_message")]


class ConversationLike(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="like_once")]
        indexes = [models.Index(fields=["user", "-created_at"], name="like_user_recent")]


class ConversationMemo(models.Model):
    """A private note of one user on one conversation (Markdown, stored as written)."""

    MAX_CHARS = 1000

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memos")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memos")
    memo_text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="memo_once")]


class MemoryEntry(models.Model):
    """One thing the branch remembers (gaji_contracts.memory): a fact, an
    event, what a character knows, a relationship (its current stance in
    `value`, every change in `history`), a summary of older turns (`layer`
    1 folds messages, 2 and up fold summaries; `covered` once folded
    higher) or a reader's pin. A fork copies its parent's entries when it
    is made (`origin_id`: the entry copied), so later writes on either side
    never reach the other and a fork keeps what it inherited when the
    parent is deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="memory", db_index=False
    )
    kind = models.CharField(max_length=30, choices=[(k.value, k.value) for k in MemoryKind])
    subject = models.CharField(max_length=100, default=WORLD)
    target = models.CharField(max_length=100, blank=True, default="")
    text = models.TextField()
    value = models.SmallIntegerField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=10, choices=[(s.value, s.value) for s in MemorySource])
    source_message_id = models.UUIDField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    pinned = models.BooleanField(default=False)
    # None: everyone in the story knows it; else knower keys (gaji_contracts.memory.knower_key).
    known_by = models.JSONField(null=True, blank=True)
    layer = models.PositiveSmallIntegerField(default=0)
    covers_from = models.PositiveIntegerField(null=True, blank=True)
    covers_to = models.PositiveIntegerField(null=True, blank=True)
    covered = models.BooleanField(default=False)
    origin_id = models.UUIDField(null=True, blank=True)
    inherited = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "-position", "-created_at"], name="memory_recent"),
            models.Index(fields=["conversation", "source_message_id"], name="memory_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:40]}"
