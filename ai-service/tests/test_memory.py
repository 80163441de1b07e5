"""The branch's memory in a turn: each speaker's prompt holds only what that
character may know, within the memory budget (pins first); after the turn
the model writes entries that follow a JSON schema, the rule when it cannot;
a fold asked by core becomes a summary; the spoiler boundary limits the
passages. A scripted provider stands in for the model (unit tests only)."""

from __future__ import annotations

import uuid

from chat_support import FakeCore, Scripted, request, run_turn
from gaji_contracts.conversations import Speaker
from gaji_contracts.memory import MemoryContext, MemoryKind, MemorySource, knower_key

from gaji_ai.generation import grounding, memory
from gaji_ai.generation.prompt import MEMORY_HEADER, build_prompt
from gaji_ai.generation.task import Prompt, TurnTask, ungrounded
from gaji_ai.llm import registry
from gaji_ai.llm.providers import ProviderError

DARCY = {"kind": "character", "character_id": "c-darcy", "name": "Mr. Darcy"}
ELIZABETH = {"kind": "character", "character_id": "c-eliza", "name": "Elizabeth Bennet"}
NARRATOR = {"kind": "narrator", "name": "Narrator"}


def item(text, *, kind="fact", known_by=None, pinned=False, position=1, **fields):
    return {
        "id": uuid.uuid4(),
        "kind": kind,
        "text": text,
        "known_by": known_by,
        "pinned": pinned,
        "position": position,
        **fields,
    }


def context(*entries, **fields) -> dict:
    return {
        "entries": list(entries),
        "present": ["c-darcy", "c-eliza"],
        "names": {"c-darcy": "Mr. Darcy", "c-eliza": "Elizabeth Bennet"},
        "position": 4,
        **fields,
    }


def scene(*speakers, **overrides):
    lead = uuid.uuid4()
    ids = [lead] + [uuid.uuid4() for _ in speakers[1:]]
    return request(
        assistant_message_id=lead,
        answers=[{"message_id": i, "speaker": s} for i, s in zip(ids, speakers, strict=True)],
        **overrides,
    )


def memory_section(record) -> str:
    return next(s.text for s in record.sections if s.name == "memory")


def test_each_speaker_is_given_only_what_it_could_know(env):
    settings, _, _ = env
    provider = Scripted(["ok"])
    turn = scene(
        DARCY,
        ELIZABETH,
        NARRATOR,
        memory=context(
            item("The letter is hidden in the library.", known_by=["c-darcy"]),
            item("Jane is in London.", known_by=["c-eliza"]),
            item("It rains in Meryton.", known_by=None),
        ),
    )
    prompt = Prompt(settings, TurnTask(request=turn, grounding=ungrounded(turn)))
    darcy = memory_section(prompt.fit(provider, 0)[2])
    eliza = memory_section(prompt.fit(provider, 1)[2])
    narrator = memory_section(prompt.fit(provider, 2)[2])
    assert "letter" in darcy and "Jane" not in darcy and "rains" in darcy
    assert "Jane" in eliza and "letter" not in eliza and "rains" in eliza
    assert all(t in narrator for t in ("letter", "Jane", "rains"))
    assert darcy.startswith(MEMORY_HEADER)
    # The memory reaches the model's last message, not only the record.
    messages = prompt.fit(provider, 0)[0]
    assert "The letter is hidden in the library." in messages[-1].content


def test_memory_keeps_to_its_budget_in_priority_order():
    lines = [f"- Line number {i} about the brooch." for i in range(40)]
    built = build_prompt(
        story="Pride And Prejudice",
        brief="what if",
        persona=memory_persona(),
        passages=[],
        history=[],
        user_message="Where is the brooch?",
        count_tokens=lambda text: len(text.split()),
        budget=2000,
        memory=lines,
        memory_tokens=60,
    )
    section = next(s for s in built.sections if s.name == "memory")
    assert section.tokens <= 60
    kept = section.text.splitlines()[1:]
    assert kept and kept == lines[: len(kept)]  # the first ones, in order
    assert len(kept) < len(lines)


