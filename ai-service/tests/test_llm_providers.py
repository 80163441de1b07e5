"""The three LLM providers: the real local model (llama.cpp on the bundled
SmolLM2 GGUF) and the OpenAI / Anthropic streaming wire formats spoken by
local HTTP servers started here (the real client code, no internet)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from gaji_ai.llm.providers import (
    AnthropicProvider,
    ChatMessage,
    EngineProvider,
    LocalProvider,
    OpenAIProvider,
    ProviderError,
    StructuredOutputUnsupported,
    build_provider,
    local_model_path,
)

MESSAGES = [
    ChatMessage("system", "You are Elizabeth Bennet."),
    ChatMessage("user", "Describe Mr. Darcy."),
]
WORDS = ["He ", "is ", "proud."]


def test_the_local_model_is_found_in_its_package_and_streams_real_tokens():
    assert Path(local_model_path()).is_file()
    provider = LocalProvider(n_ctx=512)
    deltas = list(provider.stream(MESSAGES, max_tokens=12, temperature=0.0))
    assert len(deltas) >= 2 and "".join(deltas).strip()
    assert provider.count_tokens("Mr. Darcy") >= 2


class WireServer:
    """Streams WORDS in the OpenAI or Anthropic format; records requests."""

    def __init__(self, kind: str, status: int = 200) -> None:
        self.requests: list[dict] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server_self.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if status != 200:
                    # Like some real APIs, the refusal echoes the key it was sent.
                    key = self.headers.get("x-api-key") or self.headers.get("Authorization", "")
                    key = key.removeprefix("Bearer ")
                    message = f"model overloaded for key {key}"
                    raw = json.dumps({"error": {"message": message}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for frame in openai_frames() if kind == "openai" else anthropic_frames():
                    self.wfile.write(frame.encode())
                    self.wfile.flush()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def openai_frames() -> list[str]:
    chunks = [{"choices": [{"delta": {"role": "assistant"}}]}]
    chunks += [{"choices": [{"delta": {"content": word}}]} for word in WORDS]
    return [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]


def anthropic_frames() -> list[str]:
    events = [("message_start", {"type": "message_start", "message": {"id": "m1"}})]
    events.append(("content_block_start", {"type": "content_block_start", "index": 0}))
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "delta": {"type": "text_delta", "text": w}},
        )
        for w in WORDS
    ]
    events.append(("message_stop", {"type": "message_stop"}))
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]


@pytest.fixture
def wire(request):
    server = WireServer(*request.param)
    yield server
    server.close()


@pytest.mark.parametrize("wire", [("openai",)], indirect=True)
def test_openai_compatible_streaming(wire):
    provider = OpenAIProvider(
        base_url=f"{wire.url}/v1", api_key="sk-secret", models=["gpt-x", "gpt-y"], timeout=5
    )
    assert list(provider.stream(MESSAGES, model="gpt-y", max_tokens=20)) == WORDS
    sent = wire.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-secret"
    assert sent["body"]["model"] == "gpt-y" and sent["body"]["stream"] is True
    assert sent["body"]["messages"][0] == {"role": "system", "content": "You are Elizabeth Bennet."}


@pytest.mark.parametrize("wire", [("anthropic",)], indirect=True)
def test_anthropic_messages_streaming(wire):
    provider = AnthropicProvider(
        base_url=wire.url, api_key="ak-secret", models=["claude-x"], timeout=5
    )
    assert list(provider.stream(MESSAGES, max_tokens=20)) == WORDS
    sent = wire.requests[0]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "ak-secret" and sent["headers"]["anthropic-version"]
    assert sent["body"]["system"] == "You are Elizabeth Bennet."
    assert sent["body"]["messages"] == [{"role": "user", "content": "Describe Mr. Darcy."}]


@pytest.mark.parametrize("wire", [("openai", 503), ("anthropic", 529)], indirect=True)
def test_refusals_are_provider_errors_without_the_key(wire):
    for provider in (
        OpenAIProvider(base_url=wire.url, api_key="sk-secret", models=["m"], timeout=5),
        AnthropicProvider(base_url=wire.url, api_key="sk-secret", models=["m"], timeout=5),
    ):
        with pytest.raises(ProviderError) as info:
            list(provider.stream(MESSAGES))
        assert "model overloaded for key [redacted]" in str(info.value)
        assert "sk-secret" not in str(info.value)


def test_unreachable_providers_fail_cleanly():
    for provider in (
        OpenAIProvider(base_url="http://127.0.0.1:1", api_key="k", models=["m"], timeout=1),
        AnthropicProvider(base_url="http://127.0.0.1:1", api_key="k", models=["m"], timeout=1),
    ):
        with pytest.raises(ProviderError, match="unreachable"):
            list(provider.stream(MESSAGES))


def test_provider_is_chosen_by_environment():
    from support import build_settings

    # local: the engine (llama-server) by default, in this process on request
    assert isinstance(build_provider(build_settings()), EngineProvider)
    assert isinstance(build_provider(build_settings(llm_local_engine="inprocess")), LocalProvider)
    remote = build_provider(
        build_settings(
            llm_provider="openai", llm_base_url="http://x/v1", llm_model="a, b", llm_api_key="k"
        )
    )
    assert (
        isinstance(remote, OpenAIProvider)
        and remote.models == ["a", "b"]
        and remote.default_model == "a"
    )
    claude = build_provider(
        build_settings(llm_provider="anthropic", llm_base_url="http://x", llm_model="c")
    )
    assert isinstance(claude, AnthropicProvider)
    with pytest.raises(ValueError, match="LLM_BASE_URL"):
        build_provider(build_settings(llm_provider="openai"))


class StallingServer:
    """Takes the request, then stalls: before any answer, or after one delta."""

    def __init__(self, after_first_delta: bool) -> None:
        release = self.release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if after_first_delta:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(openai_frames()[1].encode())
                    self.wfile.flush()
                release.wait(30)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("after_first_delta", [False, True])
def test_a_stalling_provider_fails_after_its_timeout_instead_of_hanging(after_first_delta):
    server = StallingServer(after_first_delta)
    provider = OpenAIProvider(base_url=server.url, api_key="k", models=["m"], timeout=0.5)
    received: list[str] = []
    try:
        with pytest.raises(ProviderError, match="ReadTimeout"):
            for delta in provider.stream(MESSAGES):
                received.append(delta)
    finally:
        server.close()
    assert received == (WORDS[:1] if after_first_delta else [])


# -- structured output (JSON that follows a schema) ---------------------------


class Mood(BaseModel):
    speaker: str = Field(max_length=40)
    mood: str = Field(pattern="^(happy|sad)$")


class JsonServer:
    """An OpenAI-compatible server answering one JSON completion (or refusing)."""

    def __init__(self, *, content: str = "", status: int = 200, finish: str = "stop") -> None:
        self.requests: list[dict] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server_self.requests.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                if status == 200:
                    body = {"choices": [{"message": {"content": content}, "finish_reason": finish}]}
                else:
                    body = {"error": {"message": "Unrecognized request argument: response_format"}}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.provider = OpenAIProvider(
            base_url=f"http://127.0.0.1:{self.server.server_address[1]}/v1",
            api_key="sk-secret-key",
            models=["m"],
            timeout=5,
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> JsonServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_json_output_asks_for_the_schema_and_returns_the_validated_model():
    with JsonServer(content='{"speaker": "Elizabeth", "mood": "happy"}') as server:
        answer = server.provider.complete_json(MESSAGES, Mood)
        sent = server.requests[0]
    assert answer == Mood(speaker="Elizabeth", mood="happy")
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == Mood.model_json_schema()
    assert sent["temperature"] == 0.0 and "stream" not in sent


def test_a_plain_json_schema_gives_the_parsed_value():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with JsonServer(content='{"n": 3}') as server:
        assert server.provider.complete_json(MESSAGES, schema) == {"n": 3}
        assert server.requests[0]["response_format"]["json_schema"]["schema"] == schema


def test_a_server_refusing_response_format_is_a_clear_unsupported_error_without_the_key():
    with JsonServer(status=400) as server, pytest.raises(StructuredOutputUnsupported) as caught:
        server.provider.complete_json(MESSAGES, Mood)
    assert "structured output" in str(caught.value) and "response_format" in str(caught.value)
    assert "sk-secret-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "finish", "message"),
    [
        ("Elizabeth is happy.", "stop", "did not answer with JSON"),
        ('{"speaker": "Elizabeth", "mood": "furious"}', "stop", "does not follow the schema"),
        ('{"speaker": "Eliza', "length", "ran out of tokens"),
    ],
)
def test_an_answer_that_is_not_the_schema_is_a_provider_error(content, finish, message):
    with (
        JsonServer(content=content, finish=finish) as server,
        pytest.raises(ProviderError, match=message),
    ):
        server.provider.complete_json(MESSAGES, Mood)


def test_anthropic_says_it_does_not_support_structured_output():
    claude = AnthropicProvider(base_url="http://127.0.0.1:1", api_key="k", models=["c"], timeout=1)
    with pytest.raises(StructuredOutputUnsupported, match="does not support JSON-schema"):
        claude.complete_json(MESSAGES, Mood)


def test_the_in_process_model_follows_a_schema_too():
    answer = LocalProvider(n_ctx=512).complete_json(
        [ChatMessage("user", "Elizabeth smiles. Give speaker and mood as JSON.")],
        Mood,
        max_tokens=48,
    )
    assert isinstance(answer, Mood)
