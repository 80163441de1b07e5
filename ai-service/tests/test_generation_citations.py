"""An answer cites the passages its prompt held (issue 16): `message_complete`
and the answer saved on core carry `citations`, exactly the passages that
reached the model, in the order the prompt numbered them, each quoting the
text the model read (the condensed text for a condensed passage). Scripted
provider (unit tests only), real Redis, an in-memory vector store."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from chat_support import FakeCore, Scripted, request, run_turn, stream_of
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.generation.grounding import ground
from gaji_ai.generation.prompt import PASSAGES_HEADER, KeptPassage, Persona, build_messages
from gaji_ai.generation.task import Passage, TurnTask, citations_of, quote_of
from gaji_ai.generation.turn import generate
from gaji_ai.llm import registry
from gaji_ai.vectors.store import WINDOWS, Hit, VectorStoreError

from support import TEST_REDIS_URL

QUESTION = "Do you regret marrying Mr. Collins?"
FILLER = [
    "The weather at Hunsford was mild in the spring.",
    "Lady Catherine called at the parsonage most mornings.",
    "The garden ran down to the lane behind the house.",
    "Sir William stayed only a week and then went home.",
    "Maria was frightened of the great lady at Rosings.",
    "The carriage came for them at half past four each day.",
]
RELATED = "She did not regret marrying Mr. Collins, she said, for she had her home."
SHORT = "Charlotte accepted Mr. Collins for a comfortable home."
LONG = " ".join([*FILLER, RELATED])
LAST = "Elizabeth walked alone in the park before breakfast."


def point(score: float, text: str, chapter: int, chunk_index: int) -> Hit:
    """A passage as the vector store holds it (the id as ingestion makes it)."""
    return Hit(
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"novel:passage:{chunk_index}")),
        score,
        {
            "text": text,
            "chapter": chapter,
            "chapter_title": f"Chapter {chapter}",
            "chunk_index": chunk_index,
        },
    )


POINTS = [point(0.9, SHORT, 22, 388), point(0.8, LONG, 28, 470), point(0.7, LAST, 30, 501)]


class Store:
    """The cast and the passages in memory (POINTS, best first)."""

    def __init__(self, *, broken=False, points=POINTS):
        self.broken, self.points = broken, points

    async def scroll(self, collection, *, novel_id, limit):
        return []

    async def search(self, collection, *, dense, sparse, where, limit, fusion=True):
        if self.broken:
            raise VectorStoreError("down")
        if collection == WINDOWS:
            return []  # no windows: the search uses the passages' own vectors
        return self.points[:limit]

    async def get(self, collection, point_id, *, dense=None):
        return next((p for p in self.points if p.id == point_id), None)

    async def count(self, collection, novel_id):
        if self.broken:
            raise VectorStoreError("down")
        return len(self.points)

    async def close(self):
        pass


class OneVector:
    def embed(self, texts):
        return [[0.1] * 384 for _ in texts]


@pytest.fixture
async def aredis():
    client = AsyncRedis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


def numbered(prompt) -> list[str]:
    """The passages of a prompt's last message, in their [1], [2], ... order."""
    final = prompt[-1].content
    if f"{PASSAGES_HEADER}\n" not in final:
        return []
    block = final.split(f"{PASSAGES_HEADER}\n", 1)[1].rsplit("\n\nReader: ", 1)[0]
    parts = re.split(r"(?:^|\n\n)\[(\d+)\] ", block)[1:]
    assert [int(n) for n in parts[0::2]] == list(range(1, len(parts) // 2 + 1))
    return parts[1::2]


def completed(client, prefix, turn) -> dict:
    events = stream_of(client, prefix, turn.assistant_message_id)
    assert events[-1][0] == "message_complete"
    return json.loads(events[-1][1])


def grounded_turn(**overrides):
    return request(novel_id=uuid.uuid4(), user_message=QUESTION, **overrides)


# -- the quote ---------------------------------------------------------------------------


def test_a_short_passage_is_quoted_whole():
    assert (
        quote_of("  It is a truth universally acknowledged.\n")
        == "It is a truth universally acknowledged."
    )


def test_a_long_passage_is_cut_at_a_word_with_an_ellipsis():
    text = (
        "It is a truth universally acknowledged, that a single man in possession of a fortune, " * 5
    )
    quote = quote_of(text)
    assert quote.endswith("…") and len(quote) <= 201
    head = quote.removesuffix("…")
    assert text.startswith(head)  # verbatim
    assert text[len(head)] in " ,"  # cut between words
    assert not head.endswith((",", " "))


def test_a_passage_without_spaces_is_cut_hard_and_nul_is_dropped():
    assert quote_of("x" * 500) == "x" * 200 + "…"
    assert quote_of("a\x00b") == "ab"


# -- which passages the prompt kept -----------------------------------------------------


def words(text: str) -> int:
    return len(text.split())


def test_build_messages_reports_the_passages_it_kept_in_prompt_order():
    kept: list[KeptPassage] = []
    messages = build_messages(
        story="Pride And Prejudice",
        brief="What if Charlotte were romantic?",
        persona=Persona("Charlotte Lucas"),
        passages=[SHORT, LONG, LAST],
        history=[],
        user_message=QUESTION,
        count_tokens=words,
        budget=1800,
        grounding_tokens=60,
        kept=kept,
    )
    assert [(k.index, k.condensed) for k in kept] == [(0, False), (1, True)]
    assert kept[0].text == SHORT
    assert RELATED in kept[1].text and kept[1].text != LONG and FILLER[-1] not in kept[1].text
    assert numbered(messages) == [k.text for k in kept]
    # Without `kept`, the same messages (reporting changes nothing).
    assert (
        build_messages(
            story="Pride And Prejudice",
            brief="What if Charlotte were romantic?",
            persona=Persona("Charlotte Lucas"),
            passages=[SHORT, LONG, LAST],
            history=[],
            user_message=QUESTION,
            count_tokens=words,
            budget=1800,
            grounding_tokens=60,
        )
        == messages
    )


def test_citations_of_point_at_their_passages_and_skip_an_uncitable_one():
    passages = [Passage.of(h.id, h.payload) for h in POINTS] + [Passage("no id")]
    kept = [KeptPassage(1, "A condensed text."), KeptPassage(0, SHORT), KeptPassage(3, "no id")]
    cited = citations_of(passages, kept)
    assert [(c.passage_id, c.chapter, c.chapter_title, c.chunk_index, c.quote) for c in cited] == [
        (POINTS[1].id, 28, "Chapter 28", 470, "A condensed text."),
        (POINTS[0].id, 22, "Chapter 22", 388, SHORT),
    ]


# -- the chat turn -------------------------------------------------------------------------


async def test_message_complete_and_the_saved_answer_cite_exactly_the_prompts_passages(env):
    settings, client, prefix = env
    settings = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"llm_grounding_tokens": 60})}
    )
    provider = registry._providers["main"] = Scripted(["I ", "do ", "not."])
    core = FakeCore()
    turn = grounded_turn()
    assert (
        await run_turn(settings, turn, redis_client=client, core=core, store=Store()) == "completed"
    )

    in_prompt = numbered(provider.prompts[0])
    # LAST never reached the model: the long passage before it used up the room.
    assert in_prompt[0] == SHORT and RELATED in in_prompt[1] and len(in_prompt) == 2
    expected = [
        {
            "passage_id": POINTS[0].id,
            "chapter": 22,
            "chapter_title": "Chapter 22",
            "chunk_index": 388,
            "quote": SHORT,
        },
        {
            "passage_id": POINTS[1].id,
            "chapter": 28,
            "chapter_title": "Chapter 28",
            "chunk_index": 470,
            "quote": quote_of(in_prompt[1]),  # the condensed text, as the model read it
        },
    ]
    assert quote_of(in_prompt[1]) != quote_of(LONG)
    event = completed(client, prefix, turn)
    assert event["citations"] == expected
    assert event["grounded"] is True and event["content"] == "I do not."
    assert [c.model_dump(mode="json") for c in core.saved[0].citations] == expected


