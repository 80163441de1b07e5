"""/api/v1/lorebooks: import (file or JSON body), list, read, export in
either kind, delete; and the lorebooks a conversation or a novel uses
(GET/PUT .../lorebooks, services.books_for_turn)."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from cards import services
from cards.models import Lorebook, LorebookLink
from cards.tests.api_builders import LOREBOOK_V3, V2, WORLDINFO, Routes, client_for
from conftest import assert_envelope
from conversations.tests.helpers import make_conversation
from novels.models import Novel
from scenarios.tests.helpers import make_scenario

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/lorebooks/import"
LIST = "/api/v1/lorebooks"


ROUTES = Routes("lorebooks")
post_file, post_json, export = ROUTES.post_file, ROUTES.post_json, ROUTES.export


def test_a_lorebook_v3_imports_with_its_entries(client):
    response = post_file(client, "shire.json", json.dumps(LOREBOOK_V3).encode())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["kind"], body["entry_count"]) == ("The Shire", "lorebook_v3", 2)
    first, second = body["entries"]
    assert first == {
        "id": "7",
        "name": "Bag End",
        "keys": ["Bag End"],
        "secondary_keys": [],
        "constant": False,
        "enabled": True,
        "insertion_order": 1,
        "priority": 3,
        "position": "before_char",
        "content": "A hobbit hole under the Hill.",
    }
    assert (second["id"], second["name"], second["enabled"], second["constant"]) == (
        "ring",
        "the ring",
        False,
        True,
    )
    assert second["content"] == "@@activate\nThe One Ring."  # raw text, decorators included
    assert Lorebook.objects.get(id=body["id"]).document == LOREBOOK_V3


def test_lorebook_v3_round_trips(client):
    body = post_json(client, LOREBOOK_V3).json()
    response = export(client, body["id"])
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="the-shire.json"'
    assert json.loads(response.content) == LOREBOOK_V3


def test_world_info_round_trips_directly_and_through_lorebook_v3(client):
    created = post_file(client, "Rivendell Lore.json", json.dumps(WORLDINFO).encode())
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["entry_count"], body["name"]) == ("worldinfo", 2, "Rivendell Lore")
    assert json.loads(export(client, body["id"]).content) == WORLDINFO

    as_v3 = json.loads(export(client, body["id"], "lorebook_v3").content)
    assert as_v3["spec"] == "lorebook_v3" and len(as_v3["data"]["entries"]) == 2
    again = post_json(client, as_v3).json()
    assert again["kind"] == "lorebook_v3"
    assert json.loads(export(client, again["id"], "worldinfo").content) == WORLDINFO


def test_lorebook_v3_exports_as_world_info(client):
    body = post_json(client, LOREBOOK_V3).json()
    document = json.loads(export(client, body["id"], "worldinfo").content)
    contents = sorted(entry["content"] for entry in document["entries"].values())
    assert contents == sorted(e["content"] for e in LOREBOOK_V3["data"]["entries"])


def test_list_detail_delete_and_isolation(client, make_user):
    first = post_json(client, LOREBOOK_V3).json()
    second = post_json(client, WORLDINFO).json()
    page = client.get(LIST).json()
    assert [b["id"] for b in page["content"]] == [second["id"], first["id"]]
    assert "entries" not in page["content"][0]
    assert client.get(f"{LIST}/{first['id']}").json() == first

    other = client_for(make_user())
    for path in ("", "/export"):
        assert_envelope(other.get(f"{LIST}/{first['id']}{path}"), 404, "NOT_FOUND")
    assert_envelope(other.delete(f"{LIST}/{first['id']}"), 404)
    assert other.get(LIST).json()["content"] == []

    assert client.delete(f"{LIST}/{first['id']}").status_code == 204
    assert_envelope(client.get(f"{LIST}/{first['id']}"), 404)
    assert_envelope(client.get(f"{LIST}/{uuid.uuid4()}/export"), 404)


def test_a_card_book_imports_as_character_book_and_exports_as_lorebook_v3(client):
    book = V2["data"]["character_book"]
    body = post_json(client, book).json()
    assert body["kind"] == "character_book" and body["entry_count"] == 1
    document = json.loads(export(client, body["id"]).content)
    assert document["spec"] == "lorebook_v3"
    assert document["data"]["entries"][0]["content"] == "Mr Darcy is proud."


def refused(response, status: int = 400) -> dict:
    body = assert_envelope(response, status)
    assert Lorebook.objects.count() == 0
    return body


def test_bad_lorebooks_are_refused(client):
    assert "file" in refused(post_file(client, "x.json", b"not json"))["details"]
    assert "file" in refused(post_json(client, {"spec": "lorebook_v9", "data": {}}))["details"]
    too_many = copy.deepcopy(LOREBOOK_V3)
    entry = too_many["data"]["entries"][0]
    too_many["data"]["entries"] = [dict(entry, id=i) for i in range(2001)]
    assert "file" in refused(post_json(client, too_many))["details"]
    body = refused(post_file(client, "x.png", b"\x89PNG"))
    assert body["details"] == {"file": [services.LOREBOOK_EXTENSION_RULE]}


def test_a_lone_surrogate_is_refused_with_a_clear_message(client):
    lorebook = copy.deepcopy(LOREBOOK_V3)
    lorebook["data"]["entries"][0]["keys"] = ["Bag End", "\udc00"]
    world_info = copy.deepcopy(WORLDINFO)
    world_info["entries"]["0"]["comment"] = "\ud800 the valley"
    for document in (lorebook, world_info):
        body = assert_envelope(post_json(client, document), 400)
        assert body["details"] == {"file": [services.SURROGATE_RULE]}
    assert Lorebook.objects.count() == 0


def test_a_50_mb_lorebook_is_a_413(client):
    raw = b'{"entries": {"0": {"content": "' + b"a" * (50 * 1024 * 1024) + b'"}}}'
    refused(client.post(IMPORT, raw, content_type="application/json"), 413)


def test_html_in_entries_is_kept_verbatim(client):
    document = copy.deepcopy(LOREBOOK_V3)
    document["data"]["entries"][0]["content"] = "<img src=x onerror=alert(1)>"
    body = post_json(client, document).json()
    assert body["entries"][0]["content"] == "<img src=x onerror=alert(1)>"


def test_the_lorebook_quota_is_a_409(client, settings):
    settings.LOREBOOKS_MAX_PER_READER = 1
    assert post_json(client, LOREBOOK_V3).status_code == 201
    assert_envelope(post_json(client, WORLDINFO), 409, "CONFLICT")
    assert Lorebook.objects.count() == 1


# -- the lorebooks a conversation or a novel uses ----------------------------------------


@pytest.fixture
def novel():
    return Novel.objects.create(slug="the-hobbit", title="The Hobbit")


@pytest.fixture
def conversation(reader, novel):
    return make_conversation(reader, make_scenario(reader, base_story="the-hobbit"))


def books(client, count: int) -> list[str]:
    made = []
    for i in range(count):
        document = copy.deepcopy(LOREBOOK_V3)
        document["data"]["name"] = f"Book {i}"
        made.append(post_json(client, document).json()["id"])
    return made


def test_the_owner_chooses_a_conversations_lorebooks(client, conversation):
    path = f"/api/v1/conversations/{conversation.id}/lorebooks"
    assert client.get(path).json() == {"lorebook_ids": [], "lorebooks": []}
    first, second = books(client, 2)
    response = client.put(path, {"lorebook_ids": [second, first]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lorebook_ids"] == [second, first]
    assert [b["name"] for b in body["lorebooks"]] == ["Book 1", "Book 0"]
    assert client.get(path).json() == body
    assert client.put(path, {"lorebook_ids": [first]}, format="json").json()["lorebook_ids"] == [first]
    assert list(LorebookLink.objects.values_list("lorebook_id", flat=True)) == [uuid.UUID(first)]


def test_only_the_owners_own_lorebooks_up_to_five(client, conversation, make_user):
    path = f"/api/v1/conversations/{conversation.id}/lorebooks"
    other = client_for(make_user())
    theirs = books(other, 1)[0]
    mine = books(client, 6)
    body = assert_envelope(client.put(path, {"lorebook_ids": [mine[0], theirs]}, format="json"), 400)
    assert body["details"] == {"lorebook_ids.1": [services.NOT_YOUR_LOREBOOK]}
    body = assert_envelope(client.put(path, {"lorebook_ids": [mine[0], mine[0]]}, format="json"), 400)
    assert body["details"] == {"lorebook_ids.1": [services.LISTED_TWICE]}
    assert_envelope(client.put(path, {"lorebook_ids": mine}, format="json"), 400)
    assert_envelope(client.put(path, {"lorebook_ids": ["nope"]}, format="json"), 400)
    assert_envelope(client.put(path, {"lorebook_ids": [], "x": 1}, format="json"), 400)
    assert LorebookLink.objects.count() == 0

    assert_envelope(other.get(path), 404)
    assert_envelope(other.put(path, {"lorebook_ids": [theirs]}, format="json"), 404)
    assert_envelope(client.get(f"/api/v1/conversations/{uuid.uuid4()}/lorebooks"), 404)


def test_a_deleted_lorebook_leaves_the_conversation(client, conversation):
    path = f"/api/v1/conversations/{conversation.id}/lorebooks"
    (book,) = books(client, 1)
    client.put(path, {"lorebook_ids": [book]}, format="json")
    client.delete(f"{LIST}/{book}")
    assert client.get(path).json()["lorebook_ids"] == []


def test_a_novels_lorebooks_are_its_owners_or_staffs(client, reader, novel, make_user):
    path = f"/api/v1/novels/{novel.id}/lorebooks"
    (book,) = books(client, 1)
    if hasattr(Novel, "owner_id"):
        Novel.objects.filter(id=novel.id).update(owner=reader)
        assert client.put(path, {"lorebook_ids": [book]}, format="json").status_code == 200
    else:
        assert_envelope(client.put(path, {"lorebook_ids": [book]}, format="json"), 404)
    staff = make_user(is_staff=True)
    staff_client = client_for(staff)
    response = staff_client.put(path, {"lorebook_ids": [book]}, format="json")
    if hasattr(Novel, "owner_id"):
        assert response.json()["lorebook_ids"] == [book]  # the novel owner's book
    else:
        assert_envelope(response, 400)  # not the staff member's own
        (staff_book,) = books(staff_client, 1)
        book = staff_book
        assert staff_client.put(path, {"lorebook_ids": [book]}, format="json").status_code == 200
    assert staff_client.get(path).json()["lorebook_ids"] == [book]
    stranger = client_for(make_user())
    assert_envelope(stranger.get(path), 404)
    assert_envelope(stranger.put(path, {"lorebook_ids": []}, format="json"), 404)
    assert_envelope(staff_client.get(f"/api/v1/novels/{uuid.uuid4()}/lorebooks"), 404)


def test_books_for_turn_reads_the_conversations_then_the_novels(
    client, reader, conversation, novel, make_user, django_assert_max_num_queries
):
    staff = client_for(make_user(is_staff=True))
    first, second = books(client, 2)
    (novel_book,) = books(staff, 1)
    client.put(
        f"/api/v1/conversations/{conversation.id}/lorebooks", {"lorebook_ids": [second, first]}, format="json"
    )
    LorebookLink.objects.create(lorebook_id=novel_book, novel=novel, position=0)
    LorebookLink.objects.create(lorebook_id=first, novel=novel, position=1)  # already read: once
    with django_assert_max_num_queries(2):
        found = services.books_for_turn(conversation)
    assert [b.book_id for b in found] == [second, first, novel_book]
    assert (
        found[0].name == "Book 1"
        and found[0].book["entries"][0]["content"] == "A hobbit hole under the Hill."
    )

    other = make_conversation(reader, make_scenario(reader, base_story="the-hobbit"))
    assert [b.book_id for b in services.books_for_turn(other)] == [novel_book, first]


def test_card_for_is_the_owners_only(client, make_user):
    card_id = client.post(
        "/api/v1/characters/import", json.dumps(V2), content_type="application/json"
    ).json()["id"]
    owner_id = Lorebook._meta.get_field("owner").related_model.objects.get(username="reader").id
    assert services.card_for(owner_id, card_id).name == "Elizabeth"
    assert services.card_for(make_user().id, card_id) is None
    assert services.card_for(owner_id, "not-a-uuid") is None


def test_deleting_the_conversation_or_the_account_takes_what_was_theirs(client, reader, conversation):
    from accounts.services import account_delete
    from cards.models import CharacterCard
    from conftest import PASSWORD
    from conversations.services import conversation_delete

    (book,) = books(client, 1)
    path = f"/api/v1/conversations/{conversation.id}/lorebooks"
    client.put(path, {"lorebook_ids": [book]}, format="json")
    conversation_delete(conversation_id=conversation.id, user=reader)
    assert LorebookLink.objects.count() == 0 and Lorebook.objects.count() == 1

    client.post("/api/v1/characters/import", json.dumps(V2), content_type="application/json")
    account_delete(user=reader, password=PASSWORD)
    assert Lorebook.objects.count() == 0 and CharacterCard.objects.count() == 0
