#!/usr/bin/env python
"""Benchmark of the chat turn: time to first token through the platform
next to the same provider called directly with the same prompt.

    .venv/bin/python ai-service/bench/chat_bench.py           (or: make bench-chat)
    BENCH_TURNS=30 BENCH_CONCURRENT=50 .venv/bin/python ai-service/bench/chat_bench.py
    BENCH_PROVIDERS=scripted .venv/bin/python ai-service/bench/chat_bench.py   (one provider)

What it does:
1. Starts the real stack as `make run` does (tests-e2e/stack.py: core on
   gunicorn, ai on uvicorn, a chat worker and an ingestion worker, a
   throwaway database and Redis key prefix), ingests Alice in Wonderland
   through the staff API, and creates a grounded what-if scenario on it
   (CHARACTER_CHANGE on Alice: the persona's profile and three passages
   retrieved per message go into every prompt).
2. For each provider - `local` (the stack's local engine, llama-server on
   SmolLM2-135M; `make bench-engine` measures the default model) and
   `scripted` (a fast OpenAI-compatible server in this process, streaming
   64 tokens with no delay, so the platform's own cost is all that shows):
   a. platform: BENCH_TURNS turns, one after another, each in a new
      conversation: POST /api/v1/conversations/{id}/messages on core, open
      the `stream_url` (SSE) and time the first `message_chunk` from just
      before the POST; tokens/s from the first chunk to `message_complete`.
      Then a follow-up question in each of those conversations (its prompt
      carries the first exchange as history), timed the same way.
   b. direct: the same questions, the prompt built by the worker's own code
      (gaji_ai.generation.grounding: same persona, passages, budget),
      sent straight to the same provider (the same engine) from this process; time to the first
      delta and tokens/s. The p50/p95 difference is the platform's overhead
      (core's write and enqueue, the queue, retrieval, Redis, SSE).
   c. concurrency: BENCH_CONCURRENT (50) turns sent at once, 50 streams
      read at once; every stream must end with `message_complete` and its
      deltas must add up to the saved content (no delta lost or doubled).
   d. a scene: BENCH_SCENE_TURNS (5) messages each answered by three
      speakers (Alice, the Queen of Hearts, the narrator) one after another
      in one stream; the time from the POST to each speaker's first token.
3. Prints one table and writes var/bench/ai_chat.json.

The e2e stack runs one chat worker process and an engine of 2 slots, so
with 50 turns at once the first tokens of later turns wait for earlier
answers: that column measures queueing, not the model. The direct calls
run in this process while the stack is idle. It prints numbers; it asserts only correctness.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests-e2e"))
sys.path.insert(0, str(ROOT / "ai-service"))

from stack import VENV_BIN, start_stack, use_bench_redis  # noqa: E402

use_bench_redis()  # not the e2e suite's database: a run beside `make test-e2e` stays apart

TURNS = int(os.environ.get("BENCH_TURNS", "20"))
PROVIDERS = os.environ.get("BENCH_PROVIDERS", "local,scripted").split(",")
CONCURRENT = int(os.environ.get("BENCH_CONCURRENT", "50"))
SCENE_TURNS = int(os.environ.get("BENCH_SCENE_TURNS", "5"))
SCENE_SPEAKERS = [
    {"kind": "character", "name": "Alice"},
    {"kind": "character", "name": "The Queen of Hearts"},
    {"kind": "narrator"},
]
SCRIPTED_TOKENS = 64
QUESTIONS = [
    "Alice, what did you think when you fell down the rabbit hole?",
    "Were you afraid of the Queen of Hearts?",
    "What did the Cheshire Cat tell you about madness?",
    "How did it feel to grow so tall after eating the cake?",
    "What happened at the Mad Hatter's tea party?",
    "Did you trust the Caterpillar's advice about the mushroom?",
    "Why did you follow the White Rabbit?",
    "What would you tell your sister about Wonderland?",
    "Who was the strangest creature you met?",
    "Did the Duchess frighten you?",
]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# -- a fast OpenAI-compatible server ----------------------------------------------


class ScriptedOpenAI:
    """POST /v1/chat/completions with `stream: true`: SCRIPTED_TOKENS deltas, at once."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for i in range(min(SCRIPTED_TOKENS, body.get("max_tokens", SCRIPTED_TOKENS))):
                    chunk = {"choices": [{"delta": {"content": f"word{i} "}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# -- the platform side ---------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Turn:
    ttft_ms: float = float("nan")
    tokens: int = 0
    stream_seconds: float = 0.0
    ok: bool = False
    problem: str = ""


def sse_events(url: str, timeout: float):
    """An SSE stream's events as (name, payload); ("http", status) when it did not open."""
    name, data = None, []
    with httpx.stream("GET", url, timeout=timeout) as response:
        if response.status_code != 200:
            yield "http", response.status_code
            return
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and name:
                yield name, json.loads("\n".join(data))
                name, data = None, []


def read_turn(url: str, started: float, timeout: float = 600) -> Turn:
    """Read an SSE stream as EventSource would; check deltas against the end."""
    turn = Turn()
    first = None
    deltas: list[str] = []
    for name, payload in sse_events(url, timeout):
        if name == "http":
            turn.problem = f"stream HTTP {payload}"
            return turn
        if name == "message_chunk":
            if first is None:
                first = time.perf_counter()
                turn.ttft_ms = (first - started) * 1000
            deltas.append(payload["delta"])
        elif name == "message_complete":
            end = time.perf_counter()
            turn.tokens = len(deltas)
            turn.stream_seconds = end - (first or end)
            turn.ok = (
                payload["status"] == "completed"
                and "".join(deltas) == payload["content"]
                and payload["total_tokens"] == len(deltas)
            )
            if not turn.ok:
                turn.problem = f"mismatch: status {payload['status']}"
            return turn
        elif name in ("error", "not_resumable"):
            turn.problem = f"{name}: {payload}"
            return turn
    turn.problem = "stream ended without message_complete"
    return turn


@dataclass
class Scene:
    """One message answered by several speakers in one stream."""

    first_ms: list[float] = field(default_factory=list)  # per speaker, from the POST
    total_s: float = 0.0
    ok: bool = False
    problem: str = ""


def read_scene(url: str, started: float, answers: list[str], timeout: float = 900) -> Scene:
    """Each answer's first token, and every answer's deltas against its end."""
    scene = Scene()
    texts: dict[str, str] = {}
    for name, payload in sse_events(url, timeout):
        if name == "http":
            scene.problem = f"stream HTTP {payload}"
            return scene
        if name == "message_chunk":
            answer = payload.get("message_id") or answers[0]
            if answer not in texts:
                texts[answer] = ""
                scene.first_ms.append((time.perf_counter() - started) * 1000)
            texts[answer] += payload["delta"]
        elif name == "message_complete":
            answer = str(payload["message_id"])
            said = texts.get(answer, "")
            if payload["status"] != "completed" or said != payload["content"]:
                scene.problem = f"mismatch in {answer}: {payload['status']}"
                return scene
            if not payload.get("more"):
                scene.total_s = time.perf_counter() - started
                scene.ok = list(texts) == answers
                if not scene.ok:
                    scene.problem = f"answers {list(texts)} != {answers}"
                return scene
        elif name in ("error", "not_resumable"):
            scene.problem = f"{name}: {payload}"
            return scene
    scene.problem = "stream ended before the last answer"
    return scene


class Platform:
    def __init__(self, stack, token: str, scenario_id: str) -> None:
        self.stack = stack
        self.core = httpx.Client(base_url=stack.core_url, timeout=60, headers=bearer(token))
        self.scenario_id = scenario_id

    def conversation(self) -> str:
        response = self.core.post("/api/v1/conversations", json={"scenario_id": self.scenario_id})
        response.raise_for_status()
        return response.json()["id"]

    def turn(self, conversation_id: str, question: str) -> Turn:
        started = time.perf_counter()
        sent = self.core.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"content": question}
        )
        if sent.status_code != 202:
            return Turn(problem=f"send HTTP {sent.status_code}: {sent.text[:200]}")
        return read_turn(sent.json()["stream_url"], started)

    def scene(self, conversation_id: str, question: str) -> Scene:
        started = time.perf_counter()
        sent = self.core.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"content": question, "speakers": SCENE_SPEAKERS},
        )
        if sent.status_code != 202:
            return Scene(problem=f"send HTTP {sent.status_code}: {sent.text[:200]}")
        body = sent.json()
        answers = [a["message_id"] for a in body["answers"]]
        return read_scene(body["stream_url"], started, answers)


