"""Auth and profile routes (/api/v1/...)."""

from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view()),
    path("auth/login", apis.LoginApi.as_view()),
    path("auth/refresh", apis.RefreshApi.as_view()),
    path("auth/logout", apis.LogoutApi.as_view()),
    path("auth/jwks.json", apis.JwksApi.as_view()),
    path("auth/password-reset", apis.PasswordResetApi.as_view()),
    path("auth/password-reset/confirm", apis.PasswordResetConfirmApi.as_view()),
    # Before users/<str:username>, which would take "me" for a username.
    path("users/me", apis.MeApi.as_view()),
    path("users/me/password", apis.MePasswordApi.as_view()),
    path("users/me/export", apis.MeExportApi.as_view()),
    path("users/profile", apis.ProfileUpdateApi.as_view()),
    path("users/profile/avatar", apis.AvatarUploadApi.as_view()),
    # After every fixed users/... path: a username is any single segment.
    path("users/<str:username>", apis.UserProfileApi.as_view()),
]
