"""Writes of scenarios. Counters and quality change in single UPDATE
statements (F expressions), so concurrent forks never lose a count."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from gaji_contracts.errors import ErrorCode
from gaji_contracts.novels import SLUG_MAX_CHARS, SLUG_PATTERN
from gaji_contracts.scenarios import ParameterErrors, ScenarioType, validate_parameters

from common.exceptions import ApplicationError
from notifications import services as notify
from novels.selectors import novel_by_slug
from scenarios.models import Scenario
from scenarios.quality import quality_expression
from scenarios.search import reader_wrote

BASE_STORY_RE = re.compile(SLUG_PATTERN)


def _checked_type(scenario_type) -> ScenarioType:
    try:
        return ScenarioType(scenario_type)
    except ValueError:
        allowed = ", ".join(t.value for t in ScenarioType)
        raise ApplicationError(
            f"Unknown scenario_type. Expected one of: {allowed}.",
            details={"scenario_type": [f"Must be one of: {allowed}."]},
        ) from None


def _checked_parameters(scenario_type: ScenarioType, parameters) -> dict:
    try:
        return validate_parameters(scenario_type, parameters)
    except ParameterErrors as exc:
        path, messages = next(iter(exc.details.items()))
        raise ApplicationError(
            f"Parameters do not match the {scenario_type.value} schema: {path}: {messages[0]}",
            status=422,
            code=ErrorCode.PARAMETERS_INVALID,
            details=exc.details,
        ) from None


def _checked_base_story(base_story: str) -> str:
    valid = isinstance(base_story, str) and BASE_STORY_RE.match(base_story)
    if not valid or len(base_story) > SLUG_MAX_CHARS:
        raise ApplicationError(
            "base_story must be a slug (lowercase letters, digits, '-' or '_', at most 100 chars).",
            details={"base_story": ["Must be a slug such as pride-and-prejudice."]},
        )
    return base_story


def _forbidden(message: str) -> ApplicationError:
    return ApplicationError(message, status=403, code=ErrorCode.PERMISSION_DENIED)


@transaction.atomic
def scenario_create(*, creator, base_story: str, scenario_type: str, parameters) -> Scenario:
    kind = _checked_type(scenario_type)
    base_story = _checked_base_story(base_story)
    scenario = Scenario.objects.create(
        creator=creator,
        base_story=base_story,
        # A novel the creator may not read (someone else's private import) is
        # as unknown as a missing one: the scenario is made without a novel.
        novel=novel_by_slug(base_story, creator),
        scenario_type=kind.value,
        parameters=_checked_parameters(kind, parameters),
    )
    reader_wrote(creator.id)
    return scenario


@transaction.atomic
def scenario_update(*, scenario: Scenario, user, data: dict) -> Scenario:
    """Only `parameters` may change; sending a different base_story or
    scenario_type is refused, never silently ignored."""
    if scenario.creator_id != user.id:
        raise _forbidden("Only the creator can change this scenario.")
    immutable = {
        name: ["Cannot be changed; fork the scenario instead."]
        for name in ("base_story", "scenario_type")
        if name in data and data[name] != getattr(scenario, name)
    }
    if immutable:
        raise ApplicationError(
            "base_story and scenario_type cannot be changed.",
            status=409,
            code=ErrorCode.CONFLICT,
            details=immutable,
        )
    if "parameters" not in data:
        raise ApplicationError("parameters is required.", details={"parameters": ["This field is required."]})
    scenario.parameters = _checked_parameters(ScenarioType(scenario.scenario_type), data["parameters"])
    scenario.save(update_fields=["parameters", "updated_at"])
    reader_wrote(user.id)
    return scenario


def _bump_forks(parent_id, delta: int) -> None:
    # One UPDATE: the counter and the score move together, atomically.
    Scenario.objects.filter(id=parent_id).update(
        fork_count=F("fork_count") + delta,
        quality_score=quality_expression(fork_delta=delta),
    )


@transaction.atomic
def scenario_delete(*, scenario: Scenario, user) -> None:
    """Soft delete: the row stays (its forks keep their parent), and it is a
    404 everywhere from now on. The parent's fork_count counts live forks."""
    if scenario.creator_id != user.id:
        raise _forbidden("Only the creator can delete this scenario.")
    deleted = Scenario.objects.filter(id=scenario.id, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )
    if deleted and scenario.parent_id:
        _bump_forks(scenario.parent_id, -1)
    reader_wrote(user.id)


@transaction.atomic
def scenario_restore(*, scenario: Scenario) -> None:
    """Undo a soft delete (staff, from the admin)."""
    restored = Scenario.objects.filter(id=scenario.id, deleted_at__isnull=False).update(deleted_at=None)
    if restored and scenario.parent_id:
        _bump_forks(scenario.parent_id, +1)


@transaction.atomic
def scenario_fork(*, parent: Scenario, creator, parameters, scenario_type: str | None = None) -> Scenario:
    """A meta-timeline: a new scenario whose parent is `parent`. It inherits
    the base story (and its novel); its type may differ."""
    kind = _checked_type(scenario_type or parent.scenario_type)
    fork = Scenario.objects.create(
        creator=creator,
        parent=parent,
        base_story=parent.base_story,
        novel_id=parent.novel_id,
        scenario_type=kind.value,
        parameters=_checked_parameters(kind, parameters),
    )
    _bump_forks(parent.id, +1)
    reader_wrote(creator.id)
    notify.scenario_forked(parent=parent, fork=fork, actor=creator)
    return fork


def scenario_count_engagement(*, scenario_id, conversations: int = 0, likes: int = 0) -> None:
    """Move a scenario's conversation and like counters (and its quality) in
    one UPDATE; called by the conversations app inside its transaction."""
    if not conversations and not likes:
        return
    Scenario.objects.filter(id=scenario_id).update(
        conversation_count=F("conversation_count") + conversations,
        like_count=F("like_count") + likes,
        quality_score=quality_expression(conversation_delta=conversations, like_delta=likes),
    )
