"""Reads of novel metadata."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from novels.models import Novel


def novel_list(*, status: str | None = None, q: str | None = None) -> QuerySet[Novel]:
    novels = Novel.objects.all()
    if status:
        novels = novels.filter(ingestion_status=status)
    if q:
        # icontains escapes % and _ itself: the text is matched literally.
        novels = novels.filter(Q(title__icontains=q) | Q(author__icontains=q))
    return novels.order_by("title", "id")


def novel_get(*, id_or_slug: str) -> Novel:
    try:
        lookup = {"id": uuid.UUID(id_or_slug)}
    except ValueError:
        lookup = {"slug": id_or_slug}
    novel = Novel.objects.filter(**lookup).first()
    if novel is None:
        raise Http404
    return novel


def novel_by_slug(slug: str) -> Novel | None:
    return Novel.objects.filter(slug=slug).first()
