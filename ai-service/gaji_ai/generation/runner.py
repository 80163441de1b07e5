"""One chat turn in the worker (Celery task `gaji.generation.generate`):

retrieve passages (when the scenario's novel is ingested) -> grounded prompt
within the model's window -> stream tokens into the Redis Stream, checking
the cancel flag between tokens -> persist the answer on core (idempotent,
retried while core is down) -> `message_complete` only after the save; if
it finally fails, an `error` event (the text stays in the stream).

The saved answer and `message_complete` cite the passages its prompt held
(`citations`, in their [1], [2], ... order), each with a short quote of the
text the model saw."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import redis
from gaji_contracts.conversations import (
    CITATION_QUOTE_CHARS,
    MAX_CHAPTER_TITLE_CHARS,
    MAX_CITATIONS,
    AssistantMessageResult,
    Citation,
    GenerationRequest,
)
from pydantic import ValidationError
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable
from gaji_ai.config import Settings
from gaji_ai.embeddings import dense_embedder
from gaji_ai.generation import tracking
from gaji_ai.generation.prompt import KeptPassage, Persona, Turn, build_messages, render_brief
from gaji_ai.generation.streams import CHUNK, COMPLETE, ERROR, StreamWriter, complete_data
from gaji_ai.llm.providers import (
    ChatMessage,
    LLMProvider,
    ProviderError,
    build_local_provider,
    build_provider,
)
from gaji_ai.search.service import search_passages
from gaji_ai.vectors.store import CHARACTERS, VectorStore, VectorStoreError, worker_vector_store

logger = logging.getLogger("gaji_ai.generation")
MAX_ANSWER_TOKENS = 200
PASSAGES = 3
PERSIST_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)
CANCEL_POLL_SECONDS = 0.1
UNSAVED = "unsaved"  # generate()'s result when core never took the answer
UNSAVED_TTL_SECONDS = 3600


def prompt_budget(context_tokens: int) -> int:
    """Prompt tokens a model window holds: the answer's room and a margin left out."""
    return context_tokens - MAX_ANSWER_TOKENS - 32


def unsaved_key(prefix: str, message_id: str, attempt: int) -> str:
    return f"{prefix}:gen:{message_id}:unsaved:{attempt}"


_providers: dict[str, LLMProvider] = {}
_providers_lock = threading.Lock()


def provider_for(settings: Settings) -> LLMProvider:
    with _providers_lock:
        if "main" not in _providers:
            _providers["main"] = build_provider(settings)
        return _providers["main"]


def local_fallback(settings: Settings) -> LLMProvider:
    with _providers_lock:
        if "local" not in _providers:
            _providers["local"] = build_local_provider(settings)
        return _providers["local"]


NARRATOR = "the narrator"


def persona_name(request: GenerationRequest) -> str:
    """Whom the reader speaks to: the character they address, else the
    scenario's character, else the narrator."""
    if request.character and request.character.strip():
        return request.character.strip()
    parameters = request.scenario.parameters
    if request.scenario.scenario_type == "CHARACTER_CHANGE" and parameters.get("character"):
        return str(parameters["character"])
    return NARRATOR


def _key(name: str) -> str:
    return " ".join(name.lower().replace(".", " ").split())


def match_profile(name: str, profiles: list[dict]) -> dict | None:
    """The cast member a name refers to: an exact name or alias first, else
    the most mentioned one whose name or alias contains it ("Darcy")."""
    wanted = _key(name)
    if not wanted:
        return None
    partial = None
    for profile in profiles:  # most mentioned first
        names = [_key(profile.get("name", "")), *(_key(a) for a in profile.get("aliases", []))]
        if wanted in names:
            return profile
        if partial is None and any(wanted in n.split() or n in wanted for n in names if n):
            partial = profile
    return partial


def persona_from(name: str, profiles: list[dict]) -> Persona:
    profile = match_profile(name, profiles) if name != NARRATOR else None
    if profile is None:
        return Persona(name)
    return Persona(
        profile.get("name", name),
        description=str(profile.get("description", ""))[:300],
        traits=tuple(profile.get("personality_traits", [])[:6]),
    )


