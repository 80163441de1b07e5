"""The scenario admin: changelist columns, search (parameters included),
filters, the change page with parent and forks, parameter validation, and
the soft-delete / restore actions (counters included)."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from accounts.models import User
from scenarios.models import Scenario
from scenarios.quality import quality_formula
from scenarios.tests.helpers import CHARACTER, SCENARIOS, client_for, fetch, make_fork, make_scenario

CHANGELIST = "/admin/scenarios/scenario/"


def change_url(scenario) -> str:
    return f"{CHANGELIST}{scenario.pk}/change/"


@pytest.fixture
def staff(make_user) -> User:
    return make_user(username="the_boss", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def shown(response) -> set:
    assert response.status_code == 200, response.content[:300]
    return {scenario.pk for scenario in response.context["cl"].result_list}


def test_admin_requires_staff(make_user):
    client = Client()
    assert client.get(CHANGELIST).status_code == 302
    client.force_login(make_user())
    response = client.get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_changelist_columns(admin_client, make_user):
    make_scenario(make_user())
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert list(response.context["cl"].list_display)[1:] == [
        "id",
        "scenario_type",
        "base_story",
        "creator",
        "fork_count",
        "quality_score",
        "deleted_at",
    ]
    assert "/admin/scenarios/scenario/" in admin_client.get("/admin/").content.decode()


def test_changelist_search(admin_client, make_user):
    hermione_fan = make_user(username="hermione_fan")
    other = make_user(username="someone_else")
    hermione = make_scenario(hermione_fan)
    event = make_scenario(
        other,
        "EVENT_ALTERATION",
        base_story="lord_of_the_rings",
        parameters={
            "event": "The Ring is destroyed at Weathertop",
            "alteration_type": "accelerate",
            "new_outcome": "Frodo goes home early",
        },
    )
    setting = make_scenario(other, "SETTING_MODIFICATION", base_story="dune")

    assert shown(admin_client.get(CHANGELIST, {"q": "Weathertop"})) == {event.pk}  # inside parameters
    assert shown(admin_client.get(CHANGELIST, {"q": "slytherin"})) == {hermione.pk}  # case-insensitive
    assert shown(admin_client.get(CHANGELIST, {"q": "magic_system"})) == {setting.pk}  # an enum value
    assert shown(admin_client.get(CHANGELIST, {"q": "hermione_fan"})) == {hermione.pk}  # creator
    assert shown(admin_client.get(CHANGELIST, {"q": "lord_of_the"})) == {event.pk}  # base story
    assert shown(admin_client.get(CHANGELIST, {"q": str(setting.pk)})) == {setting.pk}  # id
    assert shown(admin_client.get(CHANGELIST, {"q": "Frodo home"})) == {event.pk}  # every word, anywhere
    assert shown(admin_client.get(CHANGELIST, {"q": "nothing-like-this"})) == set()
    assert shown(admin_client.get(CHANGELIST, {"q": "100%_"})) == set()


def test_changelist_filters(admin_client, make_user):
    creator = make_user()
    a = make_scenario(creator)
    b = make_scenario(creator, "EVENT_ALTERATION", base_story="dune")
    c = make_scenario(creator, "SETTING_MODIFICATION", base_story="dune")
    child = make_fork(a, creator)
    client_for(creator).delete(f"{SCENARIOS}/{c.id}")

    assert shown(admin_client.get(CHANGELIST)) == {a.pk, b.pk, c.pk, child.pk}  # deleted ones too
    assert shown(admin_client.get(CHANGELIST, {"scenario_type__exact": "EVENT_ALTERATION"})) == {b.pk}
    assert shown(admin_client.get(CHANGELIST, {"base_story": "dune"})) == {b.pk, c.pk}
    assert shown(admin_client.get(CHANGELIST, {"deleted": "yes"})) == {c.pk}
    assert shown(admin_client.get(CHANGELIST, {"deleted": "no"})) == {a.pk, b.pk, child.pk}
    assert shown(admin_client.get(CHANGELIST, {"deleted": "no", "base_story": "dune"})) == {b.pk}
    assert shown(admin_client.get(CHANGELIST, {"parent__id__exact": str(a.pk)})) == {child.pk}
    assert shown(admin_client.get(CHANGELIST, {"q": "dune", "deleted": "yes"})) == {c.pk}


def test_change_page_shows_parent_and_forks(admin_client, make_user):
    creator = make_user()
    root = make_scenario(creator)
    middle = make_fork(root, creator, "EVENT_ALTERATION")
    kept = make_fork(middle, creator)
    gone = make_fork(middle, creator, "SETTING_MODIFICATION")
    client_for(creator).delete(f"{SCENARIOS}/{gone.id}")

    response = admin_client.get(change_url(middle))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{change_url(root)}"' in html  # the parent
    assert f'href="{change_url(kept)}"' in html and f'href="{change_url(gone)}"' in html  # the forks
    assert html.count("(deleted)") == 1
    assert f"?parent__id__exact={middle.pk}" in html

    html = admin_client.get(change_url(root)).content.decode()
    assert "a root scenario" in html
    assert admin_client.get(change_url(kept)).status_code == 200
    assert "no forks" in admin_client.get(change_url(kept)).content.decode()


def test_add_and_hard_delete_are_not_offered(admin_client, make_user):
    scenario = make_scenario(make_user())
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{scenario.pk}/delete/").status_code == 403
    actions = dict(admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert actions["restore_selected"] == "Restore selected (undo soft delete)"
    assert actions["soft_delete_selected"] == "Soft-delete selected"


def change_form(scenario, **changes) -> dict:
    return {
        "novel": scenario.novel_id or "",
        "creator": scenario.creator_id,
        "parameters": json.dumps(changes.get("parameters", scenario.parameters)),
    }


def test_change_validates_parameters_against_the_type(admin_client, make_user):
    scenario = make_scenario(make_user())
    response = admin_client.post(
        change_url(scenario), change_form(scenario, parameters={**CHARACTER, "property": "wand"})
    )
    assert response.status_code == 200  # the form again, with the error
    assert "parameters.property" in response.content.decode()
    assert fetch(scenario.id).parameters == CHARACTER

    edited = {**CHARACTER, "new_value": "  Ravenclaw  "}
    response = admin_client.post(change_url(scenario), change_form(scenario, parameters=edited))
    assert response.status_code == 302, response.content[:2000]
    stored = fetch(scenario.id)
    assert stored.parameters == {**CHARACTER, "new_value": "Ravenclaw"}
    assert (stored.base_story, stored.scenario_type, stored.parent_id) == (
        "harry_potter",
        "CHARACTER_CHANGE",
        None,
    )


def run_action(admin_client, action: str, *scenarios):
    return admin_client.post(
        CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [str(s.pk) for s in scenarios], "index": 0}
    )


def test_restore_action_undoes_a_soft_delete(admin_client, api, make_user):
    creator = make_user()
    root = make_scenario(creator)
    fork = make_fork(root, creator)
    live = make_scenario(creator)
    assert client_for(creator).delete(f"{SCENARIOS}/{fork.id}").status_code == 204
    assert api.get(f"{SCENARIOS}/{fork.id}").status_code == 404
    assert fetch(root.id).fork_count == 0 and fetch(root.id).quality_score == 0

    response = run_action(admin_client, "restore_selected", fork, live)
    assert response.status_code == 302
    assert api.get(f"{SCENARIOS}/{fork.id}").status_code == 200
    assert fetch(fork.id).deleted_at is None
    parent = fetch(root.id)
    assert parent.fork_count == 1
    assert parent.quality_score == quality_formula(1, 0)
    assert fetch(live.id).deleted_at is None

    # Restoring again changes nothing (the counter is not bumped twice).
    run_action(admin_client, "restore_selected", fork)
    assert fetch(root.id).fork_count == 1


def test_soft_delete_action(admin_client, api, make_user):
    creator = make_user()
    root = make_scenario(creator)
    fork = make_fork(root, creator)
    grandchild = make_fork(fork, creator)
    response = run_action(admin_client, "soft_delete_selected", fork)
    assert response.status_code == 302
    assert api.get(f"{SCENARIOS}/{fork.id}").status_code == 404
    assert Scenario.objects.filter(id=fork.id, deleted_at__isnull=False).exists()  # soft: the row stays
    assert fetch(root.id).fork_count == 0
    assert api.get(f"{SCENARIOS}/{grandchild.id}").json()["parent"] == {
        "id": str(fork.id),
        "is_deleted": True,
    }

    run_action(admin_client, "soft_delete_selected", fork)  # twice: counted once
    assert fetch(root.id).fork_count == 0
    run_action(admin_client, "restore_selected", fork)
    assert fetch(root.id).fork_count == 1
    assert api.get(f"{SCENARIOS}/{fork.id}").status_code == 200
