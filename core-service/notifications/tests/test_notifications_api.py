"""GET /notifications, POST /notifications/read and POST /notifications/stream:
a reader sees and marks only their own; bad input is a 400 envelope; the
stream's ticket opens the notification stream only."""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.test import Client
from gaji_contracts.auth import JWT_ISSUER
from gaji_contracts.conversations import StreamTicketClaims
from gaji_contracts.notifications import (
    NOTIFICATION_TICKET_AUDIENCE,
    NotificationTicketClaims,
    notification_stream_key,
)
from pydantic import ValidationError
from rest_framework.test import APIClient

from conftest import assert_envelope
from notifications import services
from notifications.models import Notification
from scenarios.tests.helpers import client_for

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications"
READ = "/api/v1/notifications/read"
STREAM = "/api/v1/notifications/stream"


@pytest.fixture
def reader(make_user):
    return make_user(username="reader")


def tell(recipient, actor=None, text="hello") -> Notification:
    """`actor` follows `recipient`; without an actor, an answer is ready."""
    kind = "followed" if actor else "answer_ready"
    actor_id = actor.id if actor else None
    return services.deliver(
        services.Pending(recipient_id=recipient.id, kind=kind, actor_id=actor_id, text=text)
    )


@pytest.fixture
def inbox(reader, make_user) -> list[Notification]:
    """Five notifications of the reader, oldest first; the two oldest read."""
    made = [tell(reader, make_user(), text=f"n{i}") for i in range(5)]
    Notification.objects.filter(id__in=[made[0].id, made[1].id]).update(read=True)
    return made


def test_the_list_is_newest_first_with_the_unread_count(reader, inbox, make_user):
    tell(make_user(), make_user(), text="someone else's")
    body = client_for(reader).get(LIST).json()
    assert [n["text"] for n in body["content"]] == ["n4", "n3", "n2", "n1", "n0"]
    assert body["page"] == {"number": 0, "size": 20, "total_elements": 5, "total_pages": 1}
    assert body["unread_count"] == 3
    first = body["content"][0]
    assert set(first) == {
        "id",
        "kind",
        "actor",
        "scenario_id",
        "conversation_id",
        "message_id",
        "text",
        "read",
        "created_at",
    }
    assert first["kind"] == "followed" and first["read"] is False
    assert first["actor"] == {"id": str(inbox[4].actor_id), "username": inbox[4].actor.username}


def test_the_unread_filter_and_pages(reader, inbox):
    client = client_for(reader)
    unread = client.get(LIST, {"unread": "true"}).json()
    assert [n["text"] for n in unread["content"]] == ["n4", "n3", "n2"]
    assert unread["unread_count"] == 3
    read = client.get(LIST, {"unread": "false"}).json()
    assert [n["text"] for n in read["content"]] == ["n1", "n0"]
    assert read["unread_count"] == 3  # whatever the filter
    second = client.get(LIST, {"page": 1, "size": 2}).json()
    assert [n["text"] for n in second["content"]] == ["n2", "n1"]
    assert second["page"]["total_pages"] == 3


def test_answer_ready_has_no_actor(reader):
    tell(reader, text="Your answer is ready.")
    item = client_for(reader).get(LIST).json()["content"][0]
    assert (item["kind"], item["actor"]) == ("answer_ready", None)


@pytest.mark.parametrize(
    "query", [{"unread": "maybe"}, {"unread": "null"}, {"page": "-1"}, {"size": "0"}, {"size": "101"}]
)
def test_a_bad_query_is_400(reader, query):
    response = client_for(reader).get(LIST, query)
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert set(body["details"]) == set(query)


def test_mark_some_read_ignoring_others_ids(reader, inbox, make_user):
    foreign = tell(make_user(), make_user())
    client = client_for(reader)
    ids = [str(inbox[4].id), str(inbox[0].id), str(foreign.id), str(uuid.uuid4())]
    response = client.post(READ, {"ids": ids}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"updated": 1, "unread_count": 2}  # n0 was read already
    assert Notification.objects.get(id=inbox[4].id).read is True
    assert Notification.objects.get(id=foreign.id).read is False
    again = client.post(READ, {"ids": ids}, format="json")
    assert again.json() == {"updated": 0, "unread_count": 2}


