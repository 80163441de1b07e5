"""The reader's settings routes (/api/v1/users/me/settings)."""

from django.urls import path

from accounts import settings_apis

urlpatterns = [
    path("users/me/settings", settings_apis.SettingsApi.as_view()),
]
