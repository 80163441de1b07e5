"""Reads of conversations, their messages, likes and memos."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404
from gaji_contracts.conversations import MessageStatus

from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    Message,
)

SORT_FIELDS = {"updated_at", "created_at", "like_count", "message_count", "title"}
# GET /conversations/{id} shows at most this many (the most recent) messages;
# GET /conversations/{id}/messages pages through all of them.
DETAIL_MESSAGES = 200
TREE_CHILDREN_MAX = 500


def conversation_get(*, conversation_id) -> Conversation:
    conversation = Conversation.objects.select_related("scenario", "user").filter(id=conversation_id).first()
    if conversation is None:
        raise Http404
    return conversation


def conversation_list(
    *, user_id=None, scenario_id=None, sort_field: str = "updated_at", descending: bool = True
) -> QuerySet[Conversation]:
    # The list shows a scenario reference, not its parameters.
    conversations = Conversation.objects.select_related("scenario", "user").defer("scenario__parameters")
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
    first: what a generation is told of the conversation so far."""
    links = (
        links_of(conversation_id)
        .filter(position__lt=position, message__status=MessageStatus.COMPLETED.value)
        .exclude(message__content="")
        .order_by("-position")[:limit]
    )
    return _messages(reversed(list(links)))


def children_of(conversation: Conversation, limit: int) -> tuple[list[Conversation], int]:
    """Direct forks, most liked first, and how many there are in all."""
    children = Conversation.objects.filter(parent=conversation).select_related("user")
    total = children.count()
    return list(children.order_by("-like_count", "created_at", "id")[:limit]), total


def like_of(*, user, conversation_id) -> ConversationLike | None:
    return ConversationLike.objects.filter(user=user, conversation_id=conversation_id).first()


def liked_by(*, user) -> QuerySet[ConversationLike]:
    return (
        ConversationLike.objects.filter(user=user)
        .select_related("conversation", "conversation__scenario", "conversation__user")
        .order_by("-created_at", "-id")
    )


def memo_of(*, user, conversation_id) -> ConversationMemo | None:
    return ConversationMemo.objects.filter(user=user, conversation_id=conversation_id).first()
