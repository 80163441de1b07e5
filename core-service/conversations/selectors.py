"""Reads of conversations, their messages, likes and memos."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, F, Q, QuerySet, UUIDField, Value, When
from django.http import Http404
from gaji_contracts.conversations import MessageStatus

from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    Message,
    Visibility,
)

SORT_FIELDS = {"updated_at", "created_at", "like_count", "message_count", "title"}
# GET /conversations/{id} shows at most this many (the most recent) messages;
# GET /conversations/{id}/messages pages through all of them.
DETAIL_MESSAGES = 200
TREE_CHILDREN_MAX = 500


# -- who may see a conversation (models.Visibility) ---------------------------------------
#
# `viewer` is request.user: a User, an AnonymousUser, None (the raw anonymous
# read path has no user) or the ai service's ServicePrincipal (internal
# routes, which act for the owner). A private conversation is the owner's and
# staff's only: for anyone else every route answers 404, as for one that does
# not exist. An unlisted one is readable by its link but in no list or count;
# lists show public conversations, and a reader's own list (user_id = them)
# all of theirs.


def _sees_all(viewer) -> bool:
    """Staff and the ai service see every conversation."""
    return (
        viewer is not None
        and viewer.is_authenticated
        and (viewer.is_staff or getattr(viewer, "is_service", False))
    )


def sees_everything_of(viewer, owner_id) -> bool:
    """The owner, staff and the ai service see a conversation whatever its visibility."""
    if viewer is None or not viewer.is_authenticated:
        return False
    return _sees_all(viewer) or viewer.id == owner_id


def may_read(viewer, *, owner_id, visibility: str) -> bool:
    return visibility != Visibility.PRIVATE or sees_everything_of(viewer, owner_id)


def listed_filter(viewer, *, prefix: str = "") -> Q:
    """The conversations a list shown to `viewer` may hold: the public ones and the viewer's own."""
    public = Q(**{f"{prefix}visibility": Visibility.PUBLIC})
    if viewer is None or not viewer.is_authenticated or getattr(viewer, "is_service", False):
        return public
    return public | Q(**{f"{prefix}user_id": viewer.id})


def conversation_get(*, conversation_id, viewer) -> Conversation:
    """The conversation, if `viewer` may read it; else 404, as for one that does not exist."""
    conversation = Conversation.objects.select_related("scenario", "user").filter(id=conversation_id).first()
    if conversation is None or not may_read(
        viewer, owner_id=conversation.user_id, visibility=conversation.visibility
    ):
        raise Http404
    return conversation


def check_readable(conversation_id, viewer) -> None:
    """404 unless the conversation exists and `viewer` may read it (one small query)."""
    row = Conversation.objects.filter(id=conversation_id).values_list("user_id", "visibility").first()
    if row is None or not may_read(viewer, owner_id=row[0], visibility=row[1]):
        raise Http404


def may_name_parent(viewer, *, owner_id, visibility: str) -> bool:
    """Whether a fork shown to `viewer` may name this parent: a public one,
    or one `viewer` owns (staff and the ai service: any).

    Stricter than may_read: an unlisted parent is readable by its link, but a
    fork's `parent_conversation_id` is shown to everyone who may see the fork
    (a public fork: the world), so naming an unlisted parent there would
    publish its link. Lists, the fork's detail and its tree all follow this
    one rule (only the fork route's own answer names the parent: its caller
    just used that link)."""
    return visibility == Visibility.PUBLIC or sees_everything_of(viewer, owner_id)


def with_shown_parent(rows: QuerySet, viewer, prefix: str = "") -> QuerySet:
    """Annotate `shown_parent_id`: the conversation's parent, or None when
    `viewer` may not be told of it (may_name_parent: a parent private or
    unlisted and someone else's, e.g. a root made private after others forked
    it). `prefix` reaches the conversation from other rows (`conversation__`
    from likes)."""
    parent_id = F(f"{prefix}parent_id")
    if _sees_all(viewer):
        return rows.annotate(shown_parent_id=parent_id)
    hidden = ~Q(**{f"{prefix}parent__visibility": Visibility.PUBLIC})
    if viewer is not None and viewer.is_authenticated:
        hidden &= ~Q(**{f"{prefix}parent__user_id": viewer.id})
    return rows.annotate(
        shown_parent_id=Case(When(hidden, then=Value(None, output_field=UUIDField())), default=parent_id)
    )


def shown_parent_id(conversation: Conversation, viewer):
    """The parent's id as `viewer` may be told of it (may_name_parent)."""
    if conversation.parent_id is None:
        return None
    row = Conversation.objects.filter(id=conversation.parent_id).values_list("user_id", "visibility").first()
    if row is None or not may_name_parent(viewer, owner_id=row[0], visibility=row[1]):
        return None
    return conversation.parent_id


