from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from accounts import apis as accounts
from common import health
from internal.apis import InternalHealthApi
from social import apis as social


def media(request, path: str):
    # MEDIA_ROOT is read per request, not frozen when the URLconf is imported.
    return serve(request, path, document_root=settings.MEDIA_ROOT)


api_v1 = [
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
    path("users/<str:username>", accounts.UserProfileApi.as_view()),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
]

internal = [
    path("health", InternalHealthApi.as_view()),
]

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/v1/", include(api_v1)),
    path("api/internal/", include(internal)),
    path("swagger-ui.html", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    # Uploaded avatars. Behind nginx in production (deploy/nginx.conf).
    re_path(r"^media/(?P<path>avatars/[A-Za-z0-9_\-]+\.jpg)$", media),
]

handler400 = "common.views.bad_request"
handler403 = "common.views.permission_denied"
handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
