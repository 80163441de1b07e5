"""The ai service is the truth about vectors (gaji_ai.novels.reconcile):
core's ingested novels are checked against a real Qdrant Edge store, core
is corrected, and a chat turn on a novel the store does not hold says it is
ungrounded. Core is a fake object here (its HTTP paging is tested against a
real server below); tests-e2e checks the whole chain with real processes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from chat_support import FakeCore, Scripted, request, run_turn
from gaji_contracts.novels import Novel

from gaji_ai.clients.core import CoreClient
from gaji_ai.llm import registry
from gaji_ai.novels.reconcile import NovelChecker, reconcile
from gaji_ai.vectors.store import PASSAGES, EdgeVectorStore, VectorPoint

from support import SERVICE_TOKEN


def novel(status: str, passages: int, slug: str | None = None) -> Novel:
    now = datetime.now(UTC)
    return Novel(
        id=uuid.uuid4(),
        slug=slug or f"novel-{uuid.uuid4().hex[:6]}",
        title="A Novel",
        author="",
        publication_year=None,
        genre="",
        language="en",
        ingestion_status=status,
        total_passages=passages,
        total_characters=0,
        vectordb_collection_id="novel_passages",
        created_at=now,
        updated_at=now,
    )


class NovelsCore(FakeCore):
    """Core's novel list and updates, in memory."""

    def __init__(self, novels):
        super().__init__()
        self.novels = {str(n.id): n for n in novels}
        self.updates: list[tuple[str, str]] = []

    async def novels_with_status(self, status, *, limit=1000):
        return [n for n in self.novels.values() if n.ingestion_status == status]

    async def novel_find(self, id_or_slug):
        return self.novels.get(id_or_slug)

    async def novel_update(self, novel_id, update):
        status = update.ingestion_status.value
        self.updates.append((novel_id, status))
        current = self.novels[novel_id]
        self.novels[novel_id] = current.model_copy(update={"ingestion_status": status})
        return self.novels[novel_id]


@pytest.fixture
async def store(tmp_path):
    opened = await EdgeVectorStore.open(tmp_path / "qdrant")
    yield opened
    await opened.close()


async def hold(store, novel_id, count: int) -> None:
    await store.upsert(
        PASSAGES,
        [
            VectorPoint(
                str(uuid.uuid4()),
                [1.0 / (i + 1)] + [0.0] * 383,
                {"novel_id": str(novel_id), "text": f"Passage {i} of the novel.", "chapter": 1},
            )
            for i in range(count)
        ],
    )


async def test_a_completed_novel_without_its_passages_becomes_missing(store):
    whole, gone, partial = novel("completed", 3), novel("completed", 5), novel("completed", 4)
    await hold(store, whole.id, 3)
    await hold(store, partial.id, 2)
    core = NovelsCore([whole, gone, partial])
    check = await reconcile(store, core)
    assert check.checked == 3
    assert {(m.slug, m.expected_passages, m.found_passages) for m in check.missing} == {
        (gone.slug, 5, 0),
        (partial.slug, 4, 2),
    }
    assert sorted(core.updates) == sorted([(str(gone.id), "missing"), (str(partial.id), "missing")])
    assert core.novels[str(whole.id)].ingestion_status == "completed"
    # Once re-ingested, the next check makes it completed again.
    await hold(store, gone.id, 5)
    core.updates.clear()
    check = await reconcile(store, core)
    assert [m.slug for m in check.missing] == [partial.slug]
    assert core.updates == [(str(gone.id), "completed")]


async def test_a_novel_being_ingested_is_left_alone(store):
    busy = novel("processing", 0)
    core = NovelsCore([busy])
    check = await reconcile(store, core)
    assert (check.checked, check.missing, core.updates) == (0, [], [])


async def test_the_checker_keeps_its_latest_result_while_core_is_away(store):
    core = NovelsCore([novel("completed", 2)])
    checker = NovelChecker(store, core, interval=300)
    first = await checker.fresh(max_age=30)
    assert first is not None and len(first.missing) == 1

    async def away(*args, **kwargs):
        from gaji_ai.clients.core import CoreUnavailable

        raise CoreUnavailable("down")

    core.novels_with_status = away
    assert await checker.fresh(max_age=0) is first  # the last known answer


