"""Conversation routes. `hot` (/api/v1/, the most used paths: config/urls.py
puts them first), `urlpatterns` (/api/v1/) and `internal` (/api/internal/,
the ai service's service token only)."""

from django.urls import path

from common.fastget import fast_get
from conversations import apis, exchange_apis, internal_apis, memory_apis, message_apis

MESSAGE = "conversations/<uuid:conversation_id>/messages/<uuid:message_id>"

hot = [
    path("conversations", apis.ConversationListCreateApi.as_view()),
    path("conversations/<uuid:conversation_id>", fast_get(apis.ConversationDetailApi)),
    path("conversations/<uuid:conversation_id>/messages", apis.MessageListSendApi.as_view()),
]

urlpatterns = [
    path("conversations/import", exchange_apis.ConversationImportApi.as_view()),
    path("conversations/<uuid:conversation_id>/export", exchange_apis.ConversationExportApi.as_view()),
    path(MESSAGE, message_apis.MessageApi.as_view()),
    path(f"{MESSAGE}/alternatives", message_apis.AlternativesApi.as_view()),
    path(
        "conversations/<uuid:conversation_id>/messages/search",
        message_apis.ConversationMessageSearchApi.as_view(),
    ),
    path(f"{MESSAGE}/regenerate", apis.MessageRegenerateApi.as_view()),
    path(f"{MESSAGE}/cancel", apis.MessageCancelApi.as_view()),
    path(f"{MESSAGE}/stream", apis.MessageStreamApi.as_view()),
    path(f"{MESSAGE}/citations", apis.MessageCitationsApi.as_view()),
    path(f"{MESSAGE}/prompt", apis.MessagePromptApi.as_view()),
    path("conversations/<uuid:conversation_id>/continue", apis.ContinueApi.as_view()),
    path("conversations/<uuid:conversation_id>/cast", apis.CastApi.as_view()),
    path("conversations/<uuid:conversation_id>/fork", apis.ConversationForkApi.as_view()),
    path("conversations/<uuid:conversation_id>/tree", apis.ConversationTreeApi.as_view()),
    path("conversations/<uuid:conversation_id>/like", apis.LikeApi.as_view()),
    path("conversations/<uuid:conversation_id>/unlike", apis.UnlikeApi.as_view()),
    path("conversations/<uuid:conversation_id>/liked", apis.LikedApi.as_view()),
    path("conversations/<uuid:conversation_id>/memo", apis.MemoApi.as_view()),
    path("conversations/<uuid:conversation_id>/memory", memory_apis.MemoryListCreateApi.as_view()),
    path(
        "conversations/<uuid:conversation_id>/memory/<uuid:entry_id>",
        memory_apis.MemoryEntryApi.as_view(),
    ),
    path("conversations/<uuid:conversation_id>/canon", memory_apis.CanonApi.as_view()),
    path("users/me/liked-conversations", apis.LikedConversationsApi.as_view()),
    path("users/me/messages/search", message_apis.MyMessageSearchApi.as_view()),
]

internal = [
    path(
        "conversations/<uuid:conversation_id>/context",
        internal_apis.InternalConversationContextApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/messages",
        internal_apis.InternalMessagePersistApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/turns",
        internal_apis.InternalTurnCreateApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/memory",
        internal_apis.InternalMemoryWriteApi.as_view(),
    ),
]
