"""OWASP API Top 10 pass: one table classifies every route (and method) of
the URLconf, and the checks below run against the whole table, so a new
route fails here until it is classified, and is then covered by every check
that applies to its class.

Section 7 walks every conversation route for a public, an unlisted and a
private conversation with its owner, another reader, anonymous and staff
(VISIBILITY: the exact status each gets), and every list and count that
could show a conversation.

Per-route cases already proven elsewhere (e.g. hostile tokens on PUT
/users/profile in accounts/tests/test_auth_api.py, the blacklisted refresh
token there too, owner checks in conversations/ and scenarios/ tests) are not
repeated one by one: here they run across every route of their class.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import time
import uuid
from dataclasses import dataclass
from enum import Enum

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from gaji_contracts.characters import Character, LoreCharacter, NovelLore
from gaji_contracts.conversations import MessageStatus
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import tokens_for
from cards import formats
from cards.models import CharacterCard, Lorebook, LorebookLink
from cards.services import card_import, lorebook_import
from conftest import PASSWORD, assert_envelope
from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    MemoryEntry,
    Message,
    MessagePrompt,
)
from conversations.services import like
from conversations.tests.helpers import add_exchanges, client_for, internal_client, make_conversation
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.tests.helpers import PARAMETERS, make_scenario

pytestmark = pytest.mark.django_db

PREFIXES = ("/api/v1/", "/api/internal/")
METHODS = ("get", "post", "put", "patch", "delete")


class Access(Enum):
    PUBLIC = "public"  # no user needed; the service token is still refused
    AUTHENTICATED = "authenticated"  # any signed-in user; acts on public data or the caller's own
    SELF = "self"  # signed in; reads/writes only the caller's own rows (no id in the path to aim elsewhere)
    OWNER = "owner-only"  # signed in and the owner (creator) of the row named in the path
    STAFF = "staff"  # is_staff: none under /api today (staff work in /admin/)
    INTERNAL = "internal"  # the ai service's token only


@dataclass(frozen=True)
class Rule:
    access: Access
    # What another signed-in user gets on an owner-only route: 403
    # PERMISSION_DENIED, except the prompt inspector, which hides that a
    # prompt exists (404, as for a message that does not exist).
    other_user: int | None = None
    note: str = ""


PUBLIC = Rule(Access.PUBLIC)
AUTH = Rule(Access.AUTHENTICATED)
SELF = Rule(Access.SELF)
OWNER = Rule(Access.OWNER, other_user=403)
INTERNAL = Rule(Access.INTERNAL)

V1 = "/api/v1/"
IN = "/api/internal/"
CONV = V1 + "conversations/<uuid:conversation_id>"
SCEN = V1 + "scenarios/<uuid:scenario_id>"
USER = V1 + "users/<uuid:user_id>"
CARD = V1 + "characters/<uuid:card_id>"
BOOK = V1 + "lorebooks/<uuid:lorebook_id>"
OWNER_HIDDEN = Rule(Access.OWNER, other_user=404, note="anyone else: as if it did not exist")

# (METHOD, route as in the URLconf) -> rule
ROUTES: dict[tuple[str, str], Rule] = {
    ("POST", V1 + "auth/register"): PUBLIC,
    ("POST", V1 + "auth/password-reset"): Rule(Access.PUBLIC, note="202 whether or not the address exists"),
    ("POST", V1 + "auth/password-reset/confirm"): PUBLIC,
    ("GET", V1 + "users/me"): SELF,
    ("PATCH", V1 + "users/me"): SELF,
    ("DELETE", V1 + "users/me"): Rule(Access.SELF, note="with the caller's own password"),
    ("POST", V1 + "users/me/password"): SELF,
    ("GET", V1 + "users/me/export"): SELF,
    ("GET", V1 + "users/me/settings"): SELF,
    ("PUT", V1 + "users/me/settings"): SELF,
    ("GET", V1 + "users/me/messages/search"): Rule(Access.SELF, note="the caller's own conversations"),
    ("GET", V1 + "notifications"): SELF,
    ("POST", V1 + "notifications/read"): Rule(Access.SELF, note="ids that are not the caller's are ignored"),
    ("POST", V1 + "notifications/stream"): SELF,
    ("POST", V1 + "auth/login"): PUBLIC,
    ("POST", V1 + "auth/refresh"): PUBLIC,
    ("POST", V1 + "auth/logout"): Rule(
        Access.AUTHENTICATED, note="someone else's refresh token: 403 (test_auth_api)"
    ),
    ("GET", V1 + "auth/jwks.json"): PUBLIC,
    ("PUT", V1 + "users/profile"): SELF,
    ("GET", V1 + "users/profile"): PUBLIC,
    ("POST", V1 + "users/profile/avatar"): SELF,
    ("POST", USER + "/follow"): AUTH,
    ("DELETE", USER + "/unfollow"): AUTH,
    ("GET", USER + "/followers"): PUBLIC,
    ("GET", USER + "/following"): PUBLIC,
    ("GET", USER + "/is-following"): SELF,
    ("GET", V1 + "users/me/liked-conversations"): SELF,
    ("GET", V1 + "users/<str:username>"): PUBLIC,
    ("GET", V1 + "novels"): PUBLIC,
    ("GET", V1 + "novels/<str:id_or_slug>"): PUBLIC,
    ("GET", V1 + "scenarios"): PUBLIC,
    ("POST", V1 + "scenarios"): AUTH,
    ("GET", V1 + "scenarios/search"): PUBLIC,
    ("GET", SCEN): PUBLIC,
    ("PUT", SCEN): OWNER,
    ("DELETE", SCEN): OWNER,
    ("POST", SCEN + "/fork"): AUTH,
    ("GET", SCEN + "/forks"): PUBLIC,
    ("GET", SCEN + "/fork-tree"): PUBLIC,
    ("GET", SCEN + "/ancestors"): PUBLIC,
    ("GET", SCEN + "/timeline"): PUBLIC,
    ("GET", V1 + "conversations"): PUBLIC,
    ("POST", V1 + "conversations"): AUTH,
    ("GET", CONV): PUBLIC,
    ("PUT", CONV): OWNER,
    ("DELETE", CONV): OWNER,
    ("GET", CONV + "/messages"): PUBLIC,
    ("POST", CONV + "/messages"): OWNER,
    ("POST", CONV + "/messages/<uuid:message_id>/regenerate"): OWNER,
    ("POST", CONV + "/messages/<uuid:message_id>/cancel"): OWNER,
    ("POST", CONV + "/messages/<uuid:message_id>/stream"): OWNER,
    ("GET", CONV + "/messages/<uuid:message_id>/citations"): PUBLIC,
    ("PATCH", CONV + "/messages/<uuid:message_id>"): OWNER,
    ("DELETE", CONV + "/messages/<uuid:message_id>"): OWNER,
    ("GET", CONV + "/messages/<uuid:message_id>/alternatives"): PUBLIC,
    ("PUT", CONV + "/messages/<uuid:message_id>/alternatives"): OWNER,
    ("GET", CONV + "/messages/search"): PUBLIC,
    ("GET", CONV + "/messages/<uuid:message_id>/prompt"): Rule(
        Access.OWNER, other_user=404, note="the owner and staff; anyone else as if it did not exist"
    ),
    ("POST", CONV + "/continue"): OWNER,
    ("GET", CONV + "/cast"): PUBLIC,
    ("PUT", CONV + "/cast"): OWNER,
    ("GET", CONV + "/memory"): Rule(Access.OWNER, other_user=403, note="the owner and staff"),
    ("POST", CONV + "/memory"): OWNER,
    ("PATCH", CONV + "/memory/<uuid:entry_id>"): OWNER,
    ("DELETE", CONV + "/memory/<uuid:entry_id>"): OWNER,
    ("PUT", CONV + "/canon"): OWNER,
    ("POST", CONV + "/fork"): Rule(Access.AUTHENTICATED, note="anyone may fork a (public) root"),
    ("GET", CONV + "/tree"): PUBLIC,
    ("POST", CONV + "/like"): Rule(Access.AUTHENTICATED, note="the caller's own like; the counter is public"),
    ("DELETE", CONV + "/unlike"): Rule(Access.AUTHENTICATED, note="removes only the caller's like"),
    ("GET", CONV + "/liked"): SELF,
    ("GET", CONV + "/memo"): Rule(Access.SELF, note="another user's memo is a 404, never shown"),
    ("POST", CONV + "/memo"): SELF,
    ("DELETE", CONV + "/memo"): Rule(Access.SELF, note="404 when the caller has none; others' stay"),
    # Bring your own (cards app, readers' imports, exports). Someone else's card,
    # lorebook or conversation lorebooks are a 404, as if they did not exist.
    ("POST", V1 + "characters/import"): Rule(Access.AUTHENTICATED, note="a card of the caller's own"),
    ("GET", V1 + "characters"): Rule(Access.SELF, note="the caller's own cards"),
    ("GET", CARD): OWNER_HIDDEN,
    ("DELETE", CARD): OWNER_HIDDEN,
    ("GET", CARD + "/image"): OWNER_HIDDEN,
    ("GET", CARD + "/export"): OWNER_HIDDEN,
    ("POST", V1 + "lorebooks/import"): Rule(Access.AUTHENTICATED, note="a lorebook of the caller's own"),
    ("GET", V1 + "lorebooks"): Rule(Access.SELF, note="the caller's own lorebooks"),
    ("GET", BOOK): OWNER_HIDDEN,
    ("DELETE", BOOK): OWNER_HIDDEN,
    ("GET", BOOK + "/export"): OWNER_HIDDEN,
    ("GET", CONV + "/lorebooks"): OWNER_HIDDEN,
    ("PUT", CONV + "/lorebooks"): OWNER_HIDDEN,
    ("GET", V1 + "novels/<uuid:novel_id>/lorebooks"): Rule(Access.OWNER, other_user=404, note="and staff"),
    ("PUT", V1 + "novels/<uuid:novel_id>/lorebooks"): Rule(Access.OWNER, other_user=404, note="and staff"),
    ("POST", V1 + "novels/imports"): Rule(Access.AUTHENTICATED, note="a novel of the caller's own"),
    ("GET", V1 + "users/me/novels"): Rule(Access.SELF, note="the caller's own imports and quota"),
    # Someone else's unlisted or public novel: 403; their private one: 404.
    ("PATCH", V1 + "novels/<str:id_or_slug>"): Rule(Access.OWNER, other_user=403, note="and staff"),
    ("DELETE", V1 + "novels/<str:id_or_slug>"): Rule(Access.OWNER, other_user=403, note="and staff"),
    ("GET", V1 + "novels/<str:id_or_slug>/lorebook"): PUBLIC,
    ("GET", V1 + "novels/<str:id_or_slug>/characters/<str:character_id>/card"): PUBLIC,
    ("GET", CONV + "/export"): PUBLIC,
    ("POST", V1 + "conversations/import"): Rule(Access.AUTHENTICATED, note="a new conversation, theirs"),
    ("GET", V1 + "openapi.json"): PUBLIC,
    ("GET", IN + "health"): INTERNAL,
    ("GET", IN + "novels"): INTERNAL,
    ("POST", IN + "novels"): INTERNAL,
    ("GET", IN + "novels/<str:novel_id>"): INTERNAL,
    ("GET", IN + "novels/<str:novel_id>/access"): INTERNAL,
    ("PATCH", IN + "novels/<str:novel_id>"): INTERNAL,
    ("GET", IN + "conversations/<uuid:conversation_id>/context"): INTERNAL,
    ("POST", IN + "conversations/<uuid:conversation_id>/messages"): INTERNAL,
    ("POST", IN + "conversations/<uuid:conversation_id>/turns"): INTERNAL,
    ("POST", IN + "conversations/<uuid:conversation_id>/memory"): INTERNAL,
}


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + route, entry.callback


def inventory() -> set[tuple[str, str]]:
    """(METHOD, route) for every view method under the API prefixes."""
    found = set()
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith(PREFIXES):
            continue
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        assert view_class is not None, f"{route} is not a class-based view: classify it by hand"
        methods = [m for m in METHODS if hasattr(view_class, m)]
        assert methods, route
        found |= {(m.upper(), route) for m in methods}
    return found


def routes_of(*kinds: Access, prefix: str = "") -> list[tuple[str, str]]:
    return sorted(k for k, rule in ROUTES.items() if rule.access in kinds and k[1].startswith(prefix))


def _id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    owner: User
    other: User
    novel: Novel
    scenario: Scenario
    conversation: Conversation
    failed_answer: Message
    pending_answer: Message
    memory_entry: MemoryEntry
    staff: User
    user_message: Message
    own_novel: Novel  # the owner's unlisted import
    card: CharacterCard
    lorebook: Lorebook

    def url(self, method: str, route: str) -> str:
        values = {
            "user_id": self.owner.id,
            "username": self.owner.username,
            "id_or_slug": self.own_novel.slug,
            "novel_id": self.novel.slug,
            "uuid:novel_id": self.own_novel.id,
            "scenario_id": self.scenario.id,
            "conversation_id": self.conversation.id,
            "message_id": self.message_for(route).id,
            "entry_id": self.memory_entry.id,
            "card_id": self.card.id,
            "lorebook_id": self.lorebook.id,
            "character_id": LORE_CHARACTER_ID,
        }
        path = route
        for segment in route.split("/"):
            if segment.startswith("<"):
                converter_and_name = segment.strip("<>")
                name = converter_and_name.split(":")[-1]
                value = values.get(converter_and_name, values[name])
                path = path.replace(segment, str(value))
        return path + ("?q=message" if route.endswith("/search") else "")

    def message_for(self, route: str) -> Message:
        """A message each message route can act on: a user message to edit or
        delete, the failed answer (with two kept versions) to regenerate or
        choose a version of, else the pending answer (cancel, stream, prompt)."""
        if route.endswith("<uuid:message_id>"):
            return self.user_message
        if route.endswith(("regenerate", "alternatives")):
            return self.failed_answer
        return self.pending_answer


LORE_CHARACTER_ID = str(uuid.uuid4())


def _lore(novel_id, *, request_id=None) -> NovelLore:
    """ai's lore of a novel (the exports), as ai would answer: one character."""
    character = Character(
        id=LORE_CHARACTER_ID,
        vectordb_id=LORE_CHARACTER_ID,
        novel_id=str(novel_id),
        name="Rose",
        aliases=[],
        description="Rose is lively.",
        personality_traits=[],
        role="main",
        first_chapter=1,
        mention_count=3,
    )
    return NovelLore(novel_id=str(novel_id), characters=[LoreCharacter(character=character)], places=[])