@dataclass(frozen=True)
class Passage:
    """A retrieved passage of the novel and where it is in the book."""

    text: str
    passage_id: str = ""
    chapter: int = 0
    chapter_title: str = ""
    chunk_index: int = 0

    @classmethod
    def of(cls, point_id: object, payload: dict[str, Any]) -> Passage:
        return cls(
            text=str(payload.get("text") or ""),
            passage_id=str(point_id),
            chapter=_count(payload.get("chapter")),
            chapter_title=str(payload.get("chapter_title") or ""),
            chunk_index=_count(payload.get("chunk_index")),
        )

    @classmethod
    def parse(cls, item: str | dict[str, Any]) -> Passage:
        """From the pre-grounding payload (a bare text: an older API process)."""
        if isinstance(item, str):
            return cls(item)
        return cls(**{name: item[name] for name in cls.__dataclass_fields__ if name in item})


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def quote_of(text: str, limit: int = CITATION_QUOTE_CHARS) -> str:
    """The start of `text` verbatim, cut at a word boundary with an ellipsis
    when longer than `limit` characters."""
    text = text.replace("\x00", "").strip()
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    head = cut[:space] if space >= limit // 2 else text[:limit]
    return head.rstrip(" \t\n,;:-\u2014") + "…"


def citations_of(passages: list[Passage], kept: list[KeptPassage]) -> list[Citation]:
    """The citations of the passages that reached the prompt, in prompt order."""
    citations = []
    for item in kept[:MAX_CITATIONS]:
        passage = passages[item.index]
        title = passage.chapter_title.replace("\x00", "")[:MAX_CHAPTER_TITLE_CHARS]
        try:
            citations.append(
                Citation(
                    passage_id=passage.passage_id,
                    chapter=passage.chapter,
                    chapter_title=title,
                    chunk_index=passage.chunk_index,
                    quote=quote_of(item.text),
                )
            )
        except ValidationError as exc:  # a point without an id: cited by nobody
            logger.warning("passage %r cannot be cited: %s", passage.passage_id, exc)
    return citations


def _story(request: GenerationRequest) -> str:
    return request.scenario.base_story.replace("-", " ").replace("_", " ").title()


async def _cast(store: VectorStore, novel_id: str) -> list[dict]:
    hits = await store.scroll(CHARACTERS, novel_id=novel_id, limit=100)
    return sorted((h.payload for h in hits), key=lambda p: -int(p.get("mention_count", 0)))


async def grounding(
    settings: Settings,
    request: GenerationRequest,
    store: VectorStore | None = None,
    *,
    degrade: bool = True,
) -> tuple[Persona, list[Passage]]:
    """The persona (with its profile when the novel is ingested) and the
    passages retrieved for the user's message. A vector store outage
    degrades to the brief alone rather than failing the turn (or raises
    VectorStoreError, with `degrade=False`). Without a `store`, one is
    opened for this call and closed after it."""
    name = persona_name(request)
    if request.novel_id is None:
        return Persona(name), []
    owned = store is None
    store = store or worker_vector_store(settings)
    novel_id = str(request.novel_id)
    try:
        search = search_passages(
            store=store,
            embedder=dense_embedder(settings),
            query=request.user_message,
            novel_id=novel_id,
            top_k=PASSAGES,
        )
        if name == NARRATOR:
            profiles, result = [], await search
        else:
            profiles, result = await asyncio.gather(_cast(store, novel_id), search)
        passages = [Passage.of(h.id, h.payload) for h in result.hits]
        return persona_from(name, profiles), [p for p in passages if p.text.strip()]
    except VectorStoreError:
        if not degrade:
            raise
        logger.warning(
            "no grounding for %s: vector store unavailable", request.assistant_message_id
        )
        return Persona(name), []
    finally:
        if owned:
            await store.close()


