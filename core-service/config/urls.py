from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer

from accounts import apis as accounts
from common import health, webapp
from common.fastget import fast_get
from conversations import apis as conversations
from conversations import internal_apis as internal_conversations
from internal.apis import InternalHealthApi
from novels import apis as novels
from scenarios import apis as scenarios
from scenarios import search_api
from social import apis as social


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
    path("scenarios", fast_get(scenarios.ScenarioListCreateApi)),
    path("scenarios/search", fast_get(search_api.ScenarioSearchApi)),
    path("scenarios/<uuid:scenario_id>", fast_get(scenarios.ScenarioDetailApi)),
    path("conversations", conversations.ConversationListCreateApi.as_view()),
    path("conversations/<uuid:conversation_id>", fast_get(conversations.ConversationDetailApi)),
    path("conversations/<uuid:conversation_id>/messages", conversations.MessageListSendApi.as_view()),
    path("auth/register", accounts.RegisterApi.as_view()),
    path("auth/login", accounts.LoginApi.as_view()),
    path("auth/refresh", accounts.RefreshApi.as_view()),
    path("auth/logout", accounts.LogoutApi.as_view()),
    path("auth/jwks.json", accounts.JwksApi.as_view()),
    path("users/profile", accounts.ProfileUpdateApi.as_view()),
    path("users/profile/avatar", accounts.AvatarUploadApi.as_view()),
    path("users/<uuid:user_id>/follow", social.FollowApi.as_view()),
    path("users/<uuid:user_id>/unfollow", social.UnfollowApi.as_view()),
    path("users/<uuid:user_id>/followers", social.FollowersApi.as_view()),
    path("users/<uuid:user_id>/following", social.FollowingApi.as_view()),
    path("users/<uuid:user_id>/is-following", social.IsFollowingApi.as_view()),
    path("users/me/liked-conversations", conversations.LikedConversationsApi.as_view()),
    path("users/<str:username>", accounts.UserProfileApi.as_view()),
    path("novels", novels.NovelListApi.as_view()),
    path("novels/<str:id_or_slug>", novels.NovelDetailApi.as_view()),
    path("scenarios/<uuid:scenario_id>/fork", scenarios.ScenarioForkApi.as_view()),
    path("scenarios/<uuid:scenario_id>/forks", scenarios.ScenarioForksApi.as_view()),
    path("scenarios/<uuid:scenario_id>/fork-tree", scenarios.ScenarioForkTreeApi.as_view()),
    path("scenarios/<uuid:scenario_id>/ancestors", scenarios.ScenarioAncestorsApi.as_view()),
    path(
        "conversations/<uuid:conversation_id>/messages/<uuid:message_id>/regenerate",
        conversations.MessageRegenerateApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/messages/<uuid:message_id>/cancel",
        conversations.MessageCancelApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/messages/<uuid:message_id>/stream",
        conversations.MessageStreamApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/messages/<uuid:message_id>/citations",
        conversations.MessageCitationsApi.as_view(),
    ),
    path("conversations/<uuid:conversation_id>/fork", conversations.ConversationForkApi.as_view()),
    path("conversations/<uuid:conversation_id>/tree", conversations.ConversationTreeApi.as_view()),
    path("conversations/<uuid:conversation_id>/like", conversations.LikeApi.as_view()),
    path("conversations/<uuid:conversation_id>/unlike", conversations.UnlikeApi.as_view()),
    path("conversations/<uuid:conversation_id>/liked", conversations.LikedApi.as_view()),
    path("conversations/<uuid:conversation_id>/memo", conversations.MemoApi.as_view()),
    path("openapi.json", SchemaApi.as_view(), name="schema"),
]

internal = [
    path("health", InternalHealthApi.as_view()),
    path("novels", novels.InternalNovelCreateApi.as_view()),
    path("novels/<str:novel_id>", novels.InternalNovelDetailApi.as_view()),
    path(
        "conversations/<uuid:conversation_id>/context",
        internal_conversations.InternalConversationContextApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/messages",
        internal_conversations.InternalMessagePersistApi.as_view(),
    ),
    path(
        "conversations/<uuid:conversation_id>/turns",
        internal_conversations.InternalTurnCreateApi.as_view(),
    ),
]

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
