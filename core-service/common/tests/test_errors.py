"""The error envelope, request ids and body limits, on every kind of failure."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from accounts import services
from common import health
from conftest import assert_envelope

LOGIN = "/api/v1/auth/login"


@pytest.mark.django_db
def test_unknown_route_is_json_404(api):
    body = assert_envelope(api.get("/no/such/route"), 404, "NOT_FOUND")
    assert body["path"] == "/no/such/route"


@pytest.mark.django_db
def test_unknown_api_route_is_json_404(api):
    assert_envelope(api.post("/api/v1/nothing-here", {}, format="json"), 404, "NOT_FOUND")


@pytest.mark.django_db
def test_trailing_slash_is_not_redirected(api):
    response = api.post(LOGIN + "/", {}, format="json")
    assert_envelope(response, 404, "NOT_FOUND")


@pytest.mark.django_db
def test_method_not_allowed(api):
    response = api.get(LOGIN)
    body = assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in body["message"]
    assert "POST" in response["Allow"]


@pytest.mark.django_db
def test_method_not_allowed_lists_allowed_methods(api):
    response = api.delete("/api/v1/auth/jwks.json")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


@pytest.mark.django_db
def test_malformed_json(api):
    response = api.post(LOGIN, '{"email": "a@b.c", "password": ', content_type="application/json")
    body = assert_envelope(response, 400, "MALFORMED_JSON")
    assert body["message"] == "Malformed JSON body."


@pytest.mark.django_db
def test_text_plain_body_is_415(api):
    response = api.post(LOGIN, "email=a&password=b", content_type="text/plain")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.django_db
def test_form_body_is_415(api):
    response = api.post(LOGIN, {"email": "a@b.c", "password": "x"})  # multipart
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.django_db
def test_json_body_over_one_mib_is_413(api, monkeypatch):
    monkeypatch.setattr(services, "user_login", lambda **kw: pytest.fail("view reached"))
    payload = json.dumps({"email": "a@b.c", "password": "x" * (1024 * 1024)})
    assert len(payload) > 1024 * 1024
    body = assert_envelope(
        api.post(LOGIN, payload, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE"
    )
    assert body["message"] == f"Request body exceeds {1024 * 1024} bytes."


@pytest.mark.django_db
def test_json_body_just_under_limit_is_parsed(api, settings):
    settings.MAX_BODY_BYTES = 2048
    payload = json.dumps({"email": "a@b.c", "password": "x" * 1900})
    assert len(payload) <= 2048
    # Parsed and validated (password max 128) rather than refused for size.
    body = assert_envelope(api.post(LOGIN, payload, content_type="application/json"), 400, "VALIDATION_ERROR")
    assert "password" in body["details"]


@pytest.mark.django_db
def test_invalid_content_length(api):
    response = api.post(LOGIN, "{}", content_type="application/json", CONTENT_LENGTH="-5")
    assert_envelope(response, 400, "VALIDATION_ERROR")


@pytest.mark.django_db
def test_unhandled_exception_in_api_view_is_500_without_internals(monkeypatch, user):
    def explode(**kwargs):
        raise RuntimeError("secret-detail")

    monkeypatch.setattr(services, "user_login", explode)
    client = Client(raise_request_exception=False)
    response = client.post(LOGIN, {"email": user.email, "password": "x"}, content_type="application/json")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "Internal server error."
    text = response.content.decode()
    assert "secret-detail" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text


@pytest.mark.django_db
def test_unhandled_exception_outside_drf_is_500_envelope(monkeypatch):
    def explode(check):
        raise RuntimeError("secret-detail")

    monkeypatch.setattr(health, "_timed", explode)
    client = Client(raise_request_exception=False)
    response = client.get("/readyz")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "Internal server error."
    assert "secret-detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
def test_every_response_carries_a_request_id(api):
    ok = api.get("/healthz")
    err = api.get("/nope")
    for response in (ok, err):
        uuid.UUID(response["X-Request-ID"])
    assert ok["X-Request-ID"] != err["X-Request-ID"]


@pytest.mark.django_db
def test_incoming_request_id_is_echoed_and_is_the_trace_id(api):
    rid = "client-req_42:abc.DEF"
    response = api.get("/nope", HTTP_X_REQUEST_ID=rid)
    assert response["X-Request-ID"] == rid
    assert assert_envelope(response, 404)["trace_id"] == rid
    assert api.get("/healthz", HTTP_X_REQUEST_ID=rid)["X-Request-ID"] == rid


@pytest.mark.parametrize(
    "hostile",
    ["has spaces in it", "line\nbreak", "x" * 500, "<script>", "a;b", "caf\u00e9"],
)
@pytest.mark.django_db
def test_hostile_request_id_is_replaced(api, hostile):
    response = api.get("/nope", HTTP_X_REQUEST_ID=hostile)
    assert response["X-Request-ID"] != hostile
    uuid.UUID(response["X-Request-ID"])
    assert assert_envelope(response, 404)["trace_id"] == response["X-Request-ID"]
    assert hostile not in response.content.decode()


@pytest.mark.django_db
def test_request_id_of_128_chars_is_kept_129_replaced(api):
    assert api.get("/healthz", HTTP_X_REQUEST_ID="a" * 128)["X-Request-ID"] == "a" * 128
    assert api.get("/healthz", HTTP_X_REQUEST_ID="a" * 129)["X-Request-ID"] != "a" * 129


@pytest.mark.django_db
def test_validation_error_envelope_has_details(api):
    body = assert_envelope(api.post(LOGIN, {"email": "a@b.c"}, format="json"), 400, "VALIDATION_ERROR")
    assert body["details"] == {"password": ["This field is required."]}
    assert body["message"] == "Validation failed for field 'password': This field is required."


@pytest.mark.django_db
def test_path_with_control_characters_is_sanitised(api):
    body = assert_envelope(api.get("/bad%0Apath%00here"), 404)
    assert body["path"] == "/badpathhere"


@pytest.mark.django_db
def test_django_html_error_pages_become_json():
    # A CSRF failure on the admin login is rendered by Django as an HTML 403
    # page; ErrorEnvelopeMiddleware turns it into the envelope.
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    body = assert_envelope(response, 403, "PERMISSION_DENIED")
    assert "<html" not in response.content.decode().lower()
    assert body["path"] == "/admin/login/"


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_not_a_500(api):
    body = "[" * 200_000 + "]" * 200_000  # within the 1 MiB limit, beyond Python's recursion limit
    response = api.post(LOGIN, data=body, content_type="application/json")
    envelope = assert_envelope(response, 400, "MALFORMED_JSON")
    assert "Traceback" not in envelope["message"]


@pytest.mark.django_db
def test_database_outage_is_a_503_with_retry_after(monkeypatch, user):
    from django.db import OperationalError

    def unreachable(**kwargs):
        raise OperationalError("connection to server at 10.0.0.1 failed")

    monkeypatch.setattr(services, "user_login", unreachable)
    client = Client(raise_request_exception=False)
    response = client.post(LOGIN, {"email": user.email, "password": "x"}, content_type="application/json")
    assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert response["Retry-After"] == "5"
    assert "10.0.0.1" not in response.content.decode()
