"""GET /users/me/export: everything the reader owns, as one JSON document.

Built with a fixed number of queries whatever the reader owns (one per kind
of thing, never one per row), each item in the shape the API shows it
elsewhere (the same serializers), so an export reads like the API."""

from __future__ import annotations

from django.apps import apps
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from accounts.user_settings import settings_for
from conversations.apis import ConversationListItemSerializer, message_json
from conversations.memory_apis import entry_json
from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    MemoryEntry,
)
from scenarios.apis import scenario_json
from scenarios.models import Scenario
from social.models import Follow


class MeSerializer(serializers.Serializer):
    """The reader's own account (GET/PATCH /users/me)."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    username = serializers.CharField()
    bio = serializers.CharField(allow_blank=True)
    avatar_url = serializers.SerializerMethodField()
    is_staff = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_avatar_url(self, user) -> str | None:
        return user.avatar_url or None


def me_json(user: User) -> dict:
    return MeSerializer(user).data


def _scenarios(user: User) -> list[dict]:
    """Every scenario the reader created, soft-deleted ones too (`deleted_at`)."""
    rows = (
        Scenario.objects.filter(creator=user).select_related("parent", "creator").order_by("created_at", "id")
    )
    return [{**scenario_json(s), "deleted_at": s.deleted_at} for s in rows]


def _messages_by_conversation(conversation_ids: list) -> dict:
    """Each conversation's messages in order, as GET .../messages shows them:
    the rows its links point at (a fork's first messages are its root's rows)."""
    links = (
        ConversationMessageLink.objects.filter(conversation_id__in=conversation_ids)
        .select_related("message")
        .order_by("conversation_id", "position")
    )
    out: dict = {cid: [] for cid in conversation_ids}
    for link in links:
        message = link.message
        message.position = link.position
        item = message_json(message)
        if getattr(message, "alternatives", None):
            item = {**item, "alternatives": message.alternatives}
        out[link.conversation_id].append(item)
    return out


def _memory_by_conversation(conversation_ids: list) -> dict:
    entries = MemoryEntry.objects.filter(conversation_id__in=conversation_ids).order_by(
        "conversation_id", "position", "created_at"
    )
    out: dict = {cid: [] for cid in conversation_ids}
    for entry in entries:
        out[entry.conversation_id].append(entry_json(entry))
    return out


def _conversations(user: User) -> list[dict]:
    rows = list(
        Conversation.objects.filter(user=user)
        .select_related("scenario", "user")
        .defer("scenario__parameters")
        .order_by("created_at", "id")
    )
    ids = [c.id for c in rows]
    messages = _messages_by_conversation(ids)
    memory = _memory_by_conversation(ids)
    return [
        {
            **ConversationListItemSerializer(c).data,
            "visibility": c.visibility,
            "cast": c.cast,
            "canon_chapter": c.canon_chapter,
            "total_tokens": c.total_tokens,
            "messages": messages[c.id],
            "memory": memory[c.id],
        }
        for c in rows
    ]


def _memos(user: User) -> list[dict]:
    rows = ConversationMemo.objects.filter(user=user).order_by("created_at", "id")
    return [
        {
            "conversation_id": m.conversation_id,
            "memo_text": m.memo_text,
            "created_at": m.created_at,
            "updated_at": m.updated_at,
        }
        for m in rows
    ]


def _likes(user: User) -> list[dict]:
    # Ids only: a conversation liked once may be private to its owner by now.
    rows = ConversationLike.objects.filter(user=user).order_by("created_at", "id")
    return [{"conversation_id": like.conversation_id, "liked_at": like.created_at} for like in rows]


def _follows(user: User, *, following: bool) -> list[dict]:
    """Whom the reader follows (following=True), or who follows them."""
    if following:
        rows = Follow.objects.filter(follower=user).select_related("following")
    else:
        rows = Follow.objects.filter(following=user).select_related("follower")
    out = []
    for follow in rows.order_by("created_at", "id"):
        other = follow.following if following else follow.follower
        out.append({"user_id": other.id, "username": other.username, "followed_at": follow.created_at})
    return out


def _notifications(user: User) -> list[dict]:
    """The reader's notifications, newest first, as GET /notifications shows
    them (when the notifications app is installed)."""
    if not apps.is_installed("notifications"):
        return []
    from notifications.selectors import notification_body, notifications_of

    return [notification_body(n).model_dump(mode="json") for n in notifications_of(user=user)]


def _novels(user: User) -> list[dict]:
    """The reader's own imports (their metadata; the text is theirs already)."""
    from novels.apis import OwnNovelSerializer

    return [OwnNovelSerializer(n).data for n in user.novels.order_by("created_at", "id")]


def _cards(user: User) -> list[dict]:
    """Each imported character card exactly as it came in (GET
    /characters/{id}/export gives the PNG or CHARX file back)."""
    fields = ("id", "owner_id", "name", "container", "document", "created_at")
    cards = user.character_cards.order_by("created_at", "id").only(*fields)
    return [
        {"id": c.id, "name": c.name, "container": c.container, "card": c.document, "created_at": c.created_at}
        for c in cards
    ]


def _lorebooks(user: User) -> list[dict]:
    books = user.lorebooks.order_by("created_at", "id").only(
        "id", "owner_id", "name", "kind", "document", "created_at"
    )
    return [
        {"id": b.id, "name": b.name, "kind": b.kind, "lorebook": b.document, "created_at": b.created_at}
        for b in books
    ]


def export_document(user: User) -> dict:
    return {
        "exported_at": timezone.now(),
        "user": me_json(user),
        "settings": settings_for(user),
        "scenarios": _scenarios(user),
        "conversations": _conversations(user),
        "memos": _memos(user),
        "likes": _likes(user),
        "following": _follows(user, following=True),
        "followers": _follows(user, following=False),
        "notifications": _notifications(user),
        "novels": _novels(user),
        "character_cards": _cards(user),
        "lorebooks": _lorebooks(user),
    }
