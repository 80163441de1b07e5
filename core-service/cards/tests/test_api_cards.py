"""/api/v1/characters: import (file or JSON body), list, read, image, export,
delete. What is imported comes back unchanged; anyone but the owner gets
404; a bad file is a 400 on `file`, a big one 413, past the quota 409, and
nothing is half-stored."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from cards.models import CardAsset, CharacterCard
from cards.services import NUL_RULE, SURROGATE_RULE
from cards.tests.api_builders import (
    IMAGE_ONLY,
    V1,
    V2,
    V3,
    Routes,
    charx,
    chunk,
    client_for,
    png_card,
    png_chunks,
    png_texts,
    zip_members,
)
from conftest import assert_envelope

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/characters/import"
LIST = "/api/v1/characters"


ROUTES = Routes("characters")
post_file, post_json, export = ROUTES.post_file, ROUTES.post_json, ROUTES.export


def test_a_v2_json_file_imports_with_its_normalized_fields(client):
    response = post_file(client, "elizabeth.json", json.dumps(V2).encode())
    assert response.status_code == 201, response.content
    body = response.json()
    data = V2["data"]
    assert body["name"] == "Elizabeth"
    assert (body["spec"], body["container"], body["spec_version"]) == ("chara_card_v2", "json", "2.0")
    assert body["description"] == data["description"]  # <script> kept verbatim, as text
    assert body["first_mes"] == "Do you dance, {{user}}?"
    assert body["alternate_greetings"] == ["Good evening."]
    assert body["tags"] == ["regency", "romance"]
    assert body["creator"] == "jane" and body["creator_notes"] == "for people"
    assert body["lorebook_entries"] == 1
    assert body["has_image"] is False and body["assets"] == []
    assert isinstance(body["warnings"], list)
    assert set(body) >= {
        "id", "personality", "scenario", "group_only_greetings", "nickname", "created_at",
    }  # fmt: skip
    card = CharacterCard.objects.get(id=body["id"])
    assert card.document == V2 and card.owner.username == "reader"


@pytest.mark.parametrize("document", [V1, V2, V3], ids=["v1", "v2", "v3"])
def test_json_round_trip_gives_the_same_json(client, document):
    created = post_json(client, document)
    assert created.status_code == 201, created.content
    response = export(client, created.json()["id"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert json.loads(response.content) == document


def test_a_v1_card_is_version_1_0(client):
    body = post_json(client, V1).json()
    assert (body["spec"], body["spec_version"], body["name"]) == ("chara_card_v1", "1.0", "Old Tom")


def test_a_png_card_round_trips_and_keeps_its_image(client):
    created = post_file(client, "elizabeth.png", png_card(V2))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["container"] == "png" and body["has_image"] is True

    image = client.get(f"{LIST}/{body['id']}/image")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert png_texts(image.content) == {}  # the card's chunks are not in the image
    assert [kind for kind, _ in png_chunks(image.content)] == [b"IHDR", b"IDAT", b"IEND"]

    exported = export(client, body["id"])  # the container it came in
    assert exported.status_code == 200 and exported["Content-Type"] == "image/png"
    assert exported["Content-Disposition"] == 'attachment; filename="elizabeth.png"'
    assert png_texts(exported.content)["chara"] == V2

    again = post_file(client, "again.png", exported.content)
    assert again.status_code == 201
    assert json.loads(export(client, again.json()["id"], "json").content) == V2


def test_a_v3_png_reads_ccv3_and_exports_both_chunks(client):
    body = post_file(client, "mira.png", png_card(V3, keyword="ccv3")).json()
    assert body["spec"] == "chara_card_v3"
    texts = png_texts(export(client, body["id"], "png").content)
    assert texts["ccv3"] == V3
    assert texts["chara"]["spec"] == "chara_card_v2"  # the V2 copy for older readers


def test_a_charx_card_round_trips_with_its_assets(client):
    assets = {"assets/icon/images/main.png": IMAGE_ONLY, "assets/other/other/notes.txt": b"hello"}
    created = post_file(client, "mira.charx", charx(V3, assets))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["container"] == "charx"
    assert sorted((a["path"], a["size"]) for a in body["assets"]) == sorted(
        (path, len(data)) for path, data in assets.items()
    )
    assert body["nickname"] == "Mi" and body["group_only_greetings"] == ["Hello, all of you."]
    assert body["has_image"] is True  # its main icon
    assert client.get(f"{LIST}/{body['id']}/image").content == IMAGE_ONLY

    exported = export(client, body["id"])
    assert exported.status_code == 200
    assert exported["Content-Disposition"] == 'attachment; filename="mira.charx"'
    members = zip_members(exported.content)
    assert json.loads(members["card.json"]) == V3
    assert {path: members[path] for path in assets} == assets


def test_a_charx_icon_that_is_not_a_png_still_exports_as_a_png_card(client):
    broken = IMAGE_ONLY[:20] + b"junk, not the rest of a PNG"
    created = post_file(client, "mira.charx", charx(V3, {"assets/icon/images/main.png": broken}))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_image"] is False
    assert body["assets"] == [{"path": "assets/icon/images/main.png", "size": len(broken)}]
    exported = export(client, body["id"], "png")
    assert exported.status_code == 200, exported.content
    assert exported["Content-Type"] == "image/png"
    assert png_texts(exported.content)["ccv3"] == V3
    # a card stored before icons were checked: its bad image gives way to a blank one
    CharacterCard.objects.filter(id=body["id"]).update(image=broken)
    exported = export(client, body["id"], "png")
    assert exported.status_code == 200, exported.content
    assert png_texts(exported.content)["ccv3"] == V3
    assert post_file(client, "again.png", exported.content).json()["name"] == "Mira"  # it reads back


def test_a_v2_card_exports_as_charx_in_v3(client):
    body = post_json(client, V2).json()
    members = zip_members(export(client, body["id"], "charx").content)
    card = json.loads(members["card.json"])
    assert card["spec"] == "chara_card_v3" and card["data"]["name"] == "Elizabeth"
    assert card["data"]["extensions"]["x_app"] == {"kept": [1, 2]}


def test_a_card_without_image_has_no_image_route(client):
    body = post_json(client, V2).json()
    response = client.get(f"{LIST}/{body['id']}/image")
    assert_envelope(response, 404, "NOT_FOUND")


def test_list_detail_and_delete(client, reader, make_user):
    first = post_json(client, V1).json()
    second = post_file(client, "e.png", png_card(V2)).json()
    post_json(client_for(make_user()), V3)  # someone else's

    page = client.get(LIST).json()
    assert [c["id"] for c in page["content"]] == [second["id"], first["id"]]  # newest first
    assert page["page"]["total_elements"] == 2
    listed = {key: second[key] for key in page["content"][0]}
    assert page["content"][0] == listed  # the card's own values, without its texts
    assert set(listed) == {
        "id", "name", "nickname", "spec", "container", "spec_version", "tags", "creator", "has_image",
        "lorebook_entries", "created_at",
    }  # fmt: skip
    assert (listed["has_image"], listed["tags"]) == (True, ["regency", "romance"])
    assert client.get(f"{LIST}/{first['id']}").json() == first

    assert client.delete(f"{LIST}/{second['id']}").status_code == 204
    assert not CharacterCard.objects.filter(id=second["id"]).exists()
    assert_envelope(client.get(f"{LIST}/{second['id']}"), 404)
    assert_envelope(client.delete(f"{LIST}/{second['id']}"), 404)


def test_assets_go_with_their_card(client):
    body = post_file(client, "m.charx", charx(V3, {"assets/icon/images/main.png": IMAGE_ONLY})).json()
    assert CardAsset.objects.filter(card_id=body["id"]).count() == 1
    client.delete(f"{LIST}/{body['id']}")
    assert CardAsset.objects.count() == 0


def test_someone_elses_card_does_not_exist(client, make_user):
    body = post_file(client, "e.png", png_card(V2)).json()
    other = client_for(make_user())
    for path in ("", "/image", "/export", "/export?format=json"):
        assert_envelope(other.get(f"{LIST}/{body['id']}{path}"), 404, "NOT_FOUND")
    assert_envelope(other.delete(f"{LIST}/{body['id']}"), 404)
    assert other.get(LIST).json()["content"] == []
    assert CharacterCard.objects.filter(id=body["id"]).exists()
    assert_envelope(client.get(f"{LIST}/{uuid.uuid4()}"), 404)


def test_signed_out_readers_get_401(api):
    assert_envelope(api.get(LIST), 401)
    assert_envelope(api.post(IMPORT, json.dumps(V2), content_type="application/json"), 401)


def test_an_unknown_export_format_is_a_400(client):
    body = post_json(client, V2).json()
    response = export(client, body["id"], "gif")
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "format" in response.json()["details"]


# -- hostile input -------------------------------------------------------------------


def refused(response, status: int = 400) -> dict:
    body = assert_envelope(response, status)
    assert CharacterCard.objects.count() == 0 and CardAsset.objects.count() == 0
    return body


def test_a_corrupt_png_is_refused(client):
    raw = bytearray(png_card(V2))
    raw[45] ^= 0x01  # inside the tEXt chunk's data: its CRC no longer matches
    body = refused(post_file(client, "bad.png", bytes(raw)))
    assert "file" in body["details"]


def test_a_png_without_a_card_is_refused(client):
    body = refused(post_file(client, "plain.png", IMAGE_ONLY))
    assert "file" in body["details"]


def test_a_truncated_png_is_refused(client):
    refused(post_file(client, "cut.png", png_card(V2)[:60]))


def test_a_png_with_a_bad_crc_chunk_is_refused(client):
    raw = png_card(V2)
    bad = raw[:8] + chunk(b"IHDR", raw[16:29], crc=0) + raw[33:]
    refused(post_file(client, "crc.png", bad))


@pytest.mark.parametrize(
    "document",
    [
        {**V2, "spec_version": "3.0"},
        {**V3, "spec_version": "4.0"},
        {**V2, "spec": "chara_card_v9"},
        {**V2, "data": {**V2["data"], "name": ""}},
        {**V2, "data": {**V2["data"], "name": 42}},
        [1, 2, 3],
    ],
    ids=["v2-with-3.0", "v4", "unknown-spec", "empty-name", "number-name", "not-an-object"],
)
def test_a_wrong_card_is_a_400_on_file(client, document):
    body = refused(post_json(client, document))
    assert body["code"] == "VALIDATION_ERROR" and "file" in body["details"]


def test_a_newer_minor_version_imports_with_a_warning(client):
    document = copy.deepcopy(V3)
    document["spec_version"] = "3.4"
    response = post_json(client, document)
    assert response.status_code == 201, response.content
    assert response.json()["warnings"]
    assert json.loads(export(client, response.json()["id"]).content) == document


def test_not_json_and_invalid_utf8_are_refused(client):
    refused(post_file(client, "x.json", b"{not json"))
    refused(post_file(client, "x.json", b'{"name": "\xff\xfe"}'))


def test_a_nul_character_is_refused_with_a_clear_message(client):
    document = copy.deepcopy(V2)
    document["data"]["description"] = "a\u0000b"
    body = refused(post_json(client, document))
    assert body["details"] == {"file": [NUL_RULE]}


def test_a_lone_surrogate_is_refused_with_a_clear_message(client):
    for where in ("description", "key"):
        document = copy.deepcopy(V2)
        if where == "key":
            document["data"]["extensions"]["x\ud800"] = 1
        else:
            document["data"]["description"] = "half an emoji: \ud83d"
        body = refused(post_json(client, document))  # json.dumps writes it as the escape \\ud83d
        assert body["details"] == {"file": [SURROGATE_RULE]}
    document = copy.deepcopy(V2)
    document["data"]["description"] = "a whole one: \U0001f600, and the text \\u0000"
    assert post_json(client, document).status_code == 201


def test_a_zip_bomb_is_refused(client):
    bomb = charx(V3, {"assets/other/other/zeros.bin": b"\x00" * (30 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    refused(post_file(client, "bomb.charx", bomb))


def test_a_charx_without_card_json_is_refused(client):
    refused(post_file(client, "empty.charx", charx(None, {"assets/icon/images/main.png": IMAGE_ONLY})))


def test_a_charx_escaping_its_folder_is_refused(client):
    refused(post_file(client, "evil.charx", charx(V3, {"../../etc/passwd": b"x"})))


def test_a_50_mb_json_body_is_a_413(client):
    raw = b'{"name": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    refused(client.post(IMPORT, raw, content_type="application/json"), 413)


def test_a_50_mb_file_is_a_413(client):
    refused(post_file(client, "huge.json", b" " * (50 * 1024 * 1024)), 413)


def test_each_kind_has_its_own_size_limit(client, settings):
    settings.MAX_BODY_BYTES = 30 * 1024 * 1024  # past the request limit, the route's own
    body = refused(post_file(client, "big.json", b" " * (3 * 1024 * 1024)), 413)
    assert body["code"] == "PAYLOAD_TOO_LARGE" and "2 MB" in body["message"]


def test_other_files_and_bodies_are_refused(client):
    body = refused(post_file(client, "card.txt", json.dumps(V2).encode()))
    assert body["details"] == {"file": ["Use a .json, .png or .charx file."]}
    body = refused(client.post(IMPORT, {"other": "x"}, format="multipart"))
    assert body["details"] == {"file": ["This field is required."]}
    refused(client.post(IMPORT, "name: x", content_type="text/plain"), 415)
    refused(client.post(IMPORT, b"", content_type="application/json"))


def test_the_quota_is_a_409_and_stores_nothing(client, settings):
    settings.CARDS_MAX_PER_READER = 1
    assert post_json(client, V1).status_code == 201
    body = assert_envelope(post_file(client, "e.png", png_card(V2)), 409, "CONFLICT")
    assert "1 character cards" in body["message"]
    assert CharacterCard.objects.count() == 1


def test_a_name_in_any_script_names_the_download(client):
    document = copy.deepcopy(V2)
    document["data"]["name"] = "가지 소녀"
    body = post_json(client, document).json()
    response = export(client, body["id"])
    expected = "attachment; filename*=utf-8''%EA%B0%80%EC%A7%80-%EC%86%8C%EB%85%80.json"
    assert response["Content-Disposition"] == expected


def test_staff_see_cards_and_lorebooks_read_only_in_the_admin(client, make_user):
    from django.test import Client

    card = post_file(client, "e.png", png_card(V2)).json()
    staff = make_user(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    listing = admin.get("/admin/cards/charactercard/")
    assert listing.status_code == 200 and b"Elizabeth" in listing.content
    assert admin.get("/admin/cards/lorebook/").status_code == 200
    page = admin.get(f"/admin/cards/charactercard/{card['id']}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin.post(f"/admin/cards/charactercard/{card['id']}/delete/", {"post": "yes"}).status_code == 403
    assert CharacterCard.objects.filter(id=card["id"]).exists()
