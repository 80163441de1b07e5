"""The staff console for scenarios: list by type, story and creator, search
the parameters, see a scenario's parent and forks, soft-delete and restore.

Scenarios are created through the API (validation, novel linking and the
parent's counters live in scenarios.services), so the admin cannot add
them, and cannot hard-delete them either: a row with forks is PROTECTed,
and a soft delete is what keeps their meta-timelines reachable."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.db.models import TextField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from gaji_contracts.scenarios import ParameterErrors, validate_parameters

from scenarios import services
from scenarios.models import Scenario

CHILDREN_SHOWN = 50


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Soft-deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class ScenarioAdminForm(forms.ModelForm):
    class Meta:
        model = Scenario
        fields = "__all__"

    def clean_parameters(self):
        """The same schema as the API, for the scenario's (fixed) type."""
        parameters = self.cleaned_data["parameters"]
        try:
            return validate_parameters(self.instance.scenario_type, parameters)
        except ParameterErrors as exc:
            raise forms.ValidationError(
                [f"{path}: {message}" for path, found in exc.details.items() for message in found]
            ) from None


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    form = ScenarioAdminForm
    list_display = (
        "id",
        "scenario_type",
        "base_story",
        "creator",
        "fork_count",
        "quality_score",
        "deleted_at",
    )
    list_filter = ("scenario_type", "base_story", DeletedFilter)
    list_select_related = ("creator",)
    # `parameters_text` is the JSON cast to text (see get_search_results);
    # a UUID typed in the box also finds that scenario.
    search_fields = ("base_story", "creator__username", "parameters_text")
    search_help_text = "Story slug, creator username, any text in the parameters, or a scenario id."
    raw_id_fields = ("parent", "creator", "novel")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    actions = ["restore_selected", "soft_delete_selected"]
    readonly_fields = (
        "id",
        "base_story",
        "scenario_type",
        "parent_link",
        "children_links",
        "fork_count",
        "conversation_count",
        "quality_score",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    fieldsets = (
        (None, {"fields": ("id", "base_story", "novel", "scenario_type", "parameters", "creator")}),
        ("Meta-timeline", {"fields": ("parent_link", "children_links")}),
        (
            "Counters (maintained by the service)",
            {"fields": ("fork_count", "conversation_count", "quality_score")},
        ),
        ("Dates", {"fields": ("created_at", "updated_at", "deleted_at")}),
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")

    def get_search_results(self, request, queryset, search_term):
        queryset = queryset.alias(parameters_text=Cast("parameters", TextField()))
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            scenario_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(pk=scenario_id), may_have_duplicates

    @admin.display(description="Parent")
    def parent_link(self, obj: Scenario):
        if obj.parent_id is None:
            return "— (a root scenario)"
        url = reverse("admin:scenarios_scenario_change", args=[obj.parent_id])
        deleted = " (deleted)" if obj.parent.deleted_at else ""
        return format_html('<a href="{}">{} {}</a>{}', url, obj.parent.scenario_type, obj.parent_id, deleted)

    @admin.display(description="Forks")
    def children_links(self, obj: Scenario):
        if obj.pk is None:
            return "—"
        children = list(
            obj.children.order_by("created_at", "id").only("id", "scenario_type", "deleted_at")[
                : CHILDREN_SHOWN + 1
            ]
        )
        if not children:
            return "— (no forks)"
        items = format_html_join(
            "",
            '<li><a href="{}">{} {}</a>{}</li>',
            (
                (
                    reverse("admin:scenarios_scenario_change", args=[child.pk]),
                    child.scenario_type,
                    child.pk,
                    " (deleted)" if child.deleted_at else "",
                )
                for child in children[:CHILDREN_SHOWN]
            ),
        )
        all_url = reverse("admin:scenarios_scenario_changelist") + f"?parent__id__exact={obj.pk}"
        return format_html('<ul>{}</ul><a href="{}">All forks of this scenario</a>', items, all_url)

    @admin.action(description="Restore selected (undo soft delete)", permissions=["change"])
    def restore_selected(self, request, queryset):
        restored = 0
        for scenario in queryset.filter(deleted_at__isnull=False):
            services.scenario_restore(scenario=scenario)
            restored += 1
        self.message_user(request, f"Restored {restored} scenario(s).", messages.SUCCESS)

    @admin.action(description="Soft-delete selected", permissions=["change"])
    def soft_delete_selected(self, request, queryset):
        deleted = 0
        for scenario in queryset.filter(deleted_at__isnull=True).select_related("creator"):
            # Staff act for the creator: the same soft delete, counters included.
            services.scenario_delete(scenario=scenario, user=scenario.creator)
            deleted += 1
        self.message_user(request, f"Soft-deleted {deleted} scenario(s).", messages.SUCCESS)
