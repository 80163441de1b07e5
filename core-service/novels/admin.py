"""The staff console for novels: search by title, author, slug or owner,
filter by ingestion status, visibility, source and language, see how many
scenarios each grounds."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from novels.models import Novel


@admin.register(Novel)
class NovelAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "slug",
        "author",
        "publication_year",
        "ingestion_status",
        "visibility",
        "source",
        "owner",
        "total_passages",
        "scenario_count",
        "updated_at",
    )
    list_filter = ("ingestion_status", "visibility", "source", "language", "genre")
    search_fields = ("title", "author", "slug", "owner__username")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("id", "created_at", "updated_at", "scenarios_link")
    ordering = ("title",)
    fieldsets = (
        (None, {"fields": ("id", "slug", "title", "author", "publication_year", "genre", "language")}),
        (
            "Ingestion (reported by the ai service)",
            {"fields": ("ingestion_status", "total_passages", "total_characters", "vectordb_collection_id")},
        ),
        (
            "Owner and source (a reader's import)",
            {"fields": ("owner", "visibility", "source", "source_url", "source_bytes", "ingest_job_id")},
        ),
        ("Scenarios", {"fields": ("scenarios_link",)}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(live_scenarios=Count("scenarios", filter=Q(scenarios__deleted_at__isnull=True)))
        )

    @admin.display(description="Scenarios", ordering="live_scenarios")
    def scenario_count(self, obj: Novel) -> int:
        return obj.live_scenarios

    @admin.display(description="Scenarios on this novel")
    def scenarios_link(self, obj: Novel):
        if obj.pk is None:
            return "—"
        url = reverse("admin:scenarios_scenario_changelist") + f"?novel__id__exact={obj.pk}"
        return format_html('<a href="{}">{} live scenario(s)</a>', url, obj.live_scenarios)
