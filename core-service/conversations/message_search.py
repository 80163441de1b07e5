"""Full-text search of messages: within one conversation, and across a
reader's own conversations.

PostgreSQL full-text search with the `simple` configuration: words are
lower-cased but neither stemmed nor dropped as stop words, so a name
("Darcy", "Wickham") is found as written in any language the novels are in,
and the query reads like a search box (websearch_to_tsquery: words, "a
phrase", or, -not). The GIN expression index message_content_search
(migration 0008) serves `SEARCH_VECTOR @@ query`: the two expressions must stay
identical. A deleted message is never found; a message shared by a root and
its fork is found in each conversation that shows it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from conversations.models import Message

CONFIG = "'simple'::regconfig"
SEARCH_VECTOR = f"to_tsvector({CONFIG}, m.content)"
QUERY = f"websearch_to_tsquery({CONFIG}, %(q)s)"
# Up to 30 words from the best match on, as plain text (no markup for a client
# to escape); a short message whole. (Fragment mode drops a short text's last words.)
HEADLINE_OPTIONS = 'MaxWords=30, MinWords=15, StartSel="", StopSel=""'

MAX_QUERY_CHARS = 200

_MATCH = f"NOT m.deleted AND {SEARCH_VECTOR} @@ {QUERY}"

_IN_CONVERSATION = f"""
    FROM conversation_message_links l
    JOIN conversations_message m ON m.id = l.message_id
    WHERE l.conversation_id = %(conversation)s AND {_MATCH}
"""
_OF_USER = f"""
    FROM conversations_conversation c
    JOIN conversation_message_links l ON l.conversation_id = c.id
    JOIN conversations_message m ON m.id = l.message_id
    WHERE c.user_id = %(user)s AND {_MATCH}
"""
# Only the page's rows get a headline (it reads the whole text). Every piece
# formatted into these statements is a constant of this module; values are parameters.
_PAGE = f"""
    SELECT h.conversation_id, h.message_id, h.position, ts_headline({CONFIG}, m.content, {QUERY}, %(options)s)
    FROM ({{hits}} ORDER BY {{order}} LIMIT %(limit)s OFFSET %(offset)s) h
    JOIN conversations_message m ON m.id = h.message_id
    ORDER BY h.n
"""  # noqa: S608


@dataclass(frozen=True)
class Hit:
    conversation_id: object
    message: Message
    position: int
    snippet: str


def _search(where: str, order: str, params: dict, *, start: int, size: int) -> tuple[list[Hit], int]:
    params = {**params, "options": HEADLINE_OPTIONS, "limit": size, "offset": start}
    columns = f"l.conversation_id, l.message_id, l.position, row_number() OVER (ORDER BY {order}) AS n"
    hits = f"SELECT {columns} {where}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {where}", params)
        total = cursor.fetchone()[0]
        rows = []
        if start < total:
            cursor.execute(_PAGE.format(hits=hits, order=order), params)
            rows = cursor.fetchall()
    messages = Message.objects.in_bulk([row[1] for row in rows])
    found = []
    for conversation_id, message_id, position, snippet in rows:
        message = messages.get(message_id)
        if message is None:  # deleted (with its conversation) between the two queries
            continue
        message.position = position
        found.append(Hit(conversation_id, message, position, snippet))
    return found, total


def search_conversation(conversation_id, q: str, *, start: int, size: int) -> tuple[list[Hit], int]:
    """The conversation's messages matching `q`, in conversation order, and how many match."""
    return _search(
        _IN_CONVERSATION, "l.position", {"conversation": conversation_id, "q": q}, start=start, size=size
    )


def search_user(user_id, q: str, *, start: int, size: int) -> tuple[list[Hit], int]:
    """The messages matching `q` in the user's own conversations, newest first."""
    return _search(
        _OF_USER,
        "m.created_at DESC, l.conversation_id, l.position DESC",
        {"user": user_id, "q": q},
        start=start,
        size=size,
    )
