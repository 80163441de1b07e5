"""Each act that notifies creates exactly one notification, for the right
reader, once its transaction commits; nobody hears of their own acts; undo
and redo is one notification; a failing notification never fails the act."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from gaji_contracts.conversations import MessageRole, MessageStatus
from gaji_contracts.notifications import NotificationEvent, notification_stream_key

from common.redis import get_redis
from conversations import services as conversation_services
from conversations.models import Message
from conversations.tests.helpers import add_exchanges, internal_client, make_conversation
from notifications import services
from notifications.models import Notification
from scenarios.tests.helpers import CHARACTER, client_for, make_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the on-commit hooks the requests inside register (pytest-django's
    test transaction never commits by itself)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def owner(make_user):
    return make_user(username="owner")


@pytest.fixture
def reader(make_user):
    return make_user(username="reader")


def only(recipient) -> Notification:
    notifications = list(Notification.objects.filter(recipient=recipient))
    assert len(notifications) == 1, [n.kind for n in notifications]
    return notifications[0]


def stream_entries(user) -> list[dict]:
    key = notification_stream_key(settings.REDIS_KEY_PREFIX, user.id)
    return [
        {"id": entry_id, **fields, "data": json.loads(fields["data"])}
        for entry_id, fields in get_redis().xrange(key)
    ]


# -- each hook -------------------------------------------------------------------------


def test_a_fork_of_your_scenario(owner, reader, committed):
    scenario = make_scenario(owner)
    with committed():
        response = client_for(reader).post(
            f"/api/v1/scenarios/{scenario.id}/fork", {"parameters": CHARACTER}, format="json"
        )
    assert response.status_code == 201, response.content
    told = only(owner)
    assert (told.kind, told.actor_id, told.read) == ("scenario_forked", reader.id, False)
    assert str(told.scenario_id) == response.json()["id"]  # the fork
    assert "reader forked your scenario" in told.text
    assert not Notification.objects.filter(recipient=reader).exists()


def test_a_like_of_your_conversation_once_however_often_it_flaps(owner, reader, committed):
    conversation = make_conversation(owner, title="Tea at Netherfield")
    client = client_for(reader)
    url = f"/api/v1/conversations/{conversation.id}"
    with committed():
        assert client.post(f"{url}/like").status_code == 200
        assert client.post(f"{url}/like").status_code == 200  # a repeat
        assert client.delete(f"{url}/unlike").status_code == 200
        assert client.post(f"{url}/like").status_code == 200  # like, unlike, like
    told = only(owner)
    assert (told.kind, told.actor_id) == ("conversation_liked", reader.id)
    assert told.conversation_id == conversation.id
    assert told.text == "reader liked your conversation “Tea at Netherfield”."
    assert len(stream_entries(owner)) == 1


def test_a_fork_of_your_conversation(owner, reader, committed):
    conversation = make_conversation(owner, title="Tea at Netherfield")
    add_exchanges(conversation, 2)
    with committed():
        response = client_for(reader).post(
            f"/api/v1/conversations/{conversation.id}/fork", {"visibility": "public"}, format="json"
        )
    assert response.status_code == 201, response.content
    told = only(owner)
    assert (told.kind, told.actor_id) == ("conversation_forked", reader.id)
    assert str(told.conversation_id) == response.json()["id"]  # the fork
    assert "forked your conversation “Tea at Netherfield”" in told.text


def test_forking_one_parent_again_and_again_tells_its_owner_once_a_window(
    owner, reader, make_user, committed
):
    """Each fork is new, but the act is the same: forking one parent again
    within DEDUPE_WINDOW (a reader could flood its owner) is one notification,
    as likes are; another parent, another reader, or the window past tells again."""
    scenario, another = make_scenario(owner), make_scenario(owner)
    conversation = make_conversation(owner, scenario)
    add_exchanges(conversation, 2)

    def fork(who, parent) -> None:
        if parent in (scenario, another):
            url, body = f"/api/v1/scenarios/{parent.id}/fork", {"parameters": CHARACTER}
        else:
            url, body = f"/api/v1/conversations/{parent.id}/fork", {"visibility": "public"}
        assert client_for(who).post(url, body, format="json").status_code == 201

    def told() -> dict[str, int]:
        kinds = Notification.objects.filter(recipient=owner).values_list("kind", flat=True)
        return {kind: list(kinds).count(kind) for kind in ("scenario_forked", "conversation_forked")}

    with committed():
        for _ in range(3):
            fork(reader, scenario)
            fork(reader, conversation)
    assert told() == {"scenario_forked": 1, "conversation_forked": 1}
    assert len(stream_entries(owner)) == 2
    with committed():
        fork(reader, another)
        fork(make_user(username="third"), scenario)
    assert told() == {"scenario_forked": 3, "conversation_forked": 1}
    Notification.objects.update(created_at=timezone.now() - services.DEDUPE_WINDOW - timedelta(minutes=1))
    with committed():
        fork(reader, scenario)
        fork(reader, conversation)
    assert told() == {"scenario_forked": 4, "conversation_forked": 2}


@pytest.mark.parametrize("visibility", ["private", "unlisted"])
def test_a_fork_not_published_is_not_announced(owner, reader, committed, visibility):
    """A notification would hand the fork's existence (and link) to the
    parent's owner: only public forks are announced."""
    conversation = make_conversation(owner)
    with committed():
        response = client_for(reader).post(
            f"/api/v1/conversations/{conversation.id}/fork", {"visibility": visibility}, format="json"
        )
    assert response.status_code == 201, response.content
    assert not Notification.objects.exists()


