"""The novel admin: changelist with search and filters, change and add pages."""

from __future__ import annotations

import pytest
from django.test import Client

from novels.models import Novel
from scenarios.tests.helpers import make_scenario, soft_delete

CHANGELIST = "/admin/novels/novel/"


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def shown(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [novel.slug for novel in response.context["cl"].result_list]


@pytest.fixture
def novels(db) -> list[Novel]:
    return [
        Novel.objects.create(slug="emma", title="Emma", author="Jane Austen", ingestion_status="completed"),
        Novel.objects.create(slug="dracula", title="Dracula", author="Bram Stoker", language="en"),
        Novel.objects.create(
            slug="les-miserables",
            title="Les Misérables",
            author="Victor Hugo",
            language="fr",
            genre="Historical",
        ),
    ]


def test_changelist_search_and_filters(admin_client, novels):
    response = admin_client.get(CHANGELIST)
    assert shown(response) == ["dracula", "emma", "les-miserables"]  # by title
    assert list(response.context["cl"].list_display)[1:4] == ["title", "slug", "author"]
    assert shown(admin_client.get(CHANGELIST, {"q": "austen"})) == ["emma"]
    assert shown(admin_client.get(CHANGELIST, {"q": "misérables"})) == ["les-miserables"]
    assert shown(admin_client.get(CHANGELIST, {"q": "les-mis"})) == ["les-miserables"]  # slug
    assert shown(admin_client.get(CHANGELIST, {"q": "tolkien"})) == []
    assert shown(admin_client.get(CHANGELIST, {"ingestion_status__exact": "completed"})) == ["emma"]
    assert shown(admin_client.get(CHANGELIST, {"ingestion_status__exact": "pending"})) == [
        "dracula",
        "les-miserables",
    ]
    assert shown(admin_client.get(CHANGELIST, {"language__exact": "fr"})) == ["les-miserables"]


def test_changelist_counts_live_scenarios(admin_client, novels, make_user):
    creator = make_user()
    make_scenario(creator, base_story="emma")
    soft_delete(make_scenario(creator, base_story="emma"))
    response = admin_client.get(CHANGELIST)
    counts = {novel.slug: novel.live_scenarios for novel in response.context["cl"].result_list}
    assert counts == {"emma": 1, "dracula": 0, "les-miserables": 0}


def test_change_and_add_pages(admin_client, novels):
    emma = novels[0]
    response = admin_client.get(f"{CHANGELIST}{emma.pk}/change/")
    assert response.status_code == 200
    assert f"?novel__id__exact={emma.pk}" in response.content.decode()
    assert admin_client.get(f"/admin/scenarios/scenario/?novel__id__exact={emma.pk}").status_code == 200
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 200

    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "slug": "dune",
            "title": "Dune",
            "author": "Frank Herbert",
            "publication_year": 1965,
            "genre": "Science fiction",
            "language": "en",
            "ingestion_status": "pending",
            "total_passages": 0,
            "total_characters": 0,
            "vectordb_collection_id": "novel_passages",
            "visibility": "public",
            "source": "catalogue",
            "source_bytes": 0,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Novel.objects.get(slug="dune").author == "Frank Herbert"


def test_owner_visibility_and_source_are_shown_and_filterable(admin_client, novels, make_user):
    reader = make_user(username="importer")
    Novel.objects.create(
        slug="mine-1a2b3c4d",
        title="Mine",
        owner=reader,
        visibility="private",
        source="upload",
        source_bytes=9,
    )
    assert shown(admin_client.get(CHANGELIST, {"visibility": "private"})) == ["mine-1a2b3c4d"]
    assert shown(admin_client.get(CHANGELIST, {"source": "upload"})) == ["mine-1a2b3c4d"]
    assert shown(admin_client.get(CHANGELIST, {"q": "importer"})) == ["mine-1a2b3c4d"]
    page = admin_client.get(CHANGELIST).content.decode()
    assert "importer" in page and "private" in page
