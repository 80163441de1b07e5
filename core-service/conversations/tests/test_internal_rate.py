"""Hole 1 of issue 26: ai's direct chat stores turns through
POST /api/internal/conversations/{id}/turns, which the rate-limit middleware
does not count (internal routes are the service's). The route charges the
user's own `messages` budget, the one the public send spends, so the direct
route cannot send more than 10 messages a minute either."""

from __future__ import annotations

import pytest

from conftest import assert_envelope
from conversations.models import Conversation, Message
from conversations.tests.helpers import client_for, internal_client, make_conversation, send

pytestmark = pytest.mark.django_db

LIMIT = 10  # gaji_contracts.ratelimit: messages, 10 a minute per user


def internal_turn(conversation, user, content="Hello"):
    return internal_client().post(
        f"/api/internal/conversations/{conversation.id}/turns",
        {"user_id": str(user.id), "content": content},
        format="json",
    )


def test_the_eleventh_internal_turn_in_a_minute_is_429(user):
    conversation = make_conversation(user)
    for n in range(LIMIT):
        response = internal_turn(conversation, user, f"message {n}")
        assert response.status_code == 201, (n, response.content)
    refused = internal_turn(conversation, user, "one too many")
    envelope = assert_envelope(refused, 429, "RATE_LIMITED")
    assert "Rate limit exceeded" in envelope["message"]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Limit"] == str(LIMIT) and refused["X-RateLimit-Remaining"] == "0"
    assert Conversation.objects.get(id=conversation.id).message_count == 2 * LIMIT  # nothing stored
    assert not Message.objects.filter(content="one too many").exists()


def test_public_and_internal_sends_share_one_budget(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    for _ in range(6):
        assert send(client, conversation).status_code == 202
    for _ in range(4):
        assert internal_turn(conversation, user).status_code == 201
    # The 11th, whichever way it comes.
    assert_envelope(internal_turn(conversation, user), 429, "RATE_LIMITED")
    assert_envelope(send(client, conversation), 429, "RATE_LIMITED")


def test_internal_turns_spend_the_public_routes_budget(user, stub_ai):
    conversation = make_conversation(user)
    for _ in range(6):
        assert internal_turn(conversation, user).status_code == 201
    client = client_for(user)
    for _ in range(4):
        assert send(client, conversation).status_code == 202
    response = send(client, conversation)
    assert_envelope(response, 429, "RATE_LIMITED")
    assert "Retry-After" in response


def test_each_user_has_a_budget_of_their_own(make_user):
    alice, bob = make_user(), make_user()
    mine, theirs = make_conversation(alice), make_conversation(bob)
    for _ in range(LIMIT):
        assert internal_turn(mine, alice).status_code == 201
    assert internal_turn(mine, alice).status_code == 429
    assert internal_turn(theirs, bob).status_code == 201


def test_no_limit_when_rate_limits_are_off(user, settings):
    settings.RATE_LIMIT_ENABLED = False
    conversation = make_conversation(user)
    for _ in range(LIMIT + 2):
        assert internal_turn(conversation, user).status_code == 201


def test_redis_down_fails_open_like_the_middleware(user, redis_down):
    conversation = make_conversation(user)
    for _ in range(LIMIT + 1):
        assert internal_turn(conversation, user).status_code == 201
