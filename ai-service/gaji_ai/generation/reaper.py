"""Ends the turns whose worker died (see gaji_ai.generation.tracking), and
saves the answers core could not take while it was down.

Runs in the ai API process every GENERATION_REAPER_SECONDS. For each turn
whose deadline passed, gaji_ai.generation.outcome ends it: saved on core as
`failed` (`WORKER_LOST`, with the partial text the stream holds), then the
stream's subscribers are told (`error` then `message_complete` with status
`failed`). While core is unreachable the turn is retried on a later round;
several API processes never end the same turn twice (reaping is atomic)."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from gaji_ai.clients.core import CoreClient
from gaji_ai.generation import outcome, tracking

logger = logging.getLogger("gaji_ai.generation.reaper")


async def reap_once(
    redis: AsyncRedis, prefix: str, core: CoreClient, *, queue_timeout: float = 1800
) -> int:
    """One round; returns how many turns it ended."""
    ended = 0
    for turn in await tracking.reap_due(redis, prefix, queue_timeout=queue_timeout):
        if await outcome.end_or_retry_later(redis, prefix, core, turn):
            ended += 1
    return ended


async def run_reaper(
    redis: AsyncRedis, prefix: str, core: CoreClient, *, interval: float, queue_timeout: float
) -> None:
    """Forever, until cancelled at shutdown; an outage only skips rounds."""
    while True:
        try:
            await reap_once(redis, prefix, core, queue_timeout=queue_timeout)
        except (RedisError, OSError):
            pass  # Redis away: the next round tries again
        except Exception:  # a bug must not stop the loop; it is logged
            logger.exception("generation reaper round failed")
        await asyncio.sleep(interval)