def _owner_card_png() -> bytes:
    data = {"name": "owner's card", "extensions": {}}
    document = {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    return formats.card_png(document, None)


def _owner_lorebook() -> bytes:
    entry = {"keys": ["secret"], "content": "owner's lore", "extensions": {}, "enabled": True}
    entry["insertion_order"] = 1
    book = {"name": "owner's lorebook", "extensions": {}, "entries": [entry]}
    return json.dumps({"spec": "lorebook_v3", "data": book}).encode()


@pytest.fixture
def world(make_user, settings, monkeypatch) -> World:
    # Nothing here may reach a real ai service, even if a check were missing.
    settings.AI_BASE_URL = "http://127.0.0.1:1"
    settings.AI_ENQUEUE_TIMEOUT_SECONDS = 0.5
    monkeypatch.setattr("novels.export_apis.novel_lore", _lore)
    # No password: hashing one (argon2) would be most of each test's time.
    owner, other = make_user(bio="owner's bio", password=None), make_user(password=None)
    novel = Novel.objects.create(slug="harry_potter", title="Harry Potter")
    scenario = make_scenario(owner)
    conversation = make_conversation(owner, scenario)
    messages = add_exchanges(conversation, 4)
    versions = [{"content": f"owner's version {i}", "model": "m"} for i in range(2)]
    Message.objects.filter(id=messages[1].id).update(status=MessageStatus.FAILED.value, alternatives=versions)
    Message.objects.filter(id=messages[3].id).update(status=MessageStatus.PENDING.value)
    ConversationMemo.objects.create(user=owner, conversation=conversation, memo_text="owner's secret note")
    like(user=owner, conversation_id=conversation.id)  # with its counters, as in use
    # What the model was given for the answer's earlier attempt (the prompt inspector).
    MessagePrompt.objects.create(
        message_id=messages[3].id, record={"model": "m", "messages": [{"role": "user", "content": "owner's"}]}
    )
    entry = MemoryEntry.objects.create(
        conversation=conversation, kind="pin", text="owner's pinned secret", source="reader", pinned=True
    )
    staff = make_user(password=None, is_staff=True)
    own_novel = Novel.objects.create(
        slug="owners-story-0a1b2c3d",
        title="owner's story",
        owner=owner,
        visibility="unlisted",
        ingestion_status="completed",
    )
    card = card_import(user=owner, raw=_owner_card_png(), filename="owner.png")
    lorebook = lorebook_import(user=owner, raw=_owner_lorebook(), filename="owner.json")
    return World(
        owner,
        other,
        novel,
        scenario,
        conversation,
        messages[1],
        messages[3],
        entry,
        staff,
        messages[0],
        own_novel,
        card,
        lorebook,
    )


def snapshot(world: World) -> dict:
    """Everything of the owner's that a refused request must leave alone."""

    def rows(queryset, *exclude):
        return [
            {k: v for k, v in row.items() if k not in exclude} for row in queryset.order_by("pk").values()
        ]

    conversation = Conversation.objects.filter(id=world.conversation.id)
    return {
        "user": rows(User.objects.filter(id=world.owner.id), "last_login"),
        "scenario": rows(Scenario.objects.filter(id=world.scenario.id)),
        "conversation": rows(conversation),
        "messages": rows(Message.objects.filter(links__conversation_id=world.conversation.id)),
        "memos": rows(ConversationMemo.objects.filter(user=world.owner)),
        "likes": rows(ConversationLike.objects.filter(user=world.owner)),
        "memory": rows(MemoryEntry.objects.filter(conversation_id=world.conversation.id)),
        "novels": rows(Novel.objects.filter(owner=world.owner)),
        "cards": rows(CharacterCard.objects.filter(owner=world.owner), "image"),
        "lorebooks": rows(Lorebook.objects.filter(owner=world.owner)),
        "lorebook_links": rows(LorebookLink.objects.all()),
        "scenarios": Scenario.objects.count(),
        "conversations": Conversation.objects.count(),
    }


def body_for(method: str, route: str, world: World):
    """A valid body, so that a refusal is the auth check's, not the validator's."""
    if method == "DELETE":
        return {"password": PASSWORD} if route == V1 + "users/me" else None
    if method == "GET":
        return None
    bodies = {
        V1 + "auth/password-reset": {"email": world.owner.email},
        V1 + "users/me": {"bio": "pwned"},
        V1 + "users/me/password": {"current_password": PASSWORD, "new_password": "Pwn3d-Passw0rd"},
        V1 + "users/me/settings": {"response_style": "concise"},
        V1 + "notifications/read": {"all": True},
        CONV + "/messages/<uuid:message_id>": {"content": "pwned"},
        CONV + "/messages/<uuid:message_id>/alternatives": {"index": 0},
        V1 + "auth/logout": {"refresh_token": tokens_for(world.owner)["refresh_token"]},
        V1 + "users/profile": {"bio": "pwned"},
        V1 + "scenarios": {
            "base_story": "harry_potter",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": PARAMETERS["CHARACTER_CHANGE"],
        },
        SCEN: {"parameters": {**PARAMETERS["CHARACTER_CHANGE"], "new_value": "Ravenclaw"}},
        SCEN + "/fork": {"parameters": PARAMETERS["CHARACTER_CHANGE"]},
        V1 + "conversations": {"scenario_id": str(world.scenario.id)},
        CONV: {"title": "pwned"},
        CONV + "/messages": {"content": "pwned"},
        CONV + "/memo": {"memo_text": "pwned"},
        CONV + "/memory": {"text": "pwned"},
        CONV + "/memory/<uuid:entry_id>": {"text": "pwned"},
        CONV + "/canon": {"canon_chapter": 3},
        IN + "conversations/<uuid:conversation_id>/memory": {
            "source_message_id": "00000000-0000-4000-8000-000000000000",
            "position": 0,
            "entries": [{"kind": "fact", "subject": "world", "text": "pwned", "source": "model"}],
        },
        CONV + "/cast": {"narrator": True, "members": [{"character_id": None, "name": "Pwned"}]},
        CONV + "/lorebooks": {"lorebook_ids": [str(world.lorebook.id)]},
        V1 + "novels/<uuid:novel_id>/lorebooks": {"lorebook_ids": [str(world.lorebook.id)]},
        V1 + "novels/<str:id_or_slug>": {"title": "Pwned"},
    }
    return bodies.get(route, {})


def call(client, method: str, route: str, world: World, url: str | None = None, **extra):
    url = url or world.url(method, route)
    if route.endswith("profile/avatar"):
        return getattr(client, method.lower())(url, {"avatar": avatar_file()}, format="multipart", **extra)
    body = body_for(method, route, world)
    if body is None:
        return getattr(client, method.lower())(url, **extra)
    return getattr(client, method.lower())(url, body, format="json", **extra)


def avatar_file() -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 10)).save(buf, format="PNG")
    return SimpleUploadedFile("a.png", buf.getvalue(), content_type="image/png")


