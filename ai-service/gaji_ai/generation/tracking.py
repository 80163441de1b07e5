"""Which generations are in flight, so a dead worker's turn ends `failed`.

Every queued turn is a member of one Redis sorted set whose score is a
deadline: the enqueue sets it GENERATION_START_TIMEOUT_SECONDS ahead; the
worker, once it claims the turn, keeps pushing it HEARTBEAT_GRACE seconds
ahead from a heartbeat thread, and removes it when done. A turn still
waiting in the queue at its deadline is not lost while a chat worker is
alive (each beats in a second set): a busy queue only delays it, up to
GENERATION_QUEUE_TIMEOUT_SECONDS. A process
killed mid-generation stops beating; the reaper (a task of the ai API
process, which is alive when the worker is not) then finds the deadline
passed and ends the turn: the message is saved on core as `failed`
(`WORKER_LOST`, the partial text kept), and the stream gets `error` then
`message_complete` with status `failed`, so `regenerate` works at once.

Reaping and claiming are atomic (Lua): a reaped turn leaves a marker, and a
worker that receives it later (Celery redelivers a dead worker's unacked
task) skips it instead of writing into a stream that already ended. A turn
is claimed once per attempt: a redelivery of a claimed turn is never run
again (a model that crashed its process would crash the next one too, and
the stream already holds the first run's text). When the process that
claimed it is gone from this host, the worker ends it as lost at once
instead of waiting for the reaper."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass

import redis
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.generation import keys

HEARTBEAT_SECONDS = 2.0
HEARTBEAT_GRACE_SECONDS = 15.0
WORKER_BEAT_SECONDS = 5.0
WORKER_GRACE_SECONDS = 15.0
QUEUED_RECHECK_SECONDS = 30.0
REAPED_TTL_SECONDS = 3600

# KEYS: the set, the reaped marker, the queued-at hash, the claimed marker.
# ARGV: member, deadline, owner, marker ttl. Returns 0 (reaped), 1 (claimed)
# or the owner of an earlier claim (a redelivery).
_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local owner = redis.call('GET', KEYS[4])
if owner then return owner end
redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

# KEYS: the set, the queued-at hash, the reaped marker. ARGV: member, ttl.
_REAP_ONE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
return 1
"""

_BEAT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[2], ARGV[1])
"""

# KEYS: the set, the queued-at hash, the live workers.
# ARGV: now, limit, marker prefix, marker ttl, queue timeout, recheck delay.
# A due turn no worker claimed yet is given more time while a worker lives
# and it has waited less than the queue timeout; any other is reaped.
_REAP = """
local now = tonumber(ARGV[1])
local workers = redis.call('ZCOUNT', KEYS[3], now, '+inf')
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])
local reaped = {}
for _, member in ipairs(due) do
  local queued = redis.call('HGET', KEYS[2], member)
  if queued and workers > 0 and now - tonumber(queued) < tonumber(ARGV[5]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[6]), member)
  else
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
    local message, attempt = string.match(member, '^([^:]+):([^:]+):')
    redis.call('SET', ARGV[3] .. message .. ':reaped:' .. attempt, '1', 'EX', ARGV[4])
    table.insert(reaped, member)
  end
end
return reaped
"""


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str) -> bool:
    """True only when `owner` (`host:pid`) was a process of this host that no
    longer exists; another host's process, or a live one, may still answer."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap_now(client: redis.Redis, prefix: str, turn: Turn) -> bool:
    """Take one turn out of the set now (marking it reaped); False when the
    reaper (or another worker) took it first."""
    return bool(
        client.eval(
            _REAP_ONE,
            3,
            keys.inflight(prefix),
            keys.queued_at(prefix),
            keys.reaped(prefix, turn.message_id, turn.attempt),
            turn.member,
            REAPED_TTL_SECONDS,
        )
    )


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
    """At enqueue: the turn must be claimed by a worker before the deadline
    (or, while it waits in a busy queue, a chat worker must be alive)."""
    now = time.time()
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(keys.queued_at(prefix), turn.member, now)
        pipe.zadd(keys.inflight(prefix), {turn.member: now + start_timeout})
        await pipe.execute()


class WorkerBeat:
    """A chat worker process says it is alive every WORKER_BEAT_SECONDS (a
    daemon thread), so turns waiting for it in a busy queue are not reaped."""

    def __init__(self, client: redis.Redis, prefix: str, name: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._name = name
        self._stopped = threading.Event()

    def start(self) -> None:
        self._beat()
        threading.Thread(target=self._run, name="gaji-worker-beat", daemon=True).start()

    def _beat(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._redis.zadd(
                keys.workers(self._prefix), {self._name: time.time() + WORKER_GRACE_SECONDS}
            )
            # Forget workers that stopped beating long ago.
            self._redis.zremrangebyscore(keys.workers(self._prefix), "-inf", time.time() - 3600)

    def _run(self) -> None:
        while not self._stopped.wait(WORKER_BEAT_SECONDS):
            self._beat()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(redis.RedisError):
            self._redis.zrem(keys.workers(self._prefix), self._name)


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
        # Set when `claim` refused a turn claimed before (a redelivery).
        self.previous_owner: str | None = None

    @property
    def turn(self) -> Turn:
        return self._turn

    def _keys(self) -> list[str]:
        return [
            keys.inflight(self._prefix),
            keys.reaped(self._prefix, self._turn.message_id, self._turn.attempt),
        ]

    def claim(self) -> bool:
        """False when the turn was already reaped, or claimed before by
        `previous_owner` (do not generate it)."""
        claimed = self._redis.eval(
            _CLAIM,
            4,
            *self._keys(),
            keys.queued_at(self._prefix),
            keys.claimed(self._prefix, self._turn.message_id, self._turn.attempt),
            self._turn.member,
            time.time() + self._grace,
            this_process(),
            REAPED_TTL_SECONDS,
        )
        if claimed != 1:
            if claimed:
                self.previous_owner = claimed.decode() if isinstance(claimed, bytes) else claimed
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

    def stop(self, *, release: bool = True) -> None:
        """Stop beating; leave the set (`release`), or stay for the reaper to
        finish the turn once the grace has passed."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 1)
        if not release:
            return
        # On failure the reaper finds it later; the status saved on core wins.
        with contextlib.suppress(redis.RedisError):
            self._redis.zrem(keys.inflight(self._prefix), self._turn.member)


async def reap_due(
    client: AsyncRedis, prefix: str, *, queue_timeout: float, limit: int = 50
) -> list[Turn]:
    """Atomically take the turns whose deadline passed (and mark them reaped);
    turns still queued behind a live worker get more time instead."""
    due = await client.eval(
        _REAP,
        3,
        keys.inflight(prefix),
        keys.queued_at(prefix),
        keys.workers(prefix),
        time.time(),
        limit,
        keys.turn_prefix(prefix),
        REAPED_TTL_SECONDS,
        queue_timeout,
        QUEUED_RECHECK_SECONDS,
    )
    return [Turn.parse(member) for member in due or []]


async def retry_later(client: AsyncRedis, prefix: str, turn: Turn, *, delay: float) -> None:
    """The reaper could not save the failure yet (core down): try again later."""
    await client.zadd(keys.inflight(prefix), {turn.member: time.time() + delay})