def test_a_new_follower_once(owner, reader, committed):
    client = client_for(reader)
    with committed():
        assert client.post(f"/api/v1/users/{owner.id}/follow").status_code == 200
        assert client.post(f"/api/v1/users/{owner.id}/follow").status_code == 200  # a repeat
        assert client.delete(f"/api/v1/users/{owner.id}/unfollow").status_code == 200
        assert client.post(f"/api/v1/users/{owner.id}/follow").status_code == 200
    told = only(owner)
    assert (told.kind, told.actor_id, told.text) == ("followed", reader.id, "reader started following you.")


def test_nobody_is_told_of_their_own_acts(owner, committed):
    scenario = make_scenario(owner)
    conversation = make_conversation(owner, scenario)
    client = client_for(owner)
    with committed():
        fork = client.post(f"/api/v1/scenarios/{scenario.id}/fork", {"parameters": CHARACTER}, format="json")
        assert fork.status_code == 201
        assert client.post(f"/api/v1/conversations/{conversation.id}/like").status_code == 200
        url = f"/api/v1/conversations/{conversation.id}/fork"
        assert client.post(url, {"visibility": "public"}, format="json").status_code == 201
        assert client.post(f"/api/v1/users/{owner.id}/follow").status_code == 409
    assert not Notification.objects.exists()
    # And the service refuses one made up by hand too.
    pending = services.Pending(recipient_id=owner.id, kind="followed", actor_id=owner.id, text="x")
    assert services.deliver(pending) is None
    assert not Notification.objects.exists()


# -- answer_ready: ai says whether anyone was reading ----------------------------------------


def pending_answer(conversation) -> Message:
    with transaction.atomic():
        locked = conversation_services._locked(conversation.id)
        asked = Message.objects.create(role=MessageRole.USER.value, content="And then?")
        answer = Message.objects.create(role=MessageRole.ASSISTANT.value, status=MessageStatus.PENDING.value)
        conversation_services._append(locked, [asked, answer])
    return answer


def persist(conversation, answer, **overrides):
    body = {
        "message_id": str(answer.id),
        "content": "Elizabeth would laugh.",
        "status": "completed",
        "total_tokens": 4,
        **overrides,
    }
    return internal_client().post(
        f"/api/internal/conversations/{conversation.id}/messages", body, format="json"
    )


def test_an_answer_that_finished_with_nobody_reading(owner, committed):
    conversation = make_conversation(owner, title="Tea at Netherfield")
    answer = pending_answer(conversation)
    with committed():
        assert persist(conversation, answer, reader_attached=False).json()["applied"] is True
        assert persist(conversation, answer, reader_attached=False).json()["applied"] is False  # a retry
    told = only(owner)
    assert (told.kind, told.actor_id) == ("answer_ready", None)
    assert (told.conversation_id, told.message_id) == (conversation.id, answer.id)
    assert told.text == "Your answer in “Tea at Netherfield” is ready."


@pytest.mark.parametrize(
    "overrides",
    [
        {"reader_attached": True},  # someone was reading the stream
        {},  # not the turn's last answer, or not known
        {"reader_attached": False, "status": "failed", "error_code": "PROVIDER_ERROR"},
        {"reader_attached": False, "status": "cancelled"},
        {"reader_attached": False, "status": "streaming"},
    ],
    ids=["reading", "unknown", "failed", "cancelled", "streaming"],
)
def test_no_answer_ready_otherwise(owner, committed, overrides):
    conversation = make_conversation(owner)
    answer = pending_answer(conversation)
    with committed():
        assert persist(conversation, answer, **overrides).status_code == 200
    assert not Notification.objects.exists()


