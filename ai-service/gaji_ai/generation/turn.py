"""One chat turn in the worker (the Celery task in gaji_ai.generation.tasks).

The task carries the turn and its grounding (gaji_ai.generation.grounding,
done by the API process when it accepted the turn): fit the prompt to the
model's window -> stream tokens into the Redis Stream, checking the cancel
flag between tokens -> end the turn (gaji_ai.generation.outcome: save on
core with retries, then `message_complete`; an `error` first when the model
failed; the answer kept for the reaper when core never took it) -> write
what the branch should remember of it (gaji_ai.generation.memory).

The saved answer and `message_complete` cite the passages its prompt held
(`citations`, in their [1], [2], ... order), each with a short quote of the
text the model saw."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import redis
from gaji_contracts.conversations import (
    AssistantMessageResult,
    Citation,
    GenerationRequest,
    PlannedAnswer,
    Speaker,
)
from gaji_contracts.streams import StreamErrorCode
from pydantic import BaseModel
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable
from gaji_ai.config import Settings
from gaji_ai.generation import outcome, tracking
from gaji_ai.generation.memory import write_turn as remember_turn
from gaji_ai.generation.prompt import READER
from gaji_ai.generation.task import Prompt, TurnTask, label
from gaji_ai.llm.providers import ProviderError
from gaji_ai.llm.registry import local_fallback, provider_for
from gaji_ai.streams.stream import CHUNK, ERROR, StreamWriter, chunk, error

logger = logging.getLogger("gaji_ai.generation")
CANCEL_POLL_SECONDS = 0.1
UNSAVED = "unsaved"  # generate()'s result when core never took the answer


class LiveStream:
    """The answer's Redis Stream as the worker writes it. If Redis goes away
    mid-answer, the answer is still generated and saved on core (the history
    shows it); only the live stream stops, and readers reconnect to history.
    Also the outcome's sink (its async methods)."""

    def __init__(self, writer: StreamWriter, message_id: str) -> None:
        self._writer = writer
        self._message_id = message_id
        self.broken = False

    def _guard(self, action, default=None):
        if self.broken:
            return default
        try:
            return action()
        except redis.RedisError as exc:
            self.broken = True
            logger.warning("stream of %s lost (%s): saving on core only", self._message_id, exc)
            return default

    def write(self, event: str, data: BaseModel) -> None:
        self._guard(lambda: self._writer.append(self._message_id, event, data))

    def cancelled(self) -> bool:
        return bool(self._guard(lambda: self._writer.cancelled(self._message_id), False))

    async def append(self, event: str, data: BaseModel) -> None:
        self.write(event, data)

    async def finish(self) -> None:
        self._guard(lambda: self._writer.finish(self._message_id))

    async def reading(self) -> bool | None:
        return self._guard(lambda: self._writer.reading(self._message_id))


async def _mark_streaming(
    core: CoreClient, task: TurnTask, answer: PlannedAnswer, model: str
) -> None:
    with contextlib.suppress(CoreUnavailable, CoreResponseError):
        await core.persist_message(
            str(task.request.conversation_id),
            AssistantMessageResult(
                message_id=str(answer.message_id),
                status="streaming",
                model=model,
                attempt=answer.attempt,
            ),
        )


def _first_then_rest(stream: Iterator[str]) -> tuple[str, Iterator[str]]:
    """Pull the first delta now (a provider failing before it can fall back)."""
    first = next(stream, "")
    return first, stream


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


@dataclass
class Spoken:
    """One answer as generated: its result and whether the turn must stop."""

    result: AssistantMessageResult
    code: StreamErrorCode | None
    cancelled: bool