def anonymous() -> APIClient:
    return APIClient(raise_request_exception=False)


def with_header(value: str) -> APIClient:
    client = anonymous()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


# --------------------------------------------------------------------------- 1. inventory


def test_every_route_is_classified():
    found = inventory()
    unclassified = sorted(found - ROUTES.keys())
    stale = sorted(ROUTES.keys() - found)
    assert not unclassified, f"classify these routes in ROUTES: {unclassified}"
    assert not stale, f"ROUTES lists routes the URLconf no longer has: {stale}"
    for (method, route), rule in ROUTES.items():
        assert route.startswith(IN) == (rule.access is Access.INTERNAL), (method, route)
        assert (rule.other_user is not None) == (rule.access is Access.OWNER), (method, route)


# --------------------------------------------------------------------------- 2. who may call what


@pytest.mark.parametrize("key", routes_of(Access.PUBLIC), ids=_id)
def test_public_routes_need_no_user(world, key):
    method, route = key
    if route == V1 + "users/profile":  # the profile of a user named "profile"
        from accounts.models import User

        User.objects.create_user(email="profile@example.com", username="profile", password="Passw0rd!x")
    response = call(anonymous(), method, route, world)
    assert response.status_code < 500, response.content[:300]
    assert response.status_code not in (401, 403), response.content[:300]
    if method == "GET":
        assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize(
    "key", routes_of(Access.AUTHENTICATED, Access.SELF, Access.OWNER, Access.STAFF), ids=_id
)
def test_anonymous_is_401_and_changes_nothing(world, key):
    method, route = key
    before = snapshot(world)
    response = call(anonymous(), method, route, world)
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(world) == before


