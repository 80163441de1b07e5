"""The local engine: llama-server built by setup, supervised, serving chat
turns and JSON-schema output on a real (small) model; a crash mid-answer
ends that turn `failed`, the supervisor brings the server back and the next
turn (and a regenerate) is answered."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from chat_support import FakeCore, request, run_turn, stream_of
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from gaji_ai.health.service import check_readiness
from gaji_ai.llm import engine, models, registry
from gaji_ai.llm.providers import (
    ChatMessage,
    EngineProvider,
    ProviderError,
    build_provider,
)

from support import TEST_REDIS_URL, build_settings

SMALL = models.SMALLEST_MODEL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Running:
    """A supervisor in a thread, its server on a free port."""

    def __init__(self, **overrides) -> None:
        fields = {
            "model": SMALL,
            "port": free_port(),
            "slots": 2,
            "context_per_slot": 1024,
            "threads": 2,
            "cache_ram_mib": 64,
        }
        fields.update(overrides)
        self.config = engine.EngineConfig(**fields)
        self.lines: list[str] = []
        self.supervisor = engine.Supervisor(self.config, say=self.lines.append)
        self.thread = threading.Thread(target=self.supervisor.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        assert engine.wait_healthy(self.config.url, timeout=120), self.lines
        return self

    def __exit__(self, *_: object) -> None:
        self.supervisor.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()

    def server_pid(self) -> int:
        return self.supervisor.process.pid

    def provider(self) -> EngineProvider:
        return EngineProvider(base_url=self.config.url, model=SMALL, timeout=60)


@pytest.fixture(scope="module")
def live():
    with Running() as running:
        yield running


PROMPT = [ChatMessage("user", "Say hello to Elizabeth Bennet in one sentence.")]


def test_setup_installed_a_portable_llama_server_next_to_the_interpreter():
    binary = Path(engine.binary_path())
    assert binary.is_file() and os.access(binary, os.X_OK)
    profile, _hash, _digest = engine.binary_signature().split()
    assert profile in {"x86-64-v4", "x86-64-v3", "x86-64-v2", "x86-64", "generic"}
    # Built for the profile, never for this CPU only: no -march=native, no AMX,
    # AVX-512 only in the opt-in v4 profile; no HTTPS, no downloaded web UI.
    flags = (binary.parent.parent / ".llama-server-build").read_text().split()
    assert {"GGML_NATIVE=OFF", "GGML_AMX_INT8=OFF", "GGML_AMX_TILE=OFF"} <= set(flags)
    assert ("GGML_AVX512=ON" in flags) == (profile == "x86-64-v4")
    assert {"LLAMA_OPENSSL=OFF", "LLAMA_BUILD_UI=OFF", "LLAMA_USE_PREBUILT_UI=OFF"} <= set(flags)


def test_the_command_line_splits_the_window_per_slot_and_bounds_the_ram_cache():
    config = engine.EngineConfig(
        model=SMALL, port=9999, slots=3, context_per_slot=1500, threads=2, cache_ram_mib=128
    )
    argv = config.argv()

    def value(flag: str) -> str:
        return argv[argv.index(flag) + 1]

    assert (value("--parallel"), value("--ctx-size"), value("--cache-ram")) == ("3", "4500", "128")
    assert value("--host") == "127.0.0.1" and value("--alias") == SMALL
    assert "--no-webui" in argv and "--no-repack" not in argv
    assert "--no-repack" in engine.EngineConfig(model=SMALL, repack=False).argv()
    assert config.environment()["OMP_WAIT_POLICY"] == "PASSIVE"


def test_repacking_follows_the_self_test_record_of_this_cpu_binary_and_model(tmp_path):
    record = tmp_path / "engine.json"
    assert engine.repack_allowed("auto", SMALL, record) is False  # nothing recorded: off
    record.write_text(
        json.dumps(
            {
                "cpu": engine.cpu_signature(),
                "binary": engine.binary_signature(),
                "models": {SMALL: {"repack": True}},
            }
        )
    )
    assert engine.repack_allowed("auto", SMALL, record) is True
    assert engine.repack_allowed("auto", "qwen2.5-coder-0.5b-instruct", record) is False
    assert engine.repack_allowed("off", SMALL, record) is False
    record.write_text(json.dumps({"cpu": "another", "binary": engine.binary_signature()}))
    assert engine.repack_allowed("auto", SMALL, record) is False
    assert engine.repack_allowed("on", SMALL, record) is True


def test_the_local_provider_is_the_engine_unless_inprocess_is_asked_for():
    served = build_provider(build_settings(llm_local_model=SMALL, llm_engine_port=8123))
    assert isinstance(served, EngineProvider)
    assert served.name == "local" and served.models == [SMALL]
    assert served._url == "http://127.0.0.1:8123/v1/chat/completions"
    inprocess = build_provider(build_settings(llm_local_engine="inprocess"))
    assert type(inprocess).__name__ == "LocalProvider"
    with pytest.raises(ValueError, match="unknown local model"):
        build_settings(llm_local_model="gpt-5")


def test_the_engine_streams_an_answer_and_counts_tokens_with_the_models_vocabulary(live):
    provider = live.provider()
    text = "".join(provider.stream(PROMPT, max_tokens=16, temperature=0.0))
    assert text.strip()
    assert 3 <= provider.count_tokens("Elizabeth Bennet of Longbourn") <= 12


class Verdict(BaseModel):
    speaker: str = Field(max_length=40)
    mood: str = Field(pattern="^(happy|sad|angry)$")
    certainty: int = Field(ge=1, le=5)


def test_json_schema_output_follows_the_schema(live):
    provider = live.provider()
    messages = [
        ChatMessage(
            "user",
            "Elizabeth laughs at Mr. Darcy's proposal. Reply as JSON with speaker, "
            "mood and certainty.",
        )
    ]
    for _ in range(3):
        verdict = provider.complete_json(messages, Verdict, max_tokens=96)
        assert isinstance(verdict, Verdict)
    raw = provider.complete_json(
        messages,
        {
            "type": "object",
            "properties": {"names": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
            "required": ["names"],
            "additionalProperties": False,
        },
        max_tokens=64,
    )
    assert set(raw) == {"names"} and isinstance(raw["names"], list)


async def test_ai_readiness_reports_the_engine(live):

    class Up:
        async def ping(self):
            return True

        async def health(self):
            return True

    async def checks(url):
        redis = Redis.from_url(TEST_REDIS_URL)
        try:
            return await check_readiness(
                redis=redis, vector_store=Up(), core=Up(), timeout_seconds=2, engine_url=url
            )
        finally:
            await redis.aclose()

    ready = await checks(live.config.url)
    assert ready["llm_engine"].ok
    down = await checks(f"http://127.0.0.1:{free_port()}")
    assert not down["llm_engine"].ok and down["llm_engine"].error


def kill_when_streaming(running: Running, started: threading.Event):
    """Kill the server (SIGKILL) once the first token has been produced."""
    started.wait(60)
    os.kill(running.server_pid(), signal.SIGKILL)


async def test_a_killed_engine_fails_the_turn_then_comes_back_and_answers_the_next(
    env, monkeypatch
):
    """The crash path: SIGKILL mid-answer. The turn ends `failed` with the
    partial text kept and a PROVIDER_ERROR event; the supervisor restarts the
    server; a regenerate of the same message and the next turn complete."""
    settings, client, prefix = env
    with Running(slots=1) as running:
        provider = running.provider()
        started = threading.Event()
        original = provider.stream

        def stream(messages, **kwargs):
            for delta in original(messages, **kwargs):
                started.set()
                yield delta
                time.sleep(0.05)  # room for the kill to land mid-answer

        monkeypatch.setattr(provider, "stream", stream)
        registry._providers["main"] = provider
        killer = threading.Thread(target=kill_when_streaming, args=(running, started), daemon=True)
        killer.start()
        core = FakeCore()
        turn = request()
        first_pid = running.server_pid()
        status = await run_turn(settings, turn, redis_client=client, core=core)
        killer.join(10)
        assert status == "failed"
        saved = core.saved[-1]
        assert saved.status == "failed" and saved.error_code == "PROVIDER_ERROR"
        events = [event for event, _ in stream_of(client, prefix, turn.assistant_message_id)]
        assert "error" in events and events[-1] == "message_complete"

        # The supervisor restarts it; /health says when it is back.
        assert engine.wait_healthy(running.config.url, timeout=120)
        assert running.server_pid() != first_pid and running.supervisor.restarts == 1
        assert any("killed by SIGKILL" in line for line in running.lines)

        monkeypatch.setattr(provider, "stream", original)
        again = turn.model_copy(update={"attempt": 2})
        assert await run_turn(settings, again, redis_client=client, core=core) == "completed"
        assert core.saved[-1].status == "completed" and core.saved[-1].content.strip()
        nxt = request()
        assert await run_turn(settings, nxt, redis_client=client, core=core) == "completed"


def test_a_provider_error_is_raised_when_the_engine_stays_down():
    provider = EngineProvider(
        base_url=f"http://127.0.0.1:{free_port()}", model=SMALL, timeout=5, wait_seconds=1.0
    )
    started = time.monotonic()
    with pytest.raises(ProviderError, match="local engine unreachable"):
        list(provider.stream(PROMPT, max_tokens=4))
    assert 1.0 <= time.monotonic() - started < 10  # it waited, then gave up


def test_a_turn_starting_while_the_engine_restarts_waits_for_it():
    """The supervisor's restart window: refused connections, then a loading
    model (503), then the answer; the turn sees only the answer."""
    port = free_port()
    provider = EngineProvider(
        base_url=f"http://127.0.0.1:{port}", model=SMALL, timeout=60, wait_seconds=120
    )
    late = Running(port=port)
    starter = threading.Timer(1.5, late.thread.start)
    starter.start()
    try:
        text = "".join(provider.stream(PROMPT, max_tokens=8, temperature=0.0))
        assert text.strip()
    finally:
        starter.join()
        late.__exit__()


PRIORITY = Path(__file__).resolve().parents[2] / "deploy" / "scripts" / "ingest-priority.sh"
# Some kernels and containers have /proc/self/autogroup but give it no text
# (CI's did, for a process outside a session of its own): "-" then.
REPORT = (
    "import os, pathlib; group = pathlib.Path('/proc/self/autogroup');"
    "words = group.read_text().split() if group.exists() else [];"
    "print(os.getpid(), os.getsid(0), os.getpriority(os.PRIO_PROCESS, 0),"
    " os.sched_getscheduler(0), words[-1] if words else '-')"
)


def run_priority(**env) -> list[str]:
    done = subprocess.run(
        [str(PRIORITY), sys.executable, "-c", REPORT],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_ingestion_runs_at_idle_priority_in_a_session_of_its_own():
    pid, sid, nice, policy, group_nice = run_priority()
    assert pid == sid  # its own session, so its own autogroup
    assert int(nice) == 19 and int(policy) == os.SCHED_IDLE
    assert group_nice in {"19", "-"}  # niced too, where the kernel has autogroups
    pid, sid, nice, policy, _ = run_priority(INGEST_PRIORITY="normal")
    assert pid != sid and int(nice) == os.getpriority(os.PRIO_PROCESS, 0)
    assert int(policy) == os.SCHED_OTHER


def fake_binary(tmp_path: Path, crash_unless: str | None) -> str:
    """A llama-server stand-in that dies with SIGSEGV (as llama.cpp's extra
    buffer types did on one CPU) unless its command line holds `crash_unless`,
    in which case it runs the real server."""
    script = tmp_path / "llama-server"
    real = engine.binary_path()
    condition = (
        f'case " $* " in *" {crash_unless} "*) exec "{real}" "$@";; esac\n' if crash_unless else ""
    )
    script.write_text(f"#!/bin/sh\n{condition}kill -SEGV $$\n")
    script.chmod(0o755)
    return str(script)


def test_the_engine_self_test_turns_repacking_off_when_the_server_crashes_with_it(tmp_path):
    from gaji_ai.llm import selftest

    record = tmp_path / "engine.json"
    lines: list[str] = []
    binary = fake_binary(tmp_path, crash_unless="--no-repack")
    assert (
        selftest.engine_self_test(SMALL, record, say=lines.append, binary=binary, timeout=60) == 0
    )
    saved = json.loads(record.read_text())
    outcome = saved["models"][SMALL]
    assert outcome["repack"] is False
    assert outcome["tried"][0]["outcome"] == "crashed (SIGSEGV)"
    assert any("with weight repacking crashed (SIGSEGV)" in line for line in lines)


def test_the_engine_self_test_reports_a_build_that_always_crashes(tmp_path):
    from gaji_ai.llm import selftest

    record = tmp_path / "engine.json"
    lines: list[str] = []
    binary = fake_binary(tmp_path, crash_unless=None)
    status = selftest.engine_self_test(SMALL, record, say=lines.append, binary=binary, timeout=60)
    assert status == selftest.ALL_CRASHED and not record.exists()
    assert "every configuration failed" in lines[-1]


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace(monkeypatch):
    """Stopping never hangs on a server whose graceful shutdown does not end."""
    monkeypatch.setattr(engine, "STOP_GRACE_SECONDS", 0.5)
    supervisor = engine.Supervisor(engine.EngineConfig(model=SMALL), say=lambda line: None)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(120)"
    )
    supervisor.process = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE)
    assert supervisor.process.stdout.readline().strip() == b"ready"
    supervisor.stop()
    assert supervisor.process.wait(timeout=10) == -signal.SIGKILL
