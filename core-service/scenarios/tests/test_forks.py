"""Forks: meta-timelines of any depth. Forking, exact counters under
concurrency, the database's cycle guard, direct forks, the fork tree (one
query) and the ancestor path."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from conftest import assert_envelope
from novels.models import Novel
from scenarios.models import Scenario
from scenarios.quality import quality_formula
from scenarios.tests.helpers import (
    CHARACTER,
    EVENT,
    SCENARIOS,
    SETTING,
    client_for,
    fetch,
    make_fork,
    make_scenario,
    soft_delete,
)

TREE_NODE_FIELDS = {
    "id",
    "base_story",
    "scenario_type",
    "parameters",
    "fork_count",
    "quality_score",
    "created_at",
    "is_deleted",
    "children",
}


def fork_url(scenario) -> str:
    return f"{SCENARIOS}/{scenario.id}/fork"


# --- POST /scenarios/{id}/fork ----------------------------------------------


def test_fork_inherits_story_and_novel_and_counts_on_the_parent(user, make_user):
    novel = Novel.objects.create(slug="harry_potter", title="Harry Potter")
    root = make_scenario(user)
    assert root.novel_id == novel.id
    forker = make_user()

    response = client_for(forker).post(
        fork_url(root), {"scenario_type": "EVENT_ALTERATION", "parameters": EVENT}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["base_story"] == "harry_potter"
    assert data["novel_id"] == str(novel.id)
    assert data["parent_scenario_id"] == str(root.id)
    assert data["parent"] == {"id": str(root.id), "is_deleted": False}
    assert data["scenario_type"] == "EVENT_ALTERATION"
    assert data["parameters"] == EVENT
    assert data["creator_id"] == str(forker.id)
    assert data["fork_count"] == 0 and data["quality_score"] == 0.0 and data["conversation_count"] == 0
    assert data["id"] != str(root.id)

    parent = fetch(root.id)
    assert parent.fork_count == 1
    assert parent.quality_score == quality_formula(1, 0)
    assert parent.quality_score == 2 / 12

    response = client_for(forker).post(fork_url(root), {"parameters": CHARACTER}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["scenario_type"] == "CHARACTER_CHANGE"  # the parent's type by default
    parent = fetch(root.id)
    assert parent.fork_count == 2
    assert parent.quality_score == quality_formula(2, 0)


def test_fork_of_a_fork_counts_only_on_its_direct_parent(user):
    root = make_scenario(user)
    child = make_fork(root, user)
    response = client_for(user).post(
        fork_url(child), {"scenario_type": "SETTING_MODIFICATION", "parameters": SETTING}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["parent_scenario_id"] == str(child.id)
    assert fetch(child.id).fork_count == 1
    assert fetch(root.id).fork_count == 1
    assert fetch(root.id).quality_score == quality_formula(1, 0)


def test_fork_validates_parameters_against_the_new_type(auth_api, user):
    root = make_scenario(user)
    # Character parameters under the event type: refused with the event schema's paths.
    response = auth_api.post(
        fork_url(root), {"scenario_type": "EVENT_ALTERATION", "parameters": CHARACTER}, format="json"
    )
    data = assert_envelope(response, 422, "PARAMETERS_INVALID")
    assert {"parameters.event", "parameters.alteration_type", "parameters.new_outcome"} <= set(
        data["details"]
    )
    assert "parameters.character" in data["details"]  # an unknown key for this type
    # Without a type, the parent's schema applies.
    response = auth_api.post(fork_url(root), {"parameters": EVENT}, format="json")
    assert_envelope(response, 422, "PARAMETERS_INVALID")
    response = auth_api.post(
        fork_url(root), {"scenario_type": "TIME_TRAVEL", "parameters": EVENT}, format="json"
    )
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "scenario_type" in data["details"]
    assert Scenario.objects.count() == 1
    assert fetch(root.id).fork_count == 0 and fetch(root.id).quality_score == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"base_story": "lord_of_the_rings"},
        {"parent_scenario_id": str(uuid.uuid4())},
        {"quality_score": 1},
        {"fork_count": 5},
        {"creator_id": str(uuid.uuid4())},
        {"id": str(uuid.uuid4())},
    ],
)
def test_fork_refuses_other_fields(auth_api, user, extra):
    root = make_scenario(user)
    response = auth_api.post(fork_url(root), {"parameters": CHARACTER, **extra}, format="json")
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert set(data["details"]) == set(extra)
    assert Scenario.objects.count() == 1 and fetch(root.id).fork_count == 0


def test_fork_unknown_or_deleted_parent_is_404(auth_api, user):
    response = auth_api.post(f"{SCENARIOS}/{uuid.uuid4()}/fork", {"parameters": CHARACTER}, format="json")
    assert_envelope(response, 404, "NOT_FOUND")
    root = make_scenario(user)
    soft_delete(root)
    assert_envelope(auth_api.post(fork_url(root), {"parameters": CHARACTER}, format="json"), 404, "NOT_FOUND")
    assert Scenario.objects.count() == 1


def test_fork_anonymous_is_401_service_token_403(api, user, settings):
    root = make_scenario(user)
    assert_envelope(
        api.post(fork_url(root), {"parameters": CHARACTER}, format="json"), 401, "NOT_AUTHENTICATED"
    )
    response = api.post(
        fork_url(root),
        {"parameters": CHARACTER},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}",
    )
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")
    assert Scenario.objects.count() == 1 and fetch(root.id).fork_count == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_forks_count_exactly(make_user):
    threads_n = 8
    owner = make_user()
    root = make_scenario(owner)
    clients = [client_for(make_user()) for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def fork(client):
        try:
            barrier.wait(timeout=30)
            response = client.post(fork_url(root), {"parameters": CHARACTER}, format="json")
            with lock:
                statuses.append(response.status_code)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fork, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert statuses == [201] * threads_n
    parent = fetch(root.id)
    assert parent.fork_count == threads_n
    assert parent.quality_score == quality_formula(threads_n, 0)
    assert Scenario.objects.filter(parent_id=root.id).count() == threads_n


# --- the cycle guard, in the database ---------------------------------------


def _sql_update_parent(target_id, new_parent_id) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scenarios_scenario SET parent_id = %s WHERE id = %s", [new_parent_id, target_id]
        )


def _assert_trigger_refused(caught) -> None:
    assert isinstance(caught.value, IntegrityError)
    assert getattr(caught.value.__cause__, "sqlstate", None) == "23514"  # check_violation
    assert "would be its own ancestor" in str(caught.value)


def test_database_refuses_a_cycle_through_sql(user):
    root = make_scenario(user)
    child = make_fork(root, user)
    grandchild = make_fork(child, user)

    with pytest.raises(IntegrityError) as caught:
        _sql_update_parent(root.id, grandchild.id)
    _assert_trigger_refused(caught)
    with pytest.raises(IntegrityError) as caught:
        _sql_update_parent(root.id, child.id)
    _assert_trigger_refused(caught)
    with pytest.raises(IntegrityError) as caught:
        _sql_update_parent(child.id, grandchild.id)
    _assert_trigger_refused(caught)

    assert fetch(root.id).parent_id is None
    assert fetch(child.id).parent_id == root.id
    assert fetch(grandchild.id).parent_id == child.id

    # The guard refuses cycles, not moves: re-parenting elsewhere works.
    _sql_update_parent(grandchild.id, root.id)
    assert fetch(grandchild.id).parent_id == root.id


def test_database_refuses_self_parenting_through_sql(user):
    root = make_scenario(user)
    with pytest.raises(IntegrityError) as caught:
        _sql_update_parent(root.id, root.id)
    _assert_trigger_refused(caught)
    assert fetch(root.id).parent_id is None

    # An INSERT naming itself as its parent is refused as well.
    new_id = uuid.uuid4()
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO scenarios_scenario (id, base_story, parent_id, creator_id, scenario_type,
                   parameters, quality_score, fork_count, conversation_count, created_at, updated_at)
               VALUES (%s, 'x', %s, %s, 'CHARACTER_CHANGE', '{}', 0, 0, 0, now(), now())""",
            [new_id, new_id, user.id],
        )
    _assert_trigger_refused(caught)
    assert not Scenario.objects.filter(id=new_id).exists()


