"""Full-text message search: GET /conversations/{id}/messages/search (whoever
may read the conversation) and GET /users/me/messages/search (the reader's
own conversations)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import message_search
from conversations.models import Conversation
from conversations.tests.helpers import add_exchanges, client_for, make_conversation
from conversations.tests.message_helpers import url

pytestmark = pytest.mark.django_db

MINE = "/api/v1/users/me/messages/search"
TEXTS = [
    "Mr. Darcy is the proudest man in Derbyshire.",
    "Is he? I thought him merely reserved.",
    "Darcy's pride is well known; Wickham says so.",
    "Wickham cannot be trusted.",
]


@pytest.fixture
def talk(user):
    conversation = make_conversation(user, title="At Netherfield")
    messages = add_exchanges(conversation, len(TEXTS))
    for message, text in zip(messages, TEXTS, strict=True):
        message.content = text
        message.save(update_fields=["content"])
    return conversation, messages


def search(client, conversation, **params):
    return client.get(url(conversation, "/messages/search"), params)


def test_finds_a_name_whatever_its_case_in_conversation_order(talk):
    conversation, messages = talk
    response = search(APIClient(), conversation, q="darcy")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["page"] == {"number": 0, "size": 20, "total_elements": 2, "total_pages": 1}
    hits = body["content"]
    assert [h["position"] for h in hits] == [0, 2]
    assert [h["message"]["id"] for h in hits] == [str(messages[0].id), str(messages[2].id)]
    assert hits[0]["message"]["content"] == TEXTS[0] and hits[0]["message"]["position"] == 0
    assert {"edited_at", "deleted", "stale", "alternatives_count", "chosen"} <= hits[0]["message"].keys()
    assert "Darcy" in hits[0]["snippet"] and "<b>" not in hits[0]["snippet"]


def test_query_syntax_words_phrases_and_exclusions(talk):
    conversation, _ = talk

    def positions(q):
        return [h["position"] for h in search(APIClient(), conversation, q=q).json()["content"]]

    assert positions("Wickham") == [2, 3]
    assert positions("wickham trusted") == [3]  # every word
    assert positions('"proudest man"') == [0]  # a phrase
    assert positions('"man proudest"') == []
    assert positions("wickham -trusted") == [2]
    assert positions("reserved or trusted") == [1, 3]
    assert positions("the") == [0]  # no stop words dropped
    assert positions("Netherfield") == []  # the title is not a message
    assert positions("!!!") == []  # nothing searchable: nothing found, no error


def test_pages(talk):
    conversation, _ = talk
    first = search(APIClient(), conversation, q="wickham OR darcy", size=3).json()
    assert [h["position"] for h in first["content"]] == [0, 2, 3]
    assert first["page"]["total_elements"] == 3
    second = search(APIClient(), conversation, q="wickham OR darcy", size=2, page=1).json()
    assert [h["position"] for h in second["content"]] == [3]
    beyond = search(APIClient(), conversation, q="darcy", page=5).json()
    assert beyond["content"] == [] and beyond["page"]["total_elements"] == 2
    assert_envelope(search(APIClient(), conversation, q="darcy", size=0), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("q", [None, "", "   ", "x" * 201, "a\u0000b"])
def test_a_missing_blank_or_long_query_is_400_naming_q(talk, q):
    conversation, _ = talk
    params = {} if q is None else {"q": q}
    envelope = assert_envelope(search(APIClient(), conversation, **params), 400, "VALIDATION_ERROR")
    assert "q" in envelope["details"]
    assert search(APIClient(), conversation, q="x" * 200).status_code == 200


def test_deleted_messages_are_never_found(talk, user):
    conversation, messages = talk
    client = client_for(user)
    response = client.delete(url(conversation, f"/messages/{messages[2].id}"))
    assert response.status_code == 204
    assert [h["position"] for h in search(client, conversation, q="wickham").json()["content"]] == [3]


def test_edited_text_is_what_is_found(talk, user):
    conversation, messages = talk
    client = client_for(user)
    client.patch(url(conversation, f"/messages/{messages[0].id}"), {"content": "Bingley!"}, format="json")
    assert search(client, conversation, q="bingley").json()["page"]["total_elements"] == 1
    assert [h["position"] for h in search(client, conversation, q="darcy").json()["content"]] == [2]


def test_a_private_conversation_is_404_to_others_and_a_missing_one_404(talk, user, make_user):
    conversation, _ = talk
    Conversation.objects.filter(id=conversation.id).update(visibility="private")
    assert_envelope(search(APIClient(), conversation, q="darcy"), 404)
    assert_envelope(search(client_for(make_user()), conversation, q="darcy"), 404)
    assert search(client_for(user), conversation, q="darcy").json()["page"]["total_elements"] == 2
    staff = make_user(is_staff=True)
    assert search(client_for(staff), conversation, q="darcy").status_code == 200
    Conversation.objects.filter(id=conversation.id).update(visibility="unlisted")
    assert search(APIClient(), conversation, q="darcy").status_code == 200  # readable by link
    missing = APIClient().get(f"/api/v1/conversations/{uuid.uuid4()}/messages/search", {"q": "darcy"})
    assert_envelope(missing, 404)


def test_a_fork_finds_the_messages_it_shares(talk, make_user):
    conversation, _ = talk
    forker = make_user()
    fork_id = client_for(forker).post(url(conversation, "/fork"), {}, format="json").json()["id"]
    fork = Conversation.objects.get(id=fork_id)
    assert [h["position"] for h in search(APIClient(), fork, q="wickham").json()["content"]] == [2, 3]


# -- across the reader's own conversations -------------------------------------------------------


def test_my_search_covers_my_conversations_only_newest_first(talk, user, make_user):
    conversation, messages = talk
    private = make_conversation(user, title="Secret")
    [note] = add_exchanges(private, 1)
    note.content = "Darcy, privately."
    note.save(update_fields=["content"])
    Conversation.objects.filter(id=private.id).update(visibility="private")
    theirs = make_conversation(make_user(), title="Not mine")
    [other] = add_exchanges(theirs, 1)
    other.content = "Darcy elsewhere."
    other.save(update_fields=["content"])

    response = client_for(user).get(MINE, {"q": "Darcy"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["page"]["total_elements"] == 3
    hits = body["content"]
    assert [h["message"]["id"] for h in hits] == [str(note.id), str(messages[2].id), str(messages[0].id)]
    assert hits[0]["conversation"] == {"id": str(private.id), "title": "Secret"}
    assert hits[1]["conversation"] == {"id": str(conversation.id), "title": "At Netherfield"}
    assert hits[1]["position"] == 2 and "Darcy" in hits[1]["snippet"]


def test_a_message_deleted_between_the_searchs_queries_is_left_out(talk, monkeypatch):
    """The hits are found by one query and their messages read by another: a
    message gone in between (its conversation deleted) is skipped, not a 500."""
    conversation, messages = talk
    real = message_search.Message

    def in_bulk(ids):
        real.objects.filter(id=messages[0].id).delete()
        return real.objects.in_bulk(ids)

    monkeypatch.setattr(message_search, "Message", SimpleNamespace(objects=SimpleNamespace(in_bulk=in_bulk)))
    response = search(APIClient(), conversation, q="darcy")
    assert response.status_code == 200, response.content
    assert [h["message"]["id"] for h in response.json()["content"]] == [str(messages[2].id)]


def test_a_conversation_deleted_between_my_searchs_queries_is_left_out(talk, user, monkeypatch):
    """Hits first, then their conversations' titles: a conversation deleted
    in between is left out of the page, not a 500."""
    conversation, messages = talk
    other = make_conversation(user, title="Gone soon")
    [note] = add_exchanges(other, 1)
    note.content = "Darcy, briefly."
    note.save(update_fields=["content"])
    real = message_search.search_user

    def then_deleted(*args, **kwargs):
        found = real(*args, **kwargs)
        Conversation.objects.filter(id=other.id).delete()
        return found

    monkeypatch.setattr(message_search, "search_user", then_deleted)
    response = client_for(user).get(MINE, {"q": "Darcy"})
    assert response.status_code == 200, response.content
    hits = response.json()["content"]
    assert [h["message"]["id"] for h in hits] == [str(messages[2].id), str(messages[0].id)]
    assert {h["conversation"]["id"] for h in hits} == {str(conversation.id)}


def test_my_search_needs_a_reader_and_a_query(talk):
    assert_envelope(APIClient().get(MINE, {"q": "darcy"}), 401)
    conversation, _ = talk
    envelope = assert_envelope(
        client_for(conversation.user).get(MINE, {"q": "y" * 201}), 400, "VALIDATION_ERROR"
    )
    assert "q" in envelope["details"]


def test_my_search_is_not_taken_for_a_username(talk, make_user):
    # users/<username> is a single segment; users/me/... paths are ours.
    make_user(username="me")
    conversation, _ = talk
    response = client_for(conversation.user).get(MINE, {"q": "wickham"})
    assert response.status_code == 200 and response.json()["page"]["total_elements"] == 2


def test_the_search_uses_the_gin_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'message_content_search'")
        (definition,) = cursor.fetchone()
        assert "gin" in definition.lower()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT 1 FROM conversations_message m WHERE {message_search.SEARCH_VECTOR} @@ "
            f"{message_search.QUERY}",
            {"q": "darcy"},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_content_search" in plan, plan
