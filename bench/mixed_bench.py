#!/usr/bin/env python
"""Mixed workload: readers browsing, searching and chatting at once, against
the real stack with the real local model.

    .venv/bin/python bench/mixed_bench.py                (or: make bench-mixed)
    MIXED_USERS=32 MIXED_SECONDS=60 .venv/bin/python bench/mixed_bench.py

1. Starts the stack as `make run` does (tests-e2e/stack.py: core on gunicorn,
   ai on uvicorn, one chat and one ingestion worker, a throwaway database and
   Redis key prefix; LLM_PROVIDER=local, SmolLM2 through llama.cpp).
   Ingests Alice in Wonderland through the staff API, creates MIXED_SCENARIOS
   scenarios on it (a third of them forks) and one reader per virtual user,
   each with a conversation on a grounded scenario.
2. MIXED_USERS (32) readers run for MIXED_SECONDS (60): each picks its next
   action at random - browse 60 % (scenario list, a scenario, its fork tree,
   novels, its conversations), search 25 % (scenario full-text search on
   core, passage search on ai), chat 15 % (send a message on core, then read
   the `stream_url` until `message_complete`, as a reader waits for the
   answer) - and starts the next one as soon as the last ended (closed loop,
   no think time).
   This runs once per provider in MIXED_PROVIDERS: `local` (the real model,
   what `make run` serves) and `scripted` (the chat worker restarted on a
   fast OpenAI-compatible server in this process, as in chat_bench.py, so
   the platform's own capacity shows without the model holding the CPUs).
3. Prints per action and overall: count, p50/p95/p99, requests/s and errors
   (a non-2xx answer, a transport error, or a stream that ends with `error`
   or without `message_complete`). Turns still streaming when the time is up
   are read to the end (bounded) and counted, but not as requests in the
   window. Writes var/bench/mixed.json for bench/report.py.

The client runs on the same 2 cores as the stack; its own CPU use is
printed. It asserts nothing; it measures.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests-e2e"))
sys.path.insert(0, str(ROOT / "ai-service" / "bench"))

from chat_bench import QUESTIONS, ScriptedOpenAI, bearer, pct, read_turn, setup  # noqa: E402
from stack import start_stack, use_bench_redis  # noqa: E402

use_bench_redis()  # not the e2e suite's database: a run beside `make test-e2e` stays apart

USERS = int(os.environ.get("MIXED_USERS", "32"))
SECONDS = float(os.environ.get("MIXED_SECONDS", "60"))
SCENARIOS = int(os.environ.get("MIXED_SCENARIOS", "300"))
PROVIDERS = os.environ.get("MIXED_PROVIDERS", "local,scripted").split(",")
DRAIN_SECONDS = 300.0
MIX = (("browse", 0.60), ("search", 0.25), ("chat", 0.15))
# p95 targets of the API spec (gaji-api-spec.txt, "Performance" and its table)
TARGETS_MS = {
    "GET /scenarios": 200,
    "GET /scenarios/{id}": 100,
    "GET /scenarios/{id}/fork-tree": 500,
    "GET /novels": 200,
    "GET /conversations?user_id": 200,
    "GET /scenarios/search": 300,
    "POST /api/ai/search/passages": 300,
    "POST /conversations/{id}/messages": 200,
    "chat first token (send to first chunk)": 1000,
}
WORDS = ["alice", "queen", "rabbit", "hatter", "fearless", "garden", "tea", "croquet", "cat", "dream"]
PROPERTIES = ["personality", "skill", "backstory", "house"]
VALUES = ["fearless", "timid", "wise", "reckless", "gentle", "furious"]


class Reader:
    def __init__(self, stack, core: httpx.Client, scenario_id: str) -> None:
        tag = uuid.uuid4().hex[:10]
        body = {"email": f"mixed_{tag}@example.com", "username": f"mixed_{tag}", "password": "MixedPassw0rd"}
        registered = core.post("/api/v1/auth/register", json=body)
        registered.raise_for_status()
        self.id = registered.json()["user"]["id"]
        self.headers = bearer(registered.json()["tokens"]["access_token"])
        self.core = httpx.Client(base_url=stack.core_url, timeout=60, headers=self.headers)
        self.ai = httpx.Client(base_url=stack.ai_url, timeout=60, headers=self.headers)
        created = self.core.post("/api/v1/conversations", json={"scenario_id": scenario_id})
        created.raise_for_status()
        self.conversation = created.json()["id"]


class Recorder:
    def __init__(self) -> None:
        self.samples: list[tuple[str, str, float, float, bool, str]] = []  # kind, name, at, ms, ok, why
        self.lock = threading.Lock()

    def add(self, kind: str, name: str, started: float, ms: float, ok: bool, why: str = "") -> None:
        with self.lock:
            self.samples.append((kind, name, started, ms, ok, why))


def timed(recorder: Recorder, kind: str, name: str, call, expect: int = 200) -> None:
    started = time.perf_counter()
    try:
        response = call()
        ok, why = response.status_code == expect, f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        ok, why = False, type(exc).__name__
    recorder.add(kind, name, started, (time.perf_counter() - started) * 1000, ok, "" if ok else why)


def browse(reader: Reader, rng: random.Random, world: dict, rec: Recorder) -> None:
    choice = rng.randrange(5)
    if choice == 0:
        page = rng.randrange(max(1, SCENARIOS // 20))
        timed(
            rec,
            "browse",
            "GET /scenarios",
            lambda: reader.core.get("/api/v1/scenarios", params={"page": page}),
        )
    elif choice == 1:
        scenario = rng.choice(world["scenarios"])
        timed(rec, "browse", "GET /scenarios/{id}", lambda: reader.core.get(f"/api/v1/scenarios/{scenario}"))
    elif choice == 2:
        root = rng.choice(world["roots"])
        timed(
            rec,
            "browse",
            "GET /scenarios/{id}/fork-tree",
            lambda: reader.core.get(f"/api/v1/scenarios/{root}/fork-tree", params={"max_depth": 5}),
        )
    elif choice == 3:
        timed(rec, "browse", "GET /novels", lambda: reader.core.get("/api/v1/novels"))
    else:
        timed(
            rec,
            "browse",
            "GET /conversations?user_id",
            lambda: reader.core.get("/api/v1/conversations", params={"user_id": reader.id}),
        )


def search(reader: Reader, rng: random.Random, world: dict, rec: Recorder) -> None:
    if rng.random() < 0.5:
        q = rng.choice(WORDS)
        timed(
            rec,
            "search",
            "GET /scenarios/search",
            lambda: reader.core.get("/api/v1/scenarios/search", params={"q": q}),
        )
    else:
        body = {"query": rng.choice(QUESTIONS), "novel_id": world["novel_id"], "top_k": 5}
        timed(
            rec,
            "search",
            "POST /api/ai/search/passages",
            lambda: reader.ai.post("/api/ai/search/passages", json=body),
        )


def chat(reader: Reader, rng: random.Random, world: dict, rec: Recorder) -> None:
    started = time.perf_counter()
    try:
        sent = reader.core.post(
            f"/api/v1/conversations/{reader.conversation}/messages", json={"content": rng.choice(QUESTIONS)}
        )
    except httpx.HTTPError as exc:
        rec.add("chat", "POST /conversations/{id}/messages", started, 0.0, False, type(exc).__name__)
        return
    send_ms = (time.perf_counter() - started) * 1000
    ok = sent.status_code == 202
    rec.add(
        "chat",
        "POST /conversations/{id}/messages",
        started,
        send_ms,
        ok,
        "" if ok else f"HTTP {sent.status_code}",
    )
    if not ok:
        return
    try:
        turn = read_turn(sent.json()["stream_url"], started, timeout=DRAIN_SECONDS)
    except httpx.HTTPError as exc:
        rec.add(
            "turn", "chat first token (send to first chunk)", started, float("nan"), False, type(exc).__name__
        )
        return
    rec.add("turn", "chat first token (send to first chunk)", started, turn.ttft_ms, turn.ok, turn.problem)
    done_ms = (time.perf_counter() - started) * 1000
    rec.add("answer", "chat whole answer (send to message_complete)", started, done_ms, turn.ok, turn.problem)


ACTIONS = {"browse": browse, "search": search, "chat": chat}


def run_reader(index: int, reader: Reader, world: dict, rec: Recorder, until: float) -> None:
    rng = random.Random(index)
    kinds, weights = zip(*MIX, strict=True)
    while time.perf_counter() < until:
        ACTIONS[rng.choices(kinds, weights)[0]](reader, rng, world, rec)


def build_world(stack, token: str, scenario: dict, novel_id: str) -> dict:
    """SCENARIOS scenarios on Alice (two thirds roots, one third forks of them)."""
    core = httpx.Client(base_url=stack.core_url, timeout=60, headers=bearer(token))
    rng = random.Random(7)
    roots, scenarios = [scenario["id"]], [scenario["id"]]
    for n in range(SCENARIOS - 1):
        if n % 3 == 2:
            parent = rng.choice(roots)
            body = {
                "scenario_type": "CHARACTER_CHANGE",
                "parameters": {
                    "character": "Alice",
                    "property": rng.choice(PROPERTIES),
                    "new_value": rng.choice(VALUES),
                },
            }
            response = core.post(f"/api/v1/scenarios/{parent}/fork", json=body)
        else:
            body = {
                "base_story": "alice-in-wonderland",
                "scenario_type": "CHARACTER_CHANGE",
                "parameters": {
                    "character": rng.choice(
                        ["Alice", "the Queen of Hearts", "the Hatter", "the White Rabbit"]
                    ),
                    "property": rng.choice(PROPERTIES),
                    "new_value": rng.choice(VALUES),
                },
            }
            response = core.post("/api/v1/scenarios", json=body)
        response.raise_for_status()
        scenarios.append(response.json()["id"])
        if n % 3 != 2:
            roots.append(response.json()["id"])
    return {"scenarios": scenarios, "roots": roots, "novel_id": novel_id, "grounded": scenario["id"]}


def summarize(rec: Recorder, started: float, until: float) -> dict:
    window = until - started
    rows = []
    by_name: dict[tuple[str, str], list[tuple[float, bool, str]]] = {}
    for kind, name, _at, ms, ok, why in rec.samples:
        by_name.setdefault((kind, name), []).append((ms, ok, why))
    for (kind, name), values in sorted(by_name.items()):
        times = [ms for ms, ok, _ in values if ok]
        errors = [why for _, ok, why in values if not ok]
        rows.append(
            {
                "kind": kind,
                "endpoint": name,
                "count": len(values),
                "errors": len(errors),
                "error_sample": sorted(set(errors))[:3],
                "p50": round(pct(times, 50), 1) if times else None,
                "p95": round(pct(times, 95), 1) if times else None,
                "p99": round(pct(times, 99), 1) if times else None,
                "rps": round(len(values) / window, 2),
                "target_p95": TARGETS_MS.get(name),
            }
        )
    requests = [s for s in rec.samples if s[0] in ("browse", "search", "chat")]
    in_window = [s for s in requests if s[2] < until]
    failed = [s for s in requests if not s[4]]
    turns = [s for s in rec.samples if s[0] == "turn"]
    return {
        "users": USERS,
        "seconds": SECONDS,
        "requests": len(requests),
        "requests_in_window": len(in_window),
        "rps": round(len(in_window) / window, 1),
        "errors": len(failed),
        "error_rate": round(len(failed) / len(requests), 4) if requests else None,
        "turns": len(turns),
        "turns_failed": sum(not s[4] for s in turns),
        "rows": rows,
    }


def run_window(readers: list[Reader], world: dict) -> dict:
    rec = Recorder()
    cpu0 = time.process_time()
    started = time.perf_counter()
    until = started + SECONDS
    threads = [
        threading.Thread(target=run_reader, args=(i, r, world, rec, until), daemon=True)
        for i, r in enumerate(readers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + DRAIN_SECONDS + 60)
    client_cpu = (time.process_time() - cpu0) / (time.perf_counter() - started)
    summary = summarize(rec, started, until)
    summary["client_cpus"] = round(client_cpu, 2)
    return summary


def main() -> None:
    print(
        f"mixed workload: {USERS} readers for {SECONDS:.0f} s per provider ({', '.join(PROVIDERS)}), "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    runs = []
    scripted = ScriptedOpenAI()
    with (
        tempfile.TemporaryDirectory(prefix="gaji-mixed-") as tmp,
        start_stack(Path(tmp), core_workers=3) as stack,
    ):
        token, scenario, novel_id = setup(stack)
        stack.wait_worker("chat")
        seeded = time.perf_counter()
        world = build_world(stack, token, scenario, novel_id)
        core = httpx.Client(base_url=stack.core_url, timeout=60)
        readers = [Reader(stack, core, world["grounded"]) for _ in range(USERS)]
        dataset = {"scenarios": len(world["scenarios"]), "roots": len(world["roots"]), "novels_ingested": 1}
        print(
            f"dataset: {dataset['scenarios']} scenarios ({dataset['roots']} roots), "
            f"1 ingested novel, {USERS} readers; built in {time.perf_counter() - seeded:.0f} s",
            flush=True,
        )
        for provider in PROVIDERS:
            if provider == "scripted":
                stack.stop("worker-chat")
                env = {"LLM_PROVIDER": "openai", "LLM_BASE_URL": scripted.url, "LLM_MODEL": "scripted-fast"}
                stack.start_worker("chat", env=env)
                stack.wait_worker("chat")
            print(f"\n[{provider}] {SECONDS:.0f} s ...", flush=True)
            summary = run_window(readers, world)
            summary.update(provider=provider, cpus=os.cpu_count(), dataset=dataset)
            report(summary)
            runs.append(summary)
    out = ROOT / "var" / "bench" / "mixed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": runs}, indent=2))
    print(f"\nraw results: {out.relative_to(ROOT)}")


def report(summary: dict) -> None:
    width = max(len(r["endpoint"]) for r in summary["rows"]) + 2
    print(
        f"\n{'action':<{width}}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'target':>8}{'errors':>8}"
    )
    for r in summary["rows"]:
        cells = [f"{r[k]:>9.1f}" if r[k] is not None else f"{'-':>9}" for k in ("p50", "p95", "p99")]
        target = f"{r['target_p95']}" if r["target_p95"] else "-"
        print(
            f"{r['endpoint']:<{width}}{r['count']:>7}{r['rps']:>8.2f}{''.join(cells)}{target:>8}{r['errors']:>8}"
        )
        if r["error_sample"]:
            print(f"    {r['error_sample']}")
    print(
        f"\n{summary['requests_in_window']} requests in {summary['seconds']:.0f} s "
        f"({summary['rps']} req/s); errors {summary['errors']} of {summary['requests']} "
        f"({summary['error_rate']:.2%}); chat turns {summary['turns']}, failed {summary['turns_failed']}; "
        f"client used {summary['client_cpus']} CPUs"
    )


if __name__ == "__main__":
    main()
