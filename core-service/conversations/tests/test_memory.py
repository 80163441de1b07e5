"""Memory that forks with the story: ai's writes after a turn (entries,
relationship history, summaries), the reader's pins and edits, what each
turn hands ai (priority order, who may know what, folds into layered
summaries, the spoiler boundary), and inheritance by forks in both
directions, against the real database."""

from __future__ import annotations

import uuid

import pytest

from conftest import assert_envelope
from conversations.models import Conversation, MemoryEntry
from conversations.tests.helpers import (
    CONVERSATIONS,
    add_exchanges,
    client_for,
    internal_client,
    make_conversation,
    send,
)
from conversations.tests.test_scenes import pride  # noqa: F401 (the fixture: an ingested novel and its cast)

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(user, pride):  # noqa: F811 (the imported fixture)
    """A conversation on the ingested novel whose scene holds Elizabeth and Darcy."""
    from scenarios.tests.helpers import make_scenario

    scenario = make_scenario(user, scenario_type="EVENT_ALTERATION", base_story="pride-and-prejudice")
    scenario.novel = pride
    scenario.save()
    return make_conversation(user, scenario)


def url(conversation, tail=""):
    return f"{CONVERSATIONS}/{conversation.id}/memory{tail}"


def write(conversation, source=None, position=2, entries=(), summary=None):
    body = {
        "source_message_id": str(source or uuid.uuid4()),
        "position": position,
        "entries": list(entries),
        "summary": summary,
    }
    return internal_client().post(
        f"/api/internal/conversations/{conversation.id}/memory", body, format="json"
    )


def fact(text, **fields):
    return {"kind": "fact", "subject": "world", "text": text, "source": "model", **fields}


def relationship(change, text="Darcy warms.", source="model"):
    return {
        "kind": "relationship",
        "subject": "Fitzwilliam Darcy",
        "target": "Elizabeth Bennet",
        "text": text,
        "change": change,
        "source": source,
    }


def texts(conversation) -> set[str]:
    return set(MemoryEntry.objects.filter(conversation=conversation).values_list("text", flat=True))


# -- written by ai after a turn --------------------------------------------------------


def test_ai_writes_entries_known_to_those_in_the_scene(story):
    response = write(
        story,
        entries=[
            fact("The brooch is in the library."),
            {
                "kind": "character_knowledge",
                "subject": "Mr. Darcy",
                "text": "Darcy knows of the brooch.",
                "source": "rule",
            },
        ],
    )
    assert response.status_code == 200, response.content
    assert response.json()["written"] == 2
    brooch = MemoryEntry.objects.get(conversation=story, kind="fact")
    assert (brooch.source, brooch.position) == ("model", 2)
    assert sorted(brooch.known_by) == ["c-darcy", "c-eliza"]  # the scene's cast
    known = MemoryEntry.objects.get(conversation=story, kind="character_knowledge")
    assert (known.source, known.known_by) == ("rule", ["c-darcy"])  # its subject only


def test_the_scene_of_the_turn_decides_who_knows_not_the_scene_now(story):
    """ai sends back who was present when the turn was spoken; a cast
    changed since does not change who witnessed it."""
    write_body = {
        "source_message_id": str(uuid.uuid4()),
        "position": 4,
        "present": ["c-jane"],
        "names": {"c-jane": "Jane Bennet"},
        "entries": [
            fact("Jane saw the letter."),
            {"kind": "character_knowledge", "subject": "Jane", "text": "Jane knows.", "source": "model"},
        ],
    }
    response = internal_client().post(
        f"/api/internal/conversations/{story.id}/memory", write_body, format="json"
    )
    assert response.status_code == 200, response.content
    assert {e.text: e.known_by for e in MemoryEntry.objects.filter(conversation=story)} == {
        "Jane saw the letter.": ["c-jane"],
        "Jane knows.": ["c-jane"],
    }


def test_relationship_changes_keep_their_history_and_a_rewrite_replaces_not_adds(story):
    first, second = uuid.uuid4(), uuid.uuid4()
    write(story, source=first, entries=[relationship(20)])
    write(story, source=second, entries=[relationship(-5, "Darcy is stung.")])
    row = MemoryEntry.objects.get(conversation=story, kind="relationship")
    assert row.value == 15
    assert [(h["change"], h["value"]) for h in row.history] == [(20, 20), (-5, 15)]
    assert row.text == "Darcy is stung."

    # The same answer written again (a retry, or a regenerated answer): replaced.
    response = write(story, source=second, entries=[relationship(-10, "Darcy is hurt."), fact("Rain.")])
    assert response.json()["replaced"] >= 1
    write(story, source=second, entries=[relationship(-10, "Darcy is hurt."), fact("Rain.")])
    row.refresh_from_db()
    assert row.value == 10
    assert [h["change"] for h in row.history] == [20, -10]
    assert MemoryEntry.objects.filter(conversation=story, kind="fact").count() == 1