# -- the direct side --------------------------------------------------------------------


def direct_turns(provider, prompt_for, questions: list[str]) -> list[Turn]:
    turns = []
    for question in questions:
        messages = prompt_for(question)
        turn = Turn()
        started = time.perf_counter()
        first = None
        for _ in provider.stream(messages, max_tokens=200):
            if first is None:
                first = time.perf_counter()
                turn.ttft_ms = (first - started) * 1000
            turn.tokens += 1
        turn.stream_seconds = time.perf_counter() - (first or started)
        turn.ok = turn.tokens > 0
        turns.append(turn)
    return turns


def prompt_builder(stack, scenario: dict, novel_id: str):
    """The worker's prompt for a question, built by the worker's code."""
    os.environ.update({k: v for k, v in stack.env.items() if k != "DJANGO_SETTINGS_MODULE"})
    from gaji_contracts.conversations import GenerationRequest

    from gaji_ai.config import get_settings
    from gaji_ai.generation.grounding import ground
    from gaji_ai.generation.task import Prompt, TurnTask
    from gaji_ai.vectors.store import worker_vector_store

    get_settings.cache_clear()
    settings = get_settings()

    def build(provider):
        def prompt_for(question: str):
            request = GenerationRequest(
                conversation_id=uuid.uuid4(),
                user_id=uuid.uuid4(),
                user_message_id=uuid.uuid4(),
                assistant_message_id=uuid.uuid4(),
                user_message=question,
                scenario={
                    "id": scenario["id"],
                    "base_story": scenario["base_story"],
                    "scenario_type": scenario["scenario_type"],
                    "parameters": scenario["parameters"],
                },
                novel_id=novel_id,
            )

            async def grounded() -> TurnTask:
                store = worker_vector_store(settings)  # the stack's, through its API
                try:
                    return TurnTask(
                        request=request, grounding=await ground(settings, request, store)
                    )
                finally:
                    await store.close()

            return Prompt(settings, asyncio.run(grounded())).messages_for(provider)

        return prompt_for

    return settings, build


