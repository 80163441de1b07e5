"""Novels: the public catalogue (/api/v1/novels) and the ai service's
internal API (/api/internal/novels, service token only)."""

from __future__ import annotations

import re
import uuid

import pytest

from conftest import assert_envelope, bearer_for
from novels.models import Novel

NOVELS = "/api/v1/novels"
INTERNAL = "/api/internal/novels"
NOVEL_FIELDS = {
    "id",
    "slug",
    "title",
    "author",
    "publication_year",
    "genre",
    "language",
    "ingestion_status",
    "total_passages",
    "total_characters",
    "vectordb_collection_id",
    "owner_id",
    "visibility",
    "source",
    "created_at",
    "updated_at",
}


@pytest.fixture
def service(settings) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {settings.SERVICE_TOKEN}"}


def novel(slug: str, title: str, author: str = "", status: str = "pending", **fields) -> Novel:
    return Novel.objects.create(slug=slug, title=title, author=author, ingestion_status=status, **fields)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["content"]]


# --- public ------------------------------------------------------------------


def test_list_is_paginated_and_sorted_by_title(api, db):
    novel("emma", "Emma", "Jane Austen", "completed")
    novel("dracula", "Dracula", "Bram Stoker")
    novel("pride-and-prejudice", "Pride and Prejudice", "Jane Austen", "completed")
    response = api.get(NOVELS, {"size": 2})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"content", "page"}
    assert data["page"] == {"number": 0, "size": 2, "total_elements": 3, "total_pages": 2}
    assert set(data["content"][0]) == NOVEL_FIELDS
    assert slugs(response) == ["dracula", "emma"]
    assert slugs(api.get(NOVELS, {"size": 2, "page": 1})) == ["pride-and-prejudice"]
    assert_envelope(api.get(NOVELS, {"size": 500}), 400, "VALIDATION_ERROR")


def test_list_status_filter(api, db):
    novel("emma", "Emma", status="completed")
    novel("dracula", "Dracula", status="processing")
    novel("ulysses", "Ulysses", status="failed")
    assert slugs(api.get(NOVELS, {"status": "completed"})) == ["emma"]
    assert slugs(api.get(NOVELS, {"status": "processing"})) == ["dracula"]
    assert slugs(api.get(NOVELS, {"status": "pending"})) == []
    data = assert_envelope(api.get(NOVELS, {"status": "done"}), 400, "VALIDATION_ERROR")
    assert "status" in data["details"]


def test_list_search_title_and_author(api, db):
    novel("emma", "Emma", "Jane Austen")
    novel("dracula", "Dracula", "Bram Stoker")
    novel("persuasion", "Persuasion", "Jane Austen")
    assert slugs(api.get(NOVELS, {"q": "austen"})) == ["emma", "persuasion"]
    assert slugs(api.get(NOVELS, {"q": "DRAC"})) == ["dracula"]
    assert slugs(api.get(NOVELS, {"q": "stoker", "status": "completed"})) == []
    assert slugs(api.get(NOVELS, {"q": "nobody"})) == []
    assert_envelope(api.get(NOVELS, {"q": "x" * 201}), 400, "VALIDATION_ERROR")


def test_list_search_treats_wildcards_literally(api, db):
    novel("percent", "100% Human", "A_B Writer")
    novel("plain", "1000 Humans", "AxB Writer")
    assert slugs(api.get(NOVELS, {"q": "100%"})) == ["percent"]
    assert slugs(api.get(NOVELS, {"q": "%"})) == ["percent"]
    assert slugs(api.get(NOVELS, {"q": "A_B"})) == ["percent"]
    assert slugs(api.get(NOVELS, {"q": "_"})) == ["percent"]
    assert slugs(api.get(NOVELS, {"q": "\\"})) == []