def test_a_relationship_needs_two_different_characters_and_a_stance_stays_in_range(story):
    write(story, entries=[{**relationship(30), "target": "Fitzwilliam Darcy"}])
    assert not MemoryEntry.objects.filter(conversation=story).exists()
    for _ in range(5):
        write(story, entries=[relationship(30)])
    assert MemoryEntry.objects.get(conversation=story).value == 100


def test_a_summary_covers_its_range_and_folds_the_layer_below(story):
    ones = []
    for i in range(4):
        write(
            story,
            summary={
                "layer": 1,
                "covers_from": 8 * i,
                "covers_to": 8 * i + 7,
                "text": f"Part {i}.",
                "source": "rule",
                "known_by": ["c-eliza"],
            },
        )
        ones.append(MemoryEntry.objects.get(conversation=story, kind="summary", covers_from=8 * i).id)
    response = write(
        story,
        summary={
            "layer": 2,
            "covers_from": 0,
            "covers_to": 31,
            "text": "All of it.",
            "source": "model",
            "summaries": [str(i) for i in ones],
        },
    )
    assert response.json()["summarized"] is True
    assert MemoryEntry.objects.filter(id__in=ones, covered=True).count() == 4
    assert MemoryEntry.objects.get(conversation=story, layer=2).source == "model"


def test_ai_writes_are_checked(story, user):
    assert write(story, entries=[{**fact("x"), "source": "reader"}]).status_code == 400
    assert write(story, entries=[{**fact("x"), "kind": "pin"}]).status_code == 400
    assert write(story, entries=[{**relationship(99)}]).status_code == 400  # beyond a turn's change
    assert write(story, entries=[fact("x" * 501)]).status_code == 400
    response = internal_client().post(
        f"/api/internal/conversations/{uuid.uuid4()}/memory",
        {"source_message_id": str(uuid.uuid4()), "position": 0},
        format="json",
    )
    assert response.status_code == 404
    anonymous = client_for(user).post(f"/api/internal/conversations/{story.id}/memory", {}, format="json")
    assert anonymous.status_code in (401, 403)
    assert not MemoryEntry.objects.exists()


# -- the reader's API ------------------------------------------------------------------


def test_the_owner_lists_adds_edits_pins_and_deletes(story, user):
    client = client_for(user)
    write(story, entries=[fact("The brooch is in the library.")])
    created = client.post(url(story), {"text": "Lydia never eloped.", "known_by": ["c-eliza"]}, format="json")
    assert created.status_code == 201, created.content
    pin = created.json()
    assert (pin["kind"], pin["source"], pin["pinned"], pin["known_by"]) == (
        "pin",
        "reader",
        True,
        ["c-eliza"],
    )

    listed = client.get(url(story)).json()
    assert [e["text"] for e in listed["content"]] == ["Lydia never eloped.", "The brooch is in the library."]
    assert listed["page"]["total_elements"] == 2
    assert {c["key"] for c in listed["characters"]} == {"c-darcy", "c-eliza"}
    assert [e["kind"] for e in client.get(url(story), {"kind": "fact"}).json()["content"]] == ["fact"]

    brooch = listed["content"][1]["id"]
    edited = client.patch(
        url(story, f"/{brooch}"), {"text": "The brooch is lost.", "pinned": True}, format="json"
    )
    assert edited.status_code == 200
    assert (edited.json()["text"], edited.json()["pinned"]) == ("The brooch is lost.", True)
    everyone = client.patch(url(story, f"/{brooch}"), {"everyone": True}, format="json").json()
    assert everyone["known_by"] is None

    assert client.delete(url(story, f"/{brooch}")).status_code == 204
    assert_envelope(client.delete(url(story, f"/{brooch}")), 404)
    assert texts(story) == {"Lydia never eloped."}


def test_a_reader_relationship_and_its_stance_changes_keep_history(story, user):
    client = client_for(user)
    body = {
        "kind": "relationship",
        "subject": "Elizabeth Bennet",
        "target": "Mr. Wickham",
        "text": "Wary.",
        "value": -40,
    }
    created = client.post(url(story), body, format="json").json()
    assert (created["value"], created["trend"]) == (-40, -40)
    changed = client.patch(url(story, f"/{created['id']}"), {"value": -70}, format="json").json()
    assert (changed["value"], changed["trend"]) == (-70, -30)
    assert [h["value"] for h in changed["history"]] == [-40, -70]
    assert [h["source"] for h in changed["history"]] == ["reader", "reader"]


