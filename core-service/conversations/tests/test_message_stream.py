"""POST /conversations/{id}/messages/{answer_id}/stream: a fresh stream
ticket for one of the owner's answers (the web app after a reload or an
expired ticket)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.conf import settings
from gaji_contracts.auth import JWT_ISSUER
from gaji_contracts.conversations import STREAM_TICKET_AUDIENCE

from conftest import assert_envelope
from conversations.tests.helpers import CONVERSATIONS, add_exchanges, client_for, make_conversation, send

pytestmark = pytest.mark.django_db


def stream(client, conversation_id, message_id):
    return client.post(f"{CONVERSATIONS}/{conversation_id}/messages/{message_id}/stream")


def test_a_fresh_ticket_for_the_owners_answer(user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    response = stream(client_for(user), conversation.id, turn["assistant_message_id"])
    assert response.status_code == 200
    body = response.json()
    assert body["message_id"] == turn["assistant_message_id"] and body["status"] == "pending"
    url = urlsplit(body["stream_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        f"https://ai.gaji.test/api/ai/conversations/{conversation.id}/stream"
    )
    claims = jwt.decode(
        parse_qs(url.query)["ticket"][0],
        settings.JWT_SIGNING_KEY.public_pem,
        algorithms=["RS256"],
        audience=STREAM_TICKET_AUDIENCE,
        issuer=JWT_ISSUER,
    )
    assert claims["message_id"] == turn["assistant_message_id"] and claims["sub"] == str(user.id)
    assert body["stream_expires_at"].endswith("Z")


def test_only_the_owner_of_an_answer_linked_here(user, make_user, stub_ai):
    conversation = make_conversation(user)
    answer = send(client_for(user), conversation).json()["assistant_message_id"]
    assert_envelope(stream(client_for(make_user()), conversation.id, answer), 403)
    other = make_conversation(user)
    assert_envelope(stream(client_for(user), other.id, answer), 404)
    assert_envelope(stream(client_for(user), conversation.id, uuid.uuid4()), 404)
    assert_envelope(stream(client_for(user).__class__(), conversation.id, answer), 401)


def test_a_user_message_has_no_stream(user):
    conversation = make_conversation(user)
    first, _ = add_exchanges(conversation, 2)
    data = assert_envelope(stream(client_for(user), conversation.id, first.id), 409, "CONFLICT")
    assert "message_id" in data["details"]
