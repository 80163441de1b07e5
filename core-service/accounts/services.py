"""Writes for accounts: register, login, refresh, logout, profile, avatar,
and the reader's own account (/users/me): changes, password change and
reset, deletion."""

from __future__ import annotations

import io
import logging
import threading
import uuid
import warnings
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from gaji_contracts.errors import ErrorCode
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework_simplejwt import state
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import emails, limits
from accounts.models import User
from accounts.tokens import access_token_for, tokens_for
from common.exceptions import ApplicationError
from conversations.models import Conversation, ConversationLike, ConversationMemo
from conversations.services import _counted, conversation_delete
from notifications.services import forget as notifications_forget
from novels.services import account_novels_delete
from scenarios.models import Scenario
from scenarios.services import scenario_count_engagement
from social.models import Follow

logger = logging.getLogger("gaji.accounts")

ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def _conflict(field: str) -> ApplicationError:
    return ApplicationError(
        f"A user with this {field} already exists.",
        status=409,
        code=ErrorCode.CONFLICT,
        details={field: [f"This {field} is already taken."]},
    )


def user_register(*, email: str, username: str, password: str) -> tuple[User, dict]:
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise _conflict("email")
    if User.objects.alias(username_ci=Lower("username")).filter(username_ci=username.lower()).exists():
        raise _conflict("username")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, username=username, password=password)
    except IntegrityError as exc:
        # Two registrations raced past the checks above: the unique index decides.
        raise _conflict("username" if "username" in str(exc) else "email") from None
    return user, tokens_for(user)


def _invalid_credentials() -> ApplicationError:
    return ApplicationError("Invalid email or password.", status=401, code=ErrorCode.INVALID_CREDENTIALS)


def user_login(*, email: str, password: str) -> tuple[User, dict]:
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        # Hash anyway so response time does not reveal which emails exist.
        User().set_password(password)
        raise _invalid_credentials()
    if not user.check_password(password) or not user.is_active:
        raise _invalid_credentials()
    return user, tokens_for(user)


def _parse_refresh(raw: str) -> RefreshToken:
    """Signature, expiry, audience, issuer and type: 401 on any failure;
    403 if the token is valid but blacklisted."""
    try:
        payload = state.token_backend.decode(raw, verify=True)
    except TokenBackendError:
        raise _invalid_refresh() from None
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh":
        raise _invalid_refresh()
    if BlacklistedToken.objects.filter(token__jti=payload.get(jwt_settings.JTI_CLAIM)).exists():
        raise ApplicationError(
            "Refresh token has been revoked.", status=403, code=ErrorCode.TOKEN_BLACKLISTED
        )
    # Signature, exp, aud and iss were verified above; don't decode twice.
    token = RefreshToken(raw, verify=False)
    if not token.get(jwt_settings.JTI_CLAIM):
        raise _invalid_refresh()
    return token


def _invalid_refresh() -> ApplicationError:
    return ApplicationError("Refresh token is invalid or expired.", status=401, code=ErrorCode.TOKEN_INVALID)


def token_refresh(*, refresh_token: str) -> str:
    token = _parse_refresh(refresh_token)
    user = User.objects.filter(id=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None:
        raise _invalid_refresh()
    return access_token_for(user, token)


def user_logout(*, user: User, refresh_token: str) -> None:
    """Blacklist the caller's refresh token. Repeating it is harmless."""
    try:
        token = _parse_refresh(refresh_token)
    except ApplicationError as exc:
        if exc.code == ErrorCode.TOKEN_BLACKLISTED:
            return
        raise
    if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.id):
        raise ApplicationError(
            "This refresh token belongs to another user.", status=403, code=ErrorCode.PERMISSION_DENIED
        )
    try:
        with transaction.atomic():
            token.blacklist()
    except IntegrityError:
        pass  # a concurrent logout blacklisted it first


