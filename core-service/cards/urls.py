"""Card and lorebook routes (/api/v1/...)."""

from django.urls import path

from cards import apis

urlpatterns = [
    path("characters/import", apis.CardImportApi.as_view()),
    path("characters", apis.CardListApi.as_view()),
    path("characters/<uuid:card_id>", apis.CardDetailApi.as_view()),
    path("characters/<uuid:card_id>/image", apis.CardImageApi.as_view()),
    path("characters/<uuid:card_id>/export", apis.CardExportApi.as_view()),
    path("lorebooks/import", apis.LorebookImportApi.as_view()),
    path("lorebooks", apis.LorebookListApi.as_view()),
    path("lorebooks/<uuid:lorebook_id>", apis.LorebookDetailApi.as_view()),
    path("lorebooks/<uuid:lorebook_id>/export", apis.LorebookExportApi.as_view()),
    path("conversations/<uuid:conversation_id>/lorebooks", apis.ConversationLorebooksApi.as_view()),
    path("novels/<uuid:novel_id>/lorebooks", apis.NovelLorebooksApi.as_view()),
]