def test_database_refuses_a_cycle_through_the_orm(user):
    root = make_scenario(user)
    child = make_fork(root, user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Scenario.objects.filter(id=root.id).update(parent_id=child.id)
    assert fetch(root.id).parent_id is None


# --- GET /scenarios/{id}/forks -----------------------------------------------


def test_forks_lists_direct_children_newest_first(api, user, make_user):
    root = make_scenario(user)
    children = [make_fork(root, make_user()) for _ in range(4)]
    for day, child in zip((3, 1, 4, 2), children, strict=True):
        Scenario.objects.filter(id=child.id).update(created_at=datetime(2024, 1, day, tzinfo=UTC))
    make_fork(children[0], user)  # a grandchild: not a direct fork
    soft_delete(children[3])  # deleted: not listed

    response = api.get(f"{SCENARIOS}/{root.id}/forks")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"parent", "forks", "page"}
    assert data["parent"] == {
        "id": str(root.id),
        "base_story": "harry_potter",
        "scenario_type": "CHARACTER_CHANGE",
    }
    assert [f["id"] for f in data["forks"]] == [str(children[i].id) for i in (2, 0, 1)]
    assert data["page"] == {"number": 0, "size": 20, "total_elements": 3, "total_pages": 1}
    assert all(f["parent_scenario_id"] == str(root.id) for f in data["forks"])
    assert data["forks"][1]["fork_count"] == 1

    page = api.get(f"{SCENARIOS}/{root.id}/forks", {"size": 2, "page": 1}).json()
    assert [f["id"] for f in page["forks"]] == [str(children[1].id)]
    assert page["page"] == {"number": 1, "size": 2, "total_elements": 3, "total_pages": 2}
    assert_envelope(api.get(f"{SCENARIOS}/{root.id}/forks", {"size": 101}), 400, "VALIDATION_ERROR")


