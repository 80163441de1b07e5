"""Liveness, readiness, and the internal health route core calls."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from gaji_contracts.conventions import current_request_id
from gaji_contracts.errors import ErrorCode
from gaji_contracts.health import Liveness, Readiness, ServiceHealth

from gaji_ai import __version__
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.logging import SERVICE_NAME
from gaji_ai.deps import CoreClientDep, RedisDep, SettingsDep, VectorStoreDep
from gaji_ai.health.service import check_readiness

router = APIRouter(tags=["health"])
internal_router = APIRouter(tags=["internal"])


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Liveness:
    return Liveness(service=SERVICE_NAME)


NOVELS_MAX_AGE_SECONDS = 30.0


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses=error_responses(503),
)
async def readyz(
    request: Request,
    redis: RedisDep,
    vector_store: VectorStoreDep,
    core: CoreClientDep,
    settings: SettingsDep,
) -> Readiness:
    """Every store reachable, and the local engine loaded where chat turns
    use it (`llm_engine`); `novels` lists core's ingested novels whose
    passages the vector store does not hold (core says `missing` for them)."""
    checks = await check_readiness(
        redis=redis,
        vector_store=vector_store,
        core=core,
        timeout_seconds=settings.app.http_timeout_seconds,
        engine_url=settings.llm.engine_url if settings.llm.uses_engine else None,
    )
    if not all(result.ok for result in checks.values()):
        raise AppError(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            "Service not ready",
            details={name: result.model_dump() for name, result in checks.items()},
        )
    checker = getattr(request.app.state, "novel_checker", None)
    novels = await checker.fresh(NOVELS_MAX_AGE_SECONDS) if checker is not None else None
    return Readiness(status="ready", service=SERVICE_NAME, checks=checks, novels=novels)


@internal_router.get(
    "/health", response_model=ServiceHealth, responses=error_responses(401, 403, 429)
)
async def internal_health() -> ServiceHealth:
    return ServiceHealth(
        service=SERVICE_NAME,
        version=__version__,
        time=datetime.now(UTC),
        request_id=current_request_id.get(),
    )
