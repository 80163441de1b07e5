"""LLM providers behind one interface: `stream(messages, ...)` yields text
deltas; `complete_json(messages, schema)` asks for JSON that follows a
JSON schema (structured output). Chosen by LLM_PROVIDER:

- `local` (default): the local engine, llama.cpp's own server
  (gaji_ai.llm.engine) on the GGUF model LLM_LOCAL_MODEL names
  (gaji_ai.llm.models), reached through its OpenAI-compatible API. With
  LLM_LOCAL_ENGINE=inprocess: llama.cpp inside each chat worker
  (`llama-cpp-python`), the documented fallback.
- `openai`: any OpenAI-compatible chat-completions API with streaming.
- `anthropic`: the Anthropic Messages API with streaming (no structured output).

Errors are `ProviderError` with a message safe to show (never the key);
`StructuredOutputUnsupported` when a provider cannot constrain its output."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from gaji_ai.llm import models
from gaji_ai.llm.local_config import extra_bufts_allowed, load_llama

REPEAT_PENALTY = 1.15
JSON_MAX_TOKENS = 512


class ProviderError(Exception):
    """The provider failed; `str()` is safe to show (no secrets)."""


class StructuredOutputUnsupported(ProviderError):
    """The provider (or the server behind it) cannot follow a JSON schema."""


Schema = dict[str, Any] | type[BaseModel]


def _schema_of(schema: Schema) -> tuple[dict[str, Any], type[BaseModel] | None]:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema(), schema
    if isinstance(schema, dict):
        return schema, None
    raise TypeError("schema must be a JSON schema (dict) or a pydantic model class")


def _parse_json(text: str, model: type[BaseModel] | None, provider: str):
    """The answer as JSON (validated by `model` when given)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise ProviderError(f"{provider} did not answer with JSON") from None
    if model is None:
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ProviderError(
            f"{provider} answered JSON that does not follow the schema: "
            f"{exc.error_count()} error(s)"
        ) from None


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


class LLMProvider(Protocol):
    name: str
    default_model: str
    models: list[str]

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        model: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.7,
    ) -> Iterator[str]: ...

    def complete_json(
        self,
        messages: list[ChatMessage],
        schema: Schema,
        *,
        model: str | None = None,
        max_tokens: int = JSON_MAX_TOKENS,
        temperature: float = 0.0,
    ) -> Any: ...


def local_model_path(name: str = models.SMALLEST_MODEL) -> str:
    return models.model_path(name)


class LocalProvider:
    """llama.cpp in this process (LLM_LOCAL_ENGINE=inprocess, the fallback);
    the model is loaded once (lazily or by `warm`). llama.cpp contexts are
    not thread-safe: one generation at a time."""

    name = "local"

    def __init__(
        self,
        *,
        model: str = models.SMALLEST_MODEL,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        extra_bufts: str = "auto",
        prompt_cache_bytes: int = 0,
    ) -> None:
        self.default_model = model
        self.models = [model]
        self.n_ctx = n_ctx
        self._n_threads = n_threads
        self._extra_bufts = extra_bufts
        # States after each answer, so a conversation's next prompt starts
        # from its cached prefix (gaji_ai.llm.prompt_cache); 0 = off.
        self.prompt_cache_bytes = prompt_cache_bytes
        self.prompt_cache = None
        self._llm = None
        self._lock = threading.Lock()

    def _loaded(self):
        if self._llm is None:
            # Imports llama_cpp (native): only where the model is loaded.
            from gaji_ai.llm.prompt_cache import CompactPromptCache, CompactStateLlama

            # Extra buffer types (AMX, repacked weights) only where setup's
            # self-test ran a generation with them on this CPU and build.
            self._llm = load_llama(
                local_model_path(self.default_model),
                use_extra_bufts=extra_bufts_allowed(self._extra_bufts),
                llama_class=CompactStateLlama if self.prompt_cache_bytes > 0 else None,
                n_ctx=self.n_ctx,
                n_threads=self._n_threads,
                verbose=False,
            )
            if self.prompt_cache_bytes > 0:
                self.prompt_cache = CompactPromptCache(self.prompt_cache_bytes)
                self._llm.set_cache(self.prompt_cache)
        return self._llm

    def warm(self) -> None:
        with self._lock:
            self._loaded()

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._loaded().tokenize(text.encode(), add_bos=False))

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7) -> Iterator[str]:
        with self._lock:
            payload = [{"role": m.role, "content": m.content} for m in messages]
            started = False
            for attempt in (1, 2):
                try:
                    chunks = self._loaded().create_chat_completion(
                        messages=payload,
                        stream=True,
                        max_tokens=max_tokens,
                        temperature=temperature,
                        # A 135M model easily loops ("no, no, no, ..."); this curbs it.
                        repeat_penalty=REPEAT_PENALTY,
                    )
                    for chunk in chunks:
                        delta = chunk["choices"][0]["delta"].get("content")
                        if delta:
                            started = True
                            yield delta
                    return
                except (ValueError, RuntimeError) as exc:
                    if attempt == 1 and not started and self._drop_prompt_cache():
                        continue  # a cached state that would not load: once more, cold
                    raise ProviderError(f"local model failed: {exc}") from exc

    def complete_json(
        self, messages, schema, *, model=None, max_tokens=JSON_MAX_TOKENS, temperature=0.0
    ):
        body, validator = _schema_of(schema)
        with self._lock:
            try:
                answer = self._loaded().create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    max_tokens=max_tokens,
                    temperature=temperature,
                    response_format={"type": "json_object", "schema": body},
                )
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(f"local model failed: {exc}") from exc
        return _parse_json(
            answer["choices"][0]["message"]["content"] or "", validator, "local model"
        )

    def _drop_prompt_cache(self) -> bool:
        """Empty the prompt cache and the context; False if there was nothing to drop."""
        cache = self.prompt_cache
        if cache is None or not cache.cache_state:
            return False
        cache.cache_state.clear()
        self._llm.reset()
        return True


