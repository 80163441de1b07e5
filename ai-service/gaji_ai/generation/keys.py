"""Every Redis key of a chat turn, in one place.

A turn is an assistant message id and an attempt (a regenerate is attempt
2, 3, ...). All keys start with the service's prefix (RATE_LIMIT_PREFIX) and
`gen:`, so one SCAN finds everything the chat turns hold."""

from __future__ import annotations


def turn_prefix(prefix: str) -> str:
    """What every per-message key starts with (tracking's Lua builds `reaped` from it)."""
    return f"{prefix}:gen:"


def stream(prefix: str, message_id: str) -> str:
    """The answer's events (gaji_ai.streams): one stream per message, reset by a regenerate."""
    return f"{prefix}:gen:{message_id}"


def cancel(prefix: str, message_id: str) -> str:
    """Set by a reader's cancel; the worker stops within CANCEL_POLL_SECONDS."""
    return f"{prefix}:gen:{message_id}:cancel"


def queued(prefix: str, message_id: str) -> str:
    """Set at enqueue: an empty stream means "not started yet", not "expired"."""
    return f"{prefix}:gen:{message_id}:queued"


def reading(prefix: str, message_id: str) -> str:
    """Set while a reader is attached to the stream (refreshed, short TTL): the
    turn's end tells core whether anyone was reading (gaji_ai.streams.sse)."""
    return f"{prefix}:gen:{message_id}:reading"


def unsaved(prefix: str, message_id: str, attempt: int) -> str:
    """A finished answer core did not take: the reaper saves it once core is back."""
    return f"{prefix}:gen:{message_id}:unsaved:{attempt}"


def answers(prefix: str, message_id: str, attempt: int) -> str:
    """A turn of several answers: all of them (PlannedAnswer JSON), so the
    reaper ends each one a lost worker left unfinished."""
    return f"{prefix}:gen:{message_id}:answers:{attempt}"


def reaped(prefix: str, message_id: str, attempt: int) -> str:
    """The reaper ended this attempt: a worker that receives it later skips it."""
    return f"{prefix}:gen:{message_id}:reaped:{attempt}"


def claimed(prefix: str, message_id: str, attempt: int) -> str:
    """Which process claimed this attempt (a redelivery never runs it twice)."""
    return f"{prefix}:gen:{message_id}:claimed:{attempt}"


def inflight(prefix: str) -> str:
    """Sorted set of the turns in flight, scored by their deadline (gaji_ai.generation.tracking)."""
    return f"{prefix}:gen:inflight"


def queued_at(prefix: str) -> str:
    """Hash: when each turn no worker has claimed yet was queued."""
    return f"{prefix}:gen:queued-at"


def workers(prefix: str) -> str:
    """Sorted set of the live chat worker processes, scored by their deadline."""
    return f"{prefix}:gen:workers"
