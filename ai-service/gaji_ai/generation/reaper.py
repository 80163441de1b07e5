"""Ends the turns whose worker died (see gaji_ai.generation.tracking), and
saves the answers core could not take while it was down.

Runs in the ai API process every GENERATION_REAPER_SECONDS. For each turn
whose deadline passed: save it on core as `failed` (`WORKER_LOST`, with the
partial text the stream holds), then tell the stream's subscribers (`error`
then `message_complete` with status `failed`). While core is unreachable the
turn is retried on a later round; several API processes never end the same
turn twice (reaping is atomic)."""

from __future__ import annotations

import asyncio
import logging

from gaji_contracts.conversations import AssistantMessageResult
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable
from gaji_ai.generation import tracking
from gaji_ai.generation.runner import unsaved_key
from gaji_ai.generation.streams import CHUNK, COMPLETE, ERROR, StreamReader, complete_data

logger = logging.getLogger("gaji_ai.generation.reaper")
WORKER_LOST = "WORKER_LOST"
CORE_RETRY_SECONDS = 10.0


async def _partial(reader: StreamReader, message_id: str) -> tuple[str, int, str | None]:
    """The text streamed so far, its delta count, and the stream's last event kind."""
    last = await reader.last(message_id)
    if last is None:
        return "", 0, None
    if last.event == CHUNK:
        chunks = 0
        after = None
        while batch := await reader.read(message_id, after, count=1000):
            chunks += sum(1 for e in batch if e.event == CHUNK)
            after = batch[-1].id
        return str(last.data.get("content", "")), chunks, last.event
    return "", 0, last.event


async def _save_unsaved(
    redis: AsyncRedis, prefix: str, core: CoreClient, turn: tracking.Turn, raw: bytes | str
) -> bool:
    """A finished answer core did not take in time: save it now."""
    result = AssistantMessageResult.model_validate_json(raw)
    try:
        await core.persist_message(turn.conversation_id, result)
    except CoreUnavailable:
        return False
    except CoreResponseError as exc:
        logger.warning("core refused unsaved answer %s: HTTP %s", turn.message_id, exc.status)
    reader = StreamReader(redis, prefix)
    await reader.append(turn.message_id, COMPLETE, complete_data(result))
    await reader.finish(turn.message_id)
    await redis.delete(unsaved_key(prefix, turn.message_id, turn.attempt))
    logger.info("answer %s saved on core after its worker gave up", turn.message_id)
    return True


async def end_lost_turn(
    redis: AsyncRedis, prefix: str, core: CoreClient, turn: tracking.Turn
) -> bool:
    """False when core could not be reached (try again later)."""
    unsaved = await redis.get(unsaved_key(prefix, turn.message_id, turn.attempt))
    if unsaved is not None:
        return await _save_unsaved(redis, prefix, core, turn, unsaved)
    reader = StreamReader(redis, prefix)
    content, tokens, last_event = await _partial(reader, turn.message_id)
    if last_event == COMPLETE:
        return True  # the worker finished and died before leaving the set
    result = AssistantMessageResult(
        message_id=turn.message_id,
        content=content,
        status="failed",
        total_tokens=tokens,
        attempt=turn.attempt,
        error_code=WORKER_LOST,
    )
    try:
        await core.persist_message(turn.conversation_id, result)
    except CoreUnavailable:
        return False
    except CoreResponseError as exc:
        logger.warning("core refused lost turn %s: HTTP %s", turn.message_id, exc.status)
    logger.warning("generation %s attempt %s: worker lost", turn.message_id, turn.attempt)
    await reader.append(
        turn.message_id,
        ERROR,
        {"code": WORKER_LOST, "message": "The answer stopped unexpectedly; regenerate it."},
    )
    await reader.append(turn.message_id, COMPLETE, complete_data(result))
    await reader.finish(turn.message_id)
    return True


async def reap_once(
    redis: AsyncRedis, prefix: str, core: CoreClient, *, queue_timeout: float = 1800
) -> int:
    """One round; returns how many turns it ended."""
    ended = 0
    for turn in await tracking.reap_due(redis, prefix, queue_timeout=queue_timeout):
        if await end_lost_turn(redis, prefix, core, turn):
            ended += 1
        else:
            await tracking.retry_later(redis, prefix, turn, delay=CORE_RETRY_SECONDS)
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