class LiveStream:
    """The answer's Redis Stream as the worker writes it. If Redis goes away
    mid-answer, the answer is still generated and saved on core (the history
    shows it); only the live stream stops, and readers reconnect to history."""

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

    def append(self, event: str, data: dict) -> None:
        self._guard(lambda: self._writer.append(self._message_id, event, data))

    def cancelled(self) -> bool:
        return bool(self._guard(lambda: self._writer.cancelled(self._message_id), False))

    def finish(self) -> None:
        self._guard(lambda: self._writer.finish(self._message_id))


async def _mark_streaming(core: CoreClient, request: GenerationRequest, model: str) -> None:
    with contextlib.suppress(CoreUnavailable, CoreResponseError):
        await core.persist_message(
            str(request.conversation_id),
            AssistantMessageResult(
                message_id=str(request.assistant_message_id),
                status="streaming",
                model=model,
                attempt=request.attempt,
            ),
        )


@dataclass(frozen=True)
class Prompt:
    """A turn's grounded context; `messages_for(provider)` fits it to that
    provider's tokenizer and window. The benchmark builds the very same
    prompt to call a provider directly."""

    settings: Settings
    request: GenerationRequest
    persona: Persona
    passages: list[Passage]

    @classmethod
    async def gather(
        cls, settings: Settings, request: GenerationRequest, store: VectorStore | None = None
    ) -> Prompt:
        persona, passages = await grounding(settings, request, store)
        return cls(settings, request, persona, passages)

    def messages_for(self, provider: LLMProvider) -> list[ChatMessage]:
        return self.fit(provider)[0]

    def fit(self, provider: LLMProvider) -> tuple[list[ChatMessage], list[Citation]]:
        """The messages for this provider, and the citations of the passages they hold."""
        request = self.request
        kept: list[KeptPassage] = []
        messages = build_messages(
            story=_story(request),
            brief=render_brief(request.scenario.scenario_type, request.scenario.parameters),
            persona=self.persona,
            passages=[p.text for p in self.passages],
            history=[Turn(m.role.value, m.content) for m in request.recent_messages],
            user_message=request.user_message,
            count_tokens=_count_tokens(provider),
            budget=prompt_budget(self.settings.llm.llm_context_tokens),
            grounding_tokens=self.settings.llm.grounding_tokens(provider.name),
            kept=kept,
        )
        return messages, citations_of(self.passages, kept)


# -- grounding started by the API at enqueue ----------------------------------------
#
# The ai API process holds the embedded vector store and a warm embedder; it
# starts a turn's grounding the moment the turn is queued, in parallel with
# core's answer, the queue and the worker's pickup, and hands the result to
# the worker through a Redis list. The worker waits for it briefly and
# otherwise grounds the turn itself: the result is the same either way.

PREGROUND_WAIT_SECONDS = 1.0
PREGROUND_TTL_SECONDS = 600


def pregrounding_key(prefix: str, request: GenerationRequest) -> str:
    return f"{prefix}:gen:{request.assistant_message_id}:grounding:{request.attempt}"


async def pre_ground(
    settings: Settings, redis_client: AsyncRedis, store: VectorStore, request: GenerationRequest
) -> None:
    """API side: ground the turn and leave the result for the worker."""
    key = pregrounding_key(settings.rate_limit.rate_limit_prefix, request)
    try:
        persona, passages = await grounding(settings, request, store, degrade=False)
        payload = {
            "persona": {
                "name": persona.name,
                "description": persona.description,
                "traits": list(persona.traits),
            },
            "passages": [asdict(p) for p in passages],
        }
    except Exception as exc:  # the worker grounds it itself
        logger.warning("pre-grounding %s failed: %r", request.assistant_message_id, exc)
        payload = {"failed": True}
    with contextlib.suppress(RedisError):
        async with redis_client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(payload))
            pipe.expire(key, PREGROUND_TTL_SECONDS)
            await pipe.execute()