@pytest.mark.parametrize("key", routes_of(Access.OWNER), ids=_id)
def test_another_user_is_refused_on_owner_routes(world, key):
    method, route = key
    before = snapshot(world)
    response = call(client_for(world.other), method, route, world)
    refused = ROUTES[key].other_user
    assert_envelope(response, refused, "PERMISSION_DENIED" if refused == 403 else "NOT_FOUND")
    assert snapshot(world) == before


def test_the_owner_passes_the_owner_check(world):
    """Control for the test above: the same requests from the owner are not
    refused (cancel/regenerate may then fail on the unreachable ai: 503)."""
    owner = client_for(world.owner)
    for method, route in routes_of(Access.OWNER):
        if method == "DELETE":
            continue
        response = call(owner, method, route, world)
        assert response.status_code in (200, 201, 202, 503), (method, route, response.content[:300])


@pytest.mark.parametrize("key", routes_of(Access.SELF), ids=_id)
def test_self_routes_never_reach_the_owners_rows(world, key, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    method, route = key
    if route in (V1 + "users/me", V1 + "users/me/password"):
        world.other.set_password(PASSWORD)  # their own password, as body_for gives it
        world.other.save(update_fields=["password"])
    before = snapshot(world)
    response = call(client_for(world.other), method, route, world)
    if route.endswith("/memo") and method in ("GET", "DELETE"):
        assert_envelope(response, 404, "NOT_FOUND")  # the owner's memo exists, but is not theirs
        assert "secret" not in response.content.decode()
    elif response.status_code == 204:
        assert (method, route) == ("DELETE", V1 + "users/me")  # their own account, gone
        assert User.objects.filter(id=world.other.id).count() == 0
    else:
        assert response.status_code in (200, 201), response.content[:300]
        body = response.json()
        text = response.content.decode()
        assert "owner's" not in text, text[:300]  # no bio, memo, pin or version of the owner's
        if route.startswith(V1 + "users/me") and "id" in body:
            assert body["id"] == str(world.other.id)
        if route.endswith("/search"):
            assert body["content"] == []  # the owner's messages hold "message" but are not theirs
        if route.endswith("/liked"):
            assert body["is_liked"] is False  # the owner's like is not theirs
        if route.endswith("liked-conversations"):
            assert body["content"] == []
        if route.endswith("/is-following"):
            assert body["is_following"] is False
        if route.endswith("/memo"):
            assert body["memo_text"] == "pwned"
    assert snapshot(world) == before


# --------------------------------------------------------------------------- 3. hostile tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _claims(user: User, **overrides) -> dict:
    now = int(time.time())
    return {
        "token_type": "access",
        "exp": now + 600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "sub": str(user.id),
        "username": user.username,
        "is_staff": True,
        "aud": "gaji",
        "iss": "gaji-core",
        **overrides,
    }


@functools.cache
def _foreign_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ours(claims: dict) -> str:
    key = django_settings.JWT_SIGNING_KEY
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def _alg_none(world: World) -> str:
    header = _b64(
        json.dumps({"alg": "none", "typ": "JWT", "kid": django_settings.JWT_SIGNING_KEY.kid}).encode()
    )
    return f"Bearer {header}.{_b64(json.dumps(_claims(world.owner)).encode())}."


def _foreign_key_same_kid(world: World) -> str:
    kid = django_settings.JWT_SIGNING_KEY.kid
    token = jwt.encode(_claims(world.owner), _foreign_key_pem(), algorithm="RS256", headers={"kid": kid})
    return f"Bearer {token}"


def _expired(world: World) -> str:
    now = int(time.time())
    return f"Bearer {_ours(_claims(world.owner, exp=now - 5, iat=now - 3605))}"


def _tampered_sub(world: World) -> str:
    """The other user's genuine token with its subject changed to the owner."""
    header, payload, signature = tokens_for(world.other)["access_token"].split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = str(world.owner.id)
    return f"Bearer {header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _refresh_as_access(world: World) -> str:
    return f"Bearer {tokens_for(world.owner)['refresh_token']}"


def _stream_ticket_as_access(world: World) -> str:
    from accounts.tokens import stream_ticket_for

    ticket, _ = stream_ticket_for(
        user_id=world.owner.id, conversation_id=world.conversation.id, message_id=world.pending_answer.id
    )
    return f"Bearer {ticket}"


def _wrong_issuer(world: World) -> str:
    return f"Bearer {_ours(_claims(world.owner, iss='someone-else'))}"


ATTACKS = {
    # name: (Authorization header builder, expected code)
    "alg_none": (_alg_none, "TOKEN_INVALID"),
    "foreign_rsa_key_same_kid": (_foreign_key_same_kid, "TOKEN_INVALID"),
    "expired": (_expired, "TOKEN_INVALID"),
    "tampered_sub": (_tampered_sub, "TOKEN_INVALID"),
    "refresh_as_access": (_refresh_as_access, "TOKEN_INVALID"),
    "stream_ticket_as_access": (_stream_ticket_as_access, "TOKEN_INVALID"),
    "wrong_issuer": (_wrong_issuer, "TOKEN_INVALID"),
    "garbage_bearer": (lambda w: "Bearer not-a-jwt", "TOKEN_INVALID"),
    "bearer_with_spaces": (lambda w: "Bearer a b c", "TOKEN_INVALID"),
    "bearer_10kb_junk": (lambda w: "Bearer " + "A" * 10240, "TOKEN_INVALID"),
    "bearer_10kb_dotted_junk": (lambda w: "Bearer " + ".".join(["QUFB" * 853] * 3), "TOKEN_INVALID"),
    "bearer_latin1": (lambda w: "Bearer h\u00e9llo.w\u00f6rld.\u00ff", "TOKEN_INVALID"),
    # Not a Bearer header at all: nobody is authenticated.
    "basic_scheme": (lambda w: "Basic dXNlcjpwYXNz", "NOT_AUTHENTICATED"),
    "bare_token": (lambda w: tokens_for(w.owner)["access_token"], "NOT_AUTHENTICATED"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_tokens_are_401_on_every_user_route(world, attack):
    build, code = ATTACKS[attack]
    header = build(world)
    raw = header.removeprefix("Bearer ")
    before = snapshot(world)
    failures = []
    for method, route in routes_of(Access.AUTHENTICATED, Access.SELF, Access.OWNER, Access.STAFF):
        response = call(with_header(header), method, route, world)
        try:
            assert_envelope(response, 401, code)
            assert response["WWW-Authenticate"].startswith("Bearer")
            if len(raw) > 8:
                assert raw.encode() not in response.content, "the token is echoed"
        except AssertionError as exc:
            failures.append(f"{method} {route}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)
    assert snapshot(world) == before


def test_genuine_token_control(world):
    """The same header shape, properly minted, is accepted (so the attacks
    above fail on the token, not on the request)."""
    client = with_header(f"Bearer {_ours(_claims(world.owner))}")
    response = call(client, "PUT", V1 + "users/profile", world)
    assert response.status_code == 200, response.content


# --------------------------------------------------------------------------- 4. service token vs user token


@pytest.mark.parametrize("key", routes_of(*Access, prefix=V1), ids=_id)
def test_service_token_is_refused_on_every_public_api_route(world, key):
    method, route = key
    before = snapshot(world)
    response = call(internal_client(), method, route, world)
    body = assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")
    assert django_settings.SERVICE_TOKEN not in json.dumps(body)
    assert snapshot(world) == before


@pytest.mark.parametrize("key", routes_of(Access.INTERNAL), ids=_id)
def test_internal_routes_refuse_users_and_anonymous(world, key):
    method, route = key
    before = snapshot(world)
    staff = User.objects.create_user(email="boss@example.com", username="boss", password=None, is_staff=True)
    for user in (world.owner, staff):
        assert_envelope(call(client_for(user), method, route, world), 403, "SERVICE_TOKEN_REQUIRED")
    response = call(anonymous(), method, route, world)
    assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert snapshot(world) == before


# --------------------------------------------------------------------------- 5. mass assignment

SMUGGLED = {
    "creator_id": "OTHER",
    "user_id": "OTHER",
    "id": "NEW",
    "like_count": 999,
    "conversation_count": 999,
    "fork_count": 999,
    "quality_score": 1.0,
    "is_staff": True,
    "is_superuser": True,
    "message_count": 999,
    "total_tokens": 999,
    "created_at": "2000-01-01T00:00:00Z",
}

REGISTER = {"email": "newcomer@example.com", "username": "newcomer", "password": "Passw0rdX"}
# (METHOD, route) of the writes that take a body -> the body without smuggled fields
WRITES = {
    ("POST", V1 + "auth/register"): REGISTER,
    ("PUT", V1 + "users/profile"): {"bio": "new bio"},
    ("POST", V1 + "scenarios"): None,  # body_for
    ("PUT", SCEN): None,
    ("POST", SCEN + "/fork"): None,
    ("POST", V1 + "conversations"): None,
    ("PUT", CONV): None,
    ("POST", CONV + "/fork"): {"title": "my fork"},
    ("POST", CONV + "/messages"): None,
    ("POST", CONV + "/memo"): None,
}


def _everything(world: World) -> dict:
    return {
        **snapshot(world),
        "users": sorted(User.objects.values_list("email", "is_staff", "is_superuser")),
        "all_scenarios": sorted(map(str, Scenario.objects.values_list("id", "creator_id", "fork_count"))),
        "all_conversations": sorted(
            map(str, Conversation.objects.values_list("id", "user_id", "like_count"))
        ),
        "all_memos": sorted(map(str, ConversationMemo.objects.values_list("user_id", "memo_text"))),
    }


@pytest.mark.parametrize("field", sorted(SMUGGLED))
@pytest.mark.parametrize("key", sorted(WRITES), ids=_id)
def test_mass_assignment_is_refused(world, key, field):
    method, route = key
    value = SMUGGLED[field]
    value = {"OTHER": str(world.other.id), "NEW": str(uuid.uuid4())}.get(value, value)
    body = {**(WRITES[key] or body_for(method, route, world)), field: value}
    before = _everything(world)
    response = getattr(client_for(world.owner), method.lower())(world.url(method, route), body, format="json")
    body_out = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert body_out["details"] == {field: ["Unknown field."]}, body_out
    assert _everything(world) == before


def test_mass_assignment_control(world):
    """The same bodies without the smuggled field are accepted, so the 400s
    above are the smuggled field's."""
    owner = client_for(world.owner)
    for method, route in sorted(WRITES):
        if route == CONV + "/messages":
            continue  # needs an ai service; its body is checked before anything else anyway
        body = WRITES[(method, route)] or body_for(method, route, world)
        client = anonymous() if route.endswith("register") else owner
        response = getattr(client, method.lower())(world.url(method, route), body, format="json")
        assert response.status_code in (200, 201), (method, route, response.content[:300])


# --------------------------------------------------------------------------- 6. secrets


def _secrets() -> dict[str, str]:
    key = django_settings.JWT_SIGNING_KEY
    pem_lines = [line for line in key.private_pem.splitlines() if line and not line.startswith("-----")]
    secrets = {
        "SERVICE_TOKEN": django_settings.SERVICE_TOKEN,
        "SECRET_KEY": django_settings.SECRET_KEY,
        "DB password": django_settings.DATABASES["default"].get("PASSWORD") or "",
        "JWT private key header": "PRIVATE KEY",
        # A line from the middle of the PEM body: the key material itself.
        "JWT private key body": pem_lines[len(pem_lines) // 2],
    }
    return {name: value for name, value in secrets.items() if len(value) >= 6}


def _assert_no_secret(response, what: str) -> None:
    text = response.content.decode(errors="replace") + json.dumps(dict(response.items()))
    for name, secret in _secrets().items():
        assert secret not in text, f"{name} leaked in {what}"


def test_openapi_and_jwks_carry_no_secret(api):
    _assert_no_secret(api.get(V1 + "openapi.json"), "the OpenAPI document")
    jwks = api.get(V1 + "auth/jwks.json")
    _assert_no_secret(jwks, "the JWKS")
    for jwk in jwks.json()["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys(), "private RSA members in the JWKS"


def test_error_responses_carry_no_secret_and_echo_no_token(world, monkeypatch):
    service = django_settings.SERVICE_TOKEN
    bad_jwt = _ours(_claims(world.owner, aud="elsewhere"))
    weak_password = "onlylowercaseletters"
    cases = [
        ("invalid JWT", with_header(f"Bearer {bad_jwt}").get(V1 + "users/me/liked-conversations"), 401),
        ("service token on a public route", internal_client().get(V1 + "scenarios"), 403),
        ("near-miss service token", with_header(f"Bearer {service}x").get(IN + "health"), 403),
        ("user JWT on internal", client_for(world.owner).get(IN + "health"), 403),
        ("unknown route", anonymous().get(V1 + "nothing-here"), 404),
        ("wrong method", anonymous().patch(V1 + "scenarios"), 405),
        ("malformed JSON", anonymous().post(V1 + "auth/login", "{", content_type="application/json"), 400),
        (
            "weak password",
            anonymous().post(V1 + "auth/register", {**REGISTER, "password": weak_password}, format="json"),
            400,
        ),
        (
            "bad login",
            anonymous().post(
                V1 + "auth/login", {"email": world.owner.email, "password": weak_password}, format="json"
            ),
            401,
        ),
        (
            "bad refresh",
            anonymous().post(V1 + "auth/refresh", {"refresh_token": bad_jwt}, format="json"),
            401,
        ),
    ]
    for what, response, status in cases:
        assert_envelope(response, status)
        _assert_no_secret(response, what)
        body = response.content.decode()
        assert bad_jwt not in body and weak_password not in body, f"{what} echoes the credential"
        assert service not in body, what

    # An unhandled error whose message carries secrets: the 500 shows none of it.
    from conversations import reads

    def boom(*args, **kwargs):
        raise RuntimeError(f"boom {service} {django_settings.JWT_SIGNING_KEY.private_pem}")

    monkeypatch.setattr(reads, "conversation_document", boom)
    response = Client(raise_request_exception=False).get(f"{V1}conversations/{world.conversation.id}")
    assert_envelope(response, 500, "INTERNAL_ERROR")
    _assert_no_secret(response, "a 500")
    assert "boom" not in response.content.decode()


# --------------------------------------------------------------------------- 7. conversation visibility
#
# Every conversation route, walked for a public, an unlisted and a private
# conversation by its owner, another reader, anonymous and staff. A private
# conversation is its owner's and staff's: for anyone else every route is a
# 404, exactly as for a conversation that does not exist (never 403, which
# would say it exists). An unlisted one is readable by its link like a
# public one (it is only left out of lists and counts: the next test).

CALLERS = ("owner", "other", "anonymous", "staff")
VISIBILITIES = ("public", "unlisted", "private")

_READ = ((200, 200, 200, 200), (200, 404, 404, 200))


def _owners(ok: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """An owner-only route: others 403 while they may see the conversation, else 404; staff 403."""
    return (ok, 403, 401, 403), (ok, 404, 401, 403)


def _signed_in(owner: int, other: int, staff: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A route for any signed-in reader who may see the conversation (staff may see a private one)."""
    return (owner, other, 401, staff), (owner, 404, 401, staff)


# (METHOD, route) -> (statuses for a public or unlisted conversation, for a private one),
# each in CALLERS order. The owner's 503s: the ai service is unreachable in this world.
VISIBILITY: dict[tuple[str, str], tuple[tuple[int, ...], tuple[int, ...]]] = {
    ("GET", CONV): _READ,
    ("PUT", CONV): _owners(200),
    ("DELETE", CONV): _owners(204),
    ("GET", CONV + "/messages"): _READ,
    ("POST", CONV + "/messages"): _owners(503),
    ("POST", CONV + "/messages/<uuid:message_id>/regenerate"): _owners(503),
    ("POST", CONV + "/messages/<uuid:message_id>/cancel"): _owners(503),
    ("POST", CONV + "/messages/<uuid:message_id>/stream"): _owners(200),
    ("GET", CONV + "/messages/<uuid:message_id>/citations"): _READ,
    ("PATCH", CONV + "/messages/<uuid:message_id>"): _owners(200),
    ("DELETE", CONV + "/messages/<uuid:message_id>"): _owners(204),
    ("GET", CONV + "/messages/<uuid:message_id>/alternatives"): _READ,
    ("PUT", CONV + "/messages/<uuid:message_id>/alternatives"): _owners(200),
    ("GET", CONV + "/messages/search"): _READ,
    ("GET", CONV + "/messages/<uuid:message_id>/prompt"): ((200, 404, 401, 200), (200, 404, 401, 200)),
    ("POST", CONV + "/continue"): _owners(503),
    ("GET", CONV + "/cast"): _READ,
    ("PUT", CONV + "/cast"): _owners(200),
    ("GET", CONV + "/memory"): ((200, 403, 401, 200), (200, 404, 401, 200)),
    ("POST", CONV + "/memory"): _owners(201),
    ("PATCH", CONV + "/memory/<uuid:entry_id>"): _owners(200),
    ("DELETE", CONV + "/memory/<uuid:entry_id>"): _owners(204),
    ("PUT", CONV + "/canon"): _owners(200),
    # Staff may read a private conversation, not fork it: a fork would copy its messages out.
    ("POST", CONV + "/fork"): ((201, 201, 401, 201), (201, 404, 401, 403)),
    ("GET", CONV + "/tree"): _READ,
    ("POST", CONV + "/like"): _signed_in(200, 200, 200),
    ("DELETE", CONV + "/unlike"): _signed_in(200, 200, 200),
    ("GET", CONV + "/liked"): _signed_in(200, 200, 200),
    # The owner has a memo; the others have none (404 either way, their own memo only).
    ("GET", CONV + "/memo"): _signed_in(200, 404, 404),
    ("POST", CONV + "/memo"): _signed_in(200, 201, 201),
    ("DELETE", CONV + "/memo"): _signed_in(204, 404, 404),
    ("GET", CONV + "/export"): _READ,
    # The owner's lorebooks on it: anyone else, staff too, as if there were no conversation.
    ("GET", CONV + "/lorebooks"): ((200, 404, 401, 404), (200, 404, 401, 404)),
    ("PUT", CONV + "/lorebooks"): ((200, 404, 401, 404), (200, 404, 401, 404)),
}


def conversation_routes() -> list[tuple[str, str]]:
    return sorted(k for k in ROUTES if k[1].startswith(CONV))


def test_every_conversation_route_has_its_visibility_expectations():
    missing = sorted(set(conversation_routes()) - VISIBILITY.keys())
    stale = sorted(VISIBILITY.keys() - set(conversation_routes()))
    assert not missing, f"say what each caller gets on these routes in VISIBILITY: {missing}"
    assert not stale, f"VISIBILITY lists routes ROUTES no longer has: {stale}"


def set_visibility(world: World, visibility: str) -> None:
    """As its owner would (PUT), so every counter moves as it does in use."""
    response = client_for(world.owner).put(
        f"{V1}conversations/{world.conversation.id}", {"visibility": visibility}, format="json"
    )
    assert response.status_code == 200, response.content
    world.conversation.refresh_from_db()


def _clients(world: World) -> dict[str, APIClient]:
    return {
        "owner": client_for(world.owner),
        "other": client_for(world.other),
        "anonymous": anonymous(),
        "staff": client_for(world.staff),
    }


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("key", sorted(VISIBILITY), ids=_id)
def test_conversation_routes_honour_visibility(world, key, visibility):
    method, route = key
    set_visibility(world, visibility)
    shared, private = VISIBILITY[key]
    expected = dict(zip(CALLERS, private if visibility == "private" else shared, strict=True))
    clients = _clients(world)
    url = world.url(method, route)
    nowhere = url.replace(str(world.conversation.id), str(uuid.uuid4()))
    got = {}
    # The owner last: its DELETE removes what the others are asked about.
    for caller in ("anonymous", "other", "staff", "owner"):
        response = call(clients[caller], method, route, world)
        got[caller] = response.status_code
        if response.status_code >= 400:
            assert_envelope(response, response.status_code)
        if visibility == "private" and caller in ("other", "anonymous") and response.status_code == 404:
            # Word for word what a conversation that does not exist answers.
            missing = call(clients[caller], method, route, world, url=nowhere)
            assert missing.status_code == 404, (caller, missing.content[:300])
            same = ("code", "message", "details")
            assert {k: response.json().get(k) for k in same} == {k: missing.json().get(k) for k in same}
    assert got == expected, f"{method} {route} ({visibility})"


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {item["id"] for item in response.json()["content"]}


def _listed(world: World, client: APIClient) -> dict[str, bool]:
    """Where the owner's conversation shows, as `client` sees every list and count."""
    cid = str(world.conversation.id)
    conversations = V1 + "conversations"
    profile = client.get(f"{V1}users/{world.owner.username}").json()
    scenario = client.get(f"{V1}scenarios/{world.scenario.id}").json()
    searched = client.get(f"{V1}scenarios/search", {"creator_id": str(world.owner.id)}).json()["content"]
    return {
        "list": cid in _ids(client.get(conversations)),
        "by_user": cid in _ids(client.get(conversations, {"user_id": str(world.owner.id)})),
        "by_scenario": cid in _ids(client.get(conversations, {"scenario_id": str(world.scenario.id)})),
        "profile_count": profile["conversation_count"] == 1,
        "scenario_count": scenario["conversation_count"] == 1,
        "search_count": searched[0]["conversation_count"] == 1,
    }


@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_lists_and_counts_show_public_conversations_only(world, visibility):
    """Unlisted and private conversations are in no list and no count; a
    reader's own list (user_id = them) and their liked list hold all of theirs."""
    cid = str(world.conversation.id)
    ConversationLike.objects.create(user=world.other, conversation=world.conversation)  # liked while public
    set_visibility(world, visibility)
    public = visibility == "public"
    clients = _clients(world)
    for caller, client in clients.items():
        expected = dict.fromkeys(("list", "by_user", "by_scenario", "profile_count"), public)
        expected |= {"scenario_count": public, "search_count": public}
        if caller == "owner":
            expected["by_user"] = True  # their own list
        assert _listed(world, client) == expected, (caller, visibility)
    liked = V1 + "users/me/liked-conversations"
    assert (cid in _ids(clients["other"].get(liked))) is public
    assert cid in _ids(clients["owner"].get(liked))  # their own conversation
    # Back to public: every list and count has it again at once (but the
    # unfiltered list, whose total is shared for 10 seconds).
    set_visibility(world, "public")
    assert {k: v for k, v in _listed(world, clients["anonymous"]).items() if k != "list"} == dict.fromkeys(
        ("by_user", "by_scenario", "profile_count", "scenario_count", "search_count"), True
    )


@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_a_tree_shows_only_the_forks_its_reader_may_see(world, visibility):
    """A tree lists forks as a list would: an unlisted fork (like a private
    one) is a node and a count for its owner and staff only; its own link
    still opens it."""
    fork = Conversation.objects.get(
        id=client_for(world.other)
        .post(f"{V1}conversations/{world.conversation.id}/fork", {"visibility": visibility}, format="json")
        .json()["id"]
    )
    listed = visibility == "public"
    sees_fork = {"owner": listed, "anonymous": listed, "other": True, "staff": True}
    for caller, client in _clients(world).items():
        tree = client.get(f"{V1}conversations/{world.conversation.id}/tree").json()
        shown = [child["id"] for child in tree["children"]]
        assert shown == ([str(fork.id)] if sees_fork[caller] else []), (caller, tree)
        assert tree["total_descendants"] == len(shown) and tree["depth"] == (1 if shown else 0)
    # The fork's own tree: a private fork is a 404 for all but its owner and
    # staff; an unlisted one opens by its link.
    linked = visibility != "private"
    opens = {"owner": linked, "anonymous": linked, "other": True, "staff": True}
    for caller, client in _clients(world).items():
        response = client.get(f"{V1}conversations/{fork.id}/tree")
        assert response.status_code == (200 if opens[caller] else 404), caller


@pytest.mark.parametrize("visibility", ("private", "unlisted"))
def test_a_fork_does_not_point_at_a_parent_made_private(world, visibility):
    """Others forked it while it was public; made private, the forks stay
    theirs but no longer name it (its id is a 404 for their readers). Made
    unlisted, the same: its link opens it, but a public fork naming it would
    publish that link to every reader of the fork (the forker's too: only the
    fork route's own answer names it)."""
    fork_id = (
        client_for(world.other)
        .post(f"{V1}conversations/{world.conversation.id}/fork", format="json")
        .json()["id"]
    )
    set_visibility(world, visibility)
    parent = str(world.conversation.id)
    sees_parent = {"owner": True, "staff": True, "other": False, "anonymous": False}
    for caller, client in _clients(world).items():
        expected = parent if sees_parent[caller] else None
        detail = client.get(f"{V1}conversations/{fork_id}").json()
        assert detail["parent_conversation_id"] == expected, caller
        tree = client.get(f"{V1}conversations/{fork_id}/tree").json()
        assert tree["parent_conversation_id"] == expected, caller
        listed = client.get(V1 + "conversations", {"user_id": str(world.other.id)}).json()["content"]
        assert [c["parent_conversation_id"] for c in listed if c["id"] == fork_id] == [expected], caller
