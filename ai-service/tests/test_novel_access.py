"""Private novels on ai's public routes (gaji_ai.novels.access): every route
that reads a novel's cast, vectors or passages answers someone else's
private novel as a novel that does not exist; its owner and staff read it;
public and unlisted novels are anyone's. Core decides
(GET /api/internal/novels/{id}/access, through CoreClient.novel_access),
its answer cached; core unreachable is a 503."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from gaji_contracts.novels import NovelAccess

from gaji_ai.clients.core import CoreClient, CoreResponseError, CoreUnavailable
from gaji_ai.ingestion.cast import CharacterProfile
from gaji_ai.ingestion.chunking import Passage
from gaji_ai.ingestion.pipeline import _passage_point, character_id, store_characters
from gaji_ai.main import create_app
from gaji_ai.novels.access import NovelAccessCache, may_read
from gaji_ai.retrieval import router as retrieval_router
from gaji_ai.vectors.store import PASSAGES

from support import SERVICE_AUTH, SERVICE_TOKEN, bearer, running, unused_url

OWNER = str(uuid.uuid4())
PRIVATE, UNLISTED, PUBLIC = (str(uuid.uuid4()) for _ in range(3))
MISSING = str(uuid.uuid4())  # no such novel, anywhere
ORPHAN = str(uuid.uuid4())  # vectors in the store, but core has no such novel
VISIBILITY = {PRIVATE: "private", UNLISTED: "unlisted", PUBLIC: "public"}


class FlatEmbedder:
    name = "flat"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


def access_path(novel_id: str) -> str:
    return f"/api/internal/novels/{novel_id}/access"


@pytest.fixture
async def world(test_settings, core_stub, published_key, monkeypatch):
    """An app whose store holds passages and a cast for a private, an
    unlisted and a public novel (and an orphan), with core telling who owns them."""
    monkeypatch.setattr(retrieval_router, "dense_embedder", lambda settings: FlatEmbedder())
    core_stub.novels_public_by_default = False
    for novel, visibility in VISIBILITY.items():
        core_stub.novel_access[novel] = {"id": novel, "owner_id": OWNER, "visibility": visibility}
    app = create_app(test_settings())
    async with running(app) as client:
        store = app.state.vector_store
        darcy = CharacterProfile("Mr. Darcy", ["Darcy"], 12, 1, "main", "A proud man.", ["proud"])
        text = "Elizabeth walked to Netherfield through the mud."
        for novel in (*VISIBILITY, ORPHAN):
            await store_characters(
                novel_id=novel, profiles=[darcy], store=store, embedder=FlatEmbedder()
            )
            passage = Passage(0, 1, "Chapter 1", text, 0, len(text), 10)
            await store.upsert(
                PASSAGES, [_passage_point(novel, "Tale", passage, [1.0] + [0.0] * 383)]
            )
        tokens = {
            "owner": bearer(published_key.token(sub=OWNER)),
            "reader": bearer(published_key.token()),
            "staff": bearer(published_key.token(is_staff=True)),
        }
        yield client, tokens, app


def characters(client, novel, headers):
    return client.get(f"/api/ai/novels/{novel}/characters", headers=headers)


def character(client, novel, headers):
    return client.get(f"/api/ai/characters/{character_id(novel, 'Mr. Darcy')}", headers=headers)


def vectors(client, novel, headers):
    return client.get(f"/api/ai/novels/{novel}/vectors", headers=headers)


def search(client, novel, headers):
    body = {"query": "who walked to Netherfield", "novel_id": novel}
    return client.post("/api/ai/search/passages", json=body, headers=headers)


ROUTES = {"characters": characters, "character": character, "search": search}


def assert_missing(response, like) -> None:
    """The answer of a novel that does not exist, word for word."""
    assert response.status_code == 404, response.text
    mine, theirs = response.json(), like.json()
    assert mine["code"] == theirs["code"] == "NOT_FOUND"
    assert mine["message"] == theirs["message"]


async def _missing_answer(client, route: str, headers):
    if route == "character":  # a character id that does not exist
        return await client.get(f"/api/ai/characters/{uuid.uuid4()}", headers=headers)
    return await ROUTES[route](client, MISSING, headers)


@pytest.mark.parametrize("route", ROUTES)
async def test_a_private_novel_is_its_owner_s_and_staff_s(world, core_stub, route):
    client, tokens, _app = world
    call = ROUTES[route]
    owner = await call(client, PRIVATE, tokens["owner"])
    assert owner.status_code == 200, owner.text
    staff = await call(client, PRIVATE, tokens["staff"])
    assert staff.status_code == 200
    if route == "search":  # its timings differ
        assert staff.json()["passages"] == owner.json()["passages"] != []
    else:
        assert staff.json() == owner.json()
    other = await call(client, PRIVATE, tokens["reader"])
    assert_missing(other, await _missing_answer(client, route, tokens["reader"]))
    assert "Darcy" not in other.text and "Netherfield" not in other.text


async def test_vectors_of_a_private_novel_read_as_empty_for_others(world):
    """This route answers a novel it does not hold with zeros, not a 404."""
    client, tokens, _app = world
    owner = await vectors(client, PRIVATE, tokens["owner"])
    assert owner.json() == {"novel_id": PRIVATE, "passages": 1, "characters": 1, "ingested": True}
    staff = await vectors(client, PRIVATE, tokens["staff"])
    assert staff.json() == owner.json()
    other = await vectors(client, PRIVATE, tokens["reader"])
    assert other.status_code == 200
    assert other.json() == {"novel_id": PRIVATE, "passages": 0, "characters": 0, "ingested": False}
    missing = await vectors(client, MISSING, tokens["reader"])
    assert missing.json() == {**other.json(), "novel_id": MISSING}


@pytest.mark.parametrize("novel", [UNLISTED, PUBLIC], ids=["unlisted", "public"])
@pytest.mark.parametrize("route", [*ROUTES, "vectors"])
async def test_public_and_unlisted_novels_are_anyone_s(world, novel, route):
    client, tokens, _app = world
    call = {**ROUTES, "vectors": vectors}[route]
    for who in ("reader", "owner", "staff"):
        response = await call(client, novel, tokens[who])
        assert response.status_code == 200, (who, response.text)
    assert (await vectors(client, novel, tokens["reader"])).json()["passages"] == 1


@pytest.mark.parametrize("route", ROUTES)
async def test_a_novel_core_does_not_have_is_missing_whatever_the_store_holds(world, route):
    client, tokens, _app = world
    response = await ROUTES[route](client, ORPHAN, tokens["reader"])
    assert_missing(response, await _missing_answer(client, route, tokens["reader"]))
    assert (await ROUTES[route](client, ORPHAN, tokens["staff"])).status_code == 200


@pytest.mark.parametrize("route", [*ROUTES, "vectors"])
async def test_core_unreachable_is_503_for_readers_and_staff_read_on(world, core_stub, route):
    client, tokens, _app = world
    call = {**ROUTES, "vectors": vectors}[route]
    core_stub.novel_access[PUBLIC] = 503
    response = await call(client, PUBLIC, tokens["reader"])
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert (await call(client, PUBLIC, tokens["staff"])).status_code == 200


async def test_core_down_entirely_is_503(test_settings, published_key):
    app = create_app(test_settings(core_base_url=unused_url()))
    async with running(app) as client:
        response = await characters(client, PUBLIC, bearer(published_key.token()))
    assert response.status_code == 503 and response.json()["code"] == "SERVICE_UNAVAILABLE"


async def test_staff_never_ask_core(world, core_stub):
    client, tokens, _app = world
    for call in (*ROUTES.values(), vectors):
        assert (await call(client, PRIVATE, tokens["staff"])).status_code == 200
    assert core_stub.requests_to(access_path(PRIVATE)) == []


async def test_core_s_answer_is_cached_and_a_deletion_forgets_it(world, core_stub):
    """A catalogue novel costs one call to core per cache lifetime, not one
    per request; deleting the novel's vectors drops its cached answer."""
    client, tokens, _app = world
    for call in (*ROUTES.values(), vectors, characters):
        assert (await call(client, PUBLIC, tokens["reader"])).status_code == 200
    assert len(core_stub.requests_to(access_path(PUBLIC))) == 1
    [headers] = core_stub.requests_to(access_path(PUBLIC))
    assert headers["authorization"] == f"Bearer {SERVICE_TOKEN}"  # core's internal API

    core_stub.novel_access[PUBLIC] = {"id": PUBLIC, "owner_id": OWNER, "visibility": "private"}
    gone = await client.delete(f"/api/ai/internal/novels/{PUBLIC}/vectors", headers=SERVICE_AUTH)
    assert gone.status_code == 200
    assert (await characters(client, PUBLIC, tokens["reader"])).status_code == 404
    assert len(core_stub.requests_to(access_path(PUBLIC))) == 2


