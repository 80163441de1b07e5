"""The API document's text patterns say what the server accepts: a value a
field's pattern allows is stored, one it refuses is a 400 on that field."""

from __future__ import annotations

import re

import pytest

from conversations.tests.helpers import make_conversation

TEXT_CASES = {"words": "Hello there", "blank": "   \n\t", "nul": "a\x00b"}


def _body_schema(document: dict, path: str, method: str) -> dict:
    node = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].removeprefix("#/components/schemas/")]
    return node


@pytest.mark.parametrize(
    ("path", "method", "field"),
    [
        ("/api/v1/conversations/{conversation_id}/messages", "post", "content"),
        ("/api/v1/conversations/{conversation_id}/memo", "post", "memo_text"),
        ("/api/v1/conversations/{conversation_id}", "put", "title"),
    ],
)
def test_text_patterns_say_what_the_server_accepts(user, auth_api, stub_ai, path, method, field):
    document = auth_api.get("/api/v1/openapi.json").json()
    pattern = re.compile(_body_schema(document, path, method)["properties"][field]["pattern"])
    assert pattern.search(TEXT_CASES["words"])
    assert not pattern.search(TEXT_CASES["blank"]) and not pattern.search(TEXT_CASES["nul"])
    url = path.replace("{conversation_id}", str(make_conversation(user).id))
    for name, text in TEXT_CASES.items():
        response = getattr(auth_api, method)(url, {field: text}, format="json")
        if pattern.search(text):
            assert response.status_code < 300, (name, response.content)
        else:
            assert response.status_code == 400, (name, response.content)
            assert field in response.json()["details"], (name, response.content)
