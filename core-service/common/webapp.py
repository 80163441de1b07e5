"""The reader web app (web/, built by `make web` into web/dist) served by
core at `/`: index.html, its hashed assets and a generated config.json that
tells the app where core and ai are. The app routes after `#`, so these
three are the only paths it needs here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.http import FileResponse, JsonResponse
from django.views.decorators.http import require_safe
from django.views.static import serve
from gaji_contracts.errors import ErrorCode

from common.exceptions import json_error


def _dist() -> Path:
    return Path(settings.WEB_DIST_DIR)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _content_security_policy(request) -> str:
    """Scripts and styles from this origin only; the API calls may go to core
    and ai; images may be avatars anywhere (http/https) or data: URLs."""
    ai = _origin(settings.AI_PUBLIC_URL)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"connect-src 'self' {ai}; img-src 'self' data: https: http:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


@require_safe
def index(request):
    page = _dist() / "index.html"
    if not page.is_file():
        return json_error(
            request,
            status=503,
            message="The web app is not built here: run `make web` (make run builds it).",
            code=ErrorCode.SERVICE_UNAVAILABLE,
        )
    response = FileResponse(page.open("rb"), content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Content-Security-Policy"] = _content_security_policy(request)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def config_json(request):
    core = settings.CORE_PUBLIC_URL or request.build_absolute_uri("/")
    response = JsonResponse({"core_url": core.rstrip("/"), "ai_url": settings.AI_PUBLIC_URL.rstrip("/")})
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def asset(request, path: str):
    # Django's serve refuses paths that leave document_root and answers 404 for missing files.
    response = serve(request, path, document_root=_dist() / "assets")
    if response.status_code == 200:
        # File names carry a hash of their content (Vite): cache them for good.
        response["Cache-Control"] = "public, max-age=31536000, immutable"
        response["X-Content-Type-Options"] = "nosniff"
    return response
