"""Follow routes (/api/v1/...)."""

from django.urls import path

from social import apis

urlpatterns = [
    path("users/<uuid:user_id>/follow", apis.FollowApi.as_view()),
    path("users/<uuid:user_id>/unfollow", apis.UnfollowApi.as_view()),
    path("users/<uuid:user_id>/followers", apis.FollowersApi.as_view()),
    path("users/<uuid:user_id>/following", apis.FollowingApi.as_view()),
    path("users/<uuid:user_id>/is-following", apis.IsFollowingApi.as_view()),
]
