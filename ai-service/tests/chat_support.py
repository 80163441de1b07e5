"""Shared by the chat-turn tests: a scripted provider (unit tests only), a
fake core that records saved answers, requests, tickets, SSE parsing (the
`env` fixture is in conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import redis as sync_redis
from gaji_contracts.conversations import GenerationRequest
from gaji_contracts.memory import MemoryWritten

from gaji_ai.clients.core import CoreUnavailable
from gaji_ai.generation import turn
from gaji_ai.generation.grounding import ground
from gaji_ai.generation.task import TurnTask, ungrounded
from gaji_ai.llm.providers import ProviderError, StructuredOutputUnsupported
from gaji_ai.streams.stream import StreamWriter

from support import TEST_REDIS_URL


class Scripted:
    """Yields fixed words; `on_token(i)` runs before word i (to cancel mid-way)."""

    name = "scripted"
    default_model = "scripted-1"

    def __init__(self, words, *, fail_first=False, on_token=None, json_answers=None):
        self.models = ["scripted-1"]
        self.words, self.fail_first, self.on_token = words, fail_first, on_token
        self.prompts = []
        # complete_json answers in order (an exception instance is raised);
        # none left: the provider cannot follow a schema.
        self.json_answers = list(json_answers or [])
        self.json_prompts = []

    def complete_json(self, messages, schema, *, model=None, max_tokens=256, temperature=0.0):
        self.json_prompts.append((messages, schema))
        if not self.json_answers:
            raise StructuredOutputUnsupported("scripted: no structured output")
        answer = self.json_answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def count_tokens(self, text):
        return len(text.split())

    def stream(self, messages, *, model=None, max_tokens=256, temperature=0.7):
        self.prompts.append(messages)
        if self.fail_first:
            raise ProviderError("remote down")
        for i, word in enumerate(self.words):
            if self.on_token:
                self.on_token(i)
            yield word


class FakeCore:
    """Records persisted answers; fails `down` times first (core unreachable)."""

    def __init__(self, down=0):
        self.down, self.saved = down, []
        self.memory = []

    async def write_memory(self, conversation_id, write):
        self.memory.append(write)
        return MemoryWritten(
            written=len(write.entries), summarized=write.summary is not None, replaced=0
        )

    async def persist_message(self, conversation_id, result):
        if result.status != "streaming":
            if self.down:
                self.down -= 1
                raise CoreUnavailable("down")
            self.saved.append(result)


async def run_turn(settings, request, *, redis_client, core, store=None) -> str:
    """A turn as the platform runs it: grounded on the API side (in `store`;
    without one, by the brief alone), then generated on the worker side."""
    if store is None:
        grounding = ungrounded(request)
    else:
        grounding = await ground(settings, request, store, core=core)
    task = TurnTask(request=request, grounding=grounding)
    return await turn.generate(settings, task, redis_client=redis_client, core=core)


def request(**overrides) -> GenerationRequest:
    fields = {
        "conversation_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "user_message_id": uuid.uuid4(),
        "assistant_message_id": uuid.uuid4(),
        "user_message": "Do you regret it?",
        "scenario": {
            "id": uuid.uuid4(),
            "base_story": "pride-and-prejudice",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {
                "character": "Charlotte Lucas",
                "property": "personality",
                "new_value": "romantic",
            },
        },
        "recent_messages": [
            {
                "id": uuid.uuid4(),
                "role": "user",
                "content": "Hello",
                "created_at": datetime.now(UTC),
            }
        ],
    }
    return GenerationRequest(**{**fields, **overrides})


def stream_of(client, prefix, message_id):
    entries = client.xrange(f"{prefix}:gen:{message_id}")
    return [(fields[b"event"].decode(), fields[b"data"].decode()) for _, fields in entries]


def ticket(key, conversation_id, message_id, **overrides):
    return key.token(
        aud="gaji-stream",
        token_type="stream_ticket",
        conversation_id=conversation_id,
        message_id=message_id,
        **overrides,
    )


def fill(prefix, message_id, words):
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    writer = StreamWriter(client, prefix)
    text = ""
    for word in words:
        text += word
        writer.append(message_id, "message_chunk", {"content": text, "delta": word})
    writer.append(message_id, "message_complete", {"message_id": message_id, "content": text})
    client.close()


def parse(body: str) -> list[dict]:
    frames = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        frame = {}
        for line in block.split("\n"):
            if ":" in line and not line.startswith(":"):
                name, _, value = line.partition(":")
                frame[name] = value.strip()
        if frame:
            frames.append(frame)
    return frames
