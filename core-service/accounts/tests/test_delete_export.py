"""DELETE /users/me (account deletion) and GET /users/me/export."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services
from accounts.models import User
from accounts.tokens import tokens_for
from cards.services import card_import, lorebook_import
from conftest import PASSWORD, assert_envelope
from conversations import services as conversation_services
from conversations.models import (
    Conversation,
    ConversationLike,
    ConversationMemo,
    ConversationMessageLink,
    MemoryEntry,
    Message,
)
from conversations.tests.helpers import add_exchanges, make_conversation
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.tests.helpers import client_for, make_fork, make_scenario, soft_delete
from social.models import Follow

ME = "/api/v1/users/me"
EXPORT = "/api/v1/users/me/export"

pytestmark = pytest.mark.django_db


def _delete(client, password=PASSWORD):
    return client.delete(ME, {"password": password}, format="json")


def _field_error(response, field: str) -> dict:
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["details"], body
    return body


@pytest.fixture
def world(make_user):
    """`reader` (to be deleted) and `other`, with everything between them:
    reader's scenario (and a soft-deleted one) with a conversation `root` that
    other forked (sharing its messages) and likes; reader's own fork of root;
    other's scenario and conversation, which reader likes and keeps a memo on;
    follows both ways."""
    reader, other = make_user(), make_user()
    scenario = make_scenario(reader)
    gone_scenario = make_scenario(reader)
    soft_delete(gone_scenario)
    root = make_conversation(reader, scenario, title="Reader's root")
    root_messages = add_exchanges(root, 4)
    MemoryEntry.objects.create(conversation=root, kind="fact", text="The brooch is lost.", source="model")
    their_fork = conversation_services.conversation_fork(conversation_id=root.id, user=other)
    add_exchanges(their_fork, 2)
    own_fork = conversation_services.conversation_fork(conversation_id=root.id, user=reader)
    add_exchanges(own_fork, 2)
    conversation_services.like(user=other, conversation_id=root.id)
    their_scenario = make_scenario(other)
    fork_scenario = make_fork(scenario, other)  # other's fork of reader's scenario
    theirs = make_conversation(other, their_scenario, title="Other's conversation")
    add_exchanges(theirs, 2)
    conversation_services.like(user=reader, conversation_id=theirs.id)
    conversation_services.like(user=other, conversation_id=theirs.id)
    conversation_services.memo_upsert(user=reader, conversation_id=theirs.id, memo_text="my note")
    conversation_services.memo_upsert(user=other, conversation_id=root.id, memo_text="their note")
    Follow.objects.create(follower=reader, following=other)
    Follow.objects.create(follower=other, following=reader)
    on_readers_scenario = make_conversation(other, scenario, title="Other on reader's scenario")

    class World:
        pass

    w = World()
    w.__dict__.update(locals())
    return w


# --------------------------------------------------------------------------- delete


def test_delete_with_a_wrong_or_missing_password_is_400_and_removes_nothing(world):
    client = client_for(world.reader)
    body = _field_error(_delete(client, "Wr0ngPassword"), "password")
    assert body["details"]["password"] == [services.PASSWORD_WRONG]
    _field_error(client.delete(ME), "password")
    _field_error(client.delete(ME, {"password": ""}, format="json"), "password")
    _field_error(client.delete(ME, {"password": PASSWORD, "force": True}, format="json"), "force")
    assert User.objects.filter(id=world.reader.id).exists()
    assert Conversation.objects.filter(user=world.reader).count() == 2
    assert client.get(ME).status_code == 200


def test_delete_needs_a_token():
    assert_envelope(APIClient().delete(ME, {"password": PASSWORD}, format="json"), 401, "NOT_AUTHENTICATED")


def test_delete_removes_the_reader_and_what_is_theirs(world):
    reader, other = world.reader, world.other
    session = tokens_for(reader)
    client = client_for(reader)
    response = _delete(client)
    assert response.status_code == 204, response.content
    assert not User.objects.filter(id=reader.id).exists()
    assert not Conversation.objects.filter(id__in=[world.root.id, world.own_fork.id]).exists()
    assert not ConversationLike.objects.filter(user_id=reader.id).exists()
    assert not ConversationMemo.objects.filter(user_id=reader.id).exists()
    assert not Follow.objects.filter(follower_id=reader.id).exists()
    assert not Follow.objects.filter(following_id=reader.id).exists()
    assert not OutstandingToken.objects.filter(user_id=reader.id).exists()
    # Other's memo on the reader's root went with the root; their own rows stay.
    assert not ConversationMemo.objects.filter(user=other, conversation_id=world.root.id).exists()
    assert Conversation.objects.filter(id=world.theirs.id).exists()
    assert Conversation.objects.filter(id=world.on_readers_scenario.id).exists()
    # Deleting twice is harmless: the account is gone.
    assert_envelope(_delete(client), 401)
    assert_envelope(client.get(ME), 401)
    refresh = APIClient().post(
        "/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}, format="json"
    )
    assert_envelope(refresh, 401, "TOKEN_INVALID")
    login = APIClient().post(
        "/api/v1/auth/login", {"email": reader.email, "password": PASSWORD}, format="json"
    )
    assert_envelope(login, 401, "INVALID_CREDENTIALS")
    # The address and the name are free again.
    assert (
        APIClient()
        .post(
            "/api/v1/auth/register",
            {"email": reader.email, "username": reader.username, "password": PASSWORD},
            format="json",
        )
        .status_code
        == 201
    )


def test_another_readers_fork_keeps_its_whole_history(world):
    fork = world.their_fork
    before = list(
        ConversationMessageLink.objects.filter(conversation=fork)
        .order_by("position")
        .values_list("message_id", "message__content")
    )
    assert len(before) == 6
    assert _delete(client_for(world.reader)).status_code == 204
    after = list(
        ConversationMessageLink.objects.filter(conversation=fork)
        .order_by("position")
        .values_list("message_id", "message__content")
    )
    assert after == before
    fork.refresh_from_db()
    assert fork.parent_id is None and fork.depth == 1  # still a fork, of a root that is gone
    response = client_for(world.other).get(f"/api/v1/conversations/{fork.id}/messages")
    assert response.status_code == 200, response.content
    assert [m["content"] for m in response.json()["content"]] == [c for _, c in before]
    # Its memory was copied at the fork and is its own.
    assert MemoryEntry.objects.filter(conversation=fork).exists()


def test_messages_only_the_reader_showed_are_deleted(world):
    shared = set(
        ConversationMessageLink.objects.filter(conversation=world.their_fork).values_list(
            "message_id", flat=True
        )
    )
    readers = set(
        ConversationMessageLink.objects.filter(conversation__in=[world.root, world.own_fork]).values_list(
            "message_id", flat=True
        )
    )
    only_readers = readers - shared
    assert only_readers  # the own fork's own messages (other's fork shares all of the root's)
    _delete(client_for(world.reader))
    assert not Message.objects.filter(id__in=only_readers).exists()
    assert Message.objects.filter(id__in=shared).count() == len(shared)


def test_scenarios_survive_credited_to_deleted_user(world):
    assert _delete(client_for(world.reader)).status_code == 204
    sentinel = User.objects.get(username=services.DELETED_USERNAME)
    assert sentinel.is_active is False
    assert not sentinel.has_usable_password()
    for scenario in (world.scenario, world.gone_scenario):
        scenario.refresh_from_db()
        assert scenario.creator_id == sentinel.id
    assert world.gone_scenario.deleted_at is not None  # still deleted
    # Forks and conversations on it are untouched and readable.
    world.fork_scenario.refresh_from_db()
    assert world.fork_scenario.parent_id == world.scenario.id
    response = APIClient().get(f"/api/v1/scenarios/{world.scenario.id}")
    assert response.status_code == 200
    assert response.json()["creator"]["username"] == "deleted-user"
    assert APIClient().get(f"/api/v1/scenarios/{world.fork_scenario.id}/ancestors").status_code == 200
    # The sentinel has no profile and cannot sign in or be mailed a reset.
    assert_envelope(APIClient().get("/api/v1/users/deleted-user"), 404)
    login = APIClient().post("/api/v1/auth/login", {"email": sentinel.email, "password": ""}, format="json")
    assert login.status_code in (400, 401)


def test_counters_move_with_the_removed_likes_and_conversations(world):
    theirs, scenario = world.theirs, world.scenario
    their_scenario = world.their_scenario
    theirs.refresh_from_db()
    their_scenario.refresh_from_db()
    scenario.refresh_from_db()
    assert theirs.like_count == 2
    likes_before, conversations_before = their_scenario.like_count, scenario.conversation_count
    assert _delete(client_for(world.reader)).status_code == 204
    theirs.refresh_from_db()
    their_scenario.refresh_from_db()
    scenario.refresh_from_db()
    assert theirs.like_count == 1 == ConversationLike.objects.filter(conversation=theirs).count()
    assert their_scenario.like_count == likes_before - 1
    # root and own_fork were on the reader's scenario (other's like on root went with it).
    assert scenario.conversation_count == conversations_before - 2
    assert scenario.conversation_count == Conversation.objects.filter(scenario=scenario).count()
    assert scenario.like_count == 0


def test_a_like_on_a_conversation_made_private_since_is_taken_back_too(world):
    """Liked by its link while unlisted, then made private by its owner: the
    reader can no longer see it, yet their like goes, with its counter; the
    scenario never counted it (only public conversations count there)."""
    hidden = conversation_services.conversation_create(
        user=world.other, scenario_id=world.their_scenario.id, visibility="unlisted"
    )
    conversation_services.like(user=world.reader, conversation_id=hidden.id)
    conversation_services.conversation_update(
        conversation_id=hidden.id, user=world.other, visibility="private"
    )
    world.their_scenario.refresh_from_db()
    likes_before = world.their_scenario.like_count
    assert _delete(client_for(world.reader)).status_code == 204
    hidden.refresh_from_db()
    assert hidden.like_count == 0 == ConversationLike.objects.filter(conversation=hidden).count()
    world.their_scenario.refresh_from_db()
    assert world.their_scenario.like_count == likes_before - 1  # the public like on `theirs` only


def test_the_sentinel_is_shared_by_every_deleted_account(make_user):
    first, second = make_user(), make_user()
    make_scenario(first)
    make_scenario(second)
    assert _delete(client_for(first)).status_code == 204
    assert _delete(client_for(second)).status_code == 204
    sentinel = User.objects.get(username="deleted-user")
    assert Scenario.objects.filter(creator=sentinel).count() == 2
    assert User.objects.filter(username__iexact="deleted-user").count() == 1


def test_no_address_a_reader_can_take_blocks_the_sentinel(make_user, api):
    """The sentinel has no address: registering (or switching to) any valid
    one, even one that looks like it, never stops a deletion."""
    squatter = api.post(
        "/api/v1/auth/register",
        {"email": "deleted-user@gaji.invalid", "username": "squatter", "password": PASSWORD},
        format="json",
    )
    assert squatter.status_code == 201, squatter.content
    leaving = make_user()
    make_scenario(leaving)
    assert _delete(client_for(leaving)).status_code == 204
    sentinel = User.objects.get(username="deleted-user")
    assert sentinel.email == "" and not sentinel.is_active and not sentinel.has_usable_password()
    reset = api.post("/api/v1/auth/password-reset", {"email": ""}, format="json")
    assert reset.status_code == 400  # an empty address is no address: nothing is mailed to the sentinel


def test_deletion_drops_the_live_notification_stream(user, django_capture_on_commit_callbacks):
    from django.conf import settings
    from gaji_contracts.notifications import notification_stream_key

    from common.redis import get_redis

    key = notification_stream_key(settings.REDIS_KEY_PREFIX, user.id)
    get_redis().xadd(key, {"data": "{}"})
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete(client_for(user)).status_code == 204
    assert not get_redis().exists(key)


def test_nobody_can_register_the_sentinels_name(api):
    response = api.post(
        "/api/v1/auth/register",
        {"email": "x@example.com", "username": "deleted-user", "password": PASSWORD},
        format="json",
    )
    _field_error(response, "username")


def test_a_reader_with_nothing_is_deleted_too(user):
    assert _delete(client_for(user)).status_code == 204
    assert not User.objects.filter(id=user.id).exists()
    assert not User.objects.filter(username="deleted-user").exists()  # made only when needed


def test_a_failure_midway_leaves_everything_as_it_was(world, monkeypatch):
    """One transaction: if any step fails, nothing was removed."""

    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "conversation_delete", boom)
    client = client_for(world.reader)
    client.raise_request_exception = False
    response = _delete(client)
    assert response.status_code == 500
    assert User.objects.filter(id=world.reader.id).exists()
    assert ConversationLike.objects.filter(user=world.reader).count() == 1
    assert Follow.objects.filter(follower=world.reader).count() == 1
    world.theirs.refresh_from_db()
    assert world.theirs.like_count == 2


def test_wrong_passwords_on_delete_are_limited(user):
    client = client_for(user)
    for _ in range(5):
        _field_error(_delete(client, "Wr0ngPassword"), "password")
    assert_envelope(_delete(client), 429, "RATE_LIMITED")
    assert User.objects.filter(id=user.id).exists()


def test_the_own_avatar_file_is_removed_after_commit(
    user, settings, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = str(tmp_path)
    name = default_storage.save(f"avatars/{user.id}-abc.jpg", ContentFile(b"jpeg"))
    User.objects.filter(id=user.id).update(avatar_url=f"http://testserver/media/{name}")
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete(client_for(user)).status_code == 204
    assert not default_storage.exists(name)


# --------------------------------------------------------------------------- export


def _export(user):
    response = client_for(user).get(EXPORT)
    assert response.status_code == 200, response.content
    return response


def test_export_is_an_attachment_with_everything_the_reader_owns(world):
    reader, other = world.reader, world.other
    response = _export(reader)
    assert response["Content-Disposition"] == f'attachment; filename="gaji-export-{reader.username}.json"'
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {
        "exported_at",
        "user",
        "settings",
        "scenarios",
        "conversations",
        "memos",
        "likes",
        "following",
        "followers",
        "notifications",
        "novels",
        "character_cards",
        "lorebooks",
    }
    assert body["user"]["id"] == str(reader.id)
    assert body["user"]["email"] == reader.email
    assert set(body["settings"]) >= {"default_visibility", "response_style"}
    scenarios = {s["id"]: s for s in body["scenarios"]}
    assert set(scenarios) == {str(world.scenario.id), str(world.gone_scenario.id)}
    assert scenarios[str(world.gone_scenario.id)]["deleted_at"] is not None
    assert scenarios[str(world.scenario.id)]["deleted_at"] is None
    conversations = {c["id"]: c for c in body["conversations"]}
    assert set(conversations) == {str(world.root.id), str(world.own_fork.id)}
    root = conversations[str(world.root.id)]
    assert [m["content"] for m in root["messages"]] == [f"message {i}" for i in range(4)]
    assert [m["position"] for m in root["messages"]] == [0, 1, 2, 3]
    assert root["visibility"] in ("public", "unlisted", "private")
    assert [e["text"] for e in root["memory"]] == ["The brooch is lost."]
    own_fork = conversations[str(world.own_fork.id)]
    # A fork's history starts with the root's messages it shares.
    assert len(own_fork["messages"]) == 6
    assert own_fork["messages"][0]["content"] == "message 0"
    assert own_fork["parent_conversation_id"] == str(world.root.id)
    assert body["memos"] == [
        {
            "conversation_id": str(world.theirs.id),
            "memo_text": "my note",
            "created_at": body["memos"][0]["created_at"],
            "updated_at": body["memos"][0]["updated_at"],
        }
    ]
    assert [like["conversation_id"] for like in body["likes"]] == [str(world.theirs.id)]
    assert [f["user_id"] for f in body["following"]] == [str(other.id)]
    assert [f["username"] for f in body["followers"]] == [other.username]
    assert isinstance(body["notifications"], list)


def test_export_holds_nothing_of_other_readers(world):
    body = json.loads(_export(world.reader).content)
    text = json.dumps(body)
    assert "their note" not in text  # other's memo on the reader's own conversation
    assert world.other.email not in text
    assert str(world.theirs.id) in text  # liked and memo'd: the id only
    assert "Other's conversation" not in text
    assert "Other on reader's scenario" not in text


CARD = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Vane", "extensions": {"x/y": 1}}}
LOREBOOK = {"spec": "lorebook_v3", "data": {"name": "Sea", "extensions": {}, "entries": []}}


def _bring(user, title: str) -> None:
    """A card, a lorebook and an imported story of the reader's own."""
    card_import(user=user, raw=json.dumps(CARD).encode(), filename="card.json")
    lorebook_import(user=user, raw=json.dumps(LOREBOOK).encode(), filename="sea.json")
    Novel.objects.create(slug=f"s-{user.id.hex[:8]}-{title}", title=title, owner=user, visibility="private")


