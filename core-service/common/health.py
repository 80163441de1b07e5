"""Liveness and readiness probes (not rate limited, no auth)."""

from __future__ import annotations

import time

from django.db import connection
from django.http import JsonResponse
from gaji_contracts.errors import ErrorCode
from gaji_contracts.health import CheckResult, Liveness, Readiness

from common.exceptions import json_error
from common.redis import get_redis


def healthz(request):
    return JsonResponse(Liveness(service="core").model_dump())


def _timed(check) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means "not ready"; the class name is enough
        return CheckResult(ok=False, latency_ms=_ms(started), error=exc.__class__.__name__)
    return CheckResult(ok=True, latency_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _postgres() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def readyz(request):
    checks = {"postgres": _timed(_postgres), "redis": _timed(lambda: get_redis().ping())}
    if all(c.ok for c in checks.values()):
        return JsonResponse(
            Readiness(status="ready", service="core", checks=checks).model_dump(exclude={"novels"})
        )
    return json_error(
        request,
        status=503,
        message="Not ready: " + ", ".join(name for name, c in checks.items() if not c.ok) + " unreachable.",
        code=ErrorCode.SERVICE_UNAVAILABLE,
        details={name: c.model_dump() for name, c in checks.items()},
    )
