"""A reader's settings: what turns use unless a request says otherwise.

Stored on `User.settings` as only the keys the reader set; `settings_for`
fills in the defaults. The bounds are the chat-turn contract's
(gaji_contracts.conversations.TurnOptions), so whatever is stored here ai
accepts."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from gaji_contracts.conversations import TurnOptions
from pydantic import ValidationError

from integrations.ai import AiClient, AiUnavailable, check_model

logger = logging.getLogger("gaji.accounts")

DEFAULTS: dict = {
    "default_model": None,  # None: the service's configured model
    "temperature": None,  # None: the service's default
    "max_tokens": None,  # None: the service's default answer length
    "response_style": "balanced",
    "persona_name": "",  # how characters address the reader ("" : the username)
    "default_visibility": "public",
}


def _with_defaults(stored: dict | None) -> dict:
    return {**DEFAULTS, **{k: v for k, v in (stored or {}).items() if k in DEFAULTS}}


def settings_for(user) -> dict:
    """The reader's settings with the defaults filled in (anonymous: the defaults)."""
    return _with_defaults(getattr(user, "settings", None))


def model_check(model: str | None, *, request_id: str | None = None) -> None:
    """400 INVALID_MODEL (field `default_model`) unless ai offers `model`,
    as the send route checks its `model`: when ai cannot list its models
    the check is skipped (a default ai no longer offers is dropped at turn
    time, see turn_settings)."""
    if model:
        check_model(model, field="default_model", request_id=request_id)


def settings_update(*, user, changes: dict, request_id: str | None = None) -> dict:
    """Merge validated `changes` into the reader's stored settings: a value
    sets its key, None removes it (back to the default); keys left out keep
    their values. The user's row is locked for the read-merge-write, so two
    concurrent updates of different keys both stick. Returns the settings
    with the defaults filled in."""
    if "default_model" in changes:
        # Asked before the row is locked: nothing waits on ai under the lock.
        model_check(changes["default_model"], request_id=request_id)
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().only("id", "settings").get(id=user.id)
        stored = {k: v for k, v in (locked.settings or {}).items() if k in DEFAULTS}
        for key, value in changes.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value
        get_user_model().objects.filter(id=user.id).update(settings=stored)
    user.settings = stored
    return settings_for(user)


def prepare_turn(user_id, *, request_id: str | None = None) -> None:
    """Before a turn that names no model locks its conversation: when the
    reader has a default model and ai's model list is not cached, fetch it
    now (cached a minute), so turn_settings, which runs under the lock, only
    reads the cache and nothing waits on ai while the row is locked. ai
    away: nothing to do (the turn's dispatch reports it)."""
    client = AiClient()
    if client.cached_models() is not None:
        return
    stored = get_user_model().objects.filter(id=user_id).values_list("settings", flat=True).first()
    if not _with_defaults(stored)["default_model"]:
        return
    try:
        client.models(request_id=request_id)
    except AiUnavailable as exc:
        logger.info("model list unavailable before the turn of user %s: %s", user_id, exc)


def _offered(model: str) -> bool:
    """Whether ai still offers the reader's default model, by the model list
    as last fetched (prepare_turn fetched it before the lock); True when it
    is not cached (ai could not say, or the entry expired meanwhile): the
    turn's dispatch then reports ai away. Never asks ai: this runs while the
    turn holds its conversation's row lock."""
    available = AiClient().cached_models()
    return available is None or model in available


def _options(values: dict, user_id) -> TurnOptions:
    """The options; a stored value the contract refuses (written by hand,
    or under older bounds) is left out rather than failing the turn."""
    try:
        return TurnOptions(**values)
    except ValidationError as exc:
        refused = {str(e["loc"][0]) for e in exc.errors()}
        logger.warning("settings of user %s: %s refused, defaults used", user_id, ", ".join(sorted(refused)))
        return TurnOptions(**{k: v for k, v in values.items() if k not in refused})


def turn_settings(user_id, model: str | None) -> tuple[TurnOptions, str | None]:
    """A turn's options from its owner's settings, and its model: the one
    the request named, else the reader's default model while ai still
    offers it (a model dropped from ai's configuration since it was chosen
    must not fail every turn), else None (ai's default). The reader is
    called by their persona name, else by their username. Reads the
    database and the cache only (call prepare_turn before the lock)."""
    stored, username = get_user_model().objects.values_list("settings", "username").get(id=user_id)
    chosen = _with_defaults(stored)
    options = _options(
        {
            "temperature": chosen["temperature"],
            "max_tokens": chosen["max_tokens"],
            "response_style": chosen["response_style"],
            "persona_name": (chosen["persona_name"] or username).strip() or None,
        },
        user_id,
    )
    default = chosen["default_model"]
    if not model and default:
        if _offered(default):
            model = default
        else:
            logger.info(
                "default model %r of user %s is no longer offered: ai's default used", default, user_id
            )
    return options, model
