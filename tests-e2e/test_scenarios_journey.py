"""A reader's What-If journey over HTTP against the real services."""

from __future__ import annotations

import uuid


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_reader_creates_forks_and_finds_a_scenario(stack, core, reader):
    slug = f"e2e-novel-{uuid.uuid4().hex[:8]}"
    # The ai service registers a novel through the internal API (as ingestion will).
    novel = core.post(
        "/api/internal/novels",
        json={"title": "E2E Novel", "author": "Test Author", "slug": slug},
        headers=bearer(stack.service_token),
    )
    assert novel.status_code == 201, novel.text
    assert core.get(f"/api/v1/novels/{slug}").json()["id"] == novel.json()["id"]

    me = bearer(reader["tokens"]["access_token"])
    word = f"zanzibar{uuid.uuid4().hex[:6]}"
    root = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": slug,
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {"character": f"Captain {word}", "property": "skill", "new_value": "can fly"},
        },
        headers=me,
    )
    assert root.status_code == 201, root.text
    assert root.json()["novel_id"] == novel.json()["id"]

    child = core.post(
        f"/api/v1/scenarios/{root.json()['id']}/fork",
        json={
            "scenario_type": "EVENT_ALTERATION",
            "parameters": {"event": "The storm", "alteration_type": "prevent", "new_outcome": "Calm seas"},
        },
        headers=me,
    ).json()
    grandchild = core.post(
        f"/api/v1/scenarios/{child['id']}/fork",
        json={"parameters": {"event": "The rescue", "alteration_type": "accelerate", "new_outcome": "Early"}},
        headers=me,
    ).json()

    tree = core.get(f"/api/v1/scenarios/{root.json()['id']}/fork-tree").json()
    assert (tree["depth"], tree["total_descendants"]) == (2, 2)
    assert tree["children"][0]["children"][0]["id"] == grandchild["id"]
    path = core.get(f"/api/v1/scenarios/{grandchild['id']}/ancestors").json()["path"]
    assert [node["id"] for node in path] == [root.json()["id"], child["id"], grandchild["id"]]

    found = core.get("/api/v1/scenarios/search", params={"q": word}).json()
    assert [item["id"] for item in found["content"]] == [root.json()["id"]]
    assert found["content"][0]["relevance_score"] > 0
    assert found["facets"]["scenario_types"]["CHARACTER_CHANGE"] == 1

    # Soft delete the middle: 404 for it, its fork still reachable.
    assert core.delete(f"/api/v1/scenarios/{child['id']}", headers=me).status_code == 204
    assert core.get(f"/api/v1/scenarios/{child['id']}").status_code == 404
    assert core.get(f"/api/v1/scenarios/{grandchild['id']}").json()["parent"]["is_deleted"] is True