def conversation_list(
    *,
    viewer=None,
    user_id=None,
    scenario_id=None,
    sort_field: str = "updated_at",
    descending: bool = True,
) -> QuerySet[Conversation]:
    """Public conversations (those of `user_id` and/or on `scenario_id`);
    a reader asking for their own (user_id = viewer) gets all of theirs."""
    # The list shows a scenario reference, not its parameters.
    conversations = Conversation.objects.select_related("scenario", "user").defer("scenario__parameters")
    own = viewer is not None and viewer.is_authenticated and user_id is not None and user_id == viewer.id
    if not own:
        conversations = conversations.filter(visibility=Visibility.PUBLIC)
    if user_id:
        conversations = conversations.filter(user_id=user_id)
    if scenario_id:
        conversations = conversations.filter(scenario_id=scenario_id)
    order = f"-{sort_field}" if descending else sort_field
    return conversations.order_by(order, "-id" if descending else "id")


def links_of(conversation_id) -> QuerySet[ConversationMessageLink]:
    """A conversation's links in order, each with its message."""
    return (
        ConversationMessageLink.objects.filter(conversation_id=conversation_id)
        .select_related("message")
        .order_by("position")
    )


def _messages(links) -> list[Message]:
    messages = []
    for link in links:
        link.message.position = link.position
        messages.append(link.message)
    return messages


def latest_messages(conversation_id, limit: int) -> list[Message]:
    """The last `limit` messages, oldest first."""
    return _messages(reversed(list(links_of(conversation_id).order_by("-position")[:limit])))


def page_of_messages(conversation_id, *, start: int, size: int) -> list[Message]:
    return _messages(links_of(conversation_id)[start : start + size])


def position_of(conversation_id, message_id) -> int:
    position = (
        ConversationMessageLink.objects.filter(conversation_id=conversation_id, message_id=message_id)
        .values_list("position", flat=True)
        .first()
    )
    if position is None:
        raise Http404
    return position


def message_in(conversation_id, message_id) -> Message:
    """A message shown in this conversation, with its position (404 when the
    conversation does not show it, or either does not exist)."""
    link = (
        ConversationMessageLink.objects.filter(conversation_id=conversation_id, message_id=message_id)
        .select_related("message")
        .first()
    )
    if link is None:
        raise Http404
    link.message.position = link.position
    return link.message


@dataclass(frozen=True)
class MessageWindow:
    messages: list[Message]
    older: bool
    newer: bool


def messages_around(conversation_id, *, before=None, after=None, size: int) -> MessageWindow:
    """Cursor paging: the `size` messages just before (or after) a message of
    this conversation, oldest first, and whether more exist beyond them.
    With both, the first `size` messages between the two (neither included)."""
    links = links_of(conversation_id)
    if before is not None and after is not None:
        low, high = position_of(conversation_id, after), position_of(conversation_id, before)
        page = list(links.filter(position__gt=low, position__lt=high)[:size])
        return MessageWindow(_messages(page), older=True, newer=True)
    if before is not None:
        pivot = position_of(conversation_id, before)
        page = list(links.filter(position__lt=pivot).order_by("-position")[: size + 1])
        return MessageWindow(_messages(reversed(page[:size])), older=len(page) > size, newer=True)
    pivot = position_of(conversation_id, after)
    page = list(links.filter(position__gt=pivot)[: size + 1])
    return MessageWindow(_messages(page[:size]), older=True, newer=len(page) > size)


def history_before(conversation_id, position: int, limit: int) -> list[Message]:
    """Completed messages before `position`, the last `limit` of them, oldest
    first: what a generation is told of the conversation so far (never a
    message the reader deleted; an edited one as it reads now)."""
    links = (
        links_of(conversation_id)
        .filter(position__lt=position, message__status=MessageStatus.COMPLETED.value, message__deleted=False)
        .exclude(message__content="")
        .order_by("-position")[:limit]
    )
    return _messages(reversed(list(links)))


def children_of(conversation: Conversation, limit: int, *, viewer) -> tuple[list[Conversation], int]:
    """Direct forks a list shown to `viewer` may hold, most liked first, and
    how many of those there are: the public ones and the viewer's own (staff:
    all). An unlisted fork of someone else's is in no list or count, a tree
    included: its own link still opens it (and its own tree)."""
    shown = Q() if _sees_all(viewer) else listed_filter(viewer)
    children = Conversation.objects.filter(shown, parent=conversation)
    children = children.select_related("user")
    total = children.count()
    return list(children.order_by("-like_count", "created_at", "id")[:limit]), total


def like_of(*, user, conversation_id) -> ConversationLike | None:
    return ConversationLike.objects.filter(user=user, conversation_id=conversation_id).first()


def liked_by(*, user) -> QuerySet[ConversationLike]:
    """The user's likes of conversations a list may show them (public, or their own)."""
    return (
        ConversationLike.objects.filter(listed_filter(user, prefix="conversation__"), user=user)
        .select_related("conversation", "conversation__scenario", "conversation__user")
        .order_by("-created_at", "-id")
    )


def memo_of(*, user, conversation_id) -> ConversationMemo | None:
    return ConversationMemo.objects.filter(user=user, conversation_id=conversation_id).first()
