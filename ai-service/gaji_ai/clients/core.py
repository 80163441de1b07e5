"""Typed client of core-service's internal API (`/api/internal/...`).

Every call carries the service token and the current X-Request-ID, so one
request id follows a user's action across both services' logs.
"""

from __future__ import annotations

from typing import TypeVar

import httpx
from gaji_contracts.conventions import outgoing_request_id
from gaji_contracts.conversations import (
    AssistantMessageResult,
    GenerationRequest,
    PersistResult,
    TurnCreate,
    turns_path,
)
from gaji_contracts.headers import AUTHORIZATION, BEARER_PREFIX, REQUEST_ID_HEADER, RETRY_AFTER
from gaji_contracts.health import ServiceHealth
from gaji_contracts.memory import MemoryWrite, MemoryWritten, memory_path
from gaji_contracts.novels import Novel, NovelAccess, NovelCreate, NovelUpdate
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
JSON = {"Content-Type": "application/json"}


class CoreError(Exception):
    """Core answered something we cannot use."""


class CoreUnavailable(CoreError):
    """Core is unreachable, timed out, or failed (5xx): worth retrying later."""


class CoreResponseError(CoreError):
    """Core refused the call (4xx) or answered an unexpected body: retrying will not help."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        envelope: dict | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.envelope = envelope or {}  # core's error envelope, when it sent one
        self.retry_after = retry_after  # core's Retry-After (a 429), to relay as it is


class CoreClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        service_token: str,
        timeout_seconds: float,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._service_token = service_token
        self._timeout = timeout_seconds

    async def health(self) -> ServiceHealth:
        """Core is up and accepts our service token."""
        response = await self._request("GET", "/api/internal/health")
        return self._parse(response, ServiceHealth)

    async def novel_find(self, id_or_slug: str) -> Novel | None:
        """A novel by id or slug; None when core has no such novel."""
        try:
            response = await self._request("GET", f"/api/internal/novels/{id_or_slug}")
        except CoreResponseError as exc:
            if exc.status == 404:
                return None
            raise
        return self._parse(response, Novel)

    async def novel_access(self, novel_id: str) -> NovelAccess | None:
        """Who may read a novel (its owner and visibility); None when core
        has no such novel."""
        try:
            response = await self._request("GET", f"/api/internal/novels/{novel_id}/access")
        except CoreResponseError as exc:
            if exc.status == 404:
                return None
            raise
        return self._parse(response, NovelAccess)

    async def novel_create(self, novel: NovelCreate) -> Novel:
        response = await self._request(
            "POST", "/api/internal/novels", content=novel.model_dump_json(), headers=JSON
        )
        return self._parse(response, Novel)

    async def novels_with_status(self, status: str, *, limit: int = 1000) -> list[Novel]:
        """Every novel core lists with this ingestion status (up to `limit`)."""
        novels: list[Novel] = []
        page = 0
        while len(novels) < limit:
            response = await self._request(
                "GET", "/api/internal/novels", params={"status": status, "page": page, "size": 100}
            )
            try:
                body = response.json()
                batch = [Novel.model_validate(item) for item in body["content"]]
                pages = int(body["page"]["total_pages"])
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                raise CoreResponseError(
                    "core sent an unreadable novel page", status=response.status_code
                ) from exc
            novels.extend(batch)
            page += 1
            if page >= pages or not batch:
                break
        return novels[:limit]

    async def novel_update(self, novel_id: str, update: NovelUpdate) -> Novel:
        response = await self._request(
            "PATCH",
            f"/api/internal/novels/{novel_id}",
            content=update.model_dump_json(exclude_unset=True),
            headers=JSON,
        )
        return self._parse(response, Novel)

    async def conversation_owner(
        self, conversation_id: str, *, message_id: str | None = None
    ) -> str | None:
        """The owner's user id, or None when core has no such conversation
        (or, given `message_id`, when the conversation does not show that message)."""
        params: dict[str, str | int] = {"messages": 0}
        if message_id is not None:
            params["message_id"] = message_id
        try:
            response = await self._request(
                "GET", f"/api/internal/conversations/{conversation_id}/context", params=params
            )
        except CoreResponseError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return str(response.json()["owner"]["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CoreResponseError("unexpected context body", status=response.status_code) from exc

    async def persist_message(
        self, conversation_id: str, result: AssistantMessageResult
    ) -> PersistResult:
        """Store an answer's final state on core (idempotent by message id)."""
        response = await self._request(
            "POST",
            f"/api/internal/conversations/{conversation_id}/messages",
            content=result.model_dump_json(),
            headers=JSON,
        )
        return self._parse(response, PersistResult)

    async def write_memory(self, conversation_id: str, write: MemoryWrite) -> MemoryWritten:
        """Store what the branch remembers of a completed turn."""
        response = await self._request(
            "POST", memory_path(conversation_id), content=write.model_dump_json(), headers=JSON
        )
        return self._parse(response, MemoryWritten)

    async def turn_create(self, conversation_id: str, turn: TurnCreate) -> GenerationRequest:
        """Store a chat turn on core (the user must own the conversation);
        core answers the GenerationRequest for ai to queue."""
        response = await self._request(
            "POST", turns_path(conversation_id), content=turn.model_dump_json(), headers=JSON
        )
        return self._parse(response, GenerationRequest)

    async def _request(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: object
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        headers = {
            **(headers or {}),
            AUTHORIZATION: f"{BEARER_PREFIX}{self._service_token}",
            REQUEST_ID_HEADER: outgoing_request_id(),
        }
        try:
            response = await self._http.request(
                method, url, headers=headers, timeout=self._timeout, **kwargs
            )
        except httpx.TransportError as exc:  # connect errors and timeouts
            raise CoreUnavailable(f"{method} {url}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise CoreUnavailable(f"{method} {url}: HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                envelope = response.json()
            except ValueError:
                envelope = None
            raise CoreResponseError(
                f"{method} {url}: HTTP {response.status_code}",
                status=response.status_code,
                envelope=envelope if isinstance(envelope, dict) else None,
                retry_after=response.headers.get(RETRY_AFTER),
            )
        return response

    @staticmethod
    def _parse(response: httpx.Response, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise CoreResponseError(
                f"unexpected answer from {response.request.url}", status=response.status_code
            ) from exc
