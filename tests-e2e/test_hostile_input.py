"""Hostile input against both running services, over HTTP: oversized and
deeply nested JSON, wrong content types, invalid UTF-8, NUL bytes, absurd
page numbers, negative and non-UUID ids, SQL and trigram metacharacters in
every search box, markup in text fields. Every answer is the error envelope
with a 4xx (or a normal 2xx), never a 5xx; markup is stored as text."""

from __future__ import annotations

import uuid

import pytest
from test_conversations_journey import bearer

TEN_MB = b'{"content": "' + b"a" * (10 * 1024 * 1024) + b'"}'
NESTED = b'{"content": ' + b"[" * 20000 + b"]" * 20000 + b"}"
BODIES = [
    (TEN_MB, "application/json"),
    (NESTED, "application/json"),
    (b'{"content": "\xff\xfe\xfa"}', "application/json"),
    (b'{"content": "a\\u0000b", "title": "x\\u0000"}', "application/json"),
    (b"content=hello", "application/x-www-form-urlencoded"),
    (b"<xml/>", "application/xml"),
    (b"{", "application/json"),
    (b"[]", "application/json"),
    (b"", "application/json"),
]
SEARCHES = [
    "' OR 1=1 --",
    "%_%",
    "\\",
    "a:*&!|()<->",
    "'; DROP TABLE scenarios; --",
    "%" * 500,
    "ñ" * 300,
    "\u0000",
]


def assert_envelope(response, *allowed: int) -> None:
    assert response.status_code < 500, (response.request.url, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == response.status_code and body["code"] and body["trace_id"], body
        if allowed:
            assert response.status_code in allowed, (response.request.url, response.status_code)


@pytest.fixture
def owned(core, reader):
    me = bearer(reader["tokens"]["access_token"])
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {"character": "Mary Bennet", "property": "skill", "new_value": "sings well"},
        },
        headers=me,
    ).json()
    conversation = core.post("/api/v1/conversations", json={"scenario_id": scenario["id"]}, headers=me).json()
    return me, scenario, conversation


def test_hostile_bodies_never_break_a_write_route(stack, core, ai, owned):
    me, scenario, conversation = owned
    routes = [
        (core, "POST", "/api/v1/auth/register"),
        (core, "POST", "/api/v1/auth/login"),
        (core, "PUT", "/api/v1/users/profile"),
        (core, "POST", "/api/v1/scenarios"),
        (core, "PUT", f"/api/v1/scenarios/{scenario['id']}"),
        (core, "POST", f"/api/v1/scenarios/{scenario['id']}/fork"),
        (core, "POST", "/api/v1/conversations"),
        (core, "PUT", f"/api/v1/conversations/{conversation['id']}"),
        (core, "POST", f"/api/v1/conversations/{conversation['id']}/messages"),
        (core, "POST", f"/api/v1/conversations/{conversation['id']}/memo"),
        (ai, "POST", "/api/ai/search/passages"),
        (ai, "POST", f"/api/ai/conversations/{conversation['id']}/messages"),
    ]
    for client, method, path in routes:
        for body, content_type in BODIES:
            response = client.request(
                method, path, content=body, headers={**me, "Content-Type": content_type}
            )
            assert_envelope(response, 400, 404, 413, 415, 422)
    # Nothing was written by any of it.
    messages = core.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=me).json()
    assert messages["content"] == []
    assert core.get(f"/api/v1/scenarios/{scenario['id']}").json()["parameters"]["new_value"] == "sings well"


def test_absurd_ids_and_pages(core, ai, owned):
    me, scenario, _conversation = owned
    for bad in ("-1", "0", "not-a-uuid", "9" * 40, "%00", "..%2F..%2Fetc%2Fpasswd", str(uuid.uuid4())):
        for path in (
            f"/api/v1/scenarios/{bad}",
            f"/api/v1/scenarios/{bad}/fork-tree",
            f"/api/v1/conversations/{bad}",
            f"/api/v1/conversations/{bad}/messages",
            f"/api/v1/novels/{bad}",
            f"/api/v1/users/{bad}",
        ):
            assert_envelope(core.get(path, headers=me), 400, 404)
        assert_envelope(ai.get(f"/api/ai/characters/{bad}", headers=me), 400, 404, 422)
    for params in (
        {"page": "99999999999999999999"},
        {"page": "-1"},
        {"size": "100000"},
        {"size": "0"},
        {"page": "1e9"},
        {"sort": "password,desc"},
        {"sort": "created_at,sideways"},
        {"max_depth": "100000"},
    ):
        for path in (
            "/api/v1/scenarios",
            "/api/v1/conversations",
            "/api/v1/novels",
            "/api/v1/scenarios/search",
        ):
            assert_envelope(core.get(path, params={"q": "x", **params}), 400)
        assert_envelope(core.get(f"/api/v1/scenarios/{scenario['id']}/fork-tree", params=params), 400)


def test_metacharacters_in_every_search_box(core, ai, owned):
    me, _, _ = owned
    for query in SEARCHES:
        assert_envelope(core.get("/api/v1/scenarios/search", params={"q": query}), 400)
        assert_envelope(core.get("/api/v1/novels", params={"q": query}), 400)
        assert_envelope(
            ai.post("/api/ai/search/passages", json={"query": query, "top_k": 3}, headers=me), 400, 404
        )


def test_markup_is_stored_as_text(core, owned):
    me, _scenario, conversation = owned
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    memo = core.post(
        f"/api/v1/conversations/{conversation['id']}/memo", json={"memo_text": script}, headers=me
    )
    assert memo.status_code == 201 and memo.json()["memo_text"] == script
    renamed = core.put(f"/api/v1/conversations/{conversation['id']}", json={"title": script}, headers=me)
    assert renamed.status_code == 200 and renamed.json()["title"] == script
    profile = core.put("/api/v1/users/profile", json={"bio": script}, headers=me)
    assert profile.status_code == 200 and profile.json()["bio"] == script
    # Served as JSON, never as a page a browser would run.
    shown = core.get(f"/api/v1/conversations/{conversation['id']}")
    assert shown.headers["content-type"].startswith("application/json")
    assert shown.json()["title"] == script
