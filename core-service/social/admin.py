from django.contrib import admin

from social.models import Follow


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("id", "follower", "following", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("follower", "following")
    raw_id_fields = ("follower", "following")
    search_fields = ("follower__username", "follower__email", "following__username", "following__email")
    readonly_fields = ("created_at",)
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
