"""The staff console for conversations, likes and memos.

Conversations are created through the API; staff can read them (messages
inline, read-only), rename them and delete them (through the same service
as the API, so orphaned messages go and the counters stay exact).

Likes and memory entries are shown read-only. Memos are private notes: staff see that a memo
exists (who, on which conversation, how long, when) but never its text;
nothing in the console can read or change it."""

from __future__ import annotations

from django.contrib import admin
from django.db.models.functions import Length

from conversations import services
from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    MemoryEntry,
)

EXCERPT = 300


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ConversationMessageLink
    fields = ("position", "role", "speaker", "status", "excerpt", "llm_model", "total_tokens", "created")
    readonly_fields = fields
    ordering = ("position",)
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = "message"
    verbose_name_plural = "messages (shared with forks through links; read-only)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message")

    @admin.display(description="role")
    def role(self, link) -> str:
        return link.message.role

    @admin.display(description="speaker")
    def speaker(self, link) -> str:
        message = link.message
        return f"{message.speaker_name or '?'} ({message.speaker_kind})"

    @admin.display(description="status")
    def status(self, link) -> str:
        return link.message.status

    @admin.display(description="content")
    def excerpt(self, link) -> str:
        # Rendered escaped by the admin template: stored HTML is shown as text.
        text = link.message.content
        return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}…"

    @admin.display(description="model")
    def llm_model(self, link) -> str:
        return link.message.model

    @admin.display(description="tokens")
    def total_tokens(self, link):
        return link.message.total_tokens

    @admin.display(description="created")
    def created(self, link):
        return link.message.created_at


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "scenario", "depth", "message_count", "like_count", "updated_at")
    list_filter = ("depth",)
    list_select_related = ("user", "scenario")
    search_fields = ("=id", "title", "user__username")
    search_help_text = "Title, owner username, or a conversation id."
    ordering = ("-updated_at",)
    date_hierarchy = "created_at"
    fields = (
        "id",
        "title",
        "user",
        "scenario",
        "parent",
        "depth",
        "message_count",
        "like_count",
        "total_tokens",
        "cast",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(f for f in fields if f != "title")
    inlines = [MessageInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def get_deleted_objects(self, objs, request):
        # Its likes and memos go with it (the service deletes them); their
        # admins being read-only must not block a staff delete.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj) -> None:
        services.conversation_delete_as_staff(conversation_id=obj.id)

    def delete_queryset(self, request, queryset) -> None:
        for conversation_id in queryset.values_list("id", flat=True):
            services.conversation_delete_as_staff(conversation_id=conversation_id)


@admin.register(ConversationLike)
class ConversationLikeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "conversation", "created_at")
    list_select_related = ("user", "conversation")
    search_fields = ("user__username", "=conversation__id")
    ordering = ("-created_at",)
    show_full_result_count = False


@admin.register(ConversationMemo)
class ConversationMemoAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Existence only: the memo's text is private to its author."""

    list_display = ("user", "conversation", "length", "created_at", "updated_at")
    list_select_related = ("user", "conversation")
    fields = ("user", "conversation", "length", "created_at", "updated_at")
    readonly_fields = fields
    search_fields = ("user__username", "=conversation__id")
    ordering = ("-updated_at",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("memo_text").annotate(text_length=Length("memo_text"))

    @admin.display(description="characters", ordering="text_length")
    def length(self, memo) -> int:
        return memo.text_length


@admin.register(MemoryEntry)
class MemoryEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What a branch remembers, read-only: readers edit their own through the
    API; staff look (a wrong or abusive entry goes with its conversation)."""

    list_display = (
        "kind",
        "subject",
        "target",
        "short_text",
        "value",
        "source",
        "pinned",
        "inherited",
        "created_at",
    )
    list_filter = ("kind", "source", "pinned", "inherited")
    search_fields = ("text", "subject", "=conversation__id")
    raw_id_fields = ("conversation",)
    ordering = ("-created_at",)
    list_select_related = ("conversation",)

    @admin.display(description="text")
    def short_text(self, entry: MemoryEntry) -> str:
        return entry.text[:120]
