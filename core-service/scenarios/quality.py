"""quality_score: how much a scenario has engaged readers, in [0, 1).

    engagement    = 2 * fork_count + conversation_count + 0.5 * likes
    quality_score = engagement / (engagement + 10)

A fork (someone built a timeline on top of it) counts double, a
conversation once, a like on one of its conversations half. The curve
saturates: 10 points of engagement give 0.5, 40 give 0.8, 90 give 0.9. It is
recomputed in the same UPDATE that changes a counter, so it can never lag
behind them. `likes` is the scenario's like_count: the likes on all of its
conversations, moved in the same transaction as the like itself.
"""

from __future__ import annotations

from django.db.models import F, FloatField, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Cast

HALF_POINT = 10.0


def quality_formula(forks: float, conversations: float, likes: float = 0.0) -> float:
    engagement = 2 * forks + conversations + 0.5 * likes
    return engagement / (engagement + HALF_POINT)


def quality_expression(
    *, fork_delta: int = 0, conversation_delta: int = 0, like_delta: int = 0
) -> CombinedExpression:
    """The SQL form of quality_formula over the row's counters after the
    given deltas, for use in `.update(quality_score=...)`."""
    engagement = (
        Cast(F("fork_count") + fork_delta, FloatField()) * 2.0
        + Cast(F("conversation_count") + conversation_delta, FloatField())
        + Cast(F("like_count") + like_delta, FloatField()) * 0.5
    )
    return engagement / (engagement + Value(HALF_POINT))
