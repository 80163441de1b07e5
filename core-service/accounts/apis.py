"""Auth and profile endpoints under /api/v1."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.export import MeSerializer, export_document, me_json
from accounts.serializers import HttpUrlField, validate_password_strength
from accounts.tokens import jwks
from accounts.validators import validate_username
from common.auth import AnonymousOnlyAuthentication
from common.exceptions import ApplicationError
from common.ratelimit import client_ip
from common.schema import errors
from common.serializers import StrictSerializer


class TokensSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()
    token_type = serializers.CharField()


class RegisterApi(APIView):
    authentication_classes = [AnonymousOnlyAuthentication]

    class InputSerializer(StrictSerializer):
        email = serializers.EmailField(max_length=255)
        username = serializers.CharField(max_length=50, validators=[validate_username])
        password = serializers.CharField(
            max_length=128, trim_whitespace=False, validators=[validate_password_strength]
        )

    class OutputSerializer(serializers.Serializer):
        class UserSerializer(serializers.Serializer):
            id = serializers.UUIDField()
            email = serializers.EmailField()
            username = serializers.CharField()
            created_at = serializers.DateTimeField()

        user = UserSerializer()
        tokens = TokensSerializer()

    @extend_schema(
        operation_id="auth_register",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(409)},
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, tokens = services.user_register(**data.validated_data)
        return Response(
            self.OutputSerializer({"user": user, "tokens": tokens}).data, status=status.HTTP_201_CREATED
        )


class LoginApi(APIView):
    authentication_classes = [AnonymousOnlyAuthentication]

    class InputSerializer(StrictSerializer):
        email = serializers.CharField(max_length=255)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        class UserSerializer(serializers.Serializer):
            id = serializers.UUIDField()
            email = serializers.EmailField()
            username = serializers.CharField()
            bio = serializers.CharField()
            avatar_url = serializers.CharField(allow_null=True)

        user = UserSerializer()
        tokens = TokensSerializer()

    @extend_schema(
        operation_id="auth_login",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(401)},
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, tokens = services.user_login(**data.validated_data)
        user_out = {**vars(user), "avatar_url": user.avatar_url or None}
        return Response(self.OutputSerializer({"user": user_out, "tokens": tokens}).data)


class RefreshApi(APIView):
    authentication_classes = [AnonymousOnlyAuthentication]

    class InputSerializer(StrictSerializer):
        refresh_token = serializers.CharField(max_length=4096)

    class OutputSerializer(serializers.Serializer):
        access_token = serializers.CharField()
        expires_in = serializers.IntegerField()
        token_type = serializers.CharField()

    @extend_schema(
        operation_id="auth_refresh",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(401, 403)},
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = services.token_refresh(**data.validated_data)
        return Response({"access_token": access, "expires_in": 3600, "token_type": "Bearer"})


MessageSerializer = inline_serializer("Message", {"message": serializers.CharField()})


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        refresh_token = serializers.CharField(max_length=4096)

    @extend_schema(
        operation_id="auth_logout",
        request=InputSerializer,
        responses={200: MessageSerializer, **errors(401, 403)},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_logout(user=request.user, **data.validated_data)
        return Response({"message": "Logged out successfully"})


class JwksApi(APIView):
    authentication_classes = [AnonymousOnlyAuthentication]

    @extend_schema(
        operation_id="auth_jwks",
        responses={
            200: inline_serializer("Jwks", {"keys": serializers.ListField(child=serializers.DictField())}),
            **errors(),
        },
        auth=[],
        description="Public keys that verify Gaji access tokens (RS256).",
    )
    def get(self, request):
        response = Response(jwks())
        response["Cache-Control"] = "public, max-age=300"
        return response


class PublicProfileSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    bio = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)
    follower_count = serializers.IntegerField()
    following_count = serializers.IntegerField()
    scenario_count = serializers.IntegerField()
    conversation_count = serializers.IntegerField()
    joined_at = serializers.DateTimeField()


class UserProfileApi(APIView):
    @extend_schema(
        operation_id="users_profile_get", responses={200: PublicProfileSerializer, **errors(404)}, auth=[]
    )
    def get(self, request, username: str):
        return Response(PublicProfileSerializer(selectors.user_public_profile(username=username)).data)


class ProfileUpdateApi(APIView):
    permission_classes = [IsAuthenticated]

    def get_permissions(self):
        return [] if self.request.method == "GET" else super().get_permissions()

    @extend_schema(
        operation_id="users_profile_named_profile_get",
        responses={200: PublicProfileSerializer, **errors(404)},
        auth=[],
        description="The public profile of the user named `profile`, as `GET /users/{username}` "
        "gives it (this path is also the profile update route, PUT).",
    )
    def get(self, request):
        """GET /users/profile is GET /users/{username} for a user named "profile"."""
        return UserProfileApi().get(request, username="profile")

    class InputSerializer(StrictSerializer):
        bio = serializers.CharField(max_length=500, allow_blank=True, allow_null=True, required=False)
        avatar_url = HttpUrlField(max_length=500, allow_blank=True, allow_null=True, required=False)

        def to_internal_value(self, data):
            # Documented: email and username are changed elsewhere, never here.
            if isinstance(data, dict):
                fixed = {
                    n: ["Cannot be changed via this endpoint."] for n in ("email", "username") if n in data
                }
                if fixed:
                    raise serializers.ValidationError(fixed)
            return super().to_internal_value(data)

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        username = serializers.CharField()
        email = serializers.EmailField()
        bio = serializers.CharField()
        avatar_url = serializers.CharField(allow_null=True)
        updated_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="users_profile_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(401)},
    )
    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, fields=data.validated_data)
        return Response(self.OutputSerializer({**vars(user), "avatar_url": user.avatar_url or None}).data)


class AvatarUploadApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    class OutputSerializer(serializers.Serializer):
        avatar_url = serializers.CharField()
        uploaded_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="users_avatar_upload",
        request={
            "multipart/form-data": inline_serializer("AvatarUpload", {"avatar": serializers.FileField()})
        },
        responses={200: OutputSerializer, **errors(401, 413, 415)},
    )
    def post(self, request):
        upload = request.FILES.get("avatar")
        if upload is None:
            raise ApplicationError(
                "Missing file field 'avatar'.", details={"avatar": ["This field is required."]}
            )
        url = services.avatar_upload(
            user=request.user, upload=upload, absolute_url=request.build_absolute_uri
        )
        return Response({"avatar_url": url, "uploaded_at": timezone.now()})


# -- the reader's own account: /users/me ------------------------------------------------

ME_ERRORS_IN_WORDS = (
    "A wrong or missing `current_password` (or `password`) is a 400 on that field; a username or "
    "email another account has (case-insensitively) is a 400 on that field. Wrong passwords are "
    "counted per user like login attempts: past 5 in 15 minutes, 429 until the window ends."
)


def _password_field(help_text: str) -> serializers.CharField:
    return serializers.CharField(max_length=128, trim_whitespace=False, help_text=help_text)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    class UpdateSerializer(StrictSerializer):
        username = serializers.CharField(
            max_length=50,
            validators=[validate_username],
            required=False,
            help_text="Unique case-insensitively (400 on `username` when another account has it)",
        )
        email = serializers.EmailField(
            max_length=255,
            required=False,
            help_text="Stored lower-cased; a new address needs `current_password`",
        )
        current_password = serializers.CharField(
            max_length=128,
            trim_whitespace=False,
            required=False,
            help_text="Required (and checked) when `email` changes; 400 on this field when missing or wrong",
        )
        bio = serializers.CharField(max_length=500, allow_blank=True, allow_null=True, required=False)

    class DeleteSerializer(StrictSerializer):
        password = _password_field("Your current password (400 on this field when wrong)")

    @extend_schema(operation_id="users_me_get", responses={200: MeSerializer, **errors(401)})
    def get(self, request):
        return Response(me_json(request.user))

    @extend_schema(
        operation_id="users_me_update",
        request=UpdateSerializer,
        responses={200: MeSerializer, **errors(401)},
        description="Change any of `username`, `email`, `bio`. " + ME_ERRORS_IN_WORDS,
    )
    def patch(self, request):
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.me_update(user=request.user, fields=data.validated_data)
        return Response(me_json(user))

    @extend_schema(
        operation_id="users_me_delete",
        request=DeleteSerializer,
        responses={204: None, **errors(401)},
        description="Delete your account. Body: `{password}`. Your conversations (with every message "
        "no other reader's fork still shows), memos, likes, follows and notifications are removed; "
        "your scenarios stay, credited to `deleted-user`, so forks and conversations on them survive. "
        "Your tokens stop working: a second call is 401. " + ME_ERRORS_IN_WORDS,
    )
    def delete(self, request):
        data = self.DeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_delete(user=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePasswordApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(StrictSerializer):
        current_password = _password_field("400 on this field when wrong")
        new_password = serializers.CharField(
            max_length=128, trim_whitespace=False, validators=[validate_password_strength]
        )

    @extend_schema(
        operation_id="users_me_password",
        request=InputSerializer,
        responses={200: LoginApi.OutputSerializer, **errors(401)},
        description="Change your password: every refresh token issued before is revoked (403 "
        "TOKEN_BLACKLISTED on refresh) and a fresh pair is answered, as POST /auth/login does. "
        + ME_ERRORS_IN_WORDS,
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.password_change(user=request.user, **data.validated_data)
        user = request.user
        user_out = {**vars(user), "avatar_url": user.avatar_url or None}
        return Response(LoginApi.OutputSerializer({"user": user_out, "tokens": tokens}).data)


DetailSerializer = inline_serializer("Detail", {"detail": serializers.CharField()})


class PasswordResetApi(APIView):
    authentication_classes = [AnonymousOnlyAuthentication]

    class InputSerializer(StrictSerializer):
        email = serializers.EmailField(max_length=255)

    @extend_schema(
        operation_id="auth_password_reset",
        request=InputSerializer,
        responses={202: DetailSerializer, **errors()},
        auth=[],
        description="Mail a single-use password reset link (`<web app>/#/reset-password?uid=&token=`, "
        "valid PASSWORD_RESET_TIMEOUT seconds) if an account has this address. The answer is the "
        "same whether or not one has. Limited like login: 5 requests per 15 minutes per client IP, "
        "and at most 3 mails an hour to one address.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(client_ip=client_ip(request), **data.validated_data)
        return Response(
            {"detail": "If an account has this address, a link to reset its password is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmApi(APIView):
    authentication_classes = [AnonymousOnlyAuthentication]

    class InputSerializer(StrictSerializer):
        uid = serializers.CharField(max_length=64, help_text="`uid` of the mailed link")
        token = serializers.CharField(
            max_length=128,
            help_text="`token` of the mailed link: 400 on this field when invalid, used or expired",
        )
        new_password = serializers.CharField(
            max_length=128, trim_whitespace=False, validators=[validate_password_strength]
        )

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=InputSerializer,
        responses={200: DetailSerializer, **errors()},
        auth=[],
        description="Set a new password with a mailed link. The link works once and expires; "
        "a bad, used or expired one is a 400 on `token`. Every refresh token is revoked.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response({"detail": "Your password has been reset. Log in with the new one."})


class ExportSerializer(serializers.Serializer):
    exported_at = serializers.DateTimeField()
    user = MeSerializer()
    settings = serializers.DictField(help_text="As GET /users/me/settings shows them")
    scenarios = serializers.ListField(
        child=serializers.DictField(), help_text="As GET /scenarios/{id} shows them, with `deleted_at`"
    )
    conversations = serializers.ListField(
        child=serializers.DictField(),
        help_text="As list items, with `visibility`, `cast`, `canon_chapter`, `total_tokens`, "
        "`messages` (every one, in order) and `memory`",
    )
    memos = serializers.ListField(child=serializers.DictField())
    likes = serializers.ListField(child=serializers.DictField())
    following = serializers.ListField(child=serializers.DictField())
    followers = serializers.ListField(child=serializers.DictField())
    notifications = serializers.ListField(child=serializers.DictField())


class MeExportApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_me_export",
        responses={200: ExportSerializer, **errors(401)},
        description="Everything you own, as one JSON file (Content-Disposition: attachment).",
    )
    def get(self, request):
        response = Response(export_document(request.user))
        filename = f"gaji-export-{request.user.username}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response