@transaction.atomic
def profile_update(*, user: User, fields: dict) -> User:
    for name in ("bio", "avatar_url"):
        if name in fields:
            setattr(user, name, fields[name] or "")
    user.save(update_fields=[*(n for n in ("bio", "avatar_url") if n in fields), "updated_at"])
    return user


def _bad_image(message: str) -> ApplicationError:
    return ApplicationError(
        message, status=400, code=ErrorCode.VALIDATION_ERROR, details={"avatar": [message]}
    )


# Decoding is the one memory-hungry step (a 16 MP RGBA frame is 64 MB):
# at most two at a time per process, whatever the thread count.
_DECODE_SLOTS = threading.BoundedSemaphore(2)


def _decode_avatar(data: bytes) -> Image.Image:
    """Judge the file by its bytes, refuse decompression bombs, and return
    a square RGB image of AVATAR_SIZE_PX with no metadata."""
    size = settings.AVATAR_SIZE_PX
    with _DECODE_SLOTS, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_IMAGE_FORMATS:
                    raise _bad_image("Avatar must be a JPG, PNG, GIF or WEBP image.")
                width, height = probe.size
                if width * height > settings.AVATAR_MAX_PIXELS:
                    raise _bad_image("Avatar image dimensions are too large.")
                probe.seek(0)  # first frame of an animation
                # Shrink before any mode conversion, so no full-size RGBA copy
                # is ever made (JPEG even decodes at reduced scale via draft).
                probe.thumbnail((size * 2, size * 2))
                image = ImageOps.exif_transpose(probe)
                if image.mode in ("P", "LA", "PA"):
                    image = image.convert("RGBA")
                image.load()
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            OSError,
            SyntaxError,
            ValueError,
        ) as exc:
            if isinstance(exc, ApplicationError):
                raise
            raise _bad_image("Avatar is not a valid JPG, PNG, GIF or WEBP image.") from None
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    return ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)


def avatar_upload(*, user: User, upload, absolute_url) -> str:
    """`absolute_url` turns the stored file's path into the URL clients load."""
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise ApplicationError(
            f"Avatar exceeds {settings.AVATAR_MAX_BYTES // (1024 * 1024)} MB.",
            status=413,
            code=ErrorCode.PAYLOAD_TOO_LARGE,
        )
    image = _decode_avatar(upload.read())
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88, optimize=True)  # a fresh file: no EXIF, no GPS
    name = default_storage.save(f"avatars/{user.id}-{uuid.uuid4().hex[:12]}.jpg", ContentFile(out.getvalue()))
    old_name = _own_stored_avatar(user)
    user.avatar_url = absolute_url(default_storage.url(name))
    user.save(update_fields=["avatar_url", "updated_at"])
    if old_name and old_name != name:
        transaction.on_commit(lambda: default_storage.delete(old_name))
    return user.avatar_url


def _own_stored_avatar(user: User) -> str | None:
    """The storage name of an avatar we stored for this user earlier; None
    for external URLs and for anyone else's file (a user may point
    avatar_url at any URL, including another user's avatar)."""
    prefix = settings.MEDIA_URL + "avatars/"
    path = urlparse(user.avatar_url).path if user.avatar_url else ""
    name = path[len(prefix) :] if path.startswith(prefix) else ""
    if name.startswith(f"{user.id}-") and "/" not in name:
        return "avatars/" + name
    return None


# -- the reader's own account (/users/me) ---------------------------------------------

# Scenarios of deleted accounts are credited to this user. Hyphens are not
# allowed in usernames (accounts.validators), so nobody can register it.
DELETED_USERNAME = "deleted-user"
# No address at all: every address a reader can register or switch to is a
# valid one, so none can take the sentinel's place (and break deletions).
DELETED_EMAIL = ""

