"""common/fastget.py: anonymous GETs of the hot public reads skip DRF's
dispatch; requests with a token, other methods and errors behave as before."""

from __future__ import annotations

import pytest
from rest_framework.views import APIView

from conftest import assert_envelope
from scenarios.tests.helpers import client_for, make_scenario

HOT = ["/api/v1/scenarios/{id}", "/api/v1/scenarios", "/api/v1/scenarios/search?q=x"]


@pytest.fixture
def dispatches(monkeypatch):
    calls = []
    original = APIView.dispatch

    def counting(self, request, *args, **kwargs):
        calls.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "dispatch", counting)
    return calls


@pytest.mark.parametrize("path", HOT)
def test_an_anonymous_get_skips_drf(api, user, dispatches, path):
    scenario = make_scenario(user)
    response = api.get(path.format(id=scenario.id))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert dispatches == []


@pytest.mark.parametrize("path", HOT)
def test_a_get_with_a_token_goes_through_drf(user, dispatches, path):
    scenario = make_scenario(user)
    assert client_for(user).get(path.format(id=scenario.id)).status_code == 200
    assert len(dispatches) == 1


def test_an_invalid_token_is_still_refused_on_a_public_read(api, user):
    scenario = make_scenario(user)
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert_envelope(api.get(f"/api/v1/scenarios/{scenario.id}"), 401)


def test_errors_on_the_fast_path_are_envelopes(api, db, dispatches):
    data = assert_envelope(api.get("/api/v1/scenarios", {"sort": "id,asc"}), 400, "VALIDATION_ERROR")
    assert "sort" in data["details"]
    assert_envelope(api.get("/api/v1/scenarios/00000000-0000-0000-0000-000000000000"), 404, "NOT_FOUND")
    assert_envelope(api.get("/api/v1/conversations/00000000-0000-0000-0000-000000000000"), 404, "NOT_FOUND")
    assert dispatches == []
