"""The reader's options on a turn (their settings, sent by core): the
answer's length cap and temperature reach the provider call, the response
style and what the reader is called reach the prompt; a turn without them
is answered exactly as before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from chat_support import FakeCore, Scripted, request, run_turn
from gaji_contracts.conversations import TurnOptions

from gaji_ai.generation.prompt import ANSWER_TEMPERATURE, MAX_ANSWER_TOKENS, READER
from gaji_ai.generation.task import TurnTask, ungrounded
from gaji_ai.llm import registry


class Recording(Scripted):
    """Scripted, also keeping what each stream call was asked for."""

    def __init__(self, words):
        super().__init__(words)
        self.calls = []

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7):
        self.calls.append({"model": model, "max_tokens": max_tokens, "temperature": temperature})
        return super().stream(messages, model=model, max_tokens=max_tokens, temperature=temperature)


def with_reader_line(**overrides):
    """A turn whose history holds a line of the reader (speaker kind user)."""
    line = {
        "id": uuid.uuid4(),
        "role": "user",
        "content": "Good evening, Charlotte.",
        "created_at": datetime.now(UTC),
        "speaker": {"kind": "user", "name": "user_1"},
    }
    return request(recent_messages=[line], **overrides)


async def test_the_options_reach_the_provider_and_the_prompt(env):
    settings, client, _ = env
    provider = registry._providers["main"] = Recording(["Perhaps."])
    core = FakeCore()
    options = {
        "temperature": 1.3,
        "max_tokens": 512,
        "response_style": "concise",
        "persona_name": "Lizzy",
    }
    turn = with_reader_line(options=options)
    assert await run_turn(settings, turn, redis_client=client, core=core) == "completed"
    assert provider.calls == [{"model": "scripted-1", "max_tokens": 512, "temperature": 1.3}]
    messages = provider.prompts[0]
    system, final = messages[0].content, messages[-1].content
    assert "The reader is called Lizzy; address them as Lizzy." in system
    assert "one or two sentences" in system
    assert "Lizzy: Good evening, Charlotte." in final  # the reader's earlier line
    assert "Lizzy: Do you regret it?" in final
    assert f"{READER}:" not in final
    assert "in one or two sentences" in final and "in a few sentences" not in final
    record = core.saved[0].prompt
    assert record.settings["max_tokens"] == 512 and record.settings["temperature"] == 1.3
    assert record.settings["response_style"] == "concise"
    assert "Lizzy" in record.sections[0].text  # the persona section holds the settings lines


async def test_a_turn_without_options_is_answered_as_before(env):
    settings, client, _ = env
    provider = registry._providers["main"] = Recording(["Perhaps."])
    core = FakeCore()
    await run_turn(settings, with_reader_line(), redis_client=client, core=core)
    assert provider.calls == [
        {"model": "scripted-1", "max_tokens": MAX_ANSWER_TOKENS, "temperature": ANSWER_TEMPERATURE}
    ]
    system, final = provider.prompts[0][0].content, provider.prompts[0][-1].content
    assert "The reader is called" not in system
    assert (
        f"{READER}: Good evening, Charlotte." in final and f"{READER}: Do you regret it?" in final
    )
    assert "in a few sentences" in final
    assert core.saved[0].prompt.settings["response_style"] == "balanced"


async def test_detailed_asks_for_more_and_balanced_adds_nothing(env):
    settings, client, _ = env
    provider = registry._providers["main"] = Recording(["Perhaps."])
    await run_turn(
        settings,
        request(options={"response_style": "detailed"}),
        redis_client=client,
        core=FakeCore(),
    )
    await run_turn(
        settings,
        request(options={"response_style": "balanced"}),
        redis_client=client,
        core=FakeCore(),
    )
    await run_turn(settings, request(), redis_client=client, core=FakeCore())
    detailed, balanced, default = provider.prompts
    assert (
        "a paragraph or two" in detailed[0].content and "a paragraph or two" in detailed[-1].content
    )
    assert balanced[0].content == default[0].content
    assert balanced[-1].content == default[-1].content


async def test_a_long_answer_keeps_to_half_the_window(env, test_settings):
    _, client, _ = env
    settings = test_settings(llm_context_tokens=1024)
    provider = registry._providers["main"] = Recording(["Perhaps."])
    core = FakeCore()
    await run_turn(settings, request(options={"max_tokens": 1024}), redis_client=client, core=core)
    assert provider.calls[0]["max_tokens"] == 512
    assert core.saved[0].prompt.settings["max_tokens"] == 512


async def test_temperature_zero_is_kept_not_taken_for_unset(env):
    settings, client, _ = env
    provider = registry._providers["main"] = Recording(["Perhaps."])
    await run_turn(
        settings, request(options={"temperature": 0}), redis_client=client, core=FakeCore()
    )
    assert provider.calls[0]["temperature"] == 0


def test_the_options_travel_with_the_task_to_the_worker():
    """The API process queues the turn (from core's internal generations
    call or, for the direct route, core's stored turn) as a TurnTask; the
    worker reads the options back from it."""
    turn = request(options={"temperature": 0.2, "persona_name": "Lizzy"})
    payload = TurnTask(request=turn, grounding=ungrounded(turn)).model_dump(mode="json")
    assert TurnTask.parse(payload).request.options == turn.options
    # A bare request (queued before an upgrade) without options: the defaults.
    bare = request().model_dump(mode="json")
    del bare["options"]
    assert TurnTask.parse(bare).request.options == TurnOptions()
