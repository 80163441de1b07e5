"""Reads of novel metadata, and who may see a novel.

A novel is `public` (the catalogue lists it), `unlisted` (anyone with its id
or slug may read it, no list shows it) or `private` (its owner and staff
only; anyone else gets the 404 of a novel that does not exist)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from gaji_contracts.novels import NovelVisibility

from novels.models import Novel, NovelSource

PRIVATE = NovelVisibility.PRIVATE.value
PUBLIC = NovelVisibility.PUBLIC.value


def can_read(novel: Novel, user) -> bool:
    """Whether `user` (None or anonymous too) may read the novel."""
    if novel.visibility != PRIVATE:
        return True
    return is_owner_or_staff(novel, user)


def can_read_by_id(novel: Novel, user_id) -> bool:
    """can_read for a user known only by id (a chat turn's owner): no query
    unless the novel is someone else's private one (then: are they staff?)."""
    if novel.visibility != PRIVATE or (novel.owner_id is not None and novel.owner_id == user_id):
        return True
    return get_user_model().objects.filter(id=user_id, is_staff=True).exists()


def is_owner_or_staff(novel: Novel, user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_staff) or (novel.owner_id is not None and novel.owner_id == user.id)


def novel_list(
    *, status: str | None = None, q: str | None = None, listed_only: bool = True
) -> QuerySet[Novel]:
    """The catalogue (public novels only); `listed_only=False` for the ai
    service, which checks every novel's vectors."""
    novels = Novel.objects.all()
    if listed_only:
        novels = novels.filter(visibility=PUBLIC)
    if status:
        novels = novels.filter(ingestion_status=status)
    if q:
        # icontains escapes % and _ itself: the text is matched literally.
        novels = novels.filter(Q(title__icontains=q) | Q(author__icontains=q))
    return novels.order_by("title", "id")


def _lookup(id_or_slug: str) -> dict:
    try:
        return {"id": uuid.UUID(id_or_slug)}
    except ValueError:
        return {"slug": id_or_slug}


def novel_get(*, id_or_slug: str, user=None, internal: bool = False) -> Novel:
    """One novel by id or slug; 404 when missing or private to someone else
    (`internal`: the ai service sees every novel)."""
    novel = Novel.objects.filter(**_lookup(id_or_slug)).first()
    if novel is None or not (internal or can_read(novel, user)):
        raise Http404
    return novel


def novel_by_slug(slug: str, user=None, *, internal: bool = False) -> Novel | None:
    """The novel a scenario's base_story names, when `user` may read it: a
    private novel of someone else is as unknown as a missing one."""
    novel = Novel.objects.filter(slug=slug).first()
    if novel is None or not (internal or can_read(novel, user)):
        return None
    return novel


def owned_novels(*, user) -> QuerySet[Novel]:
    """A reader's own imports, newest first."""
    return Novel.objects.filter(owner=user).order_by("-created_at", "-id")


@dataclass(frozen=True)
class Quota:
    used_count: int
    max_count: int
    used_bytes: int
    max_bytes: int


def quota_of(user) -> Quota:
    """What the reader's imports use of their quota (uploads and URL imports)."""
    used = (
        Novel.objects.filter(owner=user)
        .exclude(source=NovelSource.CATALOGUE)
        .aggregate(count=Count("id"), size=Sum("source_bytes"))
    )
    return Quota(
        used_count=used["count"] or 0,
        max_count=settings.NOVEL_IMPORT_MAX_COUNT,
        used_bytes=used["size"] or 0,
        max_bytes=settings.NOVEL_IMPORT_MAX_TOTAL_BYTES,
    )
