from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from gaji_contracts.novels import IngestionStatus, NovelVisibility


class NovelSource(models.TextChoices):
    CATALOGUE = "catalogue"  # ingested by staff (the ai service's ingest routes)
    UPLOAD = "upload"  # a reader's .txt, .md or .epub
    URL = "url"  # a reader's import from a URL (novels/fetch.py)


class Novel(models.Model):
    """A story's metadata. Its passages and characters live in the ai
    service's vector store, keyed by this id.

    A reader's import belongs to them (`owner`) and is private by default;
    the catalogue's novels have no owner and are public."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    author = models.CharField(max_length=200, blank=True, default="")
    publication_year = models.IntegerField(null=True, blank=True)
    genre = models.CharField(max_length=100, blank=True, default="")
    language = models.CharField(max_length=20, default="en")
    ingestion_status = models.CharField(
        max_length=20,
        choices=[(s.value, s.value) for s in IngestionStatus],
        default=IngestionStatus.PENDING.value,
        db_index=True,
    )
    total_passages = models.PositiveIntegerField(default=0)
    total_characters = models.PositiveIntegerField(default=0)
    vectordb_collection_id = models.CharField(max_length=100, default="novel_passages")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="novels",
        help_text="The reader who imported it; empty for the catalogue's novels",
    )
    visibility = models.CharField(
        max_length=10,
        choices=[(v.value, v.value) for v in NovelVisibility],
        default=NovelVisibility.PUBLIC.value,
        # A row written by SQL alone (bench seeds, older tools) is a catalogue novel.
        db_default=NovelVisibility.PUBLIC.value,
        db_index=True,
    )
    source = models.CharField(
        max_length=10,
        choices=NovelSource.choices,
        default=NovelSource.CATALOGUE,
        db_default=NovelSource.CATALOGUE,
    )
    # A URL import's address (checked by novels/fetch.py).
    source_url = models.CharField(max_length=2000, blank=True, default="", db_default="")
    # The imported file's size (what the reader's byte quota counts).
    source_bytes = models.BigIntegerField(default=0, db_default=0)
    # The ai ingestion job of a reader's import (GET /api/ai/novels/status/{job_id}).
    ingest_job_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="novel_owner_recent")]

    def __str__(self) -> str:
        return self.title