# Refusals the API document states in words only (a password is checked
# against the stored hash, a name against the other accounts, a reset link
# against its signature): 400 with the field.
PASSWORD_REQUIRED = "Your current password is required for this change."
PASSWORD_WRONG = "The password is incorrect."
USERNAME_TAKEN = "This username is already taken."
EMAIL_TAKEN = "This email is already taken."
RESET_LINK_BAD = "This password reset link is invalid, used or expired."
RULES_IN_WORDS = (PASSWORD_REQUIRED, PASSWORD_WRONG, USERNAME_TAKEN, EMAIL_TAKEN, RESET_LINK_BAD)


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, status=400, code=ErrorCode.VALIDATION_ERROR, details={field: [message]})


def password_check(*, user: User, password: str | None, field: str) -> None:
    """The reader's own password, confirming a sensitive change: 400 on
    `field` when missing or wrong; 429 once too many were wrong
    (accounts.limits)."""
    if not password:
        raise _field_error(field, PASSWORD_REQUIRED)
    limits.password_guesses_left(user.id)
    if not user.check_password(password):
        limits.password_failed(user.id)
        raise _field_error(field, PASSWORD_WRONG)


def refresh_tokens_revoke_all(*, user: User) -> int:
    """Blacklist every refresh token of the user that is still outstanding
    (each one minted by tokens_for has an OutstandingToken row): they answer
    403 TOKEN_BLACKLISTED from then on, like a logged-out one. Access tokens
    expire on their own within the hour. Returns how many were revoked."""
    ids = list(
        OutstandingToken.objects.filter(
            user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
        ).values_list("id", flat=True)
    )
    # ignore_conflicts: a concurrent logout may blacklist one of them first.
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token_id=i) for i in ids], ignore_conflicts=True)
    return len(ids)


def _taken(field: str) -> ApplicationError:
    return _field_error(field, USERNAME_TAKEN if field == "username" else EMAIL_TAKEN)


def me_update(*, user: User, fields: dict) -> User:
    """Change the reader's username, email and/or bio. A new email needs the
    current password (checked first, so the route cannot tell a stranger
    holding a token which addresses have accounts); username and email are
    re-checked case-insensitively, and a race past the checks is decided by
    the unique indexes, answering the same 400."""
    changed = []
    email = fields.get("email")
    if email is not None and email.strip().lower() != user.email:
        email = email.strip().lower()
        password_check(user=user, password=fields.get("current_password"), field="current_password")
        if User.objects.alias(email_ci=Lower("email")).filter(email_ci=email).exclude(id=user.id).exists():
            raise _taken("email")
        user.email = email
        changed.append("email")
    username = fields.get("username")
    if username is not None and username != user.username:
        others = User.objects.alias(username_ci=Lower("username")).exclude(id=user.id)
        if others.filter(username_ci=username.lower()).exists():
            raise _taken("username")
        user.username = username
        changed.append("username")
    if "bio" in fields:
        user.bio = fields["bio"] or ""
        changed.append("bio")
    if not changed:
        return user
    try:
        with transaction.atomic():
            user.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as exc:
        # The index's name, not the field's: an address may well contain "username".
        raise _taken("username" if "user_username_ci_unique" in str(exc) else "email") from None
    return user


def password_change(*, user: User, current_password: str, new_password: str) -> dict:
    """Set a new password, revoke every earlier refresh token and answer a
    fresh pair (the body of POST /auth/login's `tokens`)."""
    password_check(user=user, password=current_password, field="current_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password", "updated_at"])
        refresh_tokens_revoke_all(user=user)
    return tokens_for(user)


def password_reset_request(*, email: str, client_ip: str) -> None:
    """Mail a reset link if an active account with a usable password has this
    address. The caller answers 202 whatever happens here, and requests are
    limited per client IP like login."""
    limits.reset_request_allowed(client_ip)
    email = email.strip().lower()
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    if not limits.count(limits.RESET_MAILS, f"email:{user.id}"):
        logger.info("password reset mail skipped: the address had its mails for this hour")
        return
    emails.send_password_reset(user)


