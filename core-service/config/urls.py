from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer

from accounts import settings_urls as account_settings
from accounts import urls as accounts
from cards import urls as cards
from common import health, webapp
from conversations import urls as conversations
from internal import urls as internal_health
from notifications import urls as notifications
from novels import urls as novels
from scenarios import urls as scenarios
from social import urls as social


def media(request, path: str):
    # MEDIA_ROOT is read per request, not frozen when the URLconf is imported.
    return serve(request, path, document_root=settings.MEDIA_ROOT)


class SchemaApi(SpectacularJSONAPIView):
    """The OpenAPI document. Its errors (a refused token) are rendered as
    plain JSON: with the schema's own media type, ErrorEnvelopeMiddleware
    took them for foreign pages and replaced their `code` with a generic one."""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


# Django tries these in order on every request: the hot read paths first
# (resolving GET /scenarios/{id} from the 20th pattern cost ~0.3 ms).
api_v1 = [
    *scenarios.hot,
    *conversations.hot,
    *account_settings.urlpatterns,
    *accounts.urlpatterns,
    *social.urlpatterns,
    *novels.urlpatterns,
    *scenarios.urlpatterns,
    *conversations.urlpatterns,
    *notifications.urlpatterns,
    *cards.urlpatterns,
    path("openapi.json", SchemaApi.as_view(), name="schema"),
]

internal = [*internal_health.urlpatterns, *novels.internal, *conversations.internal]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/internal/", include(internal)),
    path("swagger-ui.html", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    # Uploaded avatars. Behind nginx in production (deploy/nginx.conf).
    re_path(r"^media/(?P<path>avatars/[A-Za-z0-9_\-]+\.jpg)$", media),
    # The reader web app (web/dist): the page, its config and its hashed assets.
    path("", webapp.index),
    path("config.json", webapp.config_json),
    re_path(r"^assets/(?P<path>[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)$", webapp.asset),
]

handler400 = "common.views.bad_request"
handler403 = "common.views.permission_denied"
handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
