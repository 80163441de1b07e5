"""Follow endpoints under /api/v1/users/{id}/..."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_get
from common.pagination import PageQuerySerializer, PageRequest, page_serializer, paginate
from common.schema import errors
from social import selectors, services


class FollowApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        follower_id = serializers.UUIDField()
        following_id = serializers.UUIDField()
        created_at = serializers.DateTimeField()
        is_mutual = serializers.BooleanField()

    @extend_schema(
        operation_id="users_follow", request=None, responses={200: OutputSerializer, **errors(401, 404, 409)}
    )
    def post(self, request, user_id):
        target = user_get(user_id=user_id)
        result = services.user_follow(follower=request.user, following=target)
        return Response(self.OutputSerializer(result).data)


class UnfollowApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_unfollow",
        responses={
            200: inline_serializer("Unfollowed", {"message": serializers.CharField()}),
            **errors(401, 404),
        },
    )
    def delete(self, request, user_id):
        target = user_get(user_id=user_id)
        services.user_unfollow(follower=request.user, following=target)
        return Response({"message": "Unfollowed successfully"})


class FollowEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)
    is_mutual = serializers.BooleanField()
    followed_at = serializers.DateTimeField()


def _entry(person, follow) -> dict:
    return {
        "id": person.id,
        "username": person.username,
        "avatar_url": person.avatar_url or None,
        "is_mutual": follow.is_mutual,
        "followed_at": follow.created_at,
    }


FollowPageSerializer = page_serializer("FollowPage", FollowEntrySerializer)


class FollowersApi(APIView):
    @extend_schema(
        operation_id="users_followers",
        parameters=[PageQuerySerializer],
        responses={200: FollowPageSerializer, **errors(404)},
        auth=[],
    )
    def get(self, request, user_id):
        user = user_get(user_id=user_id)
        page = PageRequest.from_request(request)
        body = paginate(selectors.followers_of(user=user), page, lambda f: _entry(f.follower, f))
        return Response(FollowPageSerializer(body).data)


class FollowingApi(APIView):
    @extend_schema(
        operation_id="users_following",
        parameters=[PageQuerySerializer],
        responses={200: FollowPageSerializer, **errors(404)},
        auth=[],
    )
    def get(self, request, user_id):
        user = user_get(user_id=user_id)
        page = PageRequest.from_request(request)
        body = paginate(selectors.following_of(user=user), page, lambda f: _entry(f.following, f))
        return Response(FollowPageSerializer(body).data)


class IsFollowingApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        is_following = serializers.BooleanField()
        is_mutual = serializers.BooleanField()
        followed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(operation_id="users_is_following", responses={200: OutputSerializer, **errors(401, 404)})
    def get(self, request, user_id):
        target = user_get(user_id=user_id)
        return Response(
            self.OutputSerializer(selectors.follow_status(follower=request.user, following=target)).data
        )
