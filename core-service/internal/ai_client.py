"""Core's typed client for the ai service's internal API (service token,
X-Request-ID forwarded, shared-contracts models)."""

from __future__ import annotations

import functools

import httpx
from django.conf import settings
from gaji_contracts.conventions import outgoing_request_id
from gaji_contracts.conversations import GENERATIONS_PATH, GenerationAccepted, GenerationRequest
from gaji_contracts.headers import REQUEST_ID_HEADER
from gaji_contracts.health import ServiceHealth
from pydantic import ValidationError


class AiUnavailable(Exception):
    """The ai service could not be reached or answered something unusable."""


@functools.cache
def _http() -> httpx.Client:
    # One pooled client per process; thread-safe for gunicorn's threads.
    return httpx.Client(timeout=settings.HTTP_TIMEOUT_SECONDS)


class AiClient:
    def __init__(self, *, base_url: str | None = None, service_token: str | None = None) -> None:
        self.base_url = (base_url or settings.AI_BASE_URL).rstrip("/")
        self._token = service_token or settings.SERVICE_TOKEN

    def _headers(self, request_id: str | None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            REQUEST_ID_HEADER: request_id or outgoing_request_id(),
        }

    def _get(self, path: str, request_id: str | None = None) -> httpx.Response:
        try:
            response = _http().get(f"{self.base_url}{path}", headers=self._headers(request_id))
        except httpx.HTTPError as exc:
            raise AiUnavailable(f"{type(exc).__name__} calling ai {path}") from exc
        if response.status_code != 200:
            raise AiUnavailable(f"ai answered {response.status_code} on {path}")
        return response

    def enqueue_generation(
        self, request: GenerationRequest, *, request_id: str | None = None
    ) -> GenerationAccepted:
        """Hand a chat turn to ai (POST /api/ai/internal/generations). Any
        failure (unreachable, timeout, non-202, unexpected body) is AiUnavailable."""
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
            raise AiUnavailable(f"ai answered {response.status_code} on {GENERATIONS_PATH}")
        try:
            accepted = GenerationAccepted.model_validate_json(response.content)
        except ValidationError as exc:
            raise AiUnavailable("ai answered an unexpected generation body") from exc
        if accepted.message_id != request.assistant_message_id:
            raise AiUnavailable("ai accepted a different message")
        return accepted

    def health(self, *, request_id: str | None = None) -> ServiceHealth:
        response = self._get("/api/ai/internal/health", request_id)
        try:
            return ServiceHealth.model_validate_json(response.content)
        except ValidationError as exc:
            raise AiUnavailable("ai answered an unexpected health body") from exc
