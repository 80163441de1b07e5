"""Query helpers shared by the apps."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce


def count_per_row(rows: QuerySet, field: str):
    """An annotation: how many of `rows` have `field` = the outer row's pk
    (an indexed correlated subquery; 0 when none)."""
    matching = rows.filter(**{field: OuterRef("pk")}).order_by().values(field)
    return Coalesce(Subquery(matching.annotate(n=Count("*")).values("n")), 0)