def test_export_holds_what_the_reader_brought_exactly_as_it_came(user, make_user):
    _bring(user, "mine")
    _bring(make_user(), "theirs")
    body = json.loads(_export(user).content)
    assert [c["card"] for c in body["character_cards"]] == [CARD]
    assert [b["lorebook"] for b in body["lorebooks"]] == [LOREBOOK]
    assert [(n["title"], n["visibility"]) for n in body["novels"]] == [("mine", "private")]


def test_export_needs_a_token():
    assert_envelope(APIClient().get(EXPORT), 401, "NOT_AUTHENTICATED")


def test_export_of_a_new_reader_is_empty_lists(user):
    body = json.loads(_export(user).content)
    for key in (
        "scenarios",
        "conversations",
        "memos",
        "likes",
        "following",
        "followers",
        "notifications",
        "novels",
        "character_cards",
        "lorebooks",
    ):
        assert body[key] == [], key


def _queries_for_export(user) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(EXPORT).status_code == 200
    return len(queries)


def test_export_takes_a_fixed_number_of_queries(make_user):
    """One query per kind of thing, never one per row: ten times the rows,
    the same number of queries."""
    small, large = make_user(), make_user()
    others = [make_user() for _ in range(3)]

    def fill(user, n):
        for i in range(n):
            scenario = make_scenario(user)
            conversation = make_conversation(user, scenario, title=f"c{i}")
            add_exchanges(conversation, 3)
            MemoryEntry.objects.create(conversation=conversation, kind="fact", text=f"f{i}", source="model")
            conversation_services.conversation_fork(conversation_id=conversation.id, user=user)
            liked = make_conversation(others[i % 3])
            conversation_services.like(user=user, conversation_id=liked.id)
            conversation_services.memo_upsert(user=user, conversation_id=liked.id, memo_text="m")
        for other in others[: min(n, 3)]:
            Follow.objects.create(follower=user, following=other)
            Follow.objects.create(follower=other, following=user)
        for i in range(n):
            _bring(user, f"n{i}")

    fill(small, 1)
    fill(large, 10)
    assert _queries_for_export(large) == _queries_for_export(small)
    assert _queries_for_export(small) <= 17
