"""Reads for accounts."""

from __future__ import annotations

from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404

from accounts.models import User
from social.selectors import follow_counts


def user_get(*, user_id) -> User:
    return get_object_or_404(User, id=user_id, is_active=True)


def user_get_by_username(*, username: str) -> User:
    return get_object_or_404(
        User.objects.alias(username_ci=Lower("username")), username_ci=username.lower(), is_active=True
    )


def user_public_profile(*, user: User) -> dict:
    followers, following = follow_counts(user=user)
    return {
        "id": user.id,
        "username": user.username,
        "bio": user.bio,
        "avatar_url": user.avatar_url or None,
        "follower_count": followers,
        "following_count": following,
        # Scenarios and conversations arrive with their own issues; until
        # then a user has none of either.
        "scenario_count": 0,
        "conversation_count": 0,
        "joined_at": user.created_at,
    }
