"""Property-based fuzzing of core's OpenAPI document (schemathesis).

Every operation of /api/v1/openapi.json gets generated requests, valid and
invalid ones: schemathesis' coverage cases (boundaries, missing or wrong-typed
fields, undeclared methods and media types) plus FUZZ_EXAMPLES random ones,
from a fixed seed. They go in-process to the WSGI app on this run's PostgreSQL
test database with a real user's JWT (the service token on /api/internal/...).
Path and body ids are often swapped for rows that exist, so requests get past
the 404s; each example is rolled back, so each starts from the same rows.
Every response must:

- not be a 5xx;
- have a documented status code, content type, headers and body schema;
- refuse a request without its token where the document says one is needed;
- if an error, be the error envelope (`core_error_envelope`).

The ai service is a stub that accepts every turn (internal/tests/stub_ai.py),
so sending, regenerating and cancelling answers reach their 202.

A longer run: FUZZ_EXAMPLES=200 ../.venv/bin/python -m pytest -q common/tests/test_fuzz_openapi.py
"""

from __future__ import annotations

import json
import os
import re
import uuid
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from gaji_contracts import envelope_problems
from gaji_contracts.conversations import MessageStatus
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from accounts.services import RULES_IN_WORDS as ACCOUNT_RULES_IN_WORDS
from accounts.tokens import tokens_for
from cards.apis import RULES_IN_WORDS as CARD_RULES_IN_WORDS
from cards.formats import card_png
from cards.services import card_import, lorebook_import
from conftest import bearer_for
from conversations import services
from conversations.apis import TITLE_OR_VISIBILITY
from conversations.cast import RULES_IN_WORDS
from conversations.exchange import RULES_IN_WORDS as EXCHANGE_RULES_IN_WORDS
from conversations.memory_apis import RULES_IN_WORDS as MEMORY_RULES_IN_WORDS
from conversations.message_apis import CONTENT_OR_REGENERATE
from conversations.models import Conversation, ConversationLike, ConversationMemo, MemoryEntry, Message
from conversations.services import ABOVE_NOVEL
from conversations.tests.helpers import add_exchanges, make_conversation
from integrations.ai import models_cache_key
from integrations.tests.stub_ai import StubAi
from notifications.apis import RULES_IN_WORDS as NOTIFICATION_RULES_IN_WORDS
from novels.models import Novel
from novels.services import RULES_IN_WORDS as NOVEL_RULES_IN_WORDS
from scenarios.tests.helpers import make_fork, make_scenario

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
schema.config.generation.update(
    max_examples=FUZZ_EXAMPLES,
    deterministic=True,  # a fixed seed: the same requests on every run
    database="none",  # and no .hypothesis/ folder replaying old failures
)


@schemathesis.check
def core_error_envelope(ctx, response, case):
    """Every 4xx/5xx is the envelope (gaji_contracts.envelope_problems)."""
    if response.status_code >= 400:
        problems = envelope_problems(
            status=response.status_code,
            content_type=(response.headers.get("content-type") or [""])[0],
            text=response.text,
            request_id=(response.headers.get("x-request-id") or [None])[0],
            path=unquote(urlsplit(response.request.url).path),
        )
        assert not problems, problems
    return True


