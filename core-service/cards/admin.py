"""The staff console: readers' cards and lorebooks, read-only (they are the
readers' own files; the API imports and deletes them)."""

from django.contrib import admin

from cards.models import CharacterCard, Lorebook


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CharacterCard)
class CharacterCardAdmin(_ReadOnly):
    list_display = ("id", "name", "owner", "spec", "container", "lorebook_entries", "created_at")
    list_filter = ("spec", "container", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username", "owner__email")
    fields = ("id", "name", "owner", "spec", "spec_version", "container", "lorebook_entries", "warnings")
    readonly_fields = fields
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("document", "fields", "book", "image")


@admin.register(Lorebook)
class LorebookAdmin(_ReadOnly):
    list_display = ("id", "name", "owner", "kind", "entry_count", "created_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username", "owner__email")
    fields = ("id", "name", "owner", "kind", "entry_count", "warnings")
    readonly_fields = fields
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("document", "book")
