from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from gaji_contracts.scenarios import ScenarioType


class Scenario(models.Model):
    """A What-If: one change to a story. Forks point at their parent and form
    trees of any depth; a database trigger (migration 0002) refuses cycles.

    Two generated columns exist only in the database (migration 0002) for
    search: `search_text` (trigram) and `search_vector` (full text)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on base_story, scenario_type or quality_score:
    # the partial indexes of migrations 0002/0003 serve every read of live
    # scenarios (lists filter deleted_at IS NULL), and each index costs every
    # write (migration 0008).
    base_story = models.CharField(max_length=100)
    novel = models.ForeignKey(
        "novels.Novel", null=True, blank=True, on_delete=models.SET_NULL, related_name="scenarios"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scenarios")
    scenario_type = models.CharField(max_length=30, choices=[(t.value, t.value) for t in ScenarioType])
    parameters = models.JSONField()
    quality_score = models.FloatField(default=0.0)
    fork_count = models.PositiveIntegerField(default=0, db_index=True)
    conversation_count = models.PositiveIntegerField(default=0, db_index=True)
    # Likes on this scenario's conversations (feeds quality_score).
    like_count = models.PositiveIntegerField(default=0, db_default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quality_score__gte=0) & models.Q(quality_score__lte=1),
                name="scenario_quality_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="scenario_not_own_parent"
            ),
        ]
        indexes = [
            GinIndex(fields=["parameters"], name="scenario_parameters_gin", opclasses=["jsonb_path_ops"]),
            models.Index(fields=["parent", "-created_at"], name="scenario_parent_recent"),
            models.Index(fields=["creator", "-created_at"], name="scenario_creator_recent"),
        ]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def __str__(self) -> str:
        return f"{self.scenario_type} on {self.base_story} ({self.id})"