def test_forks_of_a_leaf_is_empty_and_unknown_404(api, user, django_assert_max_num_queries):
    root = make_scenario(user)
    leaf = make_fork(root, user)
    data = api.get(f"{SCENARIOS}/{leaf.id}/forks").json()
    assert data["forks"] == [] and data["page"]["total_elements"] == 0
    assert_envelope(api.get(f"{SCENARIOS}/{uuid.uuid4()}/forks"), 404, "NOT_FOUND")
    for _ in range(10):
        make_fork(root, user)
    with django_assert_max_num_queries(3):  # parent, count, page
        response = api.get(f"{SCENARIOS}/{root.id}/forks")
    assert len(response.json()["forks"]) == 11


# --- GET /scenarios/{id}/fork-tree -------------------------------------------


def tree_url(scenario) -> str:
    return f"{SCENARIOS}/{scenario.id}/fork-tree"


def test_fork_tree_of_a_lone_root(api, user):
    root = make_scenario(user)
    response = api.get(tree_url(root))
    assert response.status_code == 200
    data = response.json()
    assert set(data) == TREE_NODE_FIELDS | {"depth", "total_descendants"}
    assert data["id"] == str(root.id)
    assert data["children"] == []
    assert data["depth"] == 0
    assert data["total_descendants"] == 0
    assert data["parameters"] == CHARACTER  # an object, not a JSON string
    assert data["is_deleted"] is False
    assert data["base_story"] == "harry_potter" and data["scenario_type"] == "CHARACTER_CHANGE"


def test_fork_tree_nests_children(api, user):
    root = make_scenario(user)
    a = make_fork(root, user, "EVENT_ALTERATION")
    b = make_fork(a, user, "SETTING_MODIFICATION")
    c = make_fork(root, user)
    data = api.get(tree_url(root)).json()
    assert data["depth"] == 2
    assert data["total_descendants"] == 3
    assert data["fork_count"] == 2
    assert {child["id"] for child in data["children"]} == {str(a.id), str(c.id)}
    node_a = next(child for child in data["children"] if child["id"] == str(a.id))
    assert set(node_a) == TREE_NODE_FIELDS
    assert node_a["parameters"] == EVENT and node_a["scenario_type"] == "EVENT_ALTERATION"
    assert node_a["fork_count"] == 1
    assert [n["id"] for n in node_a["children"]] == [str(b.id)]
    assert node_a["children"][0]["parameters"] == SETTING
    assert node_a["children"][0]["children"] == []

    # The tree of a middle node is its subtree, its depth counted from it.
    sub = api.get(tree_url(a)).json()
    assert sub["id"] == str(a.id) and sub["depth"] == 1 and sub["total_descendants"] == 1


def chain(user, length: int) -> list[Scenario]:
    nodes = [make_scenario(user)]
    while len(nodes) < length:
        nodes.append(make_fork(nodes[-1], user))
    return nodes


def test_fork_tree_max_depth_truncates(api, user):
    nodes = chain(user, 5)
    data = api.get(tree_url(nodes[0]), {"max_depth": 2}).json()
    assert data["depth"] == 2
    assert data["total_descendants"] == 2
    level1 = data["children"][0]
    assert level1["id"] == str(nodes[1].id)
    level2 = level1["children"][0]
    assert level2["id"] == str(nodes[2].id)
    assert level2["children"] == []  # cut at max_depth
    assert level2["fork_count"] == 1  # yet it does have a fork

    full = api.get(tree_url(nodes[0])).json()  # default max_depth 10
    assert full["depth"] == 4 and full["total_descendants"] == 4
    one = api.get(tree_url(nodes[0]), {"max_depth": 1}).json()
    assert one["depth"] == 1 and one["children"][0]["children"] == []
    assert api.get(tree_url(nodes[0]), {"max_depth": 50}).json()["depth"] == 4


@pytest.mark.parametrize("max_depth", ["0", "51", "abc", "-1", "1.5", ""])
def test_fork_tree_max_depth_bounds(api, user, max_depth):
    root = make_scenario(user)
    response = api.get(tree_url(root), {"max_depth": max_depth})
    if max_depth == "":
        assert response.status_code == 200  # empty means the default
        return
    data = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "max_depth" in data["details"]


