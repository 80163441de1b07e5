"""Hostile and broken files on POST /conversations/import: each is a clear
4xx naming what is wrong, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from conftest import assert_envelope
from conversations import exchange
from conversations.models import Conversation, ConversationMessageLink, MemoryEntry, Message
from conversations.tests.helpers import CONVERSATIONS, add_exchanges, client_for, make_conversation
from conversations.tests.test_exchange import export, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(user):
    conversation = make_conversation(user)
    add_exchanges(conversation, 4)
    return conversation


@pytest.fixture
def document(user, source) -> dict:
    return json.loads(export(client_for(user), source).content)


@pytest.fixture
def st_lines(user, source) -> list[dict]:
    raw = export(client_for(user), source, "sillytavern").content.decode()
    return [json.loads(line) for line in raw.splitlines()]


def counts():
    return (
        Conversation.objects.count(),
        Message.objects.count(),
        ConversationMessageLink.objects.count(),
        MemoryEntry.objects.count(),
    )


def refused(response, status=400, code="VALIDATION_ERROR") -> str:
    body = assert_envelope(response, status, code)
    return body["details"]["file"][0] if status == 400 else body["message"]


def jsonl(lines) -> str:
    return "\n".join(json.dumps(line) for line in lines)


@pytest.fixture
def unchanged():
    before = counts()
    yield
    assert counts() == before


def test_not_json(user, unchanged):
    problem = refused(upload(client_for(user), '{"format": "gaji.conversation",\n  "messages": [,]}'))
    assert problem.startswith("line 2: not valid JSON")


def test_not_utf8(user, unchanged):
    assert refused(upload(client_for(user), b"\xff\xfe{}", "x.json")) == exchange.NOT_UTF8


def test_wrong_format_tag(user, document, unchanged):
    document["format"] = "sillytavern"
    assert refused(upload(client_for(user), json.dumps(document))) == exchange.WRONG_FORMAT
    assert refused(upload(client_for(user), json.dumps([1, 2]))) == exchange.WRONG_FORMAT


def test_newer_version(user, document, unchanged):
    document["version"] = 2
    assert refused(upload(client_for(user), json.dumps(document))) == exchange.NEWER_VERSION


def test_wrong_file_type(user, document, unchanged):
    assert refused(upload(client_for(user), json.dumps(document), "chat.txt")) == exchange.FILE_TYPE
    # A Gaji export named .jsonl is not a SillyTavern chat either.
    problem = refused(upload(client_for(user), json.dumps(document), "chat.jsonl"))
    assert problem == f"line 1: {exchange.NO_HEADER}."


def test_too_many_messages(user, document, unchanged):
    document["messages"] = [document["messages"][0]] * (exchange.MAX_IMPORT_MESSAGES + 1)
    assert refused(upload(client_for(user), json.dumps(document))) == exchange.TOO_MANY_MESSAGES


def test_too_many_sillytavern_lines(user, st_lines, unchanged):
    lines = [st_lines[0], *[st_lines[1]] * (exchange.MAX_IMPORT_MESSAGES + 1)]
    problem = refused(upload(client_for(user), jsonl(lines), "x.jsonl", scenario_id=st_gaji(st_lines)))
    assert problem == exchange.TOO_MANY_MESSAGES


def st_gaji(lines) -> str:
    return lines[0]["chat_metadata"]["gaji"]["scenario_id"]


def test_bad_line_names_it_and_stores_nothing(user, st_lines, unchanged):
    lines = st_lines + [dict(st_lines[1]) for _ in range(20)]
    lines[16] = {**lines[1], "mes": 42}
    problem = refused(upload(client_for(user), jsonl(lines), "x.jsonl"))
    assert problem == "line 17: mes must be a string."
    lines[16] = "not an object"
    assert refused(upload(client_for(user), jsonl(lines), "x.jsonl")) == (
        "line 17: a message line must be a JSON object."
    )
    raw = jsonl(lines[:16]) + "\n{oops\n"
    assert refused(upload(client_for(user), raw, "x.jsonl")).startswith("line 17: not valid JSON")


def test_bad_message_in_gaji_file(user, document, unchanged):
    document["messages"][2]["speaker"] = {"kind": "ghost", "name": "Boo"}
    assert refused(upload(client_for(user), json.dumps(document))).startswith("message 3: speaker.kind")


@pytest.mark.parametrize(
    ("index", "change", "expected"),
    [
        (0, {"content": "x" * 4001}, "message 1: content is longer than 4000 characters."),
        (0, {"content": "   "}, "message 1: content must not be blank."),
        (1, {"content": "a\x00b"}, "message 2: content must not contain NUL characters."),
        (1, {"role": "system"}, "message 2: role must be user or assistant."),
        (1, {"citations": [{"passage_id": "p"}]}, "message 2: citations.0.chapter: Field required"),
        (1, {"citations": "nope"}, "message 2: citations."),
        (
            1,
            {"created_at": "yesterday"},
            "message 2: created_at must be an ISO 8601 date and time between 1970 and 2200.",
        ),
        (
            1,
            {"created_at": "9999-12-31T23:59:59-14:00"},
            "message 2: created_at must be an ISO 8601 date and time between 1970 and 2200.",
        ),
        (
            1,
            {"created_at": "0001-01-01T00:00:00+14:00"},
            "message 2: created_at must be an ISO 8601 date and time between 1970 and 2200.",
        ),
        (1, {"chosen": 0}, "message 2: chosen must be null when there are no alternatives."),
        (1, {"total_tokens": -1}, "message 2: total_tokens must be a whole number from 0 to 10000000."),
        (1, {"deleted": "yes"}, "message 2: deleted must be true or false."),
        (0, {"alternatives": [{"content": "x"}]}, "message 1: alternatives: only an answer has versions."),
    ],
)
def test_message_rules(user, document, index, change, expected, unchanged):
    document["messages"][index].update(change)
    assert refused(upload(client_for(user), json.dumps(document))).startswith(expected)


def test_lone_surrogate_and_deep_nesting(user, document, unchanged):
    raw = json.dumps(document).replace('"message 1"', '"\\ud800"')
    assert refused(upload(client_for(user), raw)) == exchange.NOT_UNICODE + "."
    deep = '{"format": "gaji.conversation", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert refused(upload(client_for(user), deep)) == exchange.TOO_DEEP


def test_bad_memory_entry(user, document, unchanged):
    document["memory"] = [{"kind": "fact", "source": "model", "text": "ok"}, {"kind": "fact", "source": "x"}]
    problem = refused(upload(client_for(user), json.dumps(document)))
    assert problem == "memory entry 2: source must be one of model, rule, reader."


def test_bad_cast(user, document, unchanged):
    document["conversation"]["cast"] = {"narrator": False, "members": [{"name": "A"}, {"name": "a"}]}
    problem = refused(upload(client_for(user), json.dumps(document)))
    assert problem == "conversation: cast.members.1: already named: each character once."


def test_html_is_stored_as_text(user, document):
    html = '<img src=x onerror="alert(1)"><script>steal()</script>'
    document["messages"][0]["content"] = html
    document["conversation"]["title"] = html
    response = upload(client_for(user), json.dumps(document))
    assert response.status_code == 201
    assert response.json()["messages"][0]["content"] == html
    assert response.json()["title"] == html


def test_fifty_megabytes(user, settings, unchanged):
    huge = b'{"format": "gaji.conversation", "messages": ["' + b"x" * (50 * 1024 * 1024) + b'"]}'
    # The request body limit refuses it before it is read ...
    assert_envelope(upload(client_for(user), huge), 413, "PAYLOAD_TOO_LARGE")
    # ... and the import checks the file itself (the body limit leaves room for multipart framing).
    settings.CONVERSATION_IMPORT_MAX_BYTES = 10_000
    body = assert_envelope(upload(client_for(user), b" " * 10_001, "x.json"), 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["file"] == ["The file is larger than 10000 bytes."]


def test_unknown_or_missing_scenario(user, document, unchanged):
    import uuid

    response = upload(client_for(user), json.dumps(document), scenario_id=str(uuid.uuid4()))
    assert_envelope(response, 404, "NOT_FOUND")
    document["conversation"]["scenario"]["id"] = str(uuid.uuid4())
    body = assert_envelope(upload(client_for(user), json.dumps(document)), 400, "VALIDATION_ERROR")
    assert body["details"]["scenario_id"] == [exchange.SCENARIO_NEEDED]
    response = upload(client_for(user), json.dumps(document), scenario_id="not-a-uuid")
    assert "scenario_id" in assert_envelope(response, 400, "VALIDATION_ERROR")["details"]


def test_deleted_scenario(user, document, source, unchanged):
    from django.utils import timezone

    from scenarios.models import Scenario

    Scenario.objects.filter(id=source.scenario_id).update(deleted_at=timezone.now())
    response = upload(client_for(user), json.dumps(document), scenario_id=str(source.scenario_id))
    assert_envelope(response, 404, "NOT_FOUND")


def test_request_shapes(user, document, unchanged):
    assert_envelope(upload(APIClient(), json.dumps(document)), 401, "NOT_AUTHENTICATED")
    response = client_for(user).post(f"{CONVERSATIONS}/import", document, format="json")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    response = client_for(user).post(f"{CONVERSATIONS}/import", {"scenario_id": "x"}, format="multipart")
    assert "file" in assert_envelope(response, 400, "VALIDATION_ERROR")["details"]
    assert "file" in assert_envelope(upload(client_for(user), b"", "x.json"), 400)["details"]
    response = upload(client_for(user), json.dumps(document), visibility="secret")
    assert "visibility" in assert_envelope(response, 400)["details"]
    response = upload(client_for(user), json.dumps(document), extra="1")
    assert "extra" in assert_envelope(response, 400)["details"]


def test_export_format_is_checked(user, source):
    response = client_for(user).get(f"{CONVERSATIONS}/{source.id}/export", {"format": "xml"})
    assert "format" in assert_envelope(response, 400, "VALIDATION_ERROR")["details"]
    import uuid

    missing = client_for(user).get(f"{CONVERSATIONS}/{uuid.uuid4()}/export")
    assert_envelope(missing, 404, "NOT_FOUND")


@pytest.mark.parametrize("date", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", 10**17])
def test_a_sillytavern_date_out_of_range_is_dropped_and_the_conversation_stays_readable(user, st_lines, date):
    """PostgreSQL would keep a year Python cannot read back: the conversation
    (and the reader's export and deletion) would answer 400 from then on."""
    for line in st_lines[1:]:
        line["send_date"] = date
        line["gen_finished"] = date
    client = client_for(user)
    response = upload(client, jsonl(st_lines), "chat.jsonl")
    assert response.status_code == 201, response.content
    copy = response.json()["id"]
    assert client.get(f"/api/v1/conversations/{copy}").status_code == 200
    assert client.get(f"/api/v1/conversations/{copy}/messages").status_code == 200
    assert client.get(f"/api/v1/conversations/{copy}/export").status_code == 200
    assert client.get("/api/v1/users/me/export").status_code == 200
