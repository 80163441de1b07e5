"""Which generations are in flight, so a dead worker's turn ends `failed`.

Every queued turn is a member of one Redis sorted set whose score is a
deadline: the enqueue sets it GENERATION_START_TIMEOUT_SECONDS ahead (the
queue may be busy); the worker, once it claims the turn, keeps pushing it HEARTBEAT_GRACE
seconds ahead from a heartbeat thread, and removes it when done. A process
killed mid-generation stops beating; the reaper (a task of the ai API
process, which is alive when the worker is not) then finds the deadline
passed and ends the turn: the message is saved on core as `failed`
(`WORKER_LOST`, the partial text kept), and the stream gets `error` then
`message_complete` with status `failed`, so `regenerate` works at once.

Reaping and claiming are atomic (Lua): a reaped turn leaves a marker, and a
worker that receives it later (Celery redelivers a dead worker's unacked
task) skips it instead of writing into a stream that already ended."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import redis
from redis.asyncio import Redis as AsyncRedis

HEARTBEAT_SECONDS = 2.0
HEARTBEAT_GRACE_SECONDS = 15.0
REAPED_TTL_SECONDS = 3600

_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

_BEAT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[2], ARGV[1])
"""

# KEYS[1] the set; ARGV: now, limit, marker prefix, marker ttl.
_REAP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local message, attempt = string.match(member, '^([^:]+):([^:]+):')
  redis.call('SET', ARGV[3] .. message .. ':reaped:' .. attempt, '1', 'EX', ARGV[4])
end
return due
"""


def inflight_key(prefix: str) -> str:
    return f"{prefix}:gen:inflight"


def reaped_key(prefix: str, message_id: str, attempt: int) -> str:
    return f"{prefix}:gen:{message_id}:reaped:{attempt}"


@dataclass(frozen=True)
class Turn:
    """One attempt at one answer (the set's member: `message:attempt:conversation`)."""

    message_id: str
    attempt: int
    conversation_id: str

    @property
    def member(self) -> str:
        return f"{self.message_id}:{self.attempt}:{self.conversation_id}"

    @classmethod
    def parse(cls, member: str | bytes) -> Turn:
        text = member.decode() if isinstance(member, bytes) else member
        message_id, attempt, conversation_id = text.split(":", 2)
        return cls(message_id, int(attempt), conversation_id)


async def register(client: AsyncRedis, prefix: str, turn: Turn, *, start_timeout: float) -> None:
    """At enqueue: the turn must be claimed by a worker before the deadline."""
    await client.zadd(inflight_key(prefix), {turn.member: time.time() + start_timeout})


class Heartbeat:
    """The worker's claim on a turn, renewed by a daemon thread until `stop`."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        turn: Turn,
        *,
        interval: float = HEARTBEAT_SECONDS,
        grace: float = HEARTBEAT_GRACE_SECONDS,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._turn = turn
        self._interval = interval
        self._grace = grace
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def _keys(self) -> list[str]:
        return [
            inflight_key(self._prefix),
            reaped_key(self._prefix, self._turn.message_id, self._turn.attempt),
        ]

    def claim(self) -> bool:
        """False when the turn was already reaped (do not generate it)."""
        claimed = self._redis.eval(
            _CLAIM, 2, *self._keys(), self._turn.member, time.time() + self._grace
        )
        if not claimed:
            return False
        self._thread = threading.Thread(target=self._run, name="gaji-heartbeat", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            # Redis briefly away: the next beat retries within the grace.
            with contextlib.suppress(redis.RedisError):
                self._redis.eval(
                    _BEAT, 2, *self._keys(), self._turn.member, time.time() + self._grace
                )

    def stop(self) -> None:
        """The turn is finished (or handed back): stop beating and leave the set."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 1)
        # On failure the reaper finds it later; the status saved on core wins.
        with contextlib.suppress(redis.RedisError):
            self._redis.zrem(inflight_key(self._prefix), self._turn.member)


async def reap_due(client: AsyncRedis, prefix: str, *, limit: int = 50) -> list[Turn]:
    """Atomically take the turns whose deadline passed (and mark them reaped)."""
    due = await client.eval(
        _REAP,
        1,
        inflight_key(prefix),
        time.time(),
        limit,
        f"{prefix}:gen:",
        REAPED_TTL_SECONDS,
    )
    return [Turn.parse(member) for member in due or []]


async def retry_later(client: AsyncRedis, prefix: str, turn: Turn, *, delay: float) -> None:
    """The reaper could not save the failure yet (core down): try again later."""
    await client.zadd(inflight_key(prefix), {turn.member: time.time() + delay})
