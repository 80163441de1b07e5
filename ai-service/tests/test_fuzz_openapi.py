"""Property-based fuzzing of the ai service's OpenAPI document (schemathesis).

Every operation of /openapi.json gets generated requests, valid and invalid
ones: schemathesis' coverage cases (boundaries, missing or wrong-typed
fields, undeclared methods and media types) plus FUZZ_EXAMPLES random ones,
from a fixed seed. They go in-process to a fresh app per operation with its
real lifespan (real Redis db 13, embedded Qdrant in a tmp folder holding a
novel's passages and cast, the local embedding model), with a staff user's JWT
verified through the JWKS of a core stand-in (the service token on
/api/ai/internal/...). Path and body ids are often swapped for ones that exist,
so requests get past the 404s. Every response must:

- not be a 5xx;
- have a documented status code, content type, headers and body schema;
- if an error, be the error envelope (`ai_error_envelope`).

Celery is replaced by an instant worker that answers every chat turn at once,
so the SSE streams end; their `text/event-stream` bodies have no schema to
validate (status, content type and headers are still checked). The LLM is a
scripted provider.

A longer run: FUZZ_EXAMPLES=200 ../.venv/bin/pytest -q tests/test_fuzz_openapi.py
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from chat_support import Scripted
from gaji_contracts import envelope_problems
from gaji_contracts.conversations import GenerationRequest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis import Redis as SyncRedis
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gaji_ai.embeddings import dense_embedder
from gaji_ai.generation.task import TurnTask
from gaji_ai.ingestion.cast import CharacterProfile
from gaji_ai.ingestion.chunking import Passage
from gaji_ai.ingestion.pipeline import _character_point, _passage_point
from gaji_ai.llm import registry
from gaji_ai.main import create_app
from gaji_ai.streams.stream import CHUNK, COMPLETE, StreamWriter
from gaji_ai.taskqueue import GENERATE_TASK, celery_app

from support import SERVICE_TOKEN, TEST_REDIS_URL, CoreStub, SigningKey, build_settings, serving

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


def _document() -> dict[str, Any]:
    """The document /openapi.json serves, from an app that is never started."""
    return create_app(build_settings(gaji_env="test", embeddings_preload=False)).openapi()


schema = schemathesis.openapi.from_dict(_document())
schema.config.generation.update(
    max_examples=FUZZ_EXAMPLES,
    deterministic=True,  # a fixed seed: the same requests on every run
    database="none",  # and no .hypothesis/ folder replaying old failures
)


@schemathesis.check
def ai_error_envelope(ctx, response, case):
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


# Refusals of schema-valid requests whose rule the document can state only in
# words (OpenAPI 3.0's JSON Schema cannot): (field, the message's start).
RULES_IN_WORDS = {
    ("filters", "Value error, chapter_from must not be after chapter_to"),  # two fields compared
    ("sparse", "Value error, indices and values must have the same length"),  # two lists paired
    ("sparse", "Value error, indices must be unique"),
    ("file", "Only .txt and .md files can be ingested."),  # a multipart part's file name
    # A turn's fields checked together (GenerationRequest._consistent).
    ("body", "Value error, user_message: a reader's message cannot be empty"),
    ("body", "Value error, answers: the first answer must be assistant_message_id"),
    ("body", "Value error, answers: each answer once"),
}


@schemathesis.check
def schema_valid_requests_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance: a request the document calls
    valid is not refused with a 400/422 (404 and 409 are about the rows, not
    the request), except for RULES_IN_WORDS and a `model` that GET
    /api/ai/models does not list (400 INVALID_MODEL: the models configured
    at run time, as the field's description says)."""
    if response.status_code == 400 and _refused_by_a_rule_in_words(response):
        return True
    return positive_data_acceptance(ctx, response, case)