# -- the run ----------------------------------------------------------------------------


@dataclass
class Result:
    provider: str
    platform: list[Turn] = field(default_factory=list)
    followup: list[Turn] = field(default_factory=list)
    direct: list[Turn] = field(default_factory=list)
    concurrent: list[Turn] = field(default_factory=list)
    concurrent_wall_s: float = 0.0
    scenes: list[Scene] = field(default_factory=list)

    def row(self) -> dict:
        def ttft(turns):
            return [t.ttft_ms for t in turns if t.ok]

        def rate(turns):
            return [t.tokens / t.stream_seconds for t in turns if t.ok and t.stream_seconds > 0]

        p, d, c = ttft(self.platform), ttft(self.direct), ttft(self.concurrent)
        f = ttft(self.followup)
        return {
            "provider": self.provider,
            "turns": len(self.platform),
            "platform_ttft_p50_ms": round(pct(p, 50), 1),
            "platform_ttft_p95_ms": round(pct(p, 95), 1),
            "followup_ttft_p50_ms": round(pct(f, 50), 1),
            "followup_ttft_p95_ms": round(pct(f, 95), 1),
            "direct_ttft_p50_ms": round(pct(d, 50), 1),
            "direct_ttft_p95_ms": round(pct(d, 95), 1),
            "overhead_p50_ms": round(pct(p, 50) - pct(d, 50), 1),
            "overhead_p95_ms": round(pct(p, 95) - pct(d, 95), 1),
            "platform_tokens_per_s": round(statistics.median(rate(self.platform)), 1)
            if rate(self.platform)
            else None,
            "direct_tokens_per_s": round(statistics.median(rate(self.direct)), 1)
            if rate(self.direct)
            else None,
            "failed_turns": sum(not t.ok for t in self.platform + self.followup + self.direct),
            "concurrent_streams": len(self.concurrent),
            "concurrent_complete": sum(t.ok for t in self.concurrent),
            "concurrent_ttft_p50_ms": round(pct(c, 50), 1),
            "concurrent_ttft_p95_ms": round(pct(c, 95), 1),
            "concurrent_wall_s": round(self.concurrent_wall_s, 1),
            "scene_turns": len(self.scenes),
            "scene_complete": sum(s.ok for s in self.scenes),
            # Time from the POST to each speaker's first token (p50, p95), in speaking order.
            "scene_speaker_first_ms": [
                [round(pct([s.first_ms[i] for s in self.scenes if s.ok], q), 1) for q in (50, 95)]
                for i in range(len(SCENE_SPEAKERS))
            ],
            "scene_total_p50_s": round(pct([s.total_s for s in self.scenes if s.ok], 50), 2),
            "problems": sorted(
                {t.problem for t in self.platform + self.concurrent + self.scenes if t.problem}
            )[:5],
        }