def _sse_data(response: httpx.Response) -> Iterator[str]:
    """The `data:` payloads of a server-sent-events response."""
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield line[5:].strip()


def redact(text: str, secret: str | None) -> str:
    """Some APIs echo the key they refused; never pass it on."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return text


def _refusal(response: httpx.Response, provider: str, api_key: str | None) -> ProviderError:
    response.read()
    try:
        detail = response.json().get("error", {})
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        message = None
    text = f"{provider} answered {response.status_code}: {message or response.reason_phrase}"
    return ProviderError(redact(text, api_key)[:500])


def _client(timeout: float) -> httpx.Client:
    """One pooled client per provider: kept-alive connections, and the TLS
    context built once (building it costs ~40 ms, paid before every first
    token when each call made its own client)."""
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))


class OpenAIProvider:
    """An OpenAI-compatible /chat/completions endpoint (OpenAI, OpenRouter,
    Ollama, vLLM, llama.cpp server, Gemini's compatible endpoint)."""

    name = "openai"
    label = "openai provider"

    def __init__(
        self, *, base_url: str, api_key: str | None, models: list[str], timeout: float
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._key = api_key
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.models = models
        self.default_model = models[0]
        self._http = _client(timeout)

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7) -> Iterator[str]:
        body = {
            "model": model or self.default_model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        try:
            with self._http.stream("POST", self._url, json=body, headers=self._headers) as response:
                if response.status_code != 200:
                    raise _refusal(response, self.label, self._key)
                for data in _sse_data(response):
                    if data == "[DONE]":
                        return
                    choices = json.loads(data).get("choices") or [{}]
                    delta = (choices[0].get("delta") or {}).get("content")
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.label} unreachable: {type(exc).__name__}") from exc
        except (ValueError, KeyError) as exc:
            raise ProviderError(f"{self.label} sent an unreadable stream") from exc

    def complete_json(
        self, messages, schema, *, model=None, max_tokens=JSON_MAX_TOKENS, temperature=0.0
    ):
        """One answer constrained to `schema` (OpenAI's `response_format`
        json_schema, which llama-server turns into a grammar). A server that
        refuses the field raises StructuredOutputUnsupported."""
        body_schema, validator = _schema_of(schema)
        body = {
            "model": model or self.default_model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": body_schema, "strict": True},
            },
        }
        try:
            response = self._http.post(self._url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.label} unreachable: {type(exc).__name__}") from exc
        if response.status_code in {400, 404, 415, 422, 501}:
            refusal = _refusal(response, self.label, self._key)
            raise StructuredOutputUnsupported(
                f"{refusal} (structured output: the server refused a JSON-schema "
                "response_format; it may not support it)"[:600]
            )
        if response.status_code != 200:
            raise _refusal(response, self.label, self._key)
        try:
            choice = (response.json().get("choices") or [{}])[0]
            content = (choice.get("message") or {}).get("content") or ""
        except (ValueError, AttributeError, IndexError) as exc:
            raise ProviderError(f"{self.label} sent an unreadable answer") from exc
        if choice.get("finish_reason") == "length":
            raise ProviderError(f"{self.label} ran out of tokens before the JSON was complete")
        return _parse_json(content, validator, self.label)


