"""The staff console: notifications are read-only (the reader's own to mark
read; the hooks create them)."""

from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "kind", "actor", "read", "created_at")
    list_filter = ("kind", "read", "created_at")
    list_select_related = ("recipient", "actor")
    search_fields = ("recipient__username", "recipient__email", "actor__username")
    readonly_fields = (
        "id",
        "recipient",
        "kind",
        "actor",
        "scenario_id",
        "conversation_id",
        "message_id",
        "text",
        "read",
        "created_at",
    )
    ordering = ("-created_at",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
