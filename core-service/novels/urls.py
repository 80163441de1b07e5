"""Novel routes: `urlpatterns` (/api/v1/) and `internal` (/api/internal/,
the ai service's service token only)."""

from django.urls import path

from novels import apis

urlpatterns = [
    path("novels", apis.NovelListApi.as_view()),
    path("novels/<str:id_or_slug>", apis.NovelDetailApi.as_view()),
]

internal = [
    path("novels", apis.InternalNovelCreateApi.as_view()),
    path("novels/<str:novel_id>", apis.InternalNovelDetailApi.as_view()),
]