def test_fork_tree_deleted_forks_are_placeholders_with_live_children(api, user):
    root = make_scenario(user)
    a = make_fork(root, user)
    b = make_fork(a, user)
    c = make_fork(b, user)
    soft_delete(a)
    soft_delete(c)
    data = api.get(tree_url(root)).json()
    assert data["depth"] == 3
    assert data["total_descendants"] == 1  # only b is live
    placeholder = data["children"][0]
    assert set(placeholder) == {"id", "is_deleted", "children"}
    assert placeholder["id"] == str(a.id) and placeholder["is_deleted"] is True
    live = placeholder["children"][0]
    assert live["id"] == str(b.id) and live["is_deleted"] is False and set(live) == TREE_NODE_FIELDS
    assert live["children"] == [{"id": str(c.id), "is_deleted": True, "children": []}]
    assert_envelope(api.get(tree_url(a)), 404, "NOT_FOUND")
    assert_envelope(api.get(f"{SCENARIOS}/{uuid.uuid4()}/fork-tree"), 404, "NOT_FOUND")


def _walk(node, parent_id, depth, seen):
    seen[node["id"]] = (parent_id, depth, node["is_deleted"])
    for child in node["children"]:
        _walk(child, node["id"], depth + 1, seen)


def test_fork_tree_of_200_nodes_in_one_query(api, user, make_user, django_assert_max_num_queries):
    others = [make_user() for _ in range(3)]
    root = make_scenario(user)
    nodes = [root]
    # Node i hangs under node (i - 1) // 3: a ternary tree, 5 levels deep.
    for i in range(1, 200):
        kind = ("CHARACTER_CHANGE", "EVENT_ALTERATION", "SETTING_MODIFICATION")[i % 3]
        nodes.append(make_fork(nodes[(i - 1) // 3], others[i % 3], kind))
    deleted = {nodes[i].id for i in (2, 7, 40, 150)}
    for scenario in nodes:
        if scenario.id in deleted:
            soft_delete(scenario)
    unrelated = make_scenario(user)
    make_fork(unrelated, user)

    with django_assert_max_num_queries(3):
        response = api.get(tree_url(root), {"max_depth": 50})
    assert response.status_code == 200
    data = response.json()

    seen: dict = {}
    _walk(data, None, 0, seen)
    expected_depth = {0: 0}
    for i in range(1, 200):
        expected_depth[i] = expected_depth[(i - 1) // 3] + 1
    assert seen == {
        str(nodes[i].id): (
            None if i == 0 else str(nodes[(i - 1) // 3].id),
            expected_depth[i],
            nodes[i].id in deleted,
        )
        for i in range(200)
    }
    assert data["depth"] == max(expected_depth.values()) == 5
    assert data["total_descendants"] == 199 - len(deleted)


# --- GET /scenarios/{id}/ancestors -------------------------------------------


def test_ancestors_path_root_to_self(api, user, django_assert_max_num_queries):
    nodes = chain(user, 4)
    lone = api.get(f"{SCENARIOS}/{nodes[0].id}/ancestors").json()
    assert lone["scenario_id"] == str(nodes[0].id)
    assert [(p["id"], p["depth"]) for p in lone["path"]] == [(str(nodes[0].id), 0)]

    with django_assert_max_num_queries(3):
        response = api.get(f"{SCENARIOS}/{nodes[3].id}/ancestors")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"scenario_id", "path"}
    assert data["scenario_id"] == str(nodes[3].id)
    assert [(p["id"], p["depth"]) for p in data["path"]] == [(str(n.id), d) for d, n in enumerate(nodes)]
    for step in data["path"]:
        assert step["is_deleted"] is False
        assert step["base_story"] == "harry_potter" and step["scenario_type"] == "CHARACTER_CHANGE"
        assert step["parameters"] == CHARACTER  # an object, not a JSON string
        assert step["created_at"]


def test_ancestors_show_deleted_ancestors_as_placeholders(api, user):
    nodes = chain(user, 4)
    soft_delete(nodes[0])
    soft_delete(nodes[2])
    path = api.get(f"{SCENARIOS}/{nodes[3].id}/ancestors").json()["path"]
    assert path[0] == {"id": str(nodes[0].id), "depth": 0, "is_deleted": True}
    assert path[1]["id"] == str(nodes[1].id) and path[1]["is_deleted"] is False and path[1]["depth"] == 1
    assert path[2] == {"id": str(nodes[2].id), "depth": 2, "is_deleted": True}
    assert path[3]["id"] == str(nodes[3].id) and path[3]["depth"] == 3
    assert_envelope(api.get(f"{SCENARIOS}/{nodes[2].id}/ancestors"), 404, "NOT_FOUND")
    assert_envelope(api.get(f"{SCENARIOS}/{uuid.uuid4()}/ancestors"), 404, "NOT_FOUND")
