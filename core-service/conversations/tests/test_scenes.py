"""The conversation as a story: the timeline in every turn, a speaker on
every message, the scene's cast and who answers, the scene going on by
itself, and the prompt inspector."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from gaji_contracts.characters import CastEntry

from conftest import assert_envelope
from conversations.models import Conversation, Message, MessagePrompt
from conversations.tests.helpers import (
    CONVERSATIONS,
    add_exchanges,
    client_for,
    internal_client,
    make_conversation,
    messages_of,
    send,
)
from novels.models import Novel
from scenarios.tests.helpers import SCENARIOS, make_fork, make_scenario

pytestmark = pytest.mark.django_db

DARCY = CastEntry(
    id="c-darcy", name="Fitzwilliam Darcy", aliases=["Mr. Darcy"], mention_count=400, role="main"
)
ELIZABETH = CastEntry(
    id="c-eliza", name="Elizabeth Bennet", aliases=["Lizzy"], mention_count=600, role="main"
)
JANE = CastEntry(id="c-jane", name="Jane Bennet", mention_count=300, role="main")


@pytest.fixture
def pride(stub_ai):
    """An ingested Pride and Prejudice whose cast ai serves (most mentioned first)."""
    novel = Novel.objects.create(
        slug="pride-and-prejudice", title="Pride and Prejudice", ingestion_status="completed"
    )
    stub_ai.cast = {str(novel.id): [ELIZABETH, DARCY, JANE]}
    return novel


def event_scenario(user):
    return make_scenario(user, scenario_type="EVENT_ALTERATION", base_story="pride-and-prejudice")


def url(conversation, tail=""):
    return f"{CONVERSATIONS}/{conversation.id}{tail}"


def persist(conversation_id, **body):
    return internal_client().post(
        f"/api/internal/conversations/{conversation_id}/messages", body, format="json"
    )


# -- the timeline ------------------------------------------------------------------------


def test_a_chat_turn_sends_the_whole_timeline_as_its_brief(api, user, stub_ai):
    root = make_scenario(user)
    fork = make_fork(root, user, "EVENT_ALTERATION")
    conversation = make_conversation(user, fork)
    assert send(client_for(user), conversation).status_code == 202
    request = stub_ai.last["body"]
    assert request.brief == api.get(f"{SCENARIOS}/{fork.id}/timeline").json()["brief"]
    assert "Hermione Granger's house were Slytherin" in request.brief  # the ancestor's change


# -- speakers ------------------------------------------------------------------------------


def test_every_message_says_who_spoke_everywhere_messages_are_returned(api, user, stub_ai):
    conversation = make_conversation(user)
    turn = send(client_for(user), conversation).json()
    reader = {"kind": "user", "character_id": None, "name": user.username}
    hermione = {"kind": "character", "character_id": None, "name": "Hermione Granger"}
    assert turn["answers"] == [{"message_id": turn["assistant_message_id"], "speaker": hermione}]
    detail = api.get(url(conversation)).json()["messages"]
    listed = api.get(url(conversation, "/messages")).json()["content"]
    for messages in (detail, listed):
        assert [m["speaker"] for m in messages] == [reader, hermione]
    assert stub_ai.last["body"].answers[0].speaker.name == "Hermione Granger"


def test_regenerate_keeps_the_speaker(user, stub_ai, pride):
    stub_ai.mode = "refuse"
    conversation = make_conversation(user, event_scenario(user))
    failed = send(client_for(user), conversation, speakers=[{"kind": "character", "character_id": "c-darcy"}])
    answer_id = failed.json()["assistant_message_id"]
    stub_ai.mode = "accept"
    response = client_for(user).post(url(conversation, f"/messages/{answer_id}/regenerate"))
    assert response.status_code == 202, response.content
    (answer,) = stub_ai.last["body"].answers
    assert (answer.speaker.character_id, answer.speaker.name) == ("c-darcy", "Fitzwilliam Darcy")
    assert answer.attempt == 2


def test_named_speakers_answer_in_order_in_one_stream(user, stub_ai, pride):
    conversation = make_conversation(user, event_scenario(user))
    speakers = [
        {"kind": "character", "character_id": "c-darcy"},
        {"kind": "character", "name": "Mrs. Bennet"},
        {"kind": "narrator"},
    ]
    response = send(client_for(user), conversation, speakers=speakers)
    assert response.status_code == 202, response.content
    body = response.json()
    names = [a["speaker"]["name"] for a in body["answers"]]
    assert names == ["Fitzwilliam Darcy", "Mrs. Bennet", "Narrator"]
    assert body["answers"][0]["message_id"] == body["assistant_message_id"]
    stored = messages_of(Conversation.objects.get(id=conversation.id))
    assert [m.role for m in stored] == ["user", "assistant", "assistant", "assistant"]
    assert {m.stream_id for m in stored[1:]} == {uuid.UUID(body["assistant_message_id"])}
    request = stub_ai.last["body"]
    assert [str(a.message_id) for a in request.answers] == [a["message_id"] for a in body["answers"]]
    # The stream of any answer of the turn is the turn's.
    follower = body["answers"][2]["message_id"]
    again = client_for(user).post(url(conversation, f"/messages/{follower}/stream")).json()
    assert f"message_id={body['assistant_message_id']}" in again["stream_url"]
    # A cancel of any answer stops the turn (its stream).
    cancelled = client_for(user).post(url(conversation, f"/messages/{follower}/cancel"))
    assert cancelled.status_code == 202
    assert stub_ai.cancels[-1]["message_id"] == body["assistant_message_id"]


@pytest.mark.parametrize(
    "speakers, field",
    [
        ([{"kind": "character", "character_id": "c-nobody"}], "speakers.0.character_id"),
        ([{"kind": "narrator"}] * 2, "speakers.1"),
        (
            [
                {"kind": "narrator"},
                {"kind": "character", "name": "A"},
                {"kind": "character", "name": "B"},
                {"kind": "character", "name": "C"},
            ],
            "speakers",
        ),
        ([{"kind": "user"}], "speakers.0.kind"),
        ([{"kind": "character"}], "speakers.0.name"),
        ([], "speakers"),
    ],
)
def test_bad_speakers_are_400_with_the_field_and_store_nothing(user, stub_ai, pride, speakers, field):
    conversation = make_conversation(user, event_scenario(user))
    response = send(client_for(user), conversation, speakers=speakers)
    body = assert_envelope(response, 400)
    assert field in body["details"], body
    assert Message.objects.count() == 0 and not stub_ai.requests


def test_speakers_and_character_together_are_refused(user, stub_ai):
    conversation = make_conversation(user)
    response = send(client_for(user), conversation, character="Ron", speakers=[{"kind": "narrator"}])
    assert "speakers" in assert_envelope(response, 400)["details"]


# -- the cast ----------------------------------------------------------------------------------


def test_a_new_conversation_starts_with_the_scenarios_character_and_no_narrator(api, user, stub_ai, pride):
    scenario = make_scenario(
        user,
        base_story="pride-and-prejudice",
        parameters={"character": "Mr. Darcy", "property": "personality", "new_value": "humble"},
    )
    conversation = make_conversation(user, scenario)
    cast = api.get(url(conversation, "/cast")).json()
    assert cast == {
        "narrator": False,
        "members": [{"character_id": "c-darcy", "name": "Fitzwilliam Darcy", "talkativeness": 0.5}],
    }


def test_without_a_scenario_character_the_two_most_central_join(api, user, stub_ai, pride):
    conversation = make_conversation(user, event_scenario(user))
    members = api.get(url(conversation, "/cast")).json()["members"]
    assert [m["character_id"] for m in members] == ["c-eliza", "c-darcy"]


def test_the_owner_sets_the_cast_and_a_fork_copies_it(api, user, make_user, stub_ai, pride):
    conversation = make_conversation(user, event_scenario(user))
    cast = {
        "narrator": True,
        "members": [
            {"character_id": "c-jane", "name": "Jane Bennet", "talkativeness": 0.9},
            {"character_id": None, "name": "A fortune teller", "talkativeness": 0.1},
        ],
    }
    response = client_for(user).put(url(conversation, "/cast"), cast, format="json")
    assert response.status_code == 200, response.content
    expected = {
        "narrator": True,
        "members": [
            {"character_id": "c-jane", "name": "Jane Bennet", "talkativeness": 0.9},
            {"character_id": None, "name": "A fortune teller", "talkativeness": 0.1},
        ],
    }
    assert response.json() == expected == api.get(url(conversation, "/cast")).json()
    fork = client_for(make_user()).post(url(conversation, "/fork"), {}, format="json").json()
    assert api.get(f"{CONVERSATIONS}/{fork['id']}/cast").json() == expected


def test_cast_refusals(api, user, make_user, stub_ai, pride):
    conversation = make_conversation(user, event_scenario(user))
    before = api.get(url(conversation, "/cast")).json()
    client = client_for(user)
    unknown = {"narrator": False, "members": [{"character_id": "c-nobody", "name": "Nobody"}]}
    assert (
        "members.0.character_id"
        in assert_envelope(client.put(url(conversation, "/cast"), unknown, format="json"), 400)["details"]
    )
    twice = {
        "narrator": False,
        "members": [
            {"character_id": "c-jane", "name": "Jane Bennet"},
            {"character_id": "c-jane", "name": "Jane Bennet"},
        ],
    }
    assert (
        "members.1"
        in assert_envelope(client.put(url(conversation, "/cast"), twice, format="json"), 400)["details"]
    )
    loud = {"narrator": False, "members": [{"name": "X", "talkativeness": 1.5}]}
    assert_envelope(client.put(url(conversation, "/cast"), loud, format="json"), 400)
    crowd = {"narrator": False, "members": [{"name": f"P{i}"} for i in range(9)]}
    assert_envelope(client.put(url(conversation, "/cast"), crowd, format="json"), 400)
    nameless = {"narrator": False, "members": [{"character_id": "c-jane", "talkativeness": 0.5}]}
    assert (
        "members.0.name"
        in assert_envelope(client.put(url(conversation, "/cast"), nameless, format="json"), 400)["details"]
    )
    extra = {"narrator": False, "members": [], "director": True}
    assert_envelope(client.put(url(conversation, "/cast"), extra, format="json"), 400)
    other = client_for(make_user())
    assert_envelope(
        other.put(url(conversation, "/cast"), {"narrator": True, "members": []}, format="json"), 403
    )
    assert_envelope(
        api.put(url(conversation, "/cast"), {"narrator": True, "members": []}, format="json"), 401
    )
    stub_ai.cast = None  # the store is away (and the minute's cache gone): ids cannot be checked
    cache.clear()
    assert_envelope(
        client.put(
            url(conversation, "/cast"),
            {"narrator": False, "members": [{"character_id": "c-jane", "name": "Jane Bennet"}]},
            format="json",
        ),
        503,
    )
    assert api.get(url(conversation, "/cast")).json() == before  # nothing changed
    assert_envelope(api.get(f"{CONVERSATIONS}/{uuid.uuid4()}/cast"), 404)


def set_cast(user, conversation, cast):
    response = client_for(user).put(url(conversation, "/cast"), cast, format="json")
    assert response.status_code == 200, response.content


def test_the_characters_a_message_mentions_answer_first_then_the_narrator(user, stub_ai, pride):
    conversation = make_conversation(user, event_scenario(user))
    set_cast(
        user,
        conversation,
        {
            "narrator": True,
            "members": [
                {"character_id": "c-eliza", "name": "Elizabeth Bennet", "talkativeness": 0},
                {"character_id": "c-darcy", "name": "Fitzwilliam Darcy", "talkativeness": 0},
                {"character_id": "c-jane", "name": "Jane Bennet", "talkativeness": 0},
            ],
        },
    )
    body = send(client_for(user), conversation, content="Jane, and you, Mr. Darcy: what of Lizzy?").json()
    names = [a["speaker"]["name"] for a in body["answers"]]
    # Mentioned first (in order), at most three answers with the narrator last.
    assert names == ["Jane Bennet", "Fitzwilliam Darcy", "Narrator"]
    quiet = send(client_for(user), conversation, content="Hello?").json()
    # Nobody addressed and nobody talkative: one member answers, then the narrator.
    assert [a["speaker"]["kind"] for a in quiet["answers"]] == ["character", "narrator"]


def test_with_nobody_in_the_scene_the_narrator_answers(user, stub_ai):
    conversation = make_conversation(user)
    set_cast(user, conversation, {"narrator": False, "members": []})
    body = send(client_for(user), conversation).json()
    assert [a["speaker"] for a in body["answers"]] == [
        {"kind": "narrator", "character_id": None, "name": "Narrator"}
    ]


# -- the scene goes on --------------------------------------------------------------------------


def test_continue_lets_the_others_speak_without_a_reader_message(user, stub_ai, pride):
    conversation = make_conversation(user, event_scenario(user))
    set_cast(
        user,
        conversation,
        {
            "narrator": False,
            "members": [
                {"character_id": "c-eliza", "name": "Elizabeth Bennet", "talkativeness": 1},
                {"character_id": "c-darcy", "name": "Fitzwilliam Darcy", "talkativeness": 1},
            ],
        },
    )
    first = send(
        client_for(user), conversation, speakers=[{"kind": "character", "character_id": "c-eliza"}]
    ).json()
    persist(
        conversation.id, message_id=first["assistant_message_id"], status="completed", content="I wonder."
    )
    response = client_for(user).post(url(conversation, "/continue"), {}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["message_id"] is None
    # Elizabeth just spoke: the scene goes on with the others.
    assert [a["speaker"]["name"] for a in body["answers"]] == ["Fitzwilliam Darcy"]
    request = stub_ai.last["body"]
    assert request.user_message_id is None and request.user_message == ""
    assert [m.content for m in request.recent_messages][-1] == "I wonder."
    assert request.recent_messages[-1].speaker.name == "Elizabeth Bennet"
    stored = messages_of(Conversation.objects.get(id=conversation.id))
    assert [m.role for m in stored] == ["user", "assistant", "assistant"]
    named = client_for(user).post(
        url(conversation, "/continue"), {"speakers": [{"kind": "narrator"}]}, format="json"
    )
    assert [a["speaker"]["kind"] for a in named.json()["answers"]] == ["narrator"]


def test_continue_is_the_owners_and_refuses_bad_input(user, make_user, stub_ai):
    conversation = make_conversation(user)
    assert_envelope(client_for(make_user()).post(url(conversation, "/continue"), {}, format="json"), 403)
    assert_envelope(
        client_for(user).post(url(conversation, "/continue"), {"speakers": "x"}, format="json"), 400
    )
    assert_envelope(client_for(user).post(url(conversation, "/continue"), {"tone": "x"}, format="json"), 400)
    assert_envelope(client_for(user).post(f"{CONVERSATIONS}/{uuid.uuid4()}/continue", {}, format="json"), 404)
    assert Message.objects.count() == 0


# -- the prompt inspector -----------------------------------------------------------------------

PROMPT = {
    "model": "qwen2.5-coder-1.5b-instruct",
    "provider": "engine",
    "settings": {"temperature": 0.7, "max_tokens": 200},
    "messages": [
        {"role": "system", "content": "You are Hermione Granger."},
        {"role": "user", "content": "Reader: Hello"},
    ],
    "sections": [
        {"name": "persona", "tokens": 5, "text": "You are Hermione Granger."},
        {"name": "message", "tokens": 3, "text": "Reader: Hello"},
    ],
    # The lorebook entries that fired (cards.lore), as ai recorded them.
    "lore": [
        {
            "book": "Sea lore",
            "name": "Sparrow",
            "content": "The Sparrow is a brig.",
            "position": "before_char",
            "reason": "key: Sparrow",
        }
    ],
    "prompt_tokens": 8,
}


def answered(user, conversation, prompt=PROMPT) -> str:
    answer = send(client_for(user), conversation).json()["assistant_message_id"]
    response = persist(conversation.id, message_id=answer, status="completed", content="Hi.", prompt=prompt)
    assert response.status_code == 200, response.content
    return answer


def test_the_owner_and_staff_see_exactly_what_the_model_received(api, user, make_user, stub_ai):
    conversation = make_conversation(user)
    answer = answered(user, conversation)
    path = url(conversation, f"/messages/{answer}/prompt")
    body = client_for(user).get(path).json()
    assert body == {"message_id": answer, "attempt": 1, "truncated": False, **PROMPT}
    staff = make_user(is_staff=True)
    assert client_for(staff).get(path).json() == body
    # Anyone else: as if it did not exist.
    assert_envelope(client_for(make_user()).get(path), 404)
    assert_envelope(api.get(path), 401)
    user_message = messages_of(conversation)[0].id
    assert_envelope(client_for(user).get(url(conversation, f"/messages/{user_message}/prompt")), 409)
    pending = send(client_for(user), conversation).json()["assistant_message_id"]
    assert_envelope(client_for(user).get(url(conversation, f"/messages/{pending}/prompt")), 404)
    assert_envelope(client_for(user).get(url(conversation, f"/messages/{uuid.uuid4()}/prompt")), 404)


def test_the_record_is_bounded_and_deleted_with_the_conversation(user, stub_ai):
    conversation = make_conversation(user)
    huge = {**PROMPT, "messages": [{"role": "user", "content": "word " * 39_000}] * 3}
    answer = answered(user, conversation, huge)
    stored = MessagePrompt.objects.get(message_id=answer)
    import json

    assert len(json.dumps(stored.record)) <= MessagePrompt.MAX_BYTES
    body = client_for(user).get(url(conversation, f"/messages/{answer}/prompt")).json()
    assert body["truncated"] is True and body["messages"][0]["content"].startswith("word word")
    assert client_for(user).delete(url(conversation)).status_code == 204
    assert not MessagePrompt.objects.exists()


def test_a_hostile_prompt_record_is_refused_and_the_answer_kept(user, stub_ai):
    conversation = make_conversation(user)
    answer = send(client_for(user), conversation).json()["assistant_message_id"]
    bad = {**PROMPT, "messages": [{"role": "root", "content": "x"}]}
    response = persist(conversation.id, message_id=answer, status="completed", content="Hi.", prompt=bad)
    assert_envelope(response, 400)
    assert Message.objects.get(id=answer).status == "pending" and not MessagePrompt.objects.exists()


# -- old rows ----------------------------------------------------------------------------------


def test_the_migration_gives_old_rows_their_speakers(user, make_user, stub_ai):
    import importlib

    migration = importlib.import_module("conversations.migrations.0005_speakers_cast_prompts")
    hermione = make_conversation(user)  # CHARACTER_CHANGE on Hermione
    narrated = make_conversation(user, event_scenario(user))
    old = add_exchanges(hermione, 2) + add_exchanges(narrated, 2)
    # A fork by someone else shares the rows; they stay the first owner's.
    client_for(make_user()).post(url(hermione, "/fork"), {}, format="json")
    Message.objects.update(speaker_kind="user", speaker_name="", speaker_character_id="")
    with connection.cursor() as cursor:
        cursor.execute(migration.SPEAKERS_SQL)
    got = {m.id: (m.speaker_kind, m.speaker_name) for m in Message.objects.all()}
    assert [got[m.id] for m in old] == [
        ("user", user.username),
        ("character", "Hermione Granger"),
        ("user", user.username),
        ("narrator", "Narrator"),
    ]


def test_a_fork_never_reads_the_prompts_of_the_answers_it_shares(user, make_user, stub_ai):
    """A fork shares its root's answer rows, not what the root's model was
    told: that holds the root's whole history."""
    conversation = make_conversation(user)
    answer = answered(user, conversation)
    other = make_user()
    fork = client_for(other).post(url(conversation, "/fork"), {}, format="json").json()
    assert answer in {str(m.id) for m in messages_of(Conversation.objects.get(id=fork["id"]))}
    path = f"/api/v1/conversations/{fork['id']}/messages/{answer}/prompt"
    assert_envelope(client_for(other).get(path), 404)
    assert client_for(user).get(url(conversation, f"/messages/{answer}/prompt")).status_code == 200
    assert MessagePrompt.objects.get(message_id=answer).produced_in == conversation.id


def test_a_prompt_kept_before_its_producer_was_recorded_is_judged_by_the_first_link(user, make_user, stub_ai):
    conversation = make_conversation(user)
    answer = answered(user, conversation)
    MessagePrompt.objects.filter(message_id=answer).update(produced_in=None)
    other = make_user()
    fork = client_for(other).post(url(conversation, "/fork"), {}, format="json").json()
    assert_envelope(
        client_for(other).get(f"/api/v1/conversations/{fork['id']}/messages/{answer}/prompt"), 404
    )
    assert client_for(user).get(url(conversation, f"/messages/{answer}/prompt")).status_code == 200
