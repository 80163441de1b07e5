from __future__ import annotations

import uuid

from django.db import models
from gaji_contracts.novels import IngestionStatus


class Novel(models.Model):
    """A story's metadata. Its passages and characters live in the ai
    service's vector store, keyed by this id."""

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title
