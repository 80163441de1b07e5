"""Fixtures for the conversation tests: a stub ai server (a real HTTP server)
and builders for conversations with messages."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from integrations.ai import models_cache_key
from integrations.tests.stub_ai import StubAi


@pytest.fixture
def stub_ai(settings):
    stub = StubAi(service_token=settings.SERVICE_TOKEN)
    settings.AI_BASE_URL = stub.url
    settings.AI_PUBLIC_URL = "https://ai.gaji.test"
    settings.AI_ENQUEUE_TIMEOUT_SECONDS = 0.5
    cache.delete(models_cache_key(stub.url))  # a port an earlier test's stub had
    yield stub
    stub.down()
    cache.delete(models_cache_key(stub.url))
