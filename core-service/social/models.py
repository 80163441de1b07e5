from __future__ import annotations

from django.conf import settings
from django.db import models


class Follow(models.Model):
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_set"
    )
    following = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_set"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "following"], name="follow_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("following")), name="follow_not_self"
            ),
        ]
        indexes = [
            # Lists are newest first: one index per direction serves both the
            # page and the count.
            models.Index(fields=["following", "-created_at"], name="follow_following_recent"),
            models.Index(fields=["follower", "-created_at"], name="follow_follower_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} -> {self.following_id}"