def test_mark_all_read(reader, inbox, make_user):
    foreign = tell(make_user(), make_user())
    response = client_for(reader).post(READ, {"all": True}, format="json")
    assert response.json() == {"updated": 3, "unread_count": 0}
    assert not Notification.objects.filter(recipient=reader, read=False).exists()
    assert Notification.objects.get(id=foreign.id).read is False


def test_an_empty_list_of_ids_marks_nothing(reader, inbox):
    response = client_for(reader).post(READ, {"ids": []}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["updated"] == 0
    assert Notification.objects.filter(recipient=reader, read=False).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ids"),
        ({"ids": ["not-a-uuid"]}, "ids"),
        ({"ids": "all"}, "ids"),
        ({"ids": [str(uuid.uuid4())] * 501}, "ids"),
        ({"all": False}, "ids"),
        ({"all": "yes please"}, "all"),
        ({"all": True, "ids": [str(uuid.uuid4())]}, "all"),
        ({"all": True, "read": True}, "read"),
        ([], "non_field_errors"),
    ],
)
def test_bad_read_bodies_are_400_and_change_nothing(reader, inbox, body, field):
    response = client_for(reader).post(READ, body, format="json")
    details = assert_envelope(response, 400, "VALIDATION_ERROR")["details"]
    assert any(name == field or name.startswith(f"{field}.") for name in details), details  # ids.0
    assert Notification.objects.filter(recipient=reader, read=False).count() == 3


def test_not_json_is_415(reader):
    response = client_for(reader).post(READ, "all", content_type="text/plain")
    assert_envelope(response, 415)


@pytest.mark.parametrize(("method", "path"), [("get", LIST), ("post", READ), ("post", STREAM)])
def test_anonymous_is_401(method, path):
    assert_envelope(getattr(APIClient(), method)(path, {}, format="json"), 401)


def test_the_stream_url_carries_a_notification_ticket_for_the_readers_stream(reader, settings):
    settings.AI_PUBLIC_URL = "https://ai.gaji.test/"
    response = client_for(reader).post(STREAM)
    assert response.status_code == 200, response.content
    body = response.json()
    url = urlsplit(body["stream_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://ai.gaji.test/api/ai/notifications/stream"
    ticket = parse_qs(url.query)["ticket"][0]
    assert jwt.get_unverified_header(ticket)["kid"] == settings.JWT_SIGNING_KEY.kid
    payload = jwt.decode(
        ticket,
        settings.JWT_SIGNING_KEY.public_pem,
        algorithms=["RS256"],
        audience=NOTIFICATION_TICKET_AUDIENCE,
        issuer=JWT_ISSUER,
    )
    claims = NotificationTicketClaims.model_validate(payload)
    assert claims.sub == str(reader.id)
    assert claims.stream == notification_stream_key(settings.REDIS_KEY_PREFIX, reader.id)
    assert 0 < claims.exp - claims.iat <= 300
    expires_at = datetime.fromisoformat(body["stream_expires_at"].replace("Z", "+00:00"))
    assert expires_at.timestamp() == claims.exp
    # Not an answer's ticket, and not an access token on core.
    with pytest.raises(ValidationError):
        StreamTicketClaims.model_validate(payload)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {ticket}")
    assert_envelope(stranger.get(LIST), 401)


def test_staff_read_notifications_in_the_admin_but_change_nothing(reader, make_user):
    told = tell(reader, make_user())
    staff = make_user(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    base = "/admin/notifications/notification/"
    assert client.get(base).status_code == 200
    assert client.get(f"{base}{told.id}/change/").status_code == 200
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{told.id}/delete/", {"post": "yes"}).status_code == 403
    assert Notification.objects.filter(id=told.id).exists()