class AnthropicProvider:
    """The Anthropic Messages API (`/v1/messages`, `stream: true`)."""

    name = "anthropic"
    VERSION = "2023-06-01"

    def __init__(
        self, *, base_url: str, api_key: str | None, models: list[str], timeout: float
    ) -> None:
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._key = api_key
        self._headers = {"x-api-key": api_key or "", "anthropic-version": self.VERSION}
        self.models = models
        self.default_model = models[0]
        self._http = _client(timeout)

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7) -> Iterator[str]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body = {
            "model": model or self.default_model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
            **({"system": system} if system else {}),
        }
        try:
            with self._http.stream("POST", self._url, json=body, headers=self._headers) as response:
                if response.status_code != 200:
                    raise _refusal(response, "anthropic provider", self._key)
                for data in _sse_data(response):
                    event = json.loads(data)
                    kind = event.get("type")
                    if kind == "content_block_delta":
                        text = (event.get("delta") or {}).get("text")
                        if text:
                            yield text
                    elif kind == "message_stop":
                        return
                    elif kind == "error":
                        message = (event.get("error") or {}).get("message", "")
                        raise ProviderError(
                            redact(f"anthropic provider error: {message}", self._key)[:500]
                        )
        except httpx.HTTPError as exc:
            raise ProviderError(f"anthropic provider unreachable: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise ProviderError("anthropic provider sent an unreadable stream") from exc

    def complete_json(
        self, messages, schema, *, model=None, max_tokens=JSON_MAX_TOKENS, temperature=0.0
    ):
        raise StructuredOutputUnsupported(
            "the anthropic provider does not support JSON-schema output here; "
            "use LLM_PROVIDER=local or an OpenAI-compatible server that supports response_format"
        )


class EngineProvider(OpenAIProvider):
    """The local engine (gaji_ai.llm.engine): llama-server's OpenAI-compatible
    API on 127.0.0.1. Tokens are counted here with the model's own
    vocabulary (loaded without its weights), so fitting a prompt costs no
    round trip; the one copy of the weights lives in the engine."""

    name = "local"
    label = "local engine"

    def __init__(
        self, *, base_url: str, model: str, timeout: float, wait_seconds: float = 30.0
    ) -> None:
        super().__init__(base_url=base_url + "/v1", api_key=None, models=[model], timeout=timeout)
        # A turn that starts while the supervisor restarts the engine (or while
        # it loads the model) waits for it this long before failing.
        self.wait_seconds = wait_seconds
        self._vocab = None
        self._vocab_lock = threading.Lock()

    def _tokenizer(self):
        with self._vocab_lock:
            if self._vocab is None:
                import llama_cpp

                self._vocab = llama_cpp.Llama(
                    model_path=models.model_path(self.default_model),
                    vocab_only=True,
                    verbose=False,
                )
            return self._vocab

    def warm(self) -> None:
        self._tokenizer()

    def count_tokens(self, text: str) -> int:
        vocab = self._tokenizer()
        with self._vocab_lock:
            return len(vocab.tokenize(text.encode(), add_bos=False, special=True))

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7) -> Iterator[str]:
        # The engine serves exactly one model, under its catalogue name.
        deadline = time.monotonic() + self.wait_seconds
        while True:
            started = False
            try:
                for delta in super().stream(
                    messages,
                    model=self.default_model,
                    max_tokens=max_tokens,
                    temperature=temperature,
                ):
                    started = True
                    yield delta
                return
            except ProviderError as exc:
                # Down or loading before the first token: wait for it; a
                # failure once the answer has begun ends the turn.
                if started or not _engine_not_up(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)


def _engine_not_up(exc: ProviderError) -> bool:
    """Refused connection (restarting) or 503 (loading the model)."""
    return isinstance(exc.__cause__, httpx.ConnectError) or "answered 503" in str(exc)


def build_local_provider(settings) -> LLMProvider:
    """The local model as LLM_LOCAL_ENGINE says: the engine, or in this process."""
    config = settings.llm
    if config.llm_local_engine == "inprocess":
        return LocalProvider(
            model=config.llm_local_model,
            n_ctx=config.llm_context_tokens,
            n_threads=config.llm_threads,
            extra_bufts=config.llm_local_extra_bufts,
            prompt_cache_bytes=config.llm_prompt_cache_bytes,
        )
    return EngineProvider(
        base_url=config.engine_url,
        model=config.llm_local_model,
        timeout=max(config.llm_timeout_seconds, 300.0),
    )


def build_provider(settings) -> LLMProvider:
    """The provider LLM_PROVIDER names; a remote one needs LLM_BASE_URL and LLM_MODEL."""
    config = settings.llm
    if config.llm_provider == "local":
        return build_local_provider(settings)
    names = config.model_list()
    if not config.llm_base_url or not names:
        raise ValueError(f"LLM_PROVIDER={config.llm_provider} needs LLM_BASE_URL and LLM_MODEL")
    kind = OpenAIProvider if config.llm_provider == "openai" else AnthropicProvider
    return kind(
        base_url=config.llm_base_url,
        api_key=config.llm_api_key,
        models=names,
        timeout=config.llm_timeout_seconds,
    )