def test_get_by_id_or_slug(api, db):
    target = novel("pride-and-prejudice", "Pride and Prejudice", "Jane Austen", publication_year=1813)
    by_id = api.get(f"{NOVELS}/{target.id}")
    assert by_id.status_code == 200
    data = by_id.json()
    assert set(data) == NOVEL_FIELDS
    assert data["id"] == str(target.id) and data["publication_year"] == 1813
    assert api.get(f"{NOVELS}/pride-and-prejudice").json() == data
    assert_envelope(api.get(f"{NOVELS}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_envelope(api.get(f"{NOVELS}/no-such-novel"), 404, "NOT_FOUND")


def test_public_routes_refuse_the_service_token(api, db, service):
    target = novel("emma", "Emma")
    assert_envelope(api.get(NOVELS, **service), 403, "SERVICE_TOKEN_NOT_ALLOWED")
    assert_envelope(api.get(f"{NOVELS}/{target.id}", **service), 403, "SERVICE_TOKEN_NOT_ALLOWED")


# --- internal ------------------------------------------------------------------


def test_internal_create(api, db, service):
    payload = {
        "title": "Pride and Prejudice",
        "author": "Jane Austen",
        "publication_year": 1813,
        "genre": "Romance",
        "ingestion_status": "processing",
    }
    response = api.post(INTERNAL, payload, format="json", **service)
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == NOVEL_FIELDS
    assert data["slug"] == "pride-and-prejudice"  # made from the title
    assert {k: data[k] for k in payload} == payload
    assert data["language"] == "en" and data["total_passages"] == 0
    stored = Novel.objects.get(id=data["id"])
    assert stored.slug == "pride-and-prejudice" and stored.ingestion_status == "processing"


def test_internal_create_with_slug_and_defaults(api, db, service):
    response = api.post(INTERNAL, {"title": "  Emma  ", "slug": "emma_1815"}, format="json", **service)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["slug"] == "emma_1815" and data["title"] == "Emma"
    assert data["ingestion_status"] == "pending" and data["author"] == ""


@pytest.mark.parametrize(
    "title,slug",
    [
        ("War _ Peace", "war-peace"),
        ("  --Foo__Bar--  ", "foo_bar"),
        ("Émile: or, On Education", "emile-or-on-education"),
        ("x" * 99 + " y", "x" * 99),
        ("日本語", "novel"),
    ],
)
def test_internal_create_slug_from_title_is_a_usable_base_story(api, db, service, title, slug):
    response = api.post(INTERNAL, {"title": title}, format="json", **service)
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == slug
    assert re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", slug) and len(slug) <= 100


def test_internal_create_duplicate_slug_is_409(api, db, service):
    assert api.post(INTERNAL, {"title": "Emma"}, format="json", **service).status_code == 201
    data = assert_envelope(api.post(INTERNAL, {"title": "Emma"}, format="json", **service), 409, "CONFLICT")
    assert "slug" in data["details"]
    response = api.post(INTERNAL, {"title": "Another", "slug": "emma"}, format="json", **service)
    assert_envelope(response, 409, "CONFLICT")
    assert Novel.objects.count() == 1


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"title": "Emma", "isbn": "123"}, "isbn"),
        ({"title": "Emma", "id": str(uuid.uuid4())}, "id"),
        ({"title": "Emma", "ingestion_status": "done"}, "ingestion_status"),
        ({"title": "Emma", "slug": "Not A Slug"}, "slug"),
        ({"title": "Emma", "publication_year": 99999}, "publication_year"),
        ({"title": ""}, "title"),
        ({"author": "Nobody"}, "title"),
        ({"title": "x" * 301}, "title"),
    ],
)
def test_internal_create_refuses_bad_input(api, db, service, payload, field):
    data = assert_envelope(api.post(INTERNAL, payload, format="json", **service), 400, "VALIDATION_ERROR")
    assert field in data["details"], data["details"]
    assert not Novel.objects.exists()


def test_internal_create_refuses_a_non_object(api, db, service):
    assert_envelope(api.post(INTERNAL, ["Emma"], format="json", **service), 400, "VALIDATION_ERROR")
    assert_envelope(
        api.post(INTERNAL, "{oops", content_type="application/json", **service), 400, "MALFORMED_JSON"
    )


def test_internal_get(api, db, service):
    target = novel("emma", "Emma")
    response = api.get(f"{INTERNAL}/{target.id}", **service)
    assert response.status_code == 200
    assert response.json()["id"] == str(target.id)
    assert response.json()["vectordb_collection_id"] == "novel_passages"
    assert api.get(f"{INTERNAL}/emma", **service).json()["id"] == str(target.id)
    assert_envelope(api.get(f"{INTERNAL}/{uuid.uuid4()}", **service), 404, "NOT_FOUND")