def _bad_reset_token() -> ApplicationError:
    return _field_error("token", RESET_LINK_BAD)


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set the password a reset link was mailed for. The user's row is locked,
    so two uses of one link at once set it once: the second sees the new
    password hash, which the token no longer matches."""
    user_id = emails.user_id_from_uid(uid)
    user = None
    if user_id is not None:
        user = User.objects.select_for_update().filter(id=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise _bad_reset_token()
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    refresh_tokens_revoke_all(user=user)


def deleted_user() -> User:
    """The sentinel that keeps deleted readers' scenarios: inactive, with an
    unusable password (no login, no refresh, no reset mail), created on first
    use; two deletions creating it at once end with one row."""
    user = User.objects.filter(username=DELETED_USERNAME, email=DELETED_EMAIL).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=DELETED_EMAIL, username=DELETED_USERNAME, password=None, is_active=False
            )
    except IntegrityError:  # created meanwhile by another deletion
        return User.objects.get(username=DELETED_USERNAME, email=DELETED_EMAIL)


def _likes_remove(user: User) -> None:
    """Take back the user's likes with the counters they moved: each liked
    conversation's like_count, and its scenario's like_count (and quality)
    where the conversation counts there (conversations.services._counted:
    public ones only). Not through unlike(): a conversation liked when public
    may be private by now, and unlike() would not find it. The conversations
    are locked (in id order) before the likes are read, so a concurrent
    unlike cannot be counted twice."""
    liked = ConversationLike.objects.filter(user=user).values_list("conversation_id", flat=True)
    list(Conversation.objects.select_for_update(no_key=True).filter(id__in=liked).order_by("id").values("id"))
    rows = list(
        ConversationLike.objects.filter(user=user).values_list(
            "conversation_id", "conversation__scenario_id", "conversation__visibility"
        )
    )
    if not rows:
        return
    Conversation.objects.filter(id__in=[c for c, _, _ in rows]).update(like_count=F("like_count") - 1)
    per_scenario: dict = {}
    for _, scenario_id, visibility in rows:
        per_scenario[scenario_id] = per_scenario.get(scenario_id, 0) + _counted(visibility)
    for scenario_id, likes in sorted(per_scenario.items()):
        scenario_count_engagement(scenario_id=scenario_id, likes=-likes)
    ConversationLike.objects.filter(user=user).delete()


def _gone() -> ApplicationError:
    return ApplicationError("This account no longer exists.", status=401, code=ErrorCode.NOT_AUTHENTICATED)


def account_delete(*, user: User, password: str) -> None:
    """Delete the reader's account, confirmed by their password, in one
    transaction: their likes (with the counters), memos and follows; their
    conversations through conversation_delete (messages another reader's
    fork still shows stay with that fork); their scenarios, deleted or not,
    credited to `deleted-user` so forks and conversations on them survive;
    their refresh tokens; then the user row (notifications and anything
    else that cascades go with it). The user's row is locked first: a
    second deletion waits and finds the account gone (401), and nothing
    referring to the user can be created meanwhile."""
    password_check(user=user, password=password, field="password")
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(id=user.id).first()
        if locked is None:
            raise _gone()
        _likes_remove(locked)
        ConversationMemo.objects.filter(user=locked).delete()
        Follow.objects.filter(Q(follower=locked) | Q(following=locked)).delete()
        # Forks before roots: a root's messages its own owner's fork shares are then orphans at once.
        owned = Conversation.objects.filter(user=locked).order_by("-depth", "id").values_list("id", flat=True)
        for conversation_id in list(owned):
            conversation_delete(conversation_id=conversation_id, user=locked)
        account_novels_delete(user=locked)  # their private/unlisted imports (before their scenarios move)
        scenarios = Scenario.objects.filter(creator=locked)
        if scenarios.exists():
            scenarios.update(creator=deleted_user())
        OutstandingToken.objects.filter(user=locked).delete()
        avatar = _own_stored_avatar(locked)
        gone_id = locked.id
        locked.delete()
        if avatar:
            transaction.on_commit(lambda: default_storage.delete(avatar))
        # The live notification stream (its titles) goes too, not in 7 days.
        transaction.on_commit(lambda: notifications_forget(user_id=gone_id))