async def test_a_turn_on_a_novel_the_store_does_not_hold_is_ungrounded_and_core_corrected(
    env, store
):
    settings, client, _prefix = env
    lost = novel("completed", 885, slug="pride-and-prejudice")
    core = NovelsCore([lost])
    registry._providers["main"] = Scripted(["I am ", "Charlotte."])
    req = request(novel_id=lost.id)
    status = await run_turn(settings, req, redis_client=client, core=core, store=store)
    assert status == "completed"
    assert core.saved[-1].grounded is False
    assert core.updates == [(str(lost.id), "missing")]


async def test_a_turn_with_passages_is_grounded(env, store):
    settings, client, _prefix = env
    held = novel("completed", 3)
    await hold(store, held.id, 3)
    core = NovelsCore([held])
    registry._providers["main"] = Scripted(["Yes."])
    req = request(novel_id=held.id)
    await run_turn(settings, req, redis_client=client, core=core, store=store)
    assert core.saved[-1].grounded is True
    assert core.updates == []


async def test_a_turn_on_a_story_without_a_novel_is_ungrounded(env):
    settings, client, _prefix = env
    core = NovelsCore([])
    registry._providers["main"] = Scripted(["Hm."])
    await run_turn(settings, request(), redis_client=client, core=core)
    assert core.saved[-1].grounded is False


async def test_core_client_pages_through_novels_by_status(core_stub):
    listed = [novel("completed", i + 1).model_dump(mode="json") for i in range(150)]
    seen = []

    def novels_page(method, body, query):
        seen.append(query)
        page, size = int(query["page"]), int(query["size"])
        chosen = [n for n in listed if n["ingestion_status"] == query["status"]]
        return 200, {
            "content": chosen[page * size : (page + 1) * size],
            "page": {
                "number": page,
                "size": size,
                "total_elements": len(chosen),
                "total_pages": -(-len(chosen) // size),
            },
        }

    core_stub.routes["/api/internal/novels"] = novels_page
    async with httpx.AsyncClient() as http:
        client = CoreClient(
            http, base_url=core_stub.url, service_token=SERVICE_TOKEN, timeout_seconds=2
        )
        found = await client.novels_with_status("completed")
    assert [str(n.id) for n in found] == [n["id"] for n in listed]
    assert [q["page"] for q in seen] == ["0", "1"] and all(q["status"] == "completed" for q in seen)


async def test_readyz_reports_missing_novels_and_core_is_told(
    make_client, core_stub, published_key
):
    """The API process checks core's novels at start; /readyz lists the ones
    the store lacks, the service stays ready, and the vectors route agrees."""
    import asyncio

    from support import bearer

    gone = novel("completed", 885, slug="pride-and-prejudice").model_dump(mode="json")
    patches = []

    def novels_page(method, body, query):
        chosen = [gone] if query.get("status") == gone["ingestion_status"] else []
        return 200, {
            "content": chosen,
            "page": {"number": 0, "size": 100, "total_elements": len(chosen), "total_pages": 1},
        }

    def patch(method, body):
        patches.append(body)
        gone["ingestion_status"] = body["ingestion_status"]
        return 200, gone

    core_stub.routes["/api/internal/novels"] = novels_page
    core_stub.routes[f"/api/internal/novels/{gone['id']}"] = patch
    async with make_client(novel_check_enabled=True) as client:
        for _ in range(100):
            if patches:
                break
            await asyncio.sleep(0.05)
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ready"
        [missing] = body["novels"]["missing"]
        assert (missing["slug"], missing["expected_passages"], missing["found_passages"]) == (
            "pride-and-prejudice",
            885,
            0,
        )
        assert patches == [{"ingestion_status": "missing"}]
        held = await client.get(
            f"/api/ai/novels/{gone['id']}/vectors", headers=bearer(published_key.token())
        )
        assert held.json() == {
            "novel_id": gone["id"],
            "passages": 0,
            "characters": 0,
            "ingested": False,
        }