def test_rules_the_schema_cannot_state_are_400s_with_the_field(story, user):
    client = client_for(user)
    missing = client.post(url(story), {"kind": "relationship", "subject": "Jane", "text": "x"}, format="json")
    assert_envelope(missing, 400)
    assert missing.json()["details"] == {"target": [memory_apis_pair()]}
    valued = client.post(url(story), {"kind": "fact", "text": "x", "value": 3}, format="json")
    assert valued.json()["details"] == {"value": ["Only a relationship has a value."]}
    entry = client.post(url(story), {"text": "A pin."}, format="json").json()
    assert_envelope(client.patch(url(story, f"/{entry['id']}"), {"value": 5}, format="json"), 400)


def memory_apis_pair():
    from conversations.memory_apis import PAIR_NEEDED

    return PAIR_NEEDED


@pytest.mark.parametrize(
    "body",
    [
        {"text": "a\u0000b"},
        {"text": "   "},
        {"text": "x" * 501},
        {"text": 5},
        {"text": "ok", "kind": "summary"},
        {"text": "ok", "known_by": ["k"] * 17},
        {"text": "ok", "surprise": 1},
        [],
        "text",
    ],
)
def test_hostile_bodies_are_400_and_store_nothing(story, user, body):
    response = client_for(user).post(url(story), body, format="json")
    assert_envelope(response, 400)
    assert not MemoryEntry.objects.exists()


def test_only_the_owner_reads_or_writes_and_staff_may_read(story, user, make_user):
    other = client_for(make_user())
    entry = client_for(user).post(url(story), {"text": "Mine."}, format="json").json()
    assert_envelope(other.get(url(story)), 403)
    assert_envelope(other.post(url(story), {"text": "Theirs."}, format="json"), 403)
    assert_envelope(other.patch(url(story, f"/{entry['id']}"), {"text": "x"}, format="json"), 403)
    assert_envelope(other.delete(url(story, f"/{entry['id']}")), 403)
    from rest_framework.test import APIClient

    assert_envelope(APIClient().get(url(story)), 401)
    assert client_for(make_user(is_staff=True)).get(url(story)).status_code == 200
    assert_envelope(client_for(user).get(f"{CONVERSATIONS}/{uuid.uuid4()}/memory"), 404)
    elsewhere = make_conversation(user)
    assert_envelope(client_for(user).delete(url(elsewhere, f"/{entry['id']}")), 404)
    assert texts(story) == {"Mine."}


# -- what a turn hands ai ------------------------------------------------------------------


def test_a_turn_hands_ai_pins_then_what_the_message_is_about(story, user, stub_ai):
    client = client_for(user)
    for i in range(30):
        write(story, position=i, entries=[fact(f"Filler fact number {i} about weather.")])
    write(story, position=0, entries=[fact("The brooch is hidden in the Netherfield library.")])
    client.post(url(story), {"text": "Lydia never eloped."}, format="json")
    assert send(client, story, "Where is the brooch now?").status_code == 202
    context = stub_ai.last["body"].memory
    assert [e.text for e in context.entries[:2]] == [
        "Lydia never eloped.",
        "The brooch is hidden in the Netherfield library.",
    ]
    assert sorted(context.present) == ["c-darcy", "c-eliza"]
    assert context.names["c-darcy"] == "Fitzwilliam Darcy"
    assert context.position == 0
    assert len(context.entries) <= 60


def test_older_messages_are_folded_into_layered_summaries(story, user, stub_ai):
    client = client_for(user)
    add_exchanges(story, 20)
    send(client, story, "Go on.")
    fold = stub_ai.last["body"].memory.fold
    assert (fold.layer, fold.covers_from, fold.covers_to) == (1, 0, 7)
    assert fold.texts[0] == "Reader: message 0"
    # The next turn, sent before that summary is written, is not handed the same fold.
    send(client, story, "Go on.")
    assert stub_ai.last["body"].memory.fold is None
    write(
        story, summary={"layer": 1, "covers_from": 0, "covers_to": 7, "text": "The start.", "source": "rule"}
    )
    add_exchanges(story, 6)
    send(client, story, "Go on.")
    fold = stub_ai.last["body"].memory.fold
    assert (fold.covers_from, fold.covers_to) == (8, 15)
    for i in range(1, 4):
        write(
            story,
            summary={
                "layer": 1,
                "covers_from": 8 * i,
                "covers_to": 8 * i + 7,
                "text": f"P{i}.",
                "source": "rule",
            },
        )
    send(client, story, "Go on.")
    fold = stub_ai.last["body"].memory.fold
    assert (fold.layer, len(fold.summaries), fold.texts[0]) == (2, 4, "The start.")


