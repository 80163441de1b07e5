"""Hostile input found in review: each once answered 500 or HTML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import assert_envelope, bearer_for

CORE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["ab%00c", "%00", "x" * 300, "a b"])
def test_impossible_usernames_are_404_not_500(username):
    response = Client(raise_request_exception=False).get(f"/api/v1/users/{username}")
    assert_envelope(response, 404, "NOT_FOUND")


@pytest.mark.django_db
def test_multipart_with_too_many_fields_is_400(user):
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=bearer_for(user))
    fields = {f"f{i}": "x" for i in range(1500)}
    response = client.post("/api/v1/users/profile/avatar", fields)
    assert_envelope(response, 400, "VALIDATION_ERROR")


@pytest.mark.django_db
def test_multipart_with_oversized_text_field_is_413(user, settings):
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=bearer_for(user))
    image = SimpleUploadedFile("a.png", b"\x89PNG", content_type="image/png")
    response = client.post(
        "/api/v1/users/profile/avatar", {"avatar": image, "note": "x" * (1024 * 1024 + 10)}
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.django_db
def test_admin_login_form_shares_the_login_rate_limit(make_user):
    client = Client()
    statuses = [
        client.post("/admin/login/", {"username": "nobody@example.com", "password": "wrong"}).status_code
        for _ in range(6)
    ]
    assert 429 not in statuses[:5]
    assert statuses[5] == 429


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/refresh"),
        ("get", "/api/v1/auth/jwks.json"),
    ],
)
def test_unauthenticated_public_routes_refuse_the_service_token(settings, method, path):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {settings.SERVICE_TOKEN}")
    response = getattr(client, method)(path, {}, content_type="application/json")
    assert_envelope(response, 403, "SERVICE_TOKEN_NOT_ALLOWED")


@pytest.mark.django_db
def test_static_file_errors_are_envelopes():
    response = Client().post("/static/admin/css/base.css")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("module", ["config.settings.local", "config.settings.production"])
def test_production_refuses_placeholder_secrets_whatever_the_settings_module(module, tmp_path):
    env = {
        **os.environ,
        "GAJI_ENV": "production",
        "DJANGO_SETTINGS_MODULE": module,
        "JWT_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem"),
    }
    env.pop("DJANGO_SECRET_KEY", None)
    env.pop("SERVICE_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=CORE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert not (tmp_path / "missing.pem").exists()
