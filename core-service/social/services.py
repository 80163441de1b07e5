"""Writes of the follow graph. Both are idempotent and race-safe: the
unique pair index decides, never a read-then-write."""

from __future__ import annotations

from gaji_contracts.errors import ErrorCode

from common.exceptions import ApplicationError
from notifications import services as notify
from social.models import Follow
from social.selectors import follow_status


def user_follow(*, follower, following) -> dict:
    if follower.id == following.id:
        raise ApplicationError("You cannot follow yourself.", status=409, code=ErrorCode.CONFLICT)
    # INSERT ... ON CONFLICT DO NOTHING: repeating or racing creates one row.
    new = not Follow.objects.filter(follower=follower, following=following).exists()
    Follow.objects.bulk_create([Follow(follower=follower, following=following)], ignore_conflicts=True)
    if new:  # a repeat tells nobody (and a race of two is deduped by notifications)
        notify.followed(follower=follower, following=following)
    state = follow_status(follower=follower, following=following)
    return {
        "follower_id": follower.id,
        "following_id": following.id,
        "created_at": state["followed_at"],
        "is_mutual": state["is_mutual"],
    }


def user_unfollow(*, follower, following) -> None:
    Follow.objects.filter(follower=follower, following=following).delete()