def run_provider(name: str, platform: Platform, provider, prompt_for) -> Result:
    result = Result(name)
    print(f"[{name}] warm-up", flush=True)
    for question in QUESTIONS[:2]:
        platform.turn(platform.conversation(), question)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(TURNS)]
    print(f"[{name}] {TURNS} turns through the platform", flush=True)
    opened = []
    for question in questions:
        conversation = platform.conversation()
        opened.append(conversation)
        result.platform.append(platform.turn(conversation, question))
    print(f"[{name}] a follow-up in each of them", flush=True)
    for conversation in opened:
        result.followup.append(platform.turn(conversation, "And what happened next?"))
    print(f"[{name}] {SCENE_TURNS} messages answered by three speakers", flush=True)
    for i in range(SCENE_TURNS):
        result.scenes.append(platform.scene(platform.conversation(), QUESTIONS[i % len(QUESTIONS)]))
    print(f"[{name}] {TURNS} turns straight to the provider", flush=True)
    direct_turns(provider, prompt_for, questions[:2])  # warm-up
    result.direct = direct_turns(provider, prompt_for, questions)
    print(f"[{name}] {CONCURRENT} turns at once", flush=True)
    conversations = [platform.conversation() for _ in range(CONCURRENT)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        result.concurrent = list(
            pool.map(
                lambda pair: platform.turn(pair[1], QUESTIONS[pair[0] % len(QUESTIONS)]),
                enumerate(conversations),
            )
        )
    result.concurrent_wall_s = time.perf_counter() - started
    return result


def setup(stack) -> tuple[str, dict, str]:
    """A reader's token, a grounded scenario and its novel id."""
    env = stack.env
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "seed_demo"],
        cwd=ROOT / "core-service",
        env=env,
        check=True,
        capture_output=True,
    )
    core = httpx.Client(base_url=stack.core_url, timeout=60)
    ai = httpx.Client(base_url=stack.ai_url, timeout=60)
    staff = core.post(
        "/api/v1/auth/login", json={"email": "admin@gaji.local", "password": "GajiAdmin123"}
    ).json()["tokens"]["access_token"]
    job = ai.post(
        "/api/ai/novels/ingest",
        json={
            "novel_file_path": "alice-in-wonderland.txt",
            "metadata": {"title": "Alice in Wonderland", "author": "Lewis Carroll"},
        },
        headers=bearer(staff),
    ).json()
    print("ingesting Alice in Wonderland...", flush=True)
    while True:
        status = ai.get(f"/api/ai/novels/status/{job['job_id']}", headers=bearer(staff)).json()
        if status["status"] in {"completed", "failed"}:
            break
        time.sleep(1)
    if status["status"] != "completed":
        raise SystemExit(f"ingestion failed: {status}")
    tag = uuid.uuid4().hex[:8]
    reader = core.post(
        "/api/v1/auth/register",
        json={
            "email": f"bench_{tag}@example.com",
            "username": f"bench_{tag}",
            "password": "BenchPassw0rd",
        },
    ).json()
    token = reader["tokens"]["access_token"]
    scenario = core.post(
        "/api/v1/scenarios",
        json={
            "base_story": "alice-in-wonderland",
            "scenario_type": "CHARACTER_CHANGE",
            "parameters": {
                "character": "Alice",
                "property": "personality",
                "original_value": "curious",
                "new_value": "fearless",
            },
        },
        headers=bearer(token),
    )
    scenario.raise_for_status()
    return token, scenario.json(), status["novel_id"]


