"""Builders shared by the conversation tests (not a test module)."""

from __future__ import annotations

from django.conf import settings
from gaji_contracts.conversations import MessageRole, MessageStatus
from rest_framework.test import APIClient

from conversations import services
from conversations.models import Conversation, Message
from scenarios.tests.helpers import client_for, make_scenario  # noqa: F401 (re-exported)

CONVERSATIONS = "/api/v1/conversations"


def make_conversation(user, scenario=None, title: str = "A conversation") -> Conversation:
    scenario = scenario or make_scenario(user)
    return services.conversation_create(user=user, scenario_id=scenario.id, title=title)


def add_exchanges(conversation: Conversation, count: int) -> list[Message]:
    """`count` messages (user, assistant, user, ...) appended as if chatted."""
    from django.db import transaction

    with transaction.atomic():
        locked = services._locked(conversation.id)
        messages = [
            Message.objects.create(
                role=MessageRole.USER.value if i % 2 == 0 else MessageRole.ASSISTANT.value,
                content=f"message {i}",
                status=MessageStatus.COMPLETED.value,
            )
            for i in range(count)
        ]
        services._append(locked, messages)
    conversation.refresh_from_db()
    return messages


def fetch(conversation_id) -> Conversation:
    return Conversation.objects.get(id=conversation_id)


def send(client, conversation, content="What would Elizabeth say?", **extra):
    return client.post(
        f"{CONVERSATIONS}/{conversation.id}/messages", {"content": content, **extra}, format="json"
    )


def internal_client() -> APIClient:
    """The ai service's client: the service token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
    return client


def messages_of(conversation) -> list[Message]:
    return [link.message for link in conversation.links.select_related("message").order_by("position")]
