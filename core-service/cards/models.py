"""Readers' own character cards and lorebooks, imported from the field's
formats (cards.formats) and kept as read, so an export gives them back
unchanged; and the lorebooks a conversation or a novel uses."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

MAX_NAME_CHARS = 200
MAX_ASSET_PATH_CHARS = 300


class CardSpec(models.TextChoices):
    V1 = "chara_card_v1"
    V2 = "chara_card_v2"
    V3 = "chara_card_v3"


class CardContainer(models.TextChoices):
    JSON = "json"
    PNG = "png"
    CHARX = "charx"


class BookKind(models.TextChoices):
    LOREBOOK_V3 = "lorebook_v3"
    WORLDINFO = "worldinfo"
    CHARACTER_BOOK = "character_book"


class CharacterCard(models.Model):
    """A character card as the reader brought it. `document` is the card
    exactly as read (what exports write back); `fields` its normalized view
    (cards.formats.CardFields without the book) and `book` its embedded
    lorebook (`character_book`, or null), kept apart so lists read neither
    the document nor the book."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="character_cards", db_index=False
    )
    name = models.CharField(max_length=MAX_NAME_CHARS)
    spec = models.CharField(max_length=20, choices=CardSpec.choices)
    container = models.CharField(max_length=10, choices=CardContainer.choices)
    spec_version = models.CharField(max_length=20, blank=True, default="")  # "1.0" for V1
    document = models.JSONField()
    fields = models.JSONField(default=dict)
    book = models.JSONField(null=True, blank=True)
    lorebook_entries = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    # The PNG image with the card's chunks removed (png container only).
    image = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="card_owner_recent")]

    def __str__(self) -> str:
        return self.name


class CardAsset(models.Model):
    """A file a CHARX card carried besides card.json, under its own path."""

    card = models.ForeignKey(CharacterCard, on_delete=models.CASCADE, related_name="assets")
    path = models.CharField(max_length=MAX_ASSET_PATH_CHARS)
    data = models.BinaryField()
    size = models.PositiveBigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["card", "path"], name="card_asset_unique_path")]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.path


class Lorebook(models.Model):
    """A lorebook as the reader brought it: `document` as read (exports in the
    kind it came in write it back), `book` its normalized data (the card
    book's shape), which lore activation (cards.lore) reads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lorebooks", db_index=False
    )
    name = models.CharField(max_length=MAX_NAME_CHARS)
    kind = models.CharField(max_length=20, choices=BookKind.choices)
    document = models.JSONField()
    book = models.JSONField()
    entry_count = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="lorebook_owner_recent")]

    def __str__(self) -> str:
        return self.name


class LorebookLink(models.Model):
    """A lorebook a conversation (or every conversation on a novel) uses, in
    `position` order."""

    lorebook = models.ForeignKey(Lorebook, on_delete=models.CASCADE, related_name="links")
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="lorebook_links",
    )
    novel = models.ForeignKey(
        "novels.Novel", null=True, blank=True, on_delete=models.CASCADE, related_name="lorebook_links"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(conversation__isnull=True, novel__isnull=False)
                | models.Q(conversation__isnull=False, novel__isnull=True),
                name="lorebook_link_one_target",
            ),
            models.UniqueConstraint(
                fields=["lorebook", "conversation"],
                condition=models.Q(conversation__isnull=False),
                name="lorebook_link_unique_conversation",
            ),
            models.UniqueConstraint(
                fields=["lorebook", "novel"],
                condition=models.Q(novel__isnull=False),
                name="lorebook_link_unique_novel",
            ),
        ]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.lorebook_id} -> {self.conversation_id or self.novel_id}"
