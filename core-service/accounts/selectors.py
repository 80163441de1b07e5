"""Reads for accounts."""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from accounts.validators import USERNAME_RE
from common.queries import count_per_row
from conversations.models import Conversation, Visibility
from scenarios.models import Scenario
from social.selectors import with_follow_counts


def user_get(*, user_id) -> User:
    return get_object_or_404(User, id=user_id, is_active=True)


def with_content_counts(users: QuerySet) -> QuerySet:
    """Annotate `scenario_count` (live scenarios) and `conversation_count` (public),
    counted from the rows through indexed subqueries in the same query."""

    return users.annotate(
        scenario_count=count_per_row(Scenario.objects.filter(deleted_at__isnull=True), "creator"),
        # Public ones only: a private or unlisted conversation is in no count.
        conversation_count=count_per_row(Conversation.objects.filter(visibility=Visibility.PUBLIC), "user"),
    )


def user_public_profile(*, username: str) -> dict:
    """The public profile of an active user, found case-insensitively, with
    its counts, in one query."""
    if not USERNAME_RE.match(username):
        raise Http404  # no such user can exist; don't send the bytes to PostgreSQL
    users = User.objects.alias(username_ci=Lower("username"))
    user = get_object_or_404(
        with_content_counts(with_follow_counts(users)), username_ci=username.lower(), is_active=True
    )
    return {
        "id": user.id,
        "username": user.username,
        "bio": user.bio,
        "avatar_url": user.avatar_url or None,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "scenario_count": user.scenario_count,
        "conversation_count": user.conversation_count,
        "joined_at": user.created_at,
    }
