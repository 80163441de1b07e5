"""Fixtures of the end-to-end tests: the running stack (tests-e2e/stack.py:
core, ai and the two Celery workers as real processes), HTTP clients, users."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest
from stack import ROOT, VENV_BIN, Stack, start_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest.fixture
def staff_token(stack, core) -> str:
    """An access token of the demo staff user (seed_demo, idempotent)."""
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "seed_demo"],
        cwd=ROOT / "core-service",
        env=stack.env,
        check=True,
        capture_output=True,
    )
    response = core.post("/api/v1/auth/login", json={"email": "admin@gaji.local", "password": "GajiAdmin123"})
    assert response.status_code == 200, response.text
    return response.json()["tokens"]["access_token"]


@pytest.fixture
def core(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.core_url, timeout=30) as client:
        yield client


@pytest.fixture
def ai(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.ai_url, timeout=30) as client:
        yield client


@pytest.fixture
def make_reader(core):
    """Registers a fresh reader: {user, tokens, password}."""

    def make() -> dict:
        tag = uuid.uuid4().hex[:10]
        password = "E2ePassw0rd"
        response = core.post(
            "/api/v1/auth/register",
            json={"email": f"e2e_{tag}@example.com", "username": f"e2e_{tag}", "password": password},
        )
        assert response.status_code == 201, response.text
        return {**response.json(), "password": password}

    return make


@pytest.fixture
def reader(make_reader) -> dict:
    """A freshly registered reader: {user, tokens, password}."""
    return make_reader()
