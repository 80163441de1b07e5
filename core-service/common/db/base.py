"""Django's PostgreSQL backend with a cheaper connection health check.

With CONN_HEALTH_CHECKS Django asks the server `SELECT 1` before the first
query of every request that reuses a connection: a whole round trip, a
quarter of the time of GET /api/v1/scenarios/{id} under load (profiled,
issue 14). Here a reused connection is checked locally instead: psycopg
knows when it is closed or broken, and an idle connection has nothing to
read unless the server spoke first. PostgreSQL writes a FATAL message (or
the socket's end of file) to every connection it terminates or restarts,
so after a restart the socket is readable and only then is the server
asked. A connection that dies without a word (a pulled cable) fails its
next query, as it would have failed the `SELECT 1`.

`fast_cursor()` gives the hot read paths a server-side-binding psycopg
cursor on the same connection, inside Django's error wrapping: psycopg
prepares a statement after it has run a few times on a connection, so the
fixed SQL of the hot reads is parsed and planned once per connection, not
once per request (Django's ClientCursor inlines parameters and cannot)."""

from __future__ import annotations

import contextlib
import select
import time
import uuid

import psycopg
from django.db import connection as default_connection
from django.db.backends.postgresql import base
from django.http import Http404


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        if readable:
            # The server said something while the connection was idle
            # (usually "terminating connection"): ask it.
            return super().is_usable()
        return True


class _LoggedCursor:
    """Records each query in Django's query log, as Django's own debug
    cursor does (DEBUG, assertNumQueries)."""

    def __init__(self, cursor, connection):
        self._cursor = cursor
        self._connection = connection

    def execute(self, sql, params=None):
        started = time.monotonic()
        try:
            return self._cursor.execute(sql, params)
        finally:
            self._connection.queries_log.append(
                {"sql": sql, "time": f"{time.monotonic() - started:.3f}", "params": params}
            )

    def __getattr__(self, name):
        return getattr(self._cursor, name)


@contextlib.contextmanager
def fast_cursor(connection=default_connection):
    """A psycopg cursor with server-side binding (auto-prepared statements)
    on Django's connection for `connection`, with Django's health check and
    error wrapping; for fixed SQL only."""
    with connection.cursor() as django_cursor:
        raw = django_cursor.cursor.connection
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            yield _LoggedCursor(cursor, connection) if connection.queries_logged else cursor


def row_or_404(cursor, sql: str, object_id) -> tuple:
    """The one row `sql` finds for `object_id` (a UUID or its text, bound as
    the only parameter); Http404 when there is none."""
    if not isinstance(object_id, uuid.UUID):
        object_id = uuid.UUID(str(object_id))
    cursor.execute(sql, [object_id])
    row = cursor.fetchone()
    if row is None:
        raise Http404
    return row