# --- the cache and the rule, in isolation --------------------------------------------


class CountingCore:
    def __init__(self, answer: NovelAccess | Exception | None) -> None:
        self.answer = answer
        self.calls = 0

    async def novel_access(self, novel_id: str) -> NovelAccess | None:
        self.calls += 1
        await asyncio.sleep(0.01)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _access(visibility: str, owner: str | None = OWNER) -> NovelAccess:
    return NovelAccess(id=PRIVATE, owner_id=owner, visibility=visibility)


async def test_the_cache_expires_and_unknown_novels_expire_sooner():
    now = [0.0]
    core = CountingCore(_access("public"))
    cache = NovelAccessCache(core, ttl=30, missing_ttl=5, clock=lambda: now[0])
    assert (await cache.get(PRIVATE.upper())).visibility == "public"
    now[0] = 29.9
    await cache.get(PRIVATE)
    assert core.calls == 1
    now[0] = 30.1
    await cache.get(PRIVATE)
    assert core.calls == 2

    core.answer = None  # no such novel
    cache.invalidate()
    assert await cache.get(PRIVATE) is None
    now[0] = 35.0
    await cache.get(PRIVATE)
    assert core.calls == 3
    now[0] = 35.2
    await cache.get(PRIVATE)
    assert core.calls == 4


