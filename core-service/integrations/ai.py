"""Core's typed client for the ai service's internal API (service token,
X-Request-ID forwarded, shared-contracts models)."""

from __future__ import annotations

import functools
import json
import logging

import httpx
from django.conf import settings
from django.core.cache import cache
from gaji_contracts.characters import CastEntry, NovelCast, NovelLore, novel_cast_path, novel_lore_path
from gaji_contracts.conventions import outgoing_request_id
from gaji_contracts.conversations import (
    GENERATIONS_PATH,
    MODELS_PATH,
    CancelAccepted,
    GenerationAccepted,
    GenerationRequest,
    ModelList,
    generation_cancel_path,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import REQUEST_ID_HEADER
from gaji_contracts.health import ServiceHealth
from gaji_contracts.novels import ReaderIngest, ReaderIngestAccepted
from pydantic import ValidationError

from common.exceptions import ApplicationError

logger = logging.getLogger("gaji.integrations")

MODELS_CACHE_SECONDS = 60


class AiUnavailable(Exception):
    """The ai service could not be reached or answered something unusable."""


class AiInvalidModel(Exception):
    """ai refused a generation's model (400 INVALID_MODEL): its configuration
    changed since core checked the model against GET /api/ai/models."""

    def __init__(self, message: str, details: dict | None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def _invalid_model(response: httpx.Response) -> AiInvalidModel | None:
    """ai's 400 INVALID_MODEL envelope as an exception; None for any other answer."""
    if response.status_code != 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("code") != ErrorCode.INVALID_MODEL.value:
        return None
    message = body.get("message")
    details = body.get("details")
    return AiInvalidModel(
        message if isinstance(message, str) and message else "Unknown model.",
        details if isinstance(details, dict) else None,
    )


def reader_ingest_path(novel_id) -> str:
    return f"/api/ai/internal/novels/{novel_id}/ingest"


def models_cache_key(base_url: str) -> str:
    return f"ai-models:{base_url}"


@functools.cache
def _http() -> httpx.Client:
    # One pooled client per process; thread-safe for gunicorn's threads.
    return httpx.Client(timeout=settings.HTTP_TIMEOUT_SECONDS)


def _parsed(model, response: httpx.Response, what: str):
    """ai's body as `model`; AiUnavailable when it is not that."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise AiUnavailable(f"ai answered an unexpected {what} body") from exc


class AiClient:
    def __init__(self, *, base_url: str | None = None, service_token: str | None = None) -> None:
        self.base_url = (base_url or settings.AI_BASE_URL).rstrip("/")
        self._token = service_token or settings.SERVICE_TOKEN

    def _headers(self, request_id: str | None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            REQUEST_ID_HEADER: request_id or outgoing_request_id(),
        }

    def _send(
        self,
        method: str,
        path: str,
        request_id: str | None,
        *,
        ok: tuple[int, ...] = (200,),
        body: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One call to ai with the service token; AiUnavailable when it cannot
        be reached or answers a status outside `ok`."""
        headers = self._headers(request_id)
        extra: dict = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
            extra["content"] = body
        if timeout is not None:
            extra["timeout"] = timeout
        try:
            response = _http().request(method, f"{self.base_url}{path}", headers=headers, **extra)
        except httpx.HTTPError as exc:
            raise AiUnavailable(f"{type(exc).__name__} calling ai {path}") from exc
        if response.status_code not in ok:
            raise AiUnavailable(f"ai answered {response.status_code} on {path}")
        return response

    def _get(self, path: str, request_id: str | None = None) -> httpx.Response:
        return self._send("GET", path, request_id)

    def enqueue_generation(
        self, request: GenerationRequest, *, request_id: str | None = None
    ) -> GenerationAccepted:
        """Hand a chat turn to ai (POST /api/ai/internal/generations). Any
        failure (unreachable, timeout, non-202, unexpected body) is AiUnavailable,
        except ai refusing the model (AiInvalidModel)."""
        try:
            response = _http().post(
                f"{self.base_url}{GENERATIONS_PATH}",
                content=request.model_dump_json(),
                headers={**self._headers(request_id), "Content-Type": "application/json"},
                timeout=settings.AI_ENQUEUE_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise AiUnavailable(f"{type(exc).__name__} calling ai {GENERATIONS_PATH}") from exc
        if response.status_code != 202:
            refused = _invalid_model(response)
            if refused is not None:
                cache.delete(models_cache_key(self.base_url))  # ai's list changed: fetch it again
                raise refused
            raise AiUnavailable(f"ai answered {response.status_code} on {GENERATIONS_PATH}")
        try:
            accepted = GenerationAccepted.model_validate_json(response.content)
        except ValidationError as exc:
            raise AiUnavailable("ai answered an unexpected generation body") from exc
        if accepted.message_id != request.assistant_message_id:
            raise AiUnavailable("ai accepted a different message")
        return accepted

    def ingest_reader_novel(
        self, novel_id, ingest: ReaderIngest, *, request_id: str | None = None
    ) -> ReaderIngestAccepted:
        """Hand a reader's imported text to ai (POST /api/ai/internal/novels/{id}/ingest):
        the same ingestion job as a staff ingest, into the novel core created.
        Any failure (unreachable, timeout, non-202, unexpected body) is AiUnavailable."""
        response = self._send(
            "POST",
            reader_ingest_path(novel_id),
            request_id,
            ok=(202,),
            body=ingest.model_dump_json(),
            timeout=settings.NOVEL_IMPORT_AI_TIMEOUT_SECONDS,  # up to 20 MB of text
        )
        return _parsed(ReaderIngestAccepted, response, "ingest")

    def delete_novel_vectors(self, novel_id, *, request_id: str | None = None) -> None:
        """Drop a deleted novel's passages and characters from ai's vector
        store (DELETE /api/ai/internal/novels/{id}/vectors, idempotent)."""
        self._send("DELETE", f"/api/ai/internal/novels/{novel_id}/vectors", request_id)

    def health(self, *, request_id: str | None = None) -> ServiceHealth:
        return _parsed(ServiceHealth, self._get("/api/ai/internal/health", request_id), "health")

    def cancel_generation(self, message_id, *, request_id: str | None = None) -> CancelAccepted:
        """Relay a user's cancel (POST /api/ai/internal/generations/{id}/cancel):
        the worker stops and persists the partial text as `cancelled`."""
        response = self._send("POST", generation_cancel_path(message_id), request_id, ok=(200, 202))
        return _parsed(CancelAccepted, response, "cancel")

    def cached_models(self) -> list[str] | None:
        """The model list as `models` last fetched it, or None when it is not
        cached: never calls ai (for code that must not wait on it, e.g.
        under a row lock)."""
        return cache.get(models_cache_key(self.base_url))

    def models(self, *, request_id: str | None = None) -> list[str]:
        """The models a generation may choose (GET /api/ai/models), cached for
        a minute. A public ai route: it refuses the service token, so none is
        sent. Any failure is AiUnavailable (and is not cached)."""
        key = models_cache_key(self.base_url)
        cached = cache.get(key)
        if cached is not None:
            return cached
        try:
            response = _http().get(
                f"{self.base_url}{MODELS_PATH}",
                headers={REQUEST_ID_HEADER: request_id or outgoing_request_id()},
                timeout=settings.AI_ENQUEUE_TIMEOUT_SECONDS,  # on the send path: as short as the enqueue
            )
        except httpx.HTTPError as exc:
            raise AiUnavailable(f"{type(exc).__name__} calling ai {MODELS_PATH}") from exc
        if response.status_code != 200:
            raise AiUnavailable(f"ai answered {response.status_code} on {MODELS_PATH}")
        try:
            available = ModelList.model_validate_json(response.content).models
        except ValidationError as exc:
            raise AiUnavailable("ai answered an unexpected model list") from exc
        cache.set(key, available, MODELS_CACHE_SECONDS)
        return available


def novel_cast_cache_key(base_url: str, novel_id) -> str:
    return f"ai-cast:{base_url}:{novel_id}"


NOVEL_CAST_CACHE_SECONDS = 60
# Finding a long novel's places reads all of it (about a second on ai).
NOVEL_LORE_TIMEOUT_SECONDS = 30


def novel_cast(novel_id, *, request_id: str | None = None) -> list[CastEntry]:
    """A novel's cast in short, most mentioned first (ai's internal cast
    route), cached for a minute. AiUnavailable when ai cannot say."""
    client = AiClient()
    key = novel_cast_cache_key(client.base_url, novel_id)
    cached = cache.get(key)
    if cached is not None:
        return [CastEntry.model_validate(c) for c in cached]
    entries = _parsed(NovelCast, client._get(novel_cast_path(str(novel_id)), request_id), "cast").characters
    cache.set(key, [e.model_dump() for e in entries], NOVEL_CAST_CACHE_SECONDS)
    return entries


def check_model(model: str, *, field: str, request_id: str | None = None) -> None:
    """400 INVALID_MODEL with `field` unless ai's GET /api/ai/models lists
    `model`. Skipped (logged) when ai cannot list its models: what uses the
    model then meets ai's own answer (a turn's dispatch: 503 AI_UNAVAILABLE)."""
    try:
        available = AiClient().models(request_id=request_id)
    except AiUnavailable as exc:
        logger.info("model list unavailable, %r not checked: %s", model, exc)
        return
    if model not in available:
        listed = ", ".join(available)
        raise ApplicationError(
            f"Unknown model. Available: {listed}.",
            code=ErrorCode.INVALID_MODEL,
            details={field: [f"Must be one of: {listed}."]},
        )


def novel_lore(novel_id, *, request_id: str | None = None) -> NovelLore | None:
    """A novel's cast and places with their passage sources (ai's internal
    lore route), for the card and lorebook exports. Not cached: exports are
    rare and read the whole novel. AiUnavailable when ai cannot say; None
    when ai holds no passage of it."""
    response = AiClient()._send(
        "GET", novel_lore_path(str(novel_id)), request_id, ok=(200, 404), timeout=NOVEL_LORE_TIMEOUT_SECONDS
    )
    return None if response.status_code == 404 else _parsed(NovelLore, response, "lore")