async def _pre_grounded(
    settings: Settings, redis_client: redis.Redis, request: GenerationRequest
) -> tuple[Persona, list[Passage]] | None:
    """Worker side: the API's grounding of this turn, if it comes in time."""
    if request.novel_id is None:
        return None  # nothing to fetch: grounding is immediate
    key = pregrounding_key(settings.rate_limit.rate_limit_prefix, request)
    try:
        item = await asyncio.to_thread(redis_client.blpop, [key], PREGROUND_WAIT_SECONDS)
    except redis.RedisError:
        return None
    if not item:
        return None
    try:
        payload = json.loads(item[1])
        if payload.get("failed"):
            return None
        persona = payload["persona"]
        return (
            Persona(persona["name"], persona["description"], tuple(persona["traits"])),
            [Passage.parse(passage) for passage in payload["passages"]],
        )
    except (ValueError, KeyError, TypeError) as exc:  # unreadable: ground the turn here
        logger.warning("pre-grounding of %s unreadable: %r", request.assistant_message_id, exc)
        return None


def _count_tokens(provider: LLMProvider) -> Callable[[str], int]:
    counter = getattr(provider, "count_tokens", None)
    return counter if counter else (lambda text: max(1, len(text) // 4))


def _first_then_rest(stream: Iterator[str]) -> tuple[str, Iterator[str]]:
    """Pull the first delta now (a provider failing before it can fall back)."""
    first = next(stream, "")
    return first, stream


async def persist(
    core: CoreClient, request: GenerationRequest, result: AssistantMessageResult
) -> bool:
    """Save on core, retrying while it is unreachable; False if it never took it."""
    for delay in (*PERSIST_DELAYS, None):
        try:
            await core.persist_message(str(request.conversation_id), result)
            return True
        except CoreResponseError as exc:
            # 404: the conversation was deleted meanwhile; retrying cannot help.
            logger.warning(
                "core refused answer %s: HTTP %s", request.assistant_message_id, exc.status
            )
            return False
        except CoreUnavailable:
            if delay is None:
                return False
            await asyncio.sleep(delay)
    return False


async def generate(
    settings: Settings,
    request: GenerationRequest,
    *,
    redis_client: redis.Redis,
    core: CoreClient,
    store: VectorStore | None = None,
) -> str:
    """Run the turn; returns the final status."""
    message_id = str(request.assistant_message_id)
    writer = StreamWriter(redis_client, settings.rate_limit.rate_limit_prefix)
    stream = LiveStream(writer, message_id)
    provider = provider_for(settings)
    model = request.model or provider.default_model
    # Informative only (the final save is what counts): it runs while the
    # grounding is fetched, so it costs the first token nothing.
    started = time.monotonic()
    # Informative only: awaited before the final save, never before a token.
    marking = asyncio.create_task(_mark_streaming(core, request, model))
    ready = await _pre_grounded(settings, redis_client, request)
    if ready is not None:
        prompt = Prompt(settings, request, *ready)
    else:
        prompt = await Prompt.gather(settings, request, store)
    grounded_at = time.monotonic()
    if request.novel_id is not None and not prompt.passages:
        # Core called the novel ingested, but no passage came back: say the
        # answer is ungrounded, and correct core if the store holds none.
        await _check_missing(core, store, str(request.novel_id))
    first_at = None
    degraded = False
    content, tokens, status, error_code = "", 0, "completed", ""
    # The citations of the prompt that reached the model (the fallback's, if it ran).
    citations: list[Citation] = []
    try:
        try:
            messages, citations = prompt.fit(provider)
            first, rest = _first_then_rest(
                provider.stream(messages, model=model, max_tokens=MAX_ANSWER_TOKENS)
            )
        except ProviderError:
            if provider.name == "local" or not settings.llm.llm_fallback_local:
                raise
            logger.warning(
                "provider %s failed before its first token; falling back to local", provider.name
            )
            provider, degraded = local_fallback(settings), True
            model = provider.default_model
            messages, citations = prompt.fit(provider)
            first, rest = _first_then_rest(provider.stream(messages, max_tokens=MAX_ANSWER_TOKENS))
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
            stream.append(CHUNK, {"content": content, "delta": delta})
            first_at = first_at or time.monotonic()
    except ProviderError as exc:
        logger.warning("generation %s failed: %s", message_id, exc)
        status, error_code = "failed", "PROVIDER_ERROR"
    await marking
    logger.info(
        "generation %s: grounding %.0f ms (%s), first token after %.0f ms, %d tokens in %.2f s",
        message_id,
        (grounded_at - started) * 1000,
        "from the API" if ready is not None else "here",
        ((first_at or grounded_at) - grounded_at) * 1000,
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
        attempt=request.attempt,
        error_code=error_code,
        grounded=bool(prompt.passages),
        # An answer without a word cites nothing.
        citations=citations if content else [],
    )
    if await persist(core, request, result):
        if status == "failed":
            stream.append(
                ERROR,
                {"code": "PROVIDER_ERROR", "message": "The model failed; regenerate the answer."},
            )
        stream.append(
            COMPLETE,
            complete_data(result),
        )
        stream.finish()
    else:
        # Core stayed away through every retry: the answer is kept in Redis
        # and the turn stays tracked, so the reaper saves it once core is
        # back (gaji_ai.generation.reaper); subscribers are told meanwhile.
        stream.append(
            ERROR,
            {
                "code": "PERSIST_FAILED",
                "message": "The answer is kept and will be saved once the service is back.",
            },
        )
        with contextlib.suppress(RedisError):
            redis_client.set(
                unsaved_key(settings.rate_limit.rate_limit_prefix, message_id, request.attempt),
                result.model_dump_json(),
                ex=UNSAVED_TTL_SECONDS,
            )
        return UNSAVED
    return status


async def _check_missing(core: CoreClient, store: VectorStore | None, novel_id: str) -> None:
    from gaji_ai.novels.reconcile import mark_missing
    from gaji_ai.vectors.store import PASSAGES

    if store is None:
        return
    try:
        held = await store.count(PASSAGES, novel_id)
    except VectorStoreError:
        return  # the store is away: that is not evidence the novel is gone
    if held == 0:
        logger.warning("novel %s has no passages in the vector store: answer ungrounded", novel_id)
        await mark_missing(core, novel_id)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


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
    store: VectorStore


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
            store=worker_vector_store(settings),
        )
    return _context


def close_worker_context() -> None:
    global _context
    if _context is not None and _context.pid == os.getpid():
        context, _context = _context, None
        with contextlib.suppress(Exception):
            context.loop.run_until_complete(context.http.aclose())
            context.loop.run_until_complete(context.store.close())
        context.loop.close()
        context.redis.close()


async def _end_lost(settings: Settings, context: WorkerContext, turn: tracking.Turn) -> None:
    """What the reaper would do a few seconds later (gaji_ai.generation.reaper)."""
    from gaji_ai.generation.reaper import CORE_RETRY_SECONDS, end_lost_turn

    prefix = settings.rate_limit.rate_limit_prefix
    client = AsyncRedis.from_url(settings.redis.redis_url)
    try:
        if not await end_lost_turn(client, prefix, context.core, turn):
            await tracking.retry_later(client, prefix, turn, delay=CORE_RETRY_SECONDS)
    finally:
        await client.aclose()


def run_generation(
    settings: Settings, payload: dict, *, ready: Callable[[], object] | None = None
) -> str:
    """The Celery task's body: claim the turn (skip it if the reaper already
    ended it), keep a heartbeat while generating, release it when done.
    `ready` waits for this process's models; it is called once the turn is
    claimed, so a turn that must not run ends without waiting for them."""
    request = GenerationRequest.model_validate(payload)
    context = worker_context(settings)
    heartbeat = tracking.Heartbeat(
        context.redis,
        settings.rate_limit.rate_limit_prefix,
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
            context.redis, settings.rate_limit.rate_limit_prefix, heartbeat.turn
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
            generate(
                settings,
                request,
                redis_client=context.redis,
                core=context.core,
                store=context.store,
            )
        )
        return status
    finally:
        # An unsaved answer stays tracked: the reaper saves it later.
        heartbeat.stop(release=status != UNSAVED)
        logger.info(
            "generation %s done in %.2fs", request.assistant_message_id, time.monotonic() - started
        )
