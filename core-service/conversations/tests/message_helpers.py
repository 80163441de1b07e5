"""Builders for the message edit, alternatives and search tests (not a test module)."""

from __future__ import annotations

from conversations.tests.helpers import CONVERSATIONS, internal_client, send


def url(conversation, suffix: str = "") -> str:
    return f"{CONVERSATIONS}/{conversation.id}{suffix}"


def message_url(conversation, message_id, suffix: str = "") -> str:
    return f"{CONVERSATIONS}/{conversation.id}/messages/{message_id}{suffix}"


def persist(conversation_id, message_id, content: str, *, attempt: int | None = None, **extra):
    """ai -> core: the answer completed with `content`."""
    body = {
        "message_id": str(message_id),
        "role": "assistant",
        "content": content,
        "status": "completed",
        "model": "smollm2-135m",
        "total_tokens": 12,
        "degraded": False,
        **extra,
    }
    if attempt is not None:
        body["attempt"] = attempt
    response = internal_client().post(
        f"/api/internal/conversations/{conversation_id}/messages", body, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def turn(client, conversation, content: str, answer: str) -> dict:
    """A sent message and its answer, completed: the ChatTurn body."""
    sent = send(client, conversation, content)
    assert sent.status_code == 202, sent.content
    body = sent.json()
    persist(conversation.id, body["assistant_message_id"], answer)
    return body


def shown(client, conversation) -> list[dict]:
    """The conversation's messages as GET /messages shows them."""
    response = client.get(url(conversation, "/messages"), {"size": 100})
    assert response.status_code == 200, response.content
    return response.json()["content"]


def detail_messages(client, conversation) -> list[dict]:
    response = client.get(url(conversation))
    assert response.status_code == 200, response.content
    return response.json()["messages"]
