"""Reads of a reader's own cards and lorebooks (anyone else's: 404)."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.http import Http404

from cards.models import CardAsset, CharacterCard, Lorebook


def _cards(owner_id) -> QuerySet[CharacterCard]:
    """Without the document, the book and the image (bodies read `fields`)."""
    return (
        CharacterCard.objects.filter(owner_id=owner_id)
        .defer("document", "book", "image")
        .annotate(has_image=ExpressionWrapper(Q(image__isnull=False), output_field=BooleanField()))
        .prefetch_related(
            Prefetch("assets", queryset=CardAsset.objects.only("id", "card_id", "path", "size"))
        )
    )


LIST_FIELDS = ("tags", "creator", "nickname")


def card_list(*, owner_id) -> QuerySet[CharacterCard]:
    """Light rows: of the normalized fields, only what a list shows."""
    return (
        CharacterCard.objects.filter(owner_id=owner_id)
        .defer("document", "fields", "book", "image")
        .annotate(
            has_image=ExpressionWrapper(Q(image__isnull=False), output_field=BooleanField()),
            **{f"listed_{name}": KeyTransform(name, "fields") for name in LIST_FIELDS},
        )
        .order_by("-created_at", "-id")
    )


def card_get(*, owner_id, card_id) -> CharacterCard:
    card = _cards(owner_id).filter(id=card_id).first()
    if card is None:
        raise Http404
    return card


def card_full(*, owner_id, card_id) -> CharacterCard:
    """Everything, for exports and the image."""
    card = CharacterCard.objects.filter(id=card_id, owner_id=owner_id).first()
    if card is None:
        raise Http404
    return card


def lorebook_list(*, owner_id) -> QuerySet[Lorebook]:
    return Lorebook.objects.filter(owner_id=owner_id).defer("document", "book").order_by("-created_at", "-id")


def lorebook_get(*, owner_id, lorebook_id, document: bool = False) -> Lorebook:
    rows = Lorebook.objects.filter(id=lorebook_id, owner_id=owner_id)
    book = (rows if document else rows.defer("document")).first()
    if book is None:
        raise Http404
    return book