def _speak(
    settings: Settings,
    prompt: Prompt,
    index: int,
    scene: list[str],
    stream: LiveStream,
    answer: PlannedAnswer,
) -> Spoken:
    """Generate one answer into the stream (its chunks carry its id and speaker)."""
    message_id = str(answer.message_id)
    provider = provider_for(settings)
    model = prompt.request.model or provider.default_model
    started = time.monotonic()
    first_at = None
    degraded = False
    content, tokens, status, error_code = "", 0, "completed", ""
    # The citations of the prompt that reached the model (the fallback's, if it ran).
    citations: list[Citation] = []
    record = None
    try:
        try:
            messages, citations, record = prompt.fit(provider, index, scene, model=model)
            first, rest = _first_then_rest(
                provider.stream(
                    messages,
                    model=model,
                    max_tokens=prompt.max_tokens,
                    temperature=prompt.temperature,
                )
            )
        except ProviderError:
            if provider.name == "local" or not settings.llm.llm_fallback_local:
                raise
            logger.warning(
                "provider %s failed before its first token; falling back to local", provider.name
            )
            provider, degraded = local_fallback(settings), True
            model = provider.default_model
            messages, citations, record = prompt.fit(provider, index, scene, model=model)
            first, rest = _first_then_rest(
                provider.stream(
                    messages, max_tokens=prompt.max_tokens, temperature=prompt.temperature
                )
            )
        next_check = 0.0
        for delta in _chain(first, rest):
            # The cancel flag is read at most every CANCEL_POLL_SECONDS (one
            # Redis round trip less per token); a cancel stops within that.
            now = time.monotonic()
            if now >= next_check:
                if stream.cancelled():
                    status = "cancelled"
                    break
                next_check = now + CANCEL_POLL_SECONDS
            content += delta
            tokens += 1
            stream.write(
                CHUNK, chunk(content, delta, message_id=message_id, speaker=answer.speaker)
            )
            first_at = first_at or time.monotonic()
    except ProviderError as exc:
        logger.warning("generation %s failed: %s", message_id, exc)
        status, error_code = "failed", StreamErrorCode.PROVIDER_ERROR.value
    logger.info(
        "generation %s: first token after %.0f ms, %d tokens in %.2f s",
        message_id,
        ((first_at or started) - started) * 1000,
        tokens,
        time.monotonic() - started,
    )
    result = AssistantMessageResult(
        message_id=message_id,
        content=content,
        status=status,
        model=model,
        total_tokens=tokens,
        degraded=degraded,
        attempt=answer.attempt,
        error_code=error_code,
        grounded=bool(prompt.passages),
        # An answer without a word cites nothing.
        citations=citations if content else [],
        prompt=record,
    )
    code = StreamErrorCode.PROVIDER_ERROR if status == "failed" else None
    return Spoken(result, code, cancelled=status == "cancelled")


def _unspoken(answer: PlannedAnswer, model: str) -> AssistantMessageResult:
    """An answer the turn never reached because the reader cancelled it."""
    return AssistantMessageResult(
        message_id=str(answer.message_id), status="cancelled", model=model, attempt=answer.attempt
    )


async def generate(
    settings: Settings, task: TurnTask, *, redis_client: redis.Redis, core: CoreClient
) -> str:
    """Run the turn: its answers one after another in one stream, each
    seeing the lines before it; returns the final status (or UNSAVED).
    A cancel stops the whole turn: the answer being spoken keeps its text,
    the ones not reached are saved cancelled and empty."""
    request = task.request
    prefix = settings.rate_limit.rate_limit_prefix
    stream = LiveStream(StreamWriter(redis_client, prefix), str(request.assistant_message_id))
    prompt = Prompt(settings, task)
    answers = prompt.answers
    model = request.model or provider_for(settings).default_model
    scene: list[str] = []
    said: list[tuple[Speaker, str]] = []
    status = "completed"
    stopped = False
    conversation_id = str(request.conversation_id)
    for index, answer in enumerate(answers):
        more = index < len(answers) - 1
        # Informative only: awaited before the final save, never before a token.
        marking = None
        if not stopped:
            marking = asyncio.create_task(_mark_streaming(core, task, answer, model))
            spoken = _speak(settings, prompt, index, scene, stream, answer)
            result, code = spoken.result, spoken.code
            stopped = spoken.cancelled
        else:
            result, code = _unspoken(answer, model), None
        if marking is not None:
            await marking
        status = result.status
        if result.content:
            scene.append(f"{label(answer.speaker, READER)}: {result.content}")
        if result.status == "completed" and result.content.strip():
            said.append((answer.speaker, result.content))
        if not await outcome.end(
            core,
            stream,
            conversation_id,
            result,
            code=code,
            delays=outcome.PERSIST_DELAYS,
            speaker=answer.speaker,
            more=more,
        ):
            # Core stayed away through every retry: the answer is kept in Redis
            # and the turn stays tracked, so the reaper saves it (and ends the
            # answers after it) once core is back; subscribers are told meanwhile.
            stream.write(ERROR, error(StreamErrorCode.PERSIST_FAILED))
            with contextlib.suppress(redis.RedisError):
                await outcome.stash(redis_client, prefix, result)
            return UNSAVED
    if said:
        await remember(settings, request, said, core=core, model=model)
    return status


