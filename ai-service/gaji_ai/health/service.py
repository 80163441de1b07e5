"""Readiness: is every store and service this process needs reachable?"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from gaji_contracts.health import CheckResult
from redis.asyncio import Redis

from gaji_ai.clients.core import CoreClient
from gaji_ai.llm.engine import check_health
from gaji_ai.vectors.store import VectorStore

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[object]]


async def _timed(check: Check, timeout_seconds: float) -> CheckResult:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=timeout_seconds)
    except Exception as exc:
        # /readyz is public: the class name tells an operator enough, the
        # message could carry hosts or paths. Full detail goes to the log.
        logger.warning("readiness check failed", exc_info=True)
        error = type(exc).__name__
        ok = False
    else:
        error = None
        ok = True
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return CheckResult(ok=ok, latency_ms=latency_ms, error=error)


async def check_readiness(
    *,
    redis: Redis,
    vector_store: VectorStore,
    core: CoreClient,
    timeout_seconds: float,
    engine_url: str | None = None,
) -> dict[str, CheckResult]:
    """Run the checks concurrently, each bounded by `timeout_seconds`;
    `engine_url`: the local engine answers its /health (model loaded)."""
    checks: dict[str, Check] = {
        "redis": redis.ping,
        "vector_store": vector_store.ping,
        "core": core.health,
    }
    if engine_url:
        checks["llm_engine"] = partial(check_health, engine_url)
    results = await asyncio.gather(*(_timed(check, timeout_seconds) for check in checks.values()))
    return dict(zip(checks, results, strict=True))