def test_persist_refuses_a_reader_attached_that_is_not_a_boolean(owner, committed):
    conversation = make_conversation(owner)
    answer = pending_answer(conversation)
    response = persist(conversation, answer, reader_attached="maybe")
    assert response.status_code == 400
    assert "reader_attached" in response.json()["details"]


# -- after the commit, and only then ----------------------------------------------------------


def test_nothing_is_stored_or_pushed_before_the_act_commits(
    owner, reader, django_capture_on_commit_callbacks
):
    conversation = make_conversation(owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client_for(reader).post(f"/api/v1/conversations/{conversation.id}/like").status_code == 200
        assert not Notification.objects.exists()
    assert stream_entries(owner) == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert only(owner).kind == "conversation_liked"


def test_a_rolled_back_act_notifies_nobody(owner, reader, committed):
    conversation = make_conversation(owner)
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        conversation_services.like(user=reader, conversation_id=conversation.id)
        raise RuntimeError("the request failed after the like")
    assert not Notification.objects.exists()
    assert stream_entries(owner) == []


def test_the_live_stream_gets_the_notification_as_listed(owner, reader, committed):
    conversation = make_conversation(owner)
    with committed():
        client_for(reader).post(f"/api/v1/conversations/{conversation.id}/like")
        client_for(reader).post(f"/api/v1/users/{owner.id}/follow")
    entries = stream_entries(owner)
    assert [e["event"] for e in entries] == ["notification", "notification"]
    events = [NotificationEvent.model_validate(e["data"]) for e in entries]
    assert [e.unread_count for e in events] == [1, 2]
    listed = client_for(owner).get("/api/v1/notifications").json()["content"]
    assert [e["data"]["notification"] for e in reversed(entries)] == listed
    key = notification_stream_key(settings.REDIS_KEY_PREFIX, owner.id)
    assert 0 < get_redis().ttl(key) <= 7 * 24 * 3600


def test_redis_away_loses_only_the_push(owner, reader, committed, redis_down):
    conversation = make_conversation(owner)
    with committed():
        response = client_for(reader).post(f"/api/v1/conversations/{conversation.id}/like")
    assert response.status_code == 200
    assert only(owner).kind == "conversation_liked"


def test_a_failing_notification_never_fails_the_act(owner, reader, committed, monkeypatch, caplog):
    def broken(pending):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "deliver", broken)
    conversation = make_conversation(owner)
    with committed():
        response = client_for(reader).post(f"/api/v1/conversations/{conversation.id}/like")
    assert response.status_code == 200 and response.json()["total_likes"] == 1
    assert "notification not delivered" in caplog.text


# -- bounded -------------------------------------------------------------------------------


def test_each_reader_keeps_only_the_newest(owner, make_user, monkeypatch):
    monkeypatch.setattr(services, "KEPT_PER_RECIPIENT", 3)
    actors = [make_user() for _ in range(5)]
    for actor in actors:
        services.deliver(
            services.Pending(recipient_id=owner.id, kind="followed", actor_id=actor.id, text="hi")
        )
    kept = Notification.objects.filter(recipient=owner).order_by("-created_at")
    assert [n.actor_id for n in kept] == [a.id for a in reversed(actors[2:])]


def test_an_inactive_reader_gets_none(owner, reader):
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    pending = services.Pending(recipient_id=owner.id, kind="followed", actor_id=reader.id, text="x")
    assert services.deliver(pending) is None


def test_targets_may_disappear(owner, reader, committed):
    """Ids, not foreign keys: deleting what a notification is about never fails."""
    conversation = make_conversation(owner)
    with committed():
        client_for(reader).post(f"/api/v1/conversations/{conversation.id}/like")
    conversation_services.conversation_delete(conversation_id=conversation.id, user=owner)
    told = only(owner)
    assert told.conversation_id == conversation.id
    reader.delete()  # the actor's account goes: the notification stays, anonymous
    told.refresh_from_db()
    assert told.actor_id is None


def test_an_unknown_conversation_tells_nobody(owner, committed):
    with committed():
        services.answer_ready(conversation_id=uuid.uuid4(), message_id=uuid.uuid4())
    assert not Notification.objects.exists()


def test_forget_drops_a_deleted_readers_live_stream(owner, reader, committed):
    with committed():
        client_for(reader).post(f"/api/v1/users/{owner.id}/follow")
    assert len(stream_entries(owner)) == 1
    services.forget(user_id=owner.id)
    assert stream_entries(owner) == []