async def test_every_passage_that_fits_is_cited_in_rank_order(env):
    settings, client, prefix = env
    provider = registry._providers["main"] = Scripted(["Yes."])
    turn = grounded_turn()
    # Both short: whatever the budget, both fit; LAST ranks first here.
    points = [Hit(POINTS[2].id, 0.9, POINTS[2].payload), Hit(POINTS[0].id, 0.5, POINTS[0].payload)]
    await run_turn(settings, turn, redis_client=client, core=FakeCore(), store=Store(points=points))
    assert numbered(provider.prompts[0]) == [LAST, SHORT]
    cited = completed(client, prefix, turn)["citations"]
    assert [(c["passage_id"], c["quote"]) for c in cited] == [
        (POINTS[2].id, LAST),
        (POINTS[0].id, SHORT),
    ]


async def test_the_fallback_models_prompt_is_the_one_cited(env):
    settings, client, prefix = env
    settings = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"llm_grounding_tokens": 60})}
    )
    remote = Scripted([], fail_first=True)
    remote.name = "openai"
    registry._providers["main"] = remote

    class Wordy(Scripted):
        def count_tokens(self, text):
            return 3 * len(text.split())  # the long passage cannot even be condensed

    local = registry._providers["local"] = Wordy(["Yes."])
    core = FakeCore()
    turn = grounded_turn()
    await run_turn(settings, turn, redis_client=client, core=core, store=Store())
    assert len(numbered(remote.prompts[0])) == 2 and numbered(local.prompts[0]) == [SHORT]
    assert [c["passage_id"] for c in completed(client, prefix, turn)["citations"]] == [POINTS[0].id]
    assert core.saved[0].degraded is True and len(core.saved[0].citations) == 1