@schemathesis.check
def schema_valid_requests_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance: a request the document calls
    valid is not refused with a 400/422 (404, 409 and 403 are about the rows,
    not the request). Two refusals are stated in words only: a `model` that
    GET /api/ai/models does not list (400 INVALID_MODEL: the ai service's
    models at run time, as the field's description says), and an avatar file
    that is not an image (JSON Schema cannot describe a file's content), and
    a scene's characters: one unknown to the novel, one named twice, or one
    with neither id nor name (conversations.cast.RULES_IN_WORDS), and a
    memory entry's: a relationship without its pair, a value on anything
    else (conversations.memory_apis.RULES_IN_WORDS), and a conversation
    update with neither title nor visibility (stated as minProperties too:
    conversations.apis.TITLE_OR_VISIBILITY), and the account's: a password
    that is not the reader's, a name or address taken, a reset link that is
    not valid (accounts.services.RULES_IN_WORDS), a notifications read with
    both or neither of ids and all (notifications.apis.RULES_IN_WORDS), a
    message edit with neither content nor regenerate (CONTENT_OR_REGENERATE),
    and what readers bring: an uploaded file's content (a card, a lorebook,
    a story, a conversation export: JSON Schema cannot describe what is
    inside a file), a URL that does not lead to a public text
    (novels.services.RULES_IN_WORDS, with <placeholders> for what varies),
    lorebooks that are not the reader's (cards.apis.RULES_IN_WORDS), an
    import without a scenario (conversations.exchange.RULES_IN_WORDS) and a
    conversation more visible than its novel (ABOVE_NOVEL)."""
    if response.status_code == 400 and _refused_in_words(response):
        return True
    if response.status_code == 400 and _required_body_never_sent(response):
        return True
    return positive_data_acceptance(ctx, response, case)


def _required_body_never_sent(response) -> bool:
    """schemathesis' in-process WSGI transport sometimes hands the app a
    multipart case as an empty body with no content type (seen with part
    names holding control characters; Django parses the very same bytes,
    checked by hand), or sends one with no boundary: the app never received
    the file, and refusing that is right."""
    sent = getattr(response, "request", None)
    if sent is None:
        return False
    content_type = (getattr(sent, "headers", {}) or {}).get("Content-Type", "")
    if getattr(sent, "body", None) and not content_type.startswith("multipart/"):
        return False
    try:
        details = response.json().get("details") or {}
    except ValueError:
        return False
    return bool(details) and all(m == ["This field is required."] for m in details.values())


def _refused_in_words(response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    details = body.get("details") or {}
    not_an_image = set(details) == {"avatar"} and all(
        m.startswith("Avatar is not a valid") for m in details["avatar"]
    )
    file_content = set(details) == {"file"} and urlsplit(body.get("path") or "").path in FILE_ROUTES
    scene = bool(details) and all(
        messages and all(_stated(m) for m in messages) for messages in details.values()
    )
    return body.get("code") == "INVALID_MODEL" or not_an_image or file_content or scene


STATED = (
    *RULES_IN_WORDS,
    *MEMORY_RULES_IN_WORDS,
    *ACCOUNT_RULES_IN_WORDS,
    *NOTIFICATION_RULES_IN_WORDS,
    *NOVEL_RULES_IN_WORDS,
    *CARD_RULES_IN_WORDS,
    *EXCHANGE_RULES_IN_WORDS,
    TITLE_OR_VISIBILITY,
    CONTENT_OR_REGENERATE,
    ABOVE_NOVEL,
)
# A rule's <placeholder> stands for what varies (a host name, an address).
_TEMPLATES = [
    re.compile(
        "".join(".+" if part.startswith("<") else re.escape(part) for part in re.split(r"(<[^>]+>)", rule))
    )
    for rule in STATED
    if "<" in rule
]
# Routes whose 400s on `file` are about the uploaded file's content.
FILE_ROUTES = {
    "/api/v1/characters/import",
    "/api/v1/lorebooks/import",
    "/api/v1/novels/imports",
    "/api/v1/conversations/import",
}


def _stated(message: str) -> bool:
    return message in STATED or any(t.fullmatch(message) for t in _TEMPLATES)


# Left out: negative_data_rejection (DRF and pydantic parse leniently by
# design: `?page=1.0` is page 1, a JSON null body is no body, 0.0 is the
# integer 0).
CHECKS = [
    not_a_server_error,
    schema_valid_requests_accepted,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    core_error_envelope,
]

# Parameter or body field name -> values of rows that exist (filled by `world`).
KNOWN: dict[str, list[str]] = {}


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _swap(name: str, value) -> st.SearchStrategy:
    """The generated value, or one that exists: a UUID for a UUID, other text
    (a slug, a username, a token) for text. An invalid value (a negative case)
    stays invalid."""
    if _is_uuid(value):
        known = [v for v in KNOWN.get(name, []) if _is_uuid(v)]
    elif isinstance(value, str):
        known = [v for v in KNOWN.get(name, []) if not _is_uuid(v)]
    else:
        known = []
    return st.sampled_from([value, *known]) if known else st.just(value)


@schema.hook
def flatmap_path_parameters(ctx, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries({name: _swap(name, v) for name, v in path_parameters.items()})


@schema.hook
def flatmap_body(ctx, body):
    """Ids in JSON bodies (`scenario_id` of a new conversation, ...) and the refresh token."""
    if not isinstance(body, dict):
        return st.just(body)
    return st.fixed_dictionaries({name: _swap(name, v) for name, v in body.items()})


CARD = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Rose", "extensions": {}}}
LOREBOOK = {
    "spec": "lorebook_v3",
    "data": {
        "name": "Combe",
        "extensions": {},
        "entries": [{"keys": ["Combe"], "content": "A house.", "extensions": {}, "enabled": True}],
    },
}


@pytest.fixture
def world(make_user, settings):
    """A reader with a scenario and a conversation on it (messages in every
    state, a memo); a second user who forked both and likes the conversation.
    Each has a private conversation too: the reader's own opens, the other's
    is a 404 on every route (as for one that does not exist)."""
    stub = StubAi(service_token=settings.SERVICE_TOKEN, record=False)
    settings.AI_BASE_URL = stub.url
    settings.AI_PUBLIC_URL = "https://ai.gaji.test"
    settings.AI_ENQUEUE_TIMEOUT_SECONDS = 5  # the stub answers at once; never flaky
    cache.delete(models_cache_key(stub.url))  # a port an earlier test's stub had
    # Thousands of requests from one user: fuzz the routes, not the limiter.
    settings.RATE_LIMIT_SCALE = 1000
    owner, other = make_user(password=None), make_user(password=None)
    novel = Novel.objects.create(slug="harry_potter", title="Harry Potter")
    scenario = make_scenario(owner)
    fork = make_fork(scenario, other)
    conversation = make_conversation(owner, scenario)
    messages = add_exchanges(conversation, 6)
    Message.objects.filter(id=messages[1].id).update(status=MessageStatus.FAILED.value)
    Message.objects.filter(id=messages[3].id).update(status=MessageStatus.PENDING.value)
    ConversationMemo.objects.create(user=owner, conversation=conversation, memo_text="a note")
    ConversationLike.objects.create(user=other, conversation=conversation)
    entry = MemoryEntry.objects.create(
        conversation=conversation, kind="fact", text="The brooch is in the library.", source="model"
    )
    conversation_fork = services.conversation_fork(conversation_id=conversation.id, user=other)
    own_private = make_conversation(owner, scenario, title="Mine only")
    others_private = make_conversation(other, scenario, title="Not yours")
    add_exchanges(others_private, 2)
    Conversation.objects.filter(id__in=[own_private.id, others_private.id]).update(visibility="private")
    card = card_import(user=owner, raw=card_png(CARD, None), filename="card.png")
    lorebook = lorebook_import(user=owner, raw=json.dumps(LOREBOOK).encode(), filename="book.json")
    KNOWN.update(
        card_id=[str(card.id)],
        lorebook_id=[str(lorebook.id)],
        entry_id=[str(entry.id)],
        user_id=[str(owner.id), str(other.id)],
        username=[owner.username],
        id_or_slug=[novel.slug, str(novel.id)],
        novel_id=[novel.slug, str(novel.id)],
        scenario_id=[str(scenario.id), str(fork.id)],
        conversation_id=[
            str(conversation.id),
            str(conversation_fork.id),
            str(own_private.id),
            str(others_private.id),
        ],
        message_id=[str(m.id) for m in messages[:4]],
        refresh_token=[tokens_for(owner)["refresh_token"]],
    )
    yield owner
    KNOWN.clear()
    stub.down()
    cache.delete(models_cache_key(stub.url))


@pytest.fixture
def one_transaction():
    """Requests keep the test's connection (and its transaction), as Django's
    test client does: the WSGI handler would otherwise close it after each."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
# `world` is per operation on purpose: its examples share its rows (each rolled back).
# Generating data takes longer on a loaded machine: that must not fail a run.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_openapi_fuzz(case, world, one_transaction, settings):
    if case.path.startswith("/api/internal/"):
        authorization = f"Bearer {settings.SERVICE_TOKEN}"
    else:
        authorization = bearer_for(world)
    # Every example starts from the same world: what one request deletes or
    # breaks (even an aborted transaction) is rolled back before the next.
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": authorization}, checks=CHECKS)
        transaction.set_rollback(True)
