"""/api/internal/health; each app's own internal routes are in its urls.py (`internal`)."""

from django.urls import path

from internal.apis import InternalHealthApi

urlpatterns = [
    path("health", InternalHealthApi.as_view()),
]
