"""Novel routes: `urlpatterns` (/api/v1/) and `internal` (/api/internal/,
the ai service's service token only)."""

from django.urls import path

from novels import apis, export_apis

urlpatterns = [
    path("novels", apis.NovelListApi.as_view()),
    path("novels/imports", apis.NovelImportApi.as_view()),  # before novels/<id_or_slug>
    path("users/me/novels", apis.OwnNovelListApi.as_view()),
    path("novels/<str:id_or_slug>", apis.NovelDetailApi.as_view()),
    path("novels/<str:id_or_slug>/lorebook", export_apis.NovelLorebookExportApi.as_view()),
    path(
        "novels/<str:id_or_slug>/characters/<str:character_id>/card",
        export_apis.NovelCharacterCardExportApi.as_view(),
    ),
]

internal = [
    path("novels", apis.InternalNovelCreateApi.as_view()),
    path("novels/<str:novel_id>", apis.InternalNovelDetailApi.as_view()),
    path("novels/<str:novel_id>/access", apis.InternalNovelAccessApi.as_view()),
]