def main() -> None:
    scripted = ScriptedOpenAI()
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="gaji-chat-bench-") as tmp,
        start_stack(Path(tmp), core_workers=2) as stack,
    ):
        token, scenario, novel_id = setup(stack)
        stack.wait_worker("chat")
        platform = Platform(stack, token, scenario["id"])
        settings, build = prompt_builder(stack, scenario, novel_id)

        from gaji_ai.llm.providers import EngineProvider, OpenAIProvider

        if "local" in PROVIDERS:
            # The stack's engine (llama-server), as the chat worker reaches it.
            local = EngineProvider(
                base_url=stack.engine_url,
                model=stack.env["LLM_LOCAL_MODEL"],
                timeout=settings.llm.llm_timeout_seconds,
            )
            results.append(run_provider("local", platform, local, build(local)))
            del local
        if "scripted" not in PROVIDERS:
            return _report(results)
        stack.stop("worker-chat")
        remote_env = {
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": scripted.url,
            "LLM_MODEL": "scripted-fast",
        }
        stack.start_worker("chat", env=remote_env)
        stack.wait_worker("chat")
        remote = OpenAIProvider(
            base_url=scripted.url, api_key=None, models=["scripted-fast"], timeout=30
        )
        results.append(run_provider("scripted", platform, remote, build(remote)))
    _report(results)


def _report(results: list[Result]) -> None:
    rows = [r.row() for r in results]
    print()
    print(
        f"{'provider':<9} {'TTFT platform p50/p95':>22} {'direct p50/p95':>16} "
        f"{'overhead p50/p95':>17} {'tok/s SSE/direct':>17} "
        f"{'at once: ok, TTFT p50/p95, wall':>33}"
    )
    for row in rows:
        print(
            f"{row['provider']:<9} "
            f"{row['platform_ttft_p50_ms']:>10.0f} / {row['platform_ttft_p95_ms']:<7.0f}ms "
            f"{row['direct_ttft_p50_ms']:>6.0f} / {row['direct_ttft_p95_ms']:<5.0f}ms "
            f"{row['overhead_p50_ms']:>7.0f} / {row['overhead_p95_ms']:<5.0f}ms "
            f"{row['platform_tokens_per_s']!s:>7} / {row['direct_tokens_per_s']!s:<7} "
            f"{row['concurrent_complete']:>5}/{row['concurrent_streams']}, "
            f"{row['concurrent_ttft_p50_ms']:.0f} / {row['concurrent_ttft_p95_ms']:.0f} ms, "
            f"{row['concurrent_wall_s']} s"
        )
        print(
            f"          follow-up turns (with history) TTFT p50/p95: "
            f"{row['followup_ttft_p50_ms']:.0f} / {row['followup_ttft_p95_ms']:.0f} ms"
        )
        firsts = ", ".join(
            f"{who} {p50:.0f}/{p95:.0f}"
            for who, (p50, p95) in zip(
                ("1st", "2nd", "3rd"), row["scene_speaker_first_ms"], strict=False
            )
        )
        print(
            f"          three speakers ({row['scene_complete']}/{row['scene_turns']} complete): "
            f"first token of each p50/p95 ms from the POST: {firsts}; "
            f"whole turn p50 {row['scene_total_p50_s']} s"
        )
        if row["problems"]:
            print(f"          problems: {row['problems']}")
    print(
        "\ngoals: overhead < 50 ms at p95; "
        "local first token < 1000 ms at p95 (grounded prompt, 2 cores)"
    )
    out = ROOT / "var" / "bench" / "ai_chat.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"machine_cores": os.cpu_count(), "turns": TURNS, "results": rows}, indent=2)
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
