"""Health and readiness shapes, identical on both services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from gaji_contracts.novels import NovelsCheck


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"
    service: str


class CheckResult(BaseModel):
    ok: bool
    latency_ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    service: str
    checks: dict[str, CheckResult]
    # ai only: which of core's ingested novels the vector store really holds;
    # a missing novel does not make the service unready: it is reported here
    # and core's status for it says `missing`.
    novels: NovelsCheck | None = None


class ServiceHealth(BaseModel):
    """Answer of the internal health routes (`/api/internal/health` on core,
    `/api/ai/internal/health` on ai): proves the caller's service token works."""

    service: str
    status: Literal["ok"] = "ok"
    version: str
    time: datetime
    request_id: str
