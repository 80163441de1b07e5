"""Reads of the follow graph."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from social.models import Follow


def follow_counts(*, user) -> tuple[int, int]:
    """(followers, following): counted from the indexed pairs, so they can
    never drift from the rows the lists show."""
    return (
        Follow.objects.filter(following=user).count(),
        Follow.objects.filter(follower=user).count(),
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
    ours = follow_get(follower=follower, following=following)
    theirs = Follow.objects.filter(follower=following, following=follower).exists()
    return {
        "is_following": ours is not None,
        "is_mutual": ours is not None and theirs,
        "followed_at": ours.created_at if ours else None,
    }
