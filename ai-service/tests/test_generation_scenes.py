"""A turn of several answers (a scene): spoken one after another in one
stream, each seeing the lines before it, each saved with its speaker and
the prompt it was given; a cancel stops the whole turn; a lost worker's
unfinished answers are each ended by the reaper."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from chat_support import FakeCore, Scripted, request, run_turn, stream_of
from gaji_contracts.conversations import Speaker
from redis.asyncio import Redis as AsyncRedis

from gaji_ai.generation import outcome, reaper, tracking
from gaji_ai.generation.task import perspective
from gaji_ai.llm import registry
from gaji_ai.streams.stream import StreamEvent, StreamReader, ends_stream

from support import TEST_REDIS_URL

DARCY = {"kind": "character", "character_id": "c-darcy", "name": "Mr. Darcy"}
ELIZABETH = {"kind": "character", "character_id": "c-eliza", "name": "Elizabeth Bennet"}
NARRATOR = {"kind": "narrator", "name": "Narrator"}


@pytest.fixture
async def aredis():
    client = AsyncRedis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


def scene(*speakers, **overrides):
    lead = uuid.uuid4()
    ids = [lead] + [uuid.uuid4() for _ in speakers[1:]]
    return request(
        assistant_message_id=lead,
        answers=[{"message_id": i, "speaker": s} for i, s in zip(ids, speakers, strict=True)],
        **overrides,
    )


def events_of(client, prefix, message_id) -> list[tuple[str, dict]]:
    return [(name, json.loads(data)) for name, data in stream_of(client, prefix, message_id)]


async def test_three_speakers_answer_in_one_stream_each_seeing_the_lines_before(env):
    settings, client, prefix = env
    provider = registry._providers["main"] = Scripted(["Well ", "said."])
    core = FakeCore()
    turn = scene(DARCY, ELIZABETH, NARRATOR, user_message="What do you two think of Meryton?")
    assert await run_turn(settings, turn, redis_client=client, core=core) == "completed"

    ids = [str(a.message_id) for a in turn.answers]
    assert [str(s.message_id) for s in core.saved] == ids
    events = events_of(client, prefix, turn.assistant_message_id)
    completes = [data for name, data in events if name == "message_complete"]
    assert [c["message_id"] for c in completes] == ids
    assert [c["more"] for c in completes] == [True, True, False]
    assert [c["speaker"]["name"] for c in completes] == [
        "Mr. Darcy",
        "Elizabeth Bennet",
        "Narrator",
    ]
    chunks = [data for name, data in events if name == "message_chunk"]
    assert [c["message_id"] for c in chunks] == [ids[0]] * 2 + [ids[1]] * 2 + [ids[2]] * 2
    assert chunks[2]["speaker"]["character_id"] == "c-eliza"
    # The stream ends after the last answer only.
    ended = [ends_stream(StreamEvent("", name, data)) for name, data in events]
    assert ended.index(True) == len(events) - 1

    darcy, elizabeth, narrator = provider.prompts
    assert "You are Mr. Darcy" in darcy[0].content
    assert "Mr. Darcy: Well said." not in darcy[-1].content
    assert "You are Elizabeth Bennet" in elizabeth[0].content
    assert (
        "Reader: What do you two think of Meryton?\n\nMr. Darcy: Well said."
        in elizabeth[-1].content
    )
    assert narrator[0].content.startswith("You are the narrator.")
    assert "Mr. Darcy: Well said.\n\nElizabeth Bennet: Well said." in narrator[-1].content


async def test_each_answer_is_saved_with_the_prompt_its_model_received(env):
    settings, client, _prefix = env
    provider = registry._providers["main"] = Scripted(["Indeed."])
    core = FakeCore()
    turn = scene(DARCY, ELIZABETH)
    await run_turn(settings, turn, redis_client=client, core=core)
    for saved, sent in zip(core.saved, provider.prompts, strict=True):
        record = saved.prompt
        assert record is not None and record.provider == "scripted"
        assert [(m.role, m.content) for m in record.messages] == [(m.role, m.content) for m in sent]
        assert [s.name for s in record.sections] == [
            "persona",
            "brief",
            "history",
            "lore",
            "memory",
            "passages",
            "message",
        ]
        assert record.settings["max_tokens"] == 200 and record.settings["temperature"] == 0.7
        assert record.prompt_tokens == sum(provider.count_tokens(m.content) for m in sent)
    assert "You are Elizabeth Bennet" in core.saved[1].prompt.sections[0].text


async def test_a_cancel_stops_the_whole_turn_and_keeps_what_was_said(env):
    settings, client, prefix = env
    turn = scene(DARCY, ELIZABETH, NARRATOR)
    calls = {"n": 0}

    def cancel_in_second_answer(i):
        calls["n"] += 1
        if calls["n"] == 5:  # the second answer's second word
            client.set(f"{prefix}:gen:{turn.assistant_message_id}:cancel", "1")

    registry._providers["main"] = Scripted(["a ", "b ", "c "], on_token=cancel_in_second_answer)
    core = FakeCore()
    assert await run_turn(settings, turn, redis_client=client, core=core) == "cancelled"
    assert [(s.status, s.content) for s in core.saved] == [
        ("completed", "a b c "),
        ("cancelled", "a "),
        ("cancelled", ""),
    ]
    completes = [
        d
        for n, d in events_of(client, prefix, turn.assistant_message_id)
        if n == "message_complete"
    ]
    assert [c["more"] for c in completes] == [True, True, False]


async def test_a_lost_worker_leaves_each_unfinished_answer_ended_by_the_reaper(env, aredis):
    _settings, client, prefix = env
    turn = scene(DARCY, ELIZABETH, NARRATOR)
    lead = str(turn.assistant_message_id)
    tracked = tracking.Turn(lead, 1, str(turn.conversation_id))
    await outcome.remember_answers(aredis, prefix, lead, 1, turn.answers)
    await tracking.register(aredis, prefix, tracked, start_timeout=60)
    dead = tracking.Heartbeat(client, prefix, tracked, interval=3600, grace=0.2)
    assert dead.claim()
    # The worker finished Darcy's answer, started Elizabeth's, and died.
    stream = StreamReader(aredis, prefix)
    second = str(turn.answers[1].message_id)
    await stream.append(
        lead, "message_chunk", {"content": "No.", "delta": "No.", "message_id": lead}
    )
    await stream.append(
        lead, "message_complete", {"message_id": lead, "more": True, "content": "No."}
    )
    await stream.append(
        lead, "message_chunk", {"content": "I ", "delta": "I ", "message_id": second}
    )
    await stream.append(
        lead, "message_chunk", {"content": "I was", "delta": "was", "message_id": second}
    )
    await asyncio.sleep(0.3)
    core = FakeCore()
    assert await reaper.reap_once(aredis, prefix, core) == 1
    assert [(str(s.message_id), s.status, s.content, s.error_code) for s in core.saved] == [
        (second, "failed", "I was", "WORKER_LOST"),
        (str(turn.answers[2].message_id), "failed", "", "WORKER_LOST"),
    ]
    completes = [d for n, d in events_of(client, prefix, lead) if n == "message_complete"]
    assert [(c["message_id"], c["more"]) for c in completes][1:] == [
        (second, True),
        (str(turn.answers[2].message_id), False),
    ]
    assert completes[2]["speaker"]["kind"] == "narrator"


def _line(kind, name, content, role="assistant", character_id=None):
    speaker = {"kind": kind, "name": name, "character_id": character_id}
    return {
        "id": uuid.uuid4(),
        "role": role,
        "content": content,
        "created_at": datetime.now(UTC),
        "speaker": speaker,
    }


def test_history_is_replayed_from_the_speakers_own_point_of_view():
    history = request(
        recent_messages=[
            _line("user", "reader42", "Hello, both.", role="user"),
            _line("character", "Mr. Darcy", "Good day.", character_id="c-darcy"),
            _line("character", "Elizabeth Bennet", "Good day, sir.", character_id="c-eliza"),
        ]
    ).recent_messages
    as_elizabeth = perspective(history, Speaker.model_validate(ELIZABETH))
    assert [(t.role, t.content) for t in as_elizabeth] == [
        ("user", "Reader: Hello, both."),
        ("user", "Mr. Darcy: Good day."),
        ("assistant", "Good day, sir."),
    ]
    as_darcy = perspective(history, Speaker.model_validate(DARCY))
    assert [t.role for t in as_darcy] == ["user", "assistant", "user"]
    assert as_darcy[2].content == "Elizabeth Bennet: Good day, sir."
    # A character named freely is matched by name.
    free = perspective(history, Speaker(kind="character", name="mr. darcy"))
    assert free[1].role == "assistant"


def test_each_answer_gets_its_speakers_profile_by_id_first():
    from gaji_ai.generation.grounding import persona_from

    profiles = [
        {"id": "c-1", "name": "Jane Bennet", "description": "The eldest Bennet sister."},
        {"id": "c-2", "name": "Jane Fairfax", "description": "Another Jane."},
    ]
    assert persona_from("Jane", profiles, "c-2").description == "Another Jane."
    assert persona_from("Jane", profiles).description == "The eldest Bennet sister."
    assert persona_from("the narrator", profiles).description == ""


async def test_grounding_gives_every_speaker_of_the_turn_its_persona(env):
    from gaji_ai.generation.grounding import ground
    from gaji_ai.vectors.store import CHARACTERS, Hit

    settings, _client, _prefix = env

    class Cast:
        async def scroll(self, collection, *, novel_id, limit):
            assert collection == CHARACTERS
            return [
                Hit(
                    "c-darcy",
                    1.0,
                    {"name": "Fitzwilliam Darcy", "description": "Proud.", "mention_count": 9},
                ),
                Hit(
                    "c-eliza",
                    1.0,
                    {"name": "Elizabeth Bennet", "description": "Witty.", "mention_count": 8},
                ),
            ]

        async def search(self, collection, **_):
            return []

        async def count(self, collection, novel_id):
            return 1

    class Embedder:
        def embed(self, texts):
            return [[0.1] * 384 for _ in texts]

    turn = scene(DARCY, ELIZABETH, NARRATOR, novel_id=uuid.uuid4())
    grounding = await ground(settings, turn, Cast(), embedder=Embedder())
    assert [(p.name, p.description) for p in grounding.personas] == [
        ("Fitzwilliam Darcy", "Proud."),
        ("Elizabeth Bennet", "Witty."),
        ("the narrator", ""),
    ]