def memory_persona():
    from gaji_ai.generation.prompt import Persona

    return Persona("Mr. Darcy")


def test_summaries_that_the_shown_history_reaches_are_left_out():
    ctx = MemoryContext.model_validate(
        context(
            item("Long ago they met.", kind="summary", layer=1, position=0),
            item("Yesterday they quarrelled.", kind="summary", layer=1, position=30),
            position=40,
        )
    )
    lines = memory.known_lines(ctx, Speaker(**DARCY), history_from=20)
    assert any("Long ago" in line for line in lines)
    assert not any("quarrelled" in line for line in lines)


def test_memory_mode_off_gives_the_prompt_no_memory(env, test_settings):
    settings = test_settings(memory_mode="off")
    turn = scene(DARCY, memory=context(item("A secret.", pinned=True)))
    record = Prompt(settings, TurnTask(request=turn, grounding=ungrounded(turn))).fit(
        Scripted(["x"])
    )[2]
    assert memory_section(record) == ""


async def test_the_model_writes_entries_that_follow_the_schema(env):
    settings, client, _ = env
    answer = {
        "entries": [
            {"kind": "fact", "subject": "world", "text": "The brooch is in the library."},
            {
                "kind": "relationship",
                "subject": "Mr. Darcy",
                "target": "Elizabeth Bennet",
                "text": "Darcy warms to Elizabeth.",
                "change": 15,
            },
            {"kind": "summary", "subject": "x", "text": "not a kind the model may write"},
        ]
    }
    provider = registry._providers["main"] = Scripted(["I ", "hid ", "it."], json_answers=[answer])
    core = FakeCore()
    turn = scene(DARCY, memory=context(), user_message="Where is the brooch?")
    assert await run_turn(settings, turn, redis_client=client, core=core) == "completed"

    (write,) = core.memory
    assert write.source_message_id == turn.assistant_message_id
    assert write.position == 4
    assert write.present == ["c-darcy", "c-eliza"] and write.names["c-darcy"] == "Mr. Darcy"
    # The reader's own words by the rule, then the model's entries.
    assert [(e.kind, e.source) for e in write.entries] == [
        (MemoryKind.EVENT, MemorySource.RULE),
        (MemoryKind.FACT, MemorySource.MODEL),
        (MemoryKind.RELATIONSHIP, MemorySource.MODEL),
    ]
    assert write.entries[0].text == "The reader said: Where is the brooch?"
    assert write.entries[2].change == 15
    messages, schema = provider.json_prompts[0]
    assert schema["properties"]["entries"]["items"]["properties"]["kind"]["enum"] == [
        "fact",
        "event",
        "character_knowledge",
        "relationship",
    ]
    assert "Mr. Darcy: I hid it." in messages[-1].content


async def test_the_rule_writes_when_the_model_cannot(env):
    settings, client, _ = env
    registry._providers["main"] = Scripted(
        ["I ", "love ", "Elizabeth Bennet ", "dearly."], json_answers=[ProviderError("bad json")]
    )
    core = FakeCore()
    turn = scene(DARCY, memory=context(), user_message="Tell me of Elizabeth.")
    await run_turn(settings, turn, redis_client=client, core=core)

    (write,) = core.memory
    assert {e.source for e in write.entries} == {MemorySource.RULE}
    kinds = [e.kind for e in write.entries]
    assert kinds.count(MemoryKind.EVENT) == 2  # the reader's message and the answer
    relationship = next(e for e in write.entries if e.kind == MemoryKind.RELATIONSHIP)
    assert (relationship.subject, relationship.target, relationship.change) == (
        "Mr. Darcy",
        "Elizabeth Bennet",
        10,
    )