def _refused_by_a_rule_in_words(response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    if body.get("code") == "INVALID_MODEL":
        return True
    details = body.get("details") or {}
    return bool(details) and all(
        any(
            field.rsplit(".", 1)[-1] == name and message.startswith(start)
            for name, start in RULES_IN_WORDS
            for message in messages
        )
        for field, messages in details.items()
    )


# Left out: negative_data_rejection (pydantic's lax mode takes "5" for 5 and 0 for a
# date, by design); unsupported_method (GET /api/ai/characters/extract is
# GET /api/ai/characters/{vectordb_id} with an invalid id: a 400, not a 405);
# ignored_auth (the document declares no security schemes to check against).
CHECKS = [
    not_a_server_error,
    schema_valid_requests_accepted,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    missing_required_header,
    allow_header_conformance,
    ai_error_envelope,
]

STAFF_ID = str(uuid.uuid4())
CONVERSATION_ID = str(uuid.uuid4())
NOVEL_ID = str(uuid.uuid4())
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
# Parameter or body field name -> values that exist (the rest filled by `world`).
KNOWN: dict[str, list[str]] = {}


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _swap(name: str, value: object) -> st.SearchStrategy:
    """The generated value, or one that exists: a UUID for a UUID, other text
    for text. An invalid value (a negative case) stays invalid."""
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
    if not isinstance(body, dict):
        return st.just(body)
    return st.fixed_dictionaries({name: _swap(name, v) for name, v in body.items()})


def _turn(method: str, body: Any) -> tuple[int, dict[str, Any]]:
    """core's answer to a direct chat turn on the known conversation."""
    request = GenerationRequest(
        conversation_id=CONVERSATION_ID,
        user_id=STAFF_ID,
        user_message_id=uuid.uuid4(),
        assistant_message_id=uuid.uuid4(),
        user_message=(body or {}).get("content") or "hello",
        scenario={
            "id": uuid.uuid4(),
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {"character": "Charlotte Lucas"},
        },
        novel_id=NOVEL_ID,
    )
    return 201, request.model_dump(mode="json")


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, Any]]:
    """For the whole module: a core stand-in (JWKS, the known conversation),
    an instant worker instead of Celery, a scripted LLM, the embedding model."""
    key = SigningKey.generate("core-key-1")
    redis = SyncRedis.from_url(TEST_REDIS_URL)
    prefix: list[str] = []  # the running test's key prefix

    def instant_worker(name: str, args: list, **kwargs: Any) -> None:
        """A chat turn is answered at once, so its stream ends; other tasks are dropped."""
        if name != GENERATE_TASK:
            return
        message_id = str(TurnTask.parse(args[0]).request.assistant_message_id)
        writer = StreamWriter(redis, prefix[0])
        writer.append(message_id, CHUNK, {"content": "Hello.", "delta": "Hello."})
        writer.append(message_id, COMPLETE, {"message_id": message_id, "content": "Hello."})

    with serving(CoreStub()) as core, pytest.MonkeyPatch.context() as patch:
        core.jwks = {"keys": [key.jwk()]}
        context = f"/api/internal/conversations/{CONVERSATION_ID}/context"
        core.routes[context] = lambda method, body: (200, {"owner": {"id": STAFF_ID}})
        core.routes[f"/api/internal/conversations/{CONVERSATION_ID}/turns"] = _turn
        patch.setattr(celery_app, "send_task", instant_worker)
        patch.setitem(registry._providers, "main", Scripted(["Hello ", "there."]))
        # The model loads once per process (~7 s on 2 cores): not inside the
        # first search request, whose read timeout it would exceed.
        dense_embedder(build_settings(embeddings_preload=False)).warm()
        yield {
            "core": core,
            "redis": redis,
            "prefix": prefix,
            "key": key,
        }
    redis.close()


@pytest.fixture
def world(services, tmp_path) -> Iterator[tuple[Any, str]]:
    """A fresh app per operation (its own Qdrant folder and Redis keys), with
    a novel's passages and cast in the store and an ingestion job queued."""
    prefix = f"gaji:ai:test:{uuid.uuid4().hex}"
    services["prefix"][:] = [prefix]
    (tmp_path / "novels").mkdir()
    (tmp_path / "novels" / "tale.txt").write_text("Chapter 1\n\n" + "A quiet tale. " * 100)
    settings = build_settings(
        gaji_env="test",
        service_token=SERVICE_TOKEN,
        core_base_url=services["core"].url,
        redis_url=TEST_REDIS_URL,
        qdrant_path=tmp_path / "qdrant",
        rate_limit_prefix=prefix,
        # Thousands of requests from one client: fuzz the routes, not the limiter.
        rate_limit_scale=1000.0,
        http_timeout_seconds=2.0,
        embeddings_preload=False,
        novel_data_dir=tmp_path / "novels",
        upload_dir=tmp_path / "uploads",
        # No engine runs here: /readyz would be 503 (tests/test_engine.py covers it).
        llm_local_engine="inprocess",
        llm_local_model="smollm2-135m-instruct",
    )
    app = create_app(settings)
    token = services["key"].token(sub=STAFF_ID, username="fuzzer", is_staff=True)  # 10 minutes
    staff = {"Authorization": f"Bearer {token}"}
    embedder = dense_embedder(settings)
    text = "Elizabeth walked to Netherfield through the mud."
    passage = Passage(0, 1, "Chapter 1", text, 0, len(text), 10)
    darcy = CharacterProfile("Mr. Darcy", ["Darcy"], 12, 1, "main", "A proud man.", ["proud"])
    points = [
        _passage_point(NOVEL_ID, "Pride and Prejudice", passage, embedder.embed([text])[0]),
        _character_point(NOVEL_ID, darcy, embedder.embed(["Mr. Darcy"])[0]),
    ]
    try:
        with get_client(app) as client:  # starts the app's lifespan
            for collection, point in zip(("novel_passages", "characters"), points, strict=True):
                body = {
                    "points": [
                        {"id": point.id, "dense": point.dense, "payload": point.payload}
                        | ({"sparse": vars(point.sparse)} if point.sparse else {})
                    ]
                }
                url = f"/api/ai/internal/vectors/{collection}/upsert"
                assert client.post(url, json=body, headers=SERVICE).status_code == 200
            job = client.post(
                "/api/ai/novels/ingest", json={"novel_file_path": "tale.txt"}, headers=staff
            )
            assert job.status_code == 202, job.text
        KNOWN.update(
            conversation_id=[CONVERSATION_ID],
            novel_id=[NOVEL_ID],
            vectordb_id=[points[1].id],
            job_id=[job.json()["job_id"]],
            novel_file_path=["tale.txt"],
        )
        yield app, token
    finally:
        KNOWN.clear()
        shutdown_lifespans()
        keys = list(services["redis"].scan_iter(match=f"{prefix}:*"))
        if keys:
            services["redis"].delete(*keys)


@schema.parametrize()
# `world` is per operation on purpose: its examples share one app and store.
# Generating data takes longer on a loaded machine: that must not fail a run.
@hypothesis_settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_openapi_fuzz(case, world):
    app, staff = world
    if case.path.startswith("/api/ai/internal/"):
        authorization = f"Bearer {SERVICE_TOKEN}"
    else:
        authorization = f"Bearer {staff}"
    case.call_and_validate(app=app, headers={"Authorization": authorization}, checks=CHECKS)
