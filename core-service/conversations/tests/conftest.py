"""Fixtures for the conversation tests: a stub ai server (a real HTTP server)
and builders for conversations with messages."""

from __future__ import annotations

import pytest

from internal.tests.stub_ai import StubAi


@pytest.fixture
def stub_ai(settings):
    stub = StubAi()
    settings.AI_BASE_URL = stub.url
    settings.AI_PUBLIC_URL = "https://ai.gaji.test"
    settings.AI_ENQUEUE_TIMEOUT_SECONDS = 0.5
    yield stub
    stub.down()
