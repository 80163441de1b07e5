"""Writes of novel metadata (called by the ai service during ingestion)."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from gaji_contracts.errors import ErrorCode
from gaji_contracts.novels import NovelCreate, NovelUpdate

from common.exceptions import ApplicationError
from novels.models import Novel


def slug_from_title(title: str) -> str:
    """A slug scenarios can use as their base_story: lowercase words joined
    by single '-' or '_' (slugify alone can leave `war-_-peace`)."""
    slug = slugify(title)
    slug = re.sub(r"[-_]{2,}", lambda run: "_" if set(run.group()) == {"_"} else "-", slug)
    return slug[:100].strip("-_") or "novel"


@transaction.atomic
def novel_create(*, data: NovelCreate) -> Novel:
    slug = data.slug or slug_from_title(data.title)
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
    # The contract types optional fields as `X | None`; an explicit null is
    # only meaningful where the column may be empty (publication_year).
    nulls = {
        name: ["May not be null."]
        for name, value in changes.items()
        if value is None and not Novel._meta.get_field(name).null
    }
    if nulls:
        field = next(iter(nulls))
        raise ApplicationError(
            f"Validation failed for field '{field}': May not be null.",
            code=ErrorCode.VALIDATION_ERROR,
            details=nulls,
        )
    for name, value in changes.items():
        setattr(novel, name, value.value if hasattr(value, "value") else value)
    novel.save(update_fields=[*changes, "updated_at"])
    return novel