async def test_an_answer_without_grounding_cites_nothing(env):
    settings, client, prefix = env
    registry._providers["main"] = Scripted(["Hello."])
    no_novel = request()
    await run_turn(settings, no_novel, redis_client=client, core=FakeCore())
    assert completed(client, prefix, no_novel)["citations"] == []
    core = FakeCore()
    store_down = grounded_turn()
    await run_turn(settings, store_down, redis_client=client, core=core, store=Store(broken=True))
    event = completed(client, prefix, store_down)
    assert event["citations"] == [] and event["grounded"] is False
    assert core.saved[0].citations == []


async def test_a_failed_answer_without_text_cites_nothing_a_cancelled_one_keeps_them(env):
    settings, client, prefix = env
    failing = registry._providers["main"] = Scripted([], fail_first=True)
    failing.name = "local"
    failed = grounded_turn()
    await run_turn(settings, failed, redis_client=client, core=FakeCore(), store=Store())
    assert completed(client, prefix, failed)["citations"] == []

    turn = grounded_turn()

    def cancel_at(i):
        if i == 1:
            client.set(f"{prefix}:gen:{turn.assistant_message_id}:cancel", "1")

    registry._providers["main"] = Scripted(["Not ", "at ", "all."], on_token=cancel_at)
    points = [POINTS[0]]
    await run_turn(settings, turn, redis_client=client, core=FakeCore(), store=Store(points=points))
    event = completed(client, prefix, turn)
    assert event["status"] == "cancelled" and event["content"] == "Not "
    assert [c["passage_id"] for c in event["citations"]] == [POINTS[0].id]


async def test_the_tasks_grounding_carries_where_each_passage_is(env):
    settings, client, prefix = env
    turn = grounded_turn()
    found = await ground(settings, turn, Store(points=[POINTS[0]]))
    # As the broker carries it (JSON), then answered by the worker.
    task = TurnTask.parse(
        json.loads(json.dumps(TurnTask(request=turn, grounding=found).model_dump(mode="json")))
    )
    registry._providers["main"] = Scripted(["Yes."])
    await generate(settings, task, redis_client=client, core=FakeCore())
    [cited] = completed(client, prefix, turn)["citations"]
    assert (cited["passage_id"], cited["chapter"], cited["chunk_index"]) == (POINTS[0].id, 22, 388)
    assert cited["chapter_title"] == "Chapter 22"
