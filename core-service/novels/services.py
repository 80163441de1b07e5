"""Writes of novel metadata (called by the ai service during ingestion)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from gaji_contracts.errors import ErrorCode
from gaji_contracts.novels import NovelCreate, NovelUpdate

from common.exceptions import ApplicationError
from novels.models import Novel


@transaction.atomic
def novel_create(*, data: NovelCreate) -> Novel:
    slug = data.slug or slugify(data.title)[:100].strip("-") or "novel"
    try:
        with transaction.atomic():
            return Novel.objects.create(
                slug=slug,
                title=data.title,
                author=data.author,
                publication_year=data.publication_year,
                genre=data.genre,
                language=data.language,
                ingestion_status=data.ingestion_status.value,
            )
    except IntegrityError:
        raise ApplicationError(
            f"A novel with slug '{slug}' already exists.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"slug": ["Already taken."]},
        ) from None


@transaction.atomic
def novel_update(*, novel: Novel, data: NovelUpdate) -> Novel:
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        setattr(novel, name, value.value if hasattr(value, "value") else value)
    novel.save(update_fields=[*changes, "updated_at"])
    return novel