async def test_concurrent_requests_share_one_call_and_failures_are_not_cached():
    core = CountingCore(_access("public"))
    cache = NovelAccessCache(core)
    answers = await asyncio.gather(*(cache.get(PRIVATE) for _ in range(20)))
    assert core.calls == 1 and all(a.visibility == "public" for a in answers)

    core.answer = CoreUnavailable("down")
    cache.invalidate()
    for _ in range(2):
        with pytest.raises(CoreUnavailable):
            await cache.get(PRIVATE)
    assert core.calls == 3


async def test_the_cache_stays_bounded():
    core = CountingCore(None)
    cache = NovelAccessCache(core, max_entries=10)
    for _ in range(25):
        await cache.get(str(uuid.uuid4()))
    assert len(cache._entries) <= 10


def test_the_rule(published_key):
    from gaji_contracts.auth import TokenClaims

    def user(**claims) -> TokenClaims:
        return TokenClaims(**published_key.claims(**claims))

    owner, reader, staff = user(sub=OWNER.upper()), user(), user(is_staff=True)
    for visibility in ("public", "unlisted"):
        assert may_read(_access(visibility), reader)
    assert may_read(_access("private"), owner)  # ids compared case-insensitively
    assert not may_read(_access("private"), reader)
    assert not may_read(_access("private", owner=None), reader)
    assert may_read(_access("private"), staff)
    assert may_read(None, staff) and not may_read(None, owner)


# --- the client call ---------------------------------------------------------------


async def test_the_client_reads_core_s_answer(core_stub):
    core_stub.novel_access[PRIVATE] = {"id": PRIVATE, "owner_id": OWNER, "visibility": "private"}
    core_stub.novel_access[MISSING] = 404
    core_stub.novel_access[ORPHAN] = 502
    core_stub.novel_access[PUBLIC] = {"id": PUBLIC, "visibility": "secret"}
    async with httpx.AsyncClient() as http:
        core = CoreClient(
            http, base_url=core_stub.url, service_token=SERVICE_TOKEN, timeout_seconds=2
        )
        access = await core.novel_access(PRIVATE)
        assert access == NovelAccess(id=PRIVATE, owner_id=OWNER, visibility="private")
        assert await core.novel_access(MISSING) is None
        with pytest.raises(CoreUnavailable):
            await core.novel_access(ORPHAN)
        with pytest.raises(CoreResponseError):  # an answer that is no NovelAccess
            await core.novel_access(PUBLIC)