def test_the_spoiler_boundary_is_set_by_the_owner_and_reaches_ai(story, user, stub_ai, make_user):
    client = client_for(user)
    response = client.put(f"{CONVERSATIONS}/{story.id}/canon", {"canon_chapter": 12}, format="json")
    assert response.json() == {"conversation_id": str(story.id), "canon_chapter": 12}
    send(client, story, "Hello")
    assert stub_ai.last["body"].memory.canon_chapter == 12
    assert client.get(url(story)).json()["canon_chapter"] == 12
    for bad in (0, -1, "x", 100_001):
        assert_envelope(
            client.put(f"{CONVERSATIONS}/{story.id}/canon", {"canon_chapter": bad}, format="json"), 400
        )
    other = client_for(make_user())
    assert_envelope(other.put(f"{CONVERSATIONS}/{story.id}/canon", {"canon_chapter": 1}, format="json"), 403)
    assert (
        client.put(f"{CONVERSATIONS}/{story.id}/canon", {"canon_chapter": None}, format="json").status_code
        == 200
    )
    assert Conversation.objects.get(id=story.id).canon_chapter is None


# -- forks ----------------------------------------------------------------------------------


def fork_of(conversation, user):
    response = client_for(user).post(f"{CONVERSATIONS}/{conversation.id}/fork", {}, format="json")
    assert response.status_code == 201, response.content
    return Conversation.objects.get(id=response.json()["id"])


def test_a_fork_starts_with_its_parents_memory_and_the_two_never_mix_again(story, user, make_user):
    write(story, entries=[fact("Before the fork.")])
    write(story, entries=[relationship(20)])
    client_for(user).put(f"{CONVERSATIONS}/{story.id}/canon", {"canon_chapter": 9}, format="json")
    reader = make_user()
    fork = fork_of(story, reader)
    assert texts(fork) == {"Before the fork.", "Darcy warms."}
    assert fork.canon_chapter == 9
    inherited = MemoryEntry.objects.get(conversation=fork, kind="relationship")
    original = MemoryEntry.objects.get(conversation=story, kind="relationship")
    assert inherited.inherited and inherited.origin_id == original.id and inherited.value == 20
    assert inherited.history == original.history

    # Later writes on either side stay there (both directions).
    write(story, entries=[fact("Only in the root."), relationship(-15)])
    write(fork, entries=[fact("Only in the fork.")])
    client_for(reader).post(url(fork), {"text": "A fork pin."}, format="json")
    assert "Only in the fork." not in texts(story) and "A fork pin." not in texts(story)
    assert "Only in the root." not in texts(fork)
    assert MemoryEntry.objects.get(conversation=fork, kind="relationship").value == 20
    assert MemoryEntry.objects.get(conversation=story, kind="relationship").value == 5
    # An edit of an inherited entry in the fork leaves the parent's alone.
    client_for(reader).patch(url(fork, f"/{inherited.id}"), {"text": "Changed in the fork."}, format="json")
    assert MemoryEntry.objects.get(id=original.id).text != "Changed in the fork."


def test_deleting_the_parent_leaves_the_forks_memory_and_deleting_a_conversation_deletes_its_own(
    story, user, make_user
):
    write(story, entries=[fact("Inherited.")])
    fork = fork_of(story, make_user())
    assert client_for(user).delete(f"{CONVERSATIONS}/{story.id}").status_code == 204
    assert texts(fork) == {"Inherited."}
    assert not MemoryEntry.objects.filter(conversation_id=story.id).exists()
    fork_owner = Conversation.objects.get(id=fork.id).user
    assert client_for(fork_owner).delete(f"{CONVERSATIONS}/{fork.id}").status_code == 204
    assert not MemoryEntry.objects.exists()


def test_a_forks_turn_sees_the_inherited_memory_and_its_own(story, user, make_user, stub_ai):
    write(story, entries=[fact("The brooch is hidden in the library.")])
    reader = make_user()
    fork = fork_of(story, reader)
    write(fork, entries=[fact("The brooch was found by Jane.")])
    write(story, entries=[fact("The brooch was sold in London.")])
    send(client_for(reader), fork, "What of the brooch?")
    seen = {e.text for e in stub_ai.last["body"].memory.entries}
    assert seen == {"The brooch is hidden in the library.", "The brooch was found by Jane."}
