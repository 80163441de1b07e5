"""Notification routes (/api/v1/...)."""

from django.urls import path

from notifications import apis

urlpatterns = [
    path("notifications", apis.NotificationListApi.as_view()),
    path("notifications/read", apis.NotificationReadApi.as_view()),
    path("notifications/stream", apis.NotificationStreamApi.as_view()),
]
