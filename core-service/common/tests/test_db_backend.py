"""core's PostgreSQL backend (common/db): the health check without a round
trip still notices a connection the server has closed, and the fast cursor
runs inside Django's error handling and query log."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext

from common.db.base import fast_cursor

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_idle_healthy_connection_is_usable_without_asking_the_server():
    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        assert connection.is_usable()
    assert len(queries) == 0


def test_a_connection_the_server_terminated_is_not_usable():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable()
    # Django's per-request check then replaces it: the next query works.
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_fast_cursor_wraps_errors_and_logs_queries():
    with CaptureQueriesContext(connection) as queries, fast_cursor() as cursor:
        cursor.execute("SELECT %s::int + 1", [41])
        assert cursor.fetchone() == (42,)
    assert len(queries) == 1 and "SELECT" in queries[0]["sql"]
    # psycopg's QueryCanceled arrives as Django's OperationalError (a 503 in the API).
    with pytest.raises(OperationalError), fast_cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1; SELECT pg_sleep(0.5)")
