"""Fixtures of the cards API tests: one reader and their client."""

from __future__ import annotations

import pytest

from cards.tests.api_builders import client_for


@pytest.fixture
def reader(make_user):
    return make_user(username="reader")


@pytest.fixture
def client(reader):
    return client_for(reader)