def test_internal_patch_changes_only_sent_fields(api, db, service):
    target = novel("emma", "Emma", "Jane Austen", "processing", genre="Comedy", publication_year=1815)
    before = Novel.objects.get(id=target.id)
    payload = {"ingestion_status": "completed", "total_passages": 1200, "total_characters": 45}
    response = api.patch(f"{INTERNAL}/{target.id}", payload, format="json", **service)
    assert response.status_code == 200, response.content
    data = response.json()
    assert {k: data[k] for k in payload} == payload
    after = Novel.objects.get(id=target.id)
    assert (after.ingestion_status, after.total_passages, after.total_characters) == ("completed", 1200, 45)
    for name in (
        "slug",
        "title",
        "author",
        "genre",
        "publication_year",
        "language",
        "vectordb_collection_id",
    ):
        assert getattr(after, name) == getattr(before, name), name
    assert after.updated_at > before.updated_at

    response = api.patch(f"{INTERNAL}/emma", {"genre": "Satire"}, format="json", **service)
    assert response.status_code == 200
    after = Novel.objects.get(id=target.id)
    assert after.genre == "Satire" and after.ingestion_status == "completed" and after.total_passages == 1200

    # An explicit null clears a nullable field.
    response = api.patch(f"{INTERNAL}/emma", {"publication_year": None}, format="json", **service)
    assert response.status_code == 200
    assert Novel.objects.get(id=target.id).publication_year is None


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"ingestion_status": "done"}, "ingestion_status"),
        ({"slug": "new-slug"}, "slug"),
        ({"unknown": 1}, "unknown"),
        ({"total_passages": -1}, "total_passages"),
        # Fields that cannot be empty refuse an explicit null (400, not 500).
        ({"ingestion_status": None}, "ingestion_status"),
        ({"title": None}, "title"),
        ({"author": None}, "author"),
        ({"total_passages": None}, "total_passages"),
        ({"language": None}, "language"),
        ({"vectordb_collection_id": None}, "vectordb_collection_id"),
    ],
)
def test_internal_patch_refuses_bad_input(api, db, service, payload, field):
    target = novel("emma", "Emma", "Jane Austen", "processing")
    response = api.patch(f"{INTERNAL}/{target.id}", payload, format="json", **service)
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in data["details"], data["details"]
    after = Novel.objects.get(id=target.id)
    assert (after.slug, after.title, after.author, after.ingestion_status) == (
        "emma",
        "Emma",
        "Jane Austen",
        "processing",
    )


def test_internal_patch_unknown_is_404(api, db, service):
    response = api.patch(f"{INTERNAL}/{uuid.uuid4()}", {"genre": "x"}, format="json", **service)
    assert_envelope(response, 404, "NOT_FOUND")


def test_internal_list_by_status_for_the_ai_check(api, db, service):
    """ai lists the novels core calls ingested to check its vector store."""
    novel("emma", "Emma", status="completed", total_passages=10)
    novel("dracula", "Dracula", status="missing", total_passages=7)
    novel("dune", "Dune", status="processing")
    assert slugs(api.get(INTERNAL, {"status": "completed"}, **service)) == ["emma"]
    assert slugs(api.get(INTERNAL, {"status": "missing"}, **service)) == ["dracula"]
    page = api.get(INTERNAL, {"size": 2}, **service).json()
    assert page["page"]["total_elements"] == 3 and len(page["content"]) == 2
    assert page["content"][0]["total_passages"] == 7  # Dracula first, by title
    assert_envelope(api.get(INTERNAL, {"status": "nonsense"}, **service), 400, "VALIDATION_ERROR")


def test_ai_marks_a_novel_missing_and_back(api, db, service):
    target = novel("emma", "Emma", status="completed", total_passages=10)
    response = api.patch(f"{INTERNAL}/{target.id}", {"ingestion_status": "missing"}, format="json", **service)
    assert response.status_code == 200, response.content
    assert api.get(f"{NOVELS}/emma").json()["ingestion_status"] == "missing"
    assert slugs(api.get(NOVELS, {"status": "missing"})) == ["emma"]
    api.patch(f"{INTERNAL}/{target.id}", {"ingestion_status": "completed"}, format="json", **service)
    assert Novel.objects.get(id=target.id).ingestion_status == "completed"


def test_internal_routes_refuse_users_and_anonymous(api, user):
    target = novel("emma", "Emma")
    jwt = {"HTTP_AUTHORIZATION": bearer_for(user)}
    for method, url, payload in (
        ("get", INTERNAL, None),
        ("get", f"{INTERNAL}/{target.id}", None),
        ("post", INTERNAL, {"title": "Dracula"}),
        ("patch", f"{INTERNAL}/{target.id}", {"genre": "Horror"}),
    ):
        call = getattr(api, method)
        assert_envelope(call(url, payload, format="json", **jwt), 403, "SERVICE_TOKEN_REQUIRED")
        assert_envelope(call(url, payload, format="json"), 401, "NOT_AUTHENTICATED")
    assert list(Novel.objects.values_list("slug", "genre")) == [("emma", "")]


def test_scenario_on_a_created_novel_is_linked(api, auth_api, db, service):
    response = api.post(INTERNAL, {"title": "Dune", "slug": "dune"}, format="json", **service)
    assert response.status_code == 201
    novel_id = response.json()["id"]
    scenario = auth_api.post(
        "/api/v1/scenarios",
        {
            "base_story": "dune",
            "scenario_type": "SETTING_MODIFICATION",
            "parameters": {
                "setting_element": "era",
                "scope": "global",
                "change_description": "The Butlerian Jihad never happened",
                "impact_level": "major",
            },
        },
        format="json",
    )
    assert scenario.status_code == 201, scenario.content
    assert scenario.json()["novel_id"] == novel_id
    assert Novel.objects.get(id=novel_id).scenarios.count() == 1