async def remember(
    settings: Settings,
    request: GenerationRequest,
    spoken: list[tuple[Speaker, str]],
    *,
    core: CoreClient,
    model: str | None,
) -> None:
    """Write the turn's memory on core once its answers are saved (the
    stream has ended: nobody waits on this). A failure loses this turn's
    entries only, never the turn."""
    started = time.monotonic()
    try:
        write = remember_turn(
            provider_for(settings), request, spoken, writer=settings.llm.memory_mode, model=model
        )
        if write is None:
            return
        written = await core.write_memory(str(request.conversation_id), write)
        logger.info(
            "memory of %s: %d entries (%s)%s in %.2f s",
            request.assistant_message_id,
            written.written,
            ", ".join(sorted({e.source for e in write.entries})) or "none",
            ", a summary" if written.summarized else "",
            time.monotonic() - started,
        )
    except (CoreUnavailable, CoreResponseError, ProviderError, ValueError) as exc:
        logger.warning("memory of %s not written: %s", request.assistant_message_id, exc)


@dataclass
class WorkerContext:
    """What a worker process keeps from one turn to the next: one event loop
    and the clients bound to it (opening HTTP clients and connections anew
    for every turn cost tens of milliseconds before the first token)."""

    pid: int
    settings: Settings
    loop: asyncio.AbstractEventLoop
    redis: redis.Redis
    http: httpx.AsyncClient
    core: CoreClient


_context: WorkerContext | None = None


def worker_context(settings: Settings) -> WorkerContext:
    """This process's context, created on first use (after the fork)."""
    global _context
    if _context is not None and _context.pid == os.getpid() and _context.settings is not settings:
        close_worker_context()  # other settings (tests): start afresh
    if _context is None or _context.pid != os.getpid():
        loop = asyncio.new_event_loop()
        http = httpx.AsyncClient()
        _context = WorkerContext(
            pid=os.getpid(),
            settings=settings,
            loop=loop,
            redis=redis.Redis.from_url(settings.redis.redis_url),
            http=http,
            core=CoreClient(
                http,
                base_url=settings.core.core_base_url,
                service_token=settings.auth.service_token,
                timeout_seconds=settings.app.http_timeout_seconds,
            ),
        )
    return _context


def close_worker_context() -> None:
    global _context
    if _context is not None and _context.pid == os.getpid():
        context, _context = _context, None
        if not context.loop.is_closed():
            closing = context.http.aclose()
            try:
                context.loop.run_until_complete(closing)
            except Exception:  # a loop that cannot run here: drop the coroutine quietly
                closing.close()
            context.loop.close()
        context.redis.close()


async def _end_lost(settings: Settings, context: WorkerContext, turn: tracking.Turn) -> None:
    """What the reaper would do a few seconds later (gaji_ai.generation.reaper)."""
    client = AsyncRedis.from_url(settings.redis.redis_url)
    try:
        await outcome.end_or_retry_later(
            client, settings.rate_limit.rate_limit_prefix, context.core, turn
        )
    finally:
        await client.aclose()


def run_generation(
    settings: Settings, payload: dict, *, ready: Callable[[], object] | None = None
) -> str:
    """The Celery task's body: claim the turn (skip it if the reaper already
    ended it), keep a heartbeat while generating, release it when done.
    `ready` waits for this process's models; it is called once the turn is
    claimed, so a turn that must not run ends without waiting for them."""
    task = TurnTask.parse(payload)
    request = task.request
    context = worker_context(settings)
    prefix = settings.rate_limit.rate_limit_prefix
    heartbeat = tracking.Heartbeat(
        context.redis,
        prefix,
        tracking.Turn(
            str(request.assistant_message_id), request.attempt, str(request.conversation_id)
        ),
    )
    if not heartbeat.claim():
        owner = heartbeat.previous_owner
        if owner is None:
            logger.warning(
                "generation %s attempt %s was already ended as lost; skipping",
                request.assistant_message_id,
                request.attempt,
            )
            return "skipped"
        if tracking.owner_is_gone(owner) and tracking.reap_now(
            context.redis, prefix, heartbeat.turn
        ):
            # Celery redelivered the turn of a pool process that died (a
            # crash of the model, an OOM kill): end it now, never run it again.
            logger.warning(
                "generation %s attempt %s: its process %s died mid-answer; ending it as lost",
                request.assistant_message_id,
                request.attempt,
                owner,
            )
            context.loop.run_until_complete(_end_lost(settings, context, heartbeat.turn))
            return "lost"
        logger.warning(
            "generation %s attempt %s was claimed before by %s; not running it twice",
            request.assistant_message_id,
            request.attempt,
            owner,
        )
        return "skipped"
    started = time.monotonic()
    status = "failed"
    try:
        if ready is not None:
            ready()
        status = context.loop.run_until_complete(
            generate(settings, task, redis_client=context.redis, core=context.core)
        )
        return status
    finally:
        # An unsaved answer stays tracked: the reaper saves it later.
        heartbeat.stop(release=status != UNSAVED)
        logger.info(
            "generation %s done in %.2fs", request.assistant_message_id, time.monotonic() - started
        )
