"""An answer's citations (issue 16): the passages of the novel its prompt
held, saved with the answer through the internal API (validated: a malformed
list is a 400 and nothing is stored), shown with the message in the history
and the detail, and read alone at
GET /conversations/{id}/messages/{message_id}/citations, by whoever can read
the conversation."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import services
from conversations.models import Message
from conversations.tests.helpers import (
    CONVERSATIONS,
    add_exchanges,
    client_for,
    internal_client,
    make_conversation,
    send,
)

pytestmark = pytest.mark.django_db

CITATIONS = [
    {
        "passage_id": "6f1c2b8e-8f52-5d8e-9a57-1d1b0e4c9a01",
        "chapter": 6,
        "chapter_title": "Chapter 6",
        "chunk_index": 101,
        "quote": "Happiness in marriage is entirely a matter of chance.",
    },
    {
        "passage_id": "0b7a9d0e-3c1e-5a8f-8d2b-5e7c1f2a3b04",
        "chapter": 22,
        "chapter_title": "Chapter 22",
        "chunk_index": 388,
        "quote": "I am not romantic, you know; I never was. I ask only a comfortable home…",
    },
]


def persist(conversation_id, **body):
    return internal_client().post(
        f"/api/internal/conversations/{conversation_id}/messages", body, format="json"
    )


def completion(message_id, **overrides):
    return {
        "message_id": str(message_id),
        "role": "assistant",
        "content": "I ask only a comfortable home.",
        "status": "completed",
        "model": "smollm2-135m",
        "total_tokens": 12,
        "degraded": False,
        "grounded": True,
        "citations": CITATIONS,
        **overrides,
    }


def citations_url(conversation_id, message_id) -> str:
    return f"{CONVERSATIONS}/{conversation_id}/messages/{message_id}/citations"


@pytest.fixture
def answered(user, stub_ai):
    """A conversation whose answer was saved with CITATIONS: (conversation, turn)."""
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    response = persist(conversation.id, **completion(turn["assistant_message_id"]))
    assert response.status_code == 200 and response.json()["applied"] is True, response.content
    return conversation, turn


def test_the_internal_save_stores_the_citations_in_order(answered):
    _, turn = answered
    assert Message.objects.get(id=turn["assistant_message_id"]).citations == CITATIONS
    assert Message.objects.get(id=turn["message_id"]).citations == []


def test_the_endpoint_returns_an_answers_citations(user, answered):
    conversation, turn = answered
    response = client_for(user).get(citations_url(conversation.id, turn["assistant_message_id"]))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "message_id": turn["assistant_message_id"],
        "status": "completed",
        "citations": CITATIONS,
    }


def test_the_history_and_the_detail_show_the_citations(user, answered):
    conversation, _ = answered
    client = client_for(user)
    history = client.get(f"{CONVERSATIONS}/{conversation.id}/messages").json()["content"]
    assert [m["citations"] for m in history] == [[], CITATIONS]
    detail = APIClient().get(f"{CONVERSATIONS}/{conversation.id}").json()["messages"]
    assert [m["citations"] for m in detail] == [[], CITATIONS]


def test_anyone_who_can_read_the_conversation_can_read_its_citations(make_user, answered):
    # Conversations are public to read (apis.py): the citations are too, to
    # anonymous readers and other users alike, and through a fork that shows
    # the answer.
    conversation, turn = answered
    url = citations_url(conversation.id, turn["assistant_message_id"])
    other = make_user()
    assert APIClient().get(url).json()["citations"] == CITATIONS
    assert client_for(other).get(url).json()["citations"] == CITATIONS
    fork = services.conversation_fork(conversation_id=conversation.id, user=other)
    shared = client_for(other).get(citations_url(fork.id, turn["assistant_message_id"]))
    assert shared.status_code == 200 and shared.json()["citations"] == CITATIONS


def test_unknown_or_elsewhere_messages_are_404_and_user_messages_400(user, answered):
    conversation, turn = answered
    client = client_for(user)
    assert_envelope(client.get(citations_url(conversation.id, uuid.uuid4())), 404)
    assert_envelope(client.get(citations_url(uuid.uuid4(), turn["assistant_message_id"])), 404)
    elsewhere = make_conversation(user)
    assert_envelope(client.get(citations_url(elsewhere.id, turn["assistant_message_id"])), 404)
    body = assert_envelope(client.get(citations_url(conversation.id, turn["message_id"])), 409, "CONFLICT")
    assert "message_id" in body["details"]
    assert client.get(f"{CONVERSATIONS}/{conversation.id}/messages/not-a-uuid/citations").status_code == 404


def test_a_deleted_conversations_citations_are_gone(user, answered):
    conversation, turn = answered
    services.conversation_delete(conversation_id=conversation.id, user=user)
    assert_envelope(client_for(user).get(citations_url(conversation.id, turn["assistant_message_id"])), 404)


def test_an_unfinished_or_ungrounded_answer_cites_nothing(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    url = citations_url(conversation.id, turn["assistant_message_id"])
    assert client.get(url).json() == {
        "message_id": turn["assistant_message_id"],
        "status": "pending",
        "citations": [],
    }
    # An older ai (no citations key) and an ungrounded answer both store [].
    legacy = completion(turn["assistant_message_id"], grounded=False)
    del legacy["citations"]
    assert persist(conversation.id, **legacy).json()["applied"] is True
    assert client.get(url).json()["citations"] == []


def test_messages_stored_before_citations_existed_have_none(user):
    conversation = make_conversation(user)
    add_exchanges(conversation, 2)
    history = APIClient().get(f"{CONVERSATIONS}/{conversation.id}/messages").json()["content"]
    assert [m["citations"] for m in history] == [[], []]


def test_a_row_written_without_citations_has_none():
    # The column's default is the database's too (rows written by SQL, such
    # as the benchmark's bulk insert, or existing rows when it was added).
    message_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO conversations_message (id, role, content, status, model, degraded, attempt, "
            "error_code, created_at, updated_at) VALUES (%s, 'user', 'hi', 'completed', '', false, 1, '', "
            "now(), now())",
            [message_id],
        )
    assert Message.objects.get(id=message_id).citations == []


def test_regenerate_forgets_the_previous_attempts_citations(user, stub_ai):
    conversation = make_conversation(user)
    client = client_for(user)
    turn = send(client, conversation).json()
    assistant_id = turn["assistant_message_id"]
    persist(conversation.id, **completion(assistant_id, status="cancelled"))
    assert Message.objects.get(id=assistant_id).citations == CITATIONS
    assert (
        client.post(f"{CONVERSATIONS}/{conversation.id}/messages/{assistant_id}/regenerate").status_code
        == 202
    )
    assert client.get(citations_url(conversation.id, assistant_id)).json()["citations"] == []


def citation(**overrides) -> dict:
    return {**CITATIONS[0], **overrides}


def without(key: str) -> dict:
    return {k: v for k, v in CITATIONS[0].items() if k != key}


@pytest.mark.parametrize(
    "citations",
    [
        pytest.param([citation()] * 21, id="more-than-20"),
        pytest.param("not a list", id="not-a-list"),
        pytest.param({"0": citation()}, id="an-object"),
        pytest.param(["a quote"], id="a-string-item"),
        pytest.param([None], id="a-null-item"),
        pytest.param([without("quote")], id="no-quote"),
        pytest.param([without("passage_id")], id="no-passage-id"),
        pytest.param([citation(quote="")], id="empty-quote"),
        pytest.param([citation(quote="x" * 301)], id="quote-too-long"),
        pytest.param([citation(quote="a\x00b")], id="nul-in-quote"),
        pytest.param([citation(chapter_title="t" * 301)], id="title-too-long"),
        pytest.param([citation(chapter_title="\x00")], id="nul-in-title"),
        pytest.param([citation(passage_id="")], id="empty-passage-id"),
        pytest.param([citation(passage_id="p" * 101)], id="passage-id-too-long"),
        pytest.param([citation(chapter=-1)], id="negative-chapter"),
        pytest.param([citation(chapter="six")], id="chapter-not-a-number"),
        pytest.param([citation(chapter=10**20)], id="huge-chapter"),
        pytest.param([citation(chunk_index=1.5)], id="fractional-chunk-index"),
        pytest.param([citation(quote=["a"])], id="quote-not-a-string"),
        pytest.param([citation(surprise=True)], id="unknown-key"),
    ],
)
def test_malformed_citations_are_400_and_nothing_is_stored(user, stub_ai, citations):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    response = persist(conversation.id, **completion(turn["assistant_message_id"], citations=citations))
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert any(key.startswith("citations") for key in body["details"]), body["details"]
    message = Message.objects.get(id=turn["assistant_message_id"])
    assert (message.status, message.content, message.citations) == ("pending", "", [])


def test_twenty_citations_at_their_longest_are_accepted(user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    longest = citation(passage_id="p" * 100, chapter_title="t" * 300, quote="q" * 300)
    response = persist(conversation.id, **completion(turn["assistant_message_id"], citations=[longest] * 20))
    assert response.status_code == 200, response.content
    assert Message.objects.get(id=turn["assistant_message_id"]).citations == [longest] * 20


def test_the_endpoint_is_documented(api, db):
    schema = api.get("/api/v1/openapi.json").json()
    path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/citations"
    operation = schema["paths"][path]["get"]
    assert operation["operationId"] == "conversations_message_citations"
    assert {"200", "400", "404"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.removeprefix("#/components/schemas/")]
    assert set(body["properties"]) == {"message_id", "status", "citations"}
    item = body["properties"]["citations"]["items"]["$ref"].removeprefix("#/components/schemas/")
    assert set(schema["components"]["schemas"][item]["properties"]) == {
        "passage_id",
        "chapter",
        "chapter_title",
        "chunk_index",
        "quote",
    }
    persist_body = schema["paths"]["/api/internal/conversations/{conversation_id}/messages"]["post"]
    persist_ref = persist_body["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert (
        "citations"
        in schema["components"]["schemas"][persist_ref.removeprefix("#/components/schemas/")]["properties"]
    )
