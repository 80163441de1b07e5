"""Reads of the follow graph."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from common.queries import count_per_row
from social.models import Follow


def with_follow_counts(users: QuerySet) -> QuerySet:
    """Annotate `follower_count` and `following_count`, counted from the
    indexed pairs (so they never drift from the rows the lists show) in the
    same query that reads the users."""

    return users.annotate(
        follower_count=count_per_row(Follow.objects.all(), "following"),
        following_count=count_per_row(Follow.objects.all(), "follower"),
    )


def followers_of(*, user) -> QuerySet[Follow]:
    back = Follow.objects.filter(follower=user, following=OuterRef("follower"))
    return (
        Follow.objects.filter(following=user)
        .select_related("follower")
        .annotate(is_mutual=Exists(back))
        .order_by("-created_at", "-id")
    )


def following_of(*, user) -> QuerySet[Follow]:
    back = Follow.objects.filter(follower=OuterRef("following"), following=user)
    return (
        Follow.objects.filter(follower=user)
        .select_related("following")
        .annotate(is_mutual=Exists(back))
        .order_by("-created_at", "-id")
    )


def follow_get(*, follower, following) -> Follow | None:
    return Follow.objects.filter(follower=follower, following=following).first()


def follow_status(*, follower, following) -> dict:
    """Both directions of a pair in one query."""
    pairs = dict(
        Follow.objects.filter(
            Q(follower=follower, following=following) | Q(follower=following, following=follower)
        ).values_list("follower_id", "created_at")
    )
    ours = pairs.get(follower.id)
    return {
        "is_following": ours is not None,
        "is_mutual": ours is not None and following.id in pairs,
        "followed_at": ours,
    }