async def test_a_fold_becomes_a_summary_by_the_model_else_the_rule(env):
    settings, client, _ = env
    fold = {
        "layer": 1,
        "covers_from": 0,
        "covers_to": 7,
        "texts": ["Reader: Hello there.", "Mr. Darcy: Good day. I am proud."],
        "known_by": ["c-darcy"],
    }
    registry._providers["main"] = Scripted(
        ["Yes."], json_answers=[{"entries": []}, {"summary": "They met and Darcy was proud."}]
    )
    core = FakeCore()
    await run_turn(
        settings, scene(DARCY, memory=context(fold=fold)), redis_client=client, core=core
    )
    summary = core.memory[0].summary
    assert (summary.text, summary.source, summary.layer) == (
        "They met and Darcy was proud.",
        MemorySource.MODEL,
        1,
    )
    assert (summary.covers_from, summary.covers_to, summary.known_by) == (0, 7, ["c-darcy"])

    registry._providers["main"] = Scripted(["Yes."])  # no structured output at all
    core = FakeCore()
    await run_turn(
        settings, scene(DARCY, memory=context(fold=fold)), redis_client=client, core=core
    )
    summary = core.memory[0].summary
    assert summary.source == MemorySource.RULE
    assert summary.text == "Reader: Hello there. Mr. Darcy: Good day."


async def test_no_memory_written_for_an_older_core_or_when_off(env, test_settings):
    settings, client, _ = env
    registry._providers["main"] = Scripted(["Yes."])
    core = FakeCore()
    await run_turn(settings, scene(DARCY), redis_client=client, core=core)  # no `memory`
    assert core.memory == []
    off = test_settings(memory_mode="off")
    await run_turn(off, scene(DARCY, memory=context()), redis_client=client, core=core)
    assert core.memory == []


async def test_a_core_that_refuses_the_memory_loses_the_memory_not_the_turn(env):
    settings, client, _ = env

    class RefusingCore(FakeCore):
        async def write_memory(self, conversation_id, write):
            from gaji_ai.clients.core import CoreUnavailable

            raise CoreUnavailable("down")

    registry._providers["main"] = Scripted(["Yes."])
    core = RefusingCore()
    assert await run_turn(
        settings, scene(DARCY, memory=context()), redis_client=client, core=core
    ) == ("completed")
    assert [s.status for s in core.saved] == ["completed"]


def test_knower_keys_match_between_speakers_and_entries():
    assert memory.speaker_key(Speaker(**DARCY)) == "c-darcy"
    assert memory.speaker_key(Speaker(kind="character", name="  Mrs.  Bennet")) == knower_key(
        None, "mrs. bennet"
    )
    assert memory.speaker_key(Speaker(**NARRATOR)) is None


class _Hits:
    def __init__(self, hits):
        self.hits = hits


class _Hit:
    def __init__(self, chapter):
        self.payload = {"chapter": chapter}


async def test_the_canon_boundary_is_the_readers_chapter_else_the_scenarios_point(monkeypatch):
    asked = []

    async def search(**arguments):
        asked.append(arguments["query"])
        return _Hits([_Hit(18)])

    monkeypatch.setattr(grounding, "search_passages", search)
    grounding._POINTS.clear()
    novel = uuid.uuid4()
    set_by_reader = request(novel_id=novel, memory=context(canon_chapter=5))
    assert await grounding.canon_boundary(set_by_reader, None, None) == 5
    assert asked == []

    pointed = request(
        novel_id=novel,
        memory=context(),
        scenario={
            "id": uuid.uuid4(),
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {
                "character": "Mr. Darcy",
                "property": "personality",
                "new_value": "humble",
                "change_point": "the Netherfield ball",
            },
        },
    )
    assert await grounding.canon_boundary(pointed, None, None) == 18
    assert await grounding.canon_boundary(pointed, None, None) == 18
    assert asked == ["the Netherfield ball"]  # asked once, then remembered
    assert await grounding.canon_boundary(request(novel_id=novel), None, None) is None
