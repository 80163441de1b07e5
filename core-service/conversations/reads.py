"""GET /api/v1/conversations/{id} in fixed SQL straight to JSON (issue 14).

The ORM and DRF's serializer cost more than the two queries under load; this
builds the document ConversationSerializer describes (the tests compare both):
the conversation with its scenario summary and owner in one query, then its
most recent DETAIL_MESSAGES messages in order. `parameters` (jsonb) is passed
through as PostgreSQL's JSON text."""

from __future__ import annotations

import orjson
from django.http import Http404

from common.db.base import fast_cursor, row_or_404
from conversations.selectors import DETAIL_MESSAGES, may_name_parent, may_read
from scenarios.reads import iso

CONVERSATION_SQL = """
    SELECT c.id, c.title, c.parent_id, c.depth, c.like_count, c.message_count, c.created_at, c.updated_at,
           s.id, s.base_story, s.scenario_type, s.parameters::text, s.deleted_at IS NOT NULL,
           u.id, u.username, u.avatar_url, c.visibility, p.user_id, p.visibility
    FROM conversations_conversation c
    JOIN scenarios_scenario s ON s.id = c.scenario_id
    JOIN accounts_user u ON u.id = c.user_id
    LEFT JOIN conversations_conversation p ON p.id = c.parent_id
    WHERE c.id = %s
"""
# Newest first by position (the unique index), turned to oldest first below.
MESSAGES_SQL = """
    SELECT m.id, m.role, m.speaker_kind, m.speaker_character_id, m.speaker_name, m.content, m.status,
           m.model, m.total_tokens, m.degraded, m.grounded, m.citations::text, l.position, m.created_at,
           m.updated_at, m.completed_at, m.edited_at, m.deleted, m.stale, jsonb_array_length(m.alternatives),
           m.chosen
    FROM conversation_message_links l
    JOIN conversations_message m ON m.id = l.message_id
    WHERE l.conversation_id = %s
    ORDER BY l.position DESC
    LIMIT %s
"""


def message_document(row) -> dict:
    (mid, role, kind, character_id, name, content, status, model, tokens, degraded, grounded, citations,
     position, created, updated, completed, edited, deleted, stale, alternatives, chosen) = row  # fmt: skip
    return {
        "id": str(mid),
        "role": role,
        "speaker": {"kind": kind, "character_id": character_id or None, "name": name},
        "content": content,
        "status": status,
        "model": model,
        "total_tokens": tokens,
        "degraded": degraded,
        "grounded": grounded,
        "citations": orjson.Fragment(citations),
        "position": position,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "completed_at": iso(completed),
        "edited_at": iso(edited),
        "deleted": deleted,
        "stale": stale,
        "alternatives_count": alternatives,
        "chosen": chosen,
    }


def conversation_document(conversation_id, viewer=None) -> dict:
    """The conversation as the API shows it to `viewer` (request.user; None:
    anonymous); 404 when it does not exist or is private to someone else.
    Read at every request, never cached: a visibility change holds at once."""
    with fast_cursor() as cursor:
        row = row_or_404(cursor, CONVERSATION_SQL, conversation_id)
        (cid, title, parent, depth, likes, count, created, updated, sid, story, kind, parameters, deleted,
         uid, username, avatar, visibility, parent_owner, parent_visibility) = row  # fmt: skip
        if not may_read(viewer, owner_id=uid, visibility=visibility):
            raise Http404
        cursor.execute(MESSAGES_SQL, [row[0], DETAIL_MESSAGES])
        messages = cursor.fetchall()
    if parent and not may_name_parent(viewer, owner_id=parent_owner, visibility=parent_visibility):
        parent = None  # a fork names no parent that is private or unlisted and someone else's
    return {
        "id": str(cid),
        "title": title,
        "visibility": visibility,
        "parent_conversation_id": str(parent) if parent else None,
        "is_fork": depth > 0,
        "scenario": {
            "id": str(sid),
            "base_story": story,
            "scenario_type": kind,
            "parameters": orjson.Fragment(parameters),
            "is_deleted": deleted,
        },
        "user": {"id": str(uid), "username": username, "avatar_url": avatar or None},
        "like_count": likes,
        "message_count": count,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "scenario_id": str(sid),
        "user_id": str(uid),
        "messages": [message_document(m) for m in reversed(messages)],
        "messages_truncated": count > len(messages),
    }
