"""The FastAPI application: `uvicorn gaji_ai.main:app --port 8000`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import swagger_ui_bundle
from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gaji_ai import __version__
from gaji_ai.auth.dependencies import reject_service_token, require_service_token
from gaji_ai.auth.jwks import JwksVerifier
from gaji_ai.auth.router import router as auth_router
from gaji_ai.clients.core import CoreClient
from gaji_ai.common.cors import WebCorsMiddleware
from gaji_ai.common.errors import error_responses, install_exception_handlers
from gaji_ai.common.logging import configure_logging
from gaji_ai.common.middleware import (
    AccessLogMiddleware,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
)
from gaji_ai.common.ratelimit import RateLimiter, RateLimitMiddleware
from gaji_ai.config import Settings, get_settings
from gaji_ai.diagnostics.router import router as diagnostics_router
from gaji_ai.embeddings import dense_embedder
from gaji_ai.generation.direct import router as direct_router
from gaji_ai.generation.reaper import run_reaper
from gaji_ai.generation.router import internal_router as generation_internal_router
from gaji_ai.generation.router import router as generation_router
from gaji_ai.health.router import internal_router as health_internal_router
from gaji_ai.health.router import router as health_router
from gaji_ai.ingestion.router import READER_INGEST_MAX_BYTES, READER_INGEST_PATH
from gaji_ai.ingestion.router import internal_router as ingestion_internal_router
from gaji_ai.ingestion.router import router as ingestion_router
from gaji_ai.notifications.router import router as notifications_router
from gaji_ai.novels.access import NovelAccessCache
from gaji_ai.novels.lore import lore_router
from gaji_ai.novels.reconcile import NovelChecker
from gaji_ai.novels.router import internal_router as novels_internal_router
from gaji_ai.novels.router import router as novels_router
from gaji_ai.retrieval.router import internal_router as search_internal_router
from gaji_ai.retrieval.router import router as search_router
from gaji_ai.vectors.router import router as vectors_router
from gaji_ai.vectors.store import open_vector_store

PUBLIC_PREFIX = "/api/ai"
INTERNAL_PREFIX = "/api/ai/internal"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open every client once; close them, in reverse order, at shutdown."""
    settings: Settings = app.state.settings
    timeout = settings.app.http_timeout_seconds
    async with AsyncExitStack() as stack:
        redis = Redis.from_url(
            settings.redis.redis_url,
            socket_connect_timeout=min(timeout, 2.0),
            socket_timeout=timeout,
            # One quick retry for a pooled connection the server dropped; no
            # backoff, so a Redis outage costs each request milliseconds.
            retry=Retry(NoBackoff(), 1),
        )
        stack.push_async_callback(redis.aclose)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        vector_store = await open_vector_store(settings)
        stack.push_async_callback(vector_store.close)

        app.state.redis = redis
        app.state.http = http
        app.state.vector_store = vector_store
        app.state.jwks_verifier = JwksVerifier(
            http,
            jwks_url=settings.auth.jwks_url or "",
            cache_seconds=settings.auth.jwks_cache_seconds,
        )
        app.state.core_client = CoreClient(
            http,
            base_url=settings.core.core_base_url,
            service_token=settings.auth.service_token,
            timeout_seconds=timeout,
        )
        # Who may read which novel, core's answers cached (gaji_ai.novels.access).
        app.state.novel_access = NovelAccessCache(app.state.core_client)
        app.state.rate_limiter = (
            RateLimiter(
                redis,
                prefix=settings.rate_limit.rate_limit_prefix,
                scale=settings.rate_limit.rate_limit_scale,
            )
            if settings.rate_limit.rate_limit_enabled
            else None
        )
        if settings.embeddings.embeddings_preload:
            # In the background: /healthz answers at once, the first search
            # does not pay the model load (~7 s on 2 cores).
            warming = asyncio.create_task(asyncio.to_thread(_warm_embedder, settings))
            stack.callback(warming.cancel)
        # Ends the chat turns whose worker died (gaji_ai.generation.reaper).
        reaper = asyncio.create_task(
            run_reaper(
                redis,
                settings.rate_limit.rate_limit_prefix,
                app.state.core_client,
                interval=settings.llm.generation_reaper_seconds,
                queue_timeout=settings.llm.generation_queue_timeout_seconds,
            )
        )
        stack.callback(reaper.cancel)
        # Core's ingested novels against the store (gaji_ai.novels.reconcile).
        app.state.novel_checker = None
        if settings.ingestion.novel_check_enabled:
            app.state.novel_checker = NovelChecker(
                vector_store, app.state.core_client, interval=settings.ingestion.novel_check_seconds
            )
            checker = asyncio.create_task(app.state.novel_checker.run())
            stack.callback(checker.cancel)
        yield


def _warm_embedder(settings: Settings) -> None:
    embedder = dense_embedder(settings)
    warm = getattr(embedder, "warm", None)
    if warm is not None:
        warm()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.app.log_level)

    app = FastAPI(
        title="Gaji AI service",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served below from local assets: no CDN at run time
        redoc_url=None,
        responses=error_responses(500),
    )
    app.state.settings = settings
    install_exception_handlers(app)

    # Access is decided by prefix: every internal route requires the service
    # token, every public route refuses it.
    public = APIRouter(prefix=PUBLIC_PREFIX, dependencies=[Depends(reject_service_token)])
    public.include_router(auth_router)
    public.include_router(ingestion_router)
    public.include_router(novels_router)
    public.include_router(search_router)
    public.include_router(generation_router)
    public.include_router(direct_router)
    public.include_router(notifications_router)
    internal = APIRouter(prefix=INTERNAL_PREFIX, dependencies=[Depends(require_service_token)])
    internal.include_router(health_internal_router)
    internal.include_router(diagnostics_router)
    internal.include_router(vectors_router)
    internal.include_router(search_internal_router)
    internal.include_router(novels_internal_router)
    internal.include_router(lore_router)
    internal.include_router(ingestion_internal_router)
    internal.include_router(generation_internal_router)

    app.include_router(health_router)
    app.include_router(internal)
    app.include_router(public)

    # add_middleware wraps: the last added runs first.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.app.max_body_bytes,
        # A novel upload: the file plus its multipart framing and metadata.
        per_path={f"{PUBLIC_PREFIX}/novels/ingest": settings.ingestion.max_upload_bytes + 65536},
        # A reader's import, its text in JSON (core -> ai).
        per_pattern={READER_INGEST_PATH: READER_INGEST_MAX_BYTES},
    )
    app.add_middleware(RateLimitMiddleware, trusted_proxies=settings.rate_limit.trusted_proxy_count)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestContextMiddleware)
    # Outermost, so every answer (429, 413, the 500 envelope, SSE streams)
    # carries the CORS headers an allowed origin needs to read it, and a
    # preflight is answered before rate limiting and authentication.
    if origins := settings.app.web_origin_list():
        app.add_middleware(WebCorsMiddleware, origins=origins)

    _document_errors_only_as_envelopes(app)
    _serve_docs_locally(app)
    return app


_ENVELOPE_400 = {
    "description": "Bad Request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
}


def _serve_docs_locally(app: FastAPI) -> None:
    """Swagger UI at /docs with its JS/CSS from the swagger-ui-bundle package,
    so the docs work on a machine (or a browser) without internet."""
    app.mount(
        "/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _document_errors_only_as_envelopes(app: FastAPI) -> None:
    """FastAPI documents a 422 on every route with parameters or a body; we
    answer those validation errors with a 400 envelope instead, so the 422
    becomes a 400."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None and "400" not in responses:
                        responses["400"] = _ENVELOPE_400
            schemas = schema.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
