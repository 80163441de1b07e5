#!/usr/bin/env python
"""Benchmark of the branch's memory over a long conversation, on the local
model through the real services.

    .venv/bin/python ai-service/bench/memory_bench.py        (or: make bench-memory)
    BENCH_MEMORY_TURNS=60 BENCH_MODEL=qwen2.5-coder-1.5b-instruct .venv/bin/python ...

What it does:
1. Starts the real stack as `make run` does (tests-e2e/stack.py: core,
   ai, llama-server on BENCH_MODEL, a chat worker with one process per
   engine slot), ingests Alice in Wonderland and creates a what-if on it
   (the chat bench's setup).
2. One conversation of BENCH_MEMORY_TURNS (200) reader messages, one after
   another. Its first messages plant facts found nowhere in the novel ("my
   sister's name is Marigold Featherstone", ...); the rest are ordinary
   questions, and late in the conversation (at 40%, 75% and the last turns)
   each fact is asked about. For every turn: the time from the POST to the
   first token, and the prompt the model received (the prompt inspector:
   its tokens against the window, the memory and history sections). For
   each question about a planted fact: is the fact in that prompt (in the
   memory or the history section), and does the answer mention it.
3. The memory written: entries by kind and source (model or rule),
   summaries by layer.
4. First-token p50/p95 with memory on and off (MEMORY_MODE=off in the chat
   worker): BENCH_MEMORY_COMPARE_TURNS (30) turns each in a fresh
   conversation, the same questions.
5. Prints the numbers and writes var/bench/ai_memory.json. It prints
   numbers; it asserts nothing about speed.

The next message is sent as soon as an answer ends (no reader's pause),
so a turn may start while the previous turn's memory is being written:
with two engine slots both run at once.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ai-service" / "bench"))

from chat_bench import bearer, pct, setup, sse_events  # noqa: E402
from stack import start_stack  # noqa: E402  (chat_bench put tests-e2e on the path)

TURNS = int(os.environ.get("BENCH_MEMORY_TURNS", "200"))
COMPARE = int(os.environ.get("BENCH_MEMORY_COMPARE_TURNS", "30"))
MODEL = os.environ.get("BENCH_MODEL", "smollm2-135m-instruct")
OUT = ROOT / "var" / "bench" / "ai_memory.json"

# (what the reader says early, the question asked later, words that show the fact)
FACTS = [
    (
        "Remember this: my sister's name is Marigold Featherstone.",
        "What is my sister's name?",
        ["marigold", "featherstone"],
    ),
    (
        "I hid the golden key under the blue teapot in the March Hare's kitchen.",
        "Where did I hide the golden key?",
        ["teapot"],
    ),
    (
        "The password to the secret garden is periwinkle.",
        "What is the password to the secret garden?",
        ["periwinkle"],
    ),
]
QUESTIONS = [
    "What do you think of the Queen of Hearts?",
    "Why are you so fearless today?",
    "Shall we follow the White Rabbit?",
    "What would you say to the Mad Hatter?",
    "Tell me about the croquet game.",
    "How did you feel when you grew so tall?",
    "What is the strangest thing you have seen here?",
    "Would you go back down the rabbit hole?",
    "What do you make of the Cheshire Cat?",
    "Is the Duchess kind to you?",
    "What did the Caterpillar ask you?",
    "Do you miss your cat Dinah?",
]


def script(turns: int) -> list[tuple[str, int | None]]:
    """The reader's messages: (text, index of the fact it asks about)."""
    messages: list[tuple[str, int | None]] = [(planted, None) for planted, _, _ in FACTS]
    asks = {}
    for at in (0.4, 0.75):
        for i in range(len(FACTS)):
            asks[int(turns * at) + i] = i
    for i in range(len(FACTS)):
        asks[turns - len(FACTS) + i] = i
    n = 0
    while len(messages) < turns:
        index = len(messages)
        if index in asks:
            messages.append((FACTS[asks[index]][1], asks[index]))
        else:
            messages.append((QUESTIONS[n % len(QUESTIONS)], None))
            n += 1
    return messages


@dataclass
class Answer:
    ttft_ms: float = float("nan")
    content: str = ""
    ok: bool = False
    problem: str = ""


def read_answer(url: str, started: float, timeout: float = 900) -> Answer:
    """The stream's first token and the saved answer."""
    answer = Answer()
    for name, payload in sse_events(url, timeout):
        if name == "http":
            answer.problem = f"stream HTTP {payload}"
            return answer
        if name == "message_chunk" and answer.ttft_ms != answer.ttft_ms:
            answer.ttft_ms = (time.perf_counter() - started) * 1000
        elif name == "message_complete":
            answer.content = payload["content"]
            answer.ok = payload["status"] == "completed"
            answer.problem = "" if answer.ok else f"status {payload['status']}"
            return answer
        elif name in ("error", "not_resumable"):
            answer.problem = f"{name}: {payload}"
            return answer
    answer.problem = "stream ended without message_complete"
    return answer


class Reader:
    def __init__(self, stack, token: str, scenario_id: str) -> None:
        self.core = httpx.Client(base_url=stack.core_url, timeout=120, headers=bearer(token))
        self.scenario_id = scenario_id

    def conversation(self) -> str:
        response = self.core.post("/api/v1/conversations", json={"scenario_id": self.scenario_id})
        response.raise_for_status()
        conversation_id = response.json()["id"]
        # One speaker: every turn is one answer, so turns compare.
        cast = {"narrator": False, "members": [{"character_id": None, "name": "Alice"}]}
        self.core.put(f"/api/v1/conversations/{conversation_id}/cast", json=cast).raise_for_status()
        return conversation_id

    def turn(self, conversation_id: str, text: str) -> dict:
        started = time.perf_counter()
        sent = self.core.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"content": text}
        )
        if sent.status_code != 202:
            return {"problem": f"send HTTP {sent.status_code}: {sent.text[:200]}"}
        body = sent.json()
        answer_id = body["answers"][0]["message_id"]
        read = read_answer(body["stream_url"], started)
        row = {"ttft_ms": read.ttft_ms, "ok": read.ok, "problem": read.problem}
        prompt = self.core.get(
            f"/api/v1/conversations/{conversation_id}/messages/{answer_id}/prompt"
        )
        if prompt.status_code == 200:
            record = prompt.json()
            sections = {s["name"]: s for s in record["sections"]}
            row.update(
                prompt_tokens=record["prompt_tokens"],
                context_tokens=record["settings"].get("context_tokens"),
                max_tokens=record["settings"].get("max_tokens"),
                memory_tokens=sections.get("memory", {}).get("tokens", 0),
                history_tokens=sections.get("history", {}).get("tokens", 0),
                memory_text=sections.get("memory", {}).get("text", ""),
                history_text=sections.get("history", {}).get("text", ""),
            )
        row["answer"] = read.content
        return row

    def memory(self, conversation_id: str) -> list[dict]:
        entries, page = [], 0
        while True:
            body = self.core.get(
                f"/api/v1/conversations/{conversation_id}/memory",
                params={"page": page, "size": 100},
            ).json()
            entries += body["content"]
            page += 1
            if page >= body["page"]["total_pages"]:
                return entries


def long_run(reader: Reader) -> dict:
    conversation_id = reader.conversation()
    rows, probes = [], []
    for index, (text, fact) in enumerate(script(TURNS)):
        row = reader.turn(conversation_id, text)
        row.setdefault("ttft_ms", float("nan"))
        row.setdefault("ok", False)
        if row.get("problem"):  # counted in failed_turns; the run goes on
            print(f"  turn {index + 1}: {row['problem']}", flush=True)
        rows.append(row)
        if fact is not None:
            words = FACTS[fact][2]
            in_memory = all(w in row.get("memory_text", "").lower() for w in words)
            in_history = all(w in row.get("history_text", "").lower() for w in words)
            probes.append(
                {
                    "turn": index + 1,
                    "fact": fact,
                    "in_memory": in_memory,
                    "in_history": in_history,
                    "in_prompt": in_memory or in_history,
                    "answered": any(w in row.get("answer", "").lower() for w in words),
                }
            )
        if (index + 1) % 20 == 0:
            print(
                f"  turn {index + 1}/{TURNS}: prompt {row.get('prompt_tokens')} tokens "
                f"(memory {row.get('memory_tokens')}), first token {row['ttft_ms']:.0f} ms",
                flush=True,
            )
    time.sleep(20)  # the last turns' memory is written after their answers
    entries = reader.memory(conversation_id)
    window = [
        r["prompt_tokens"] + (r.get("max_tokens") or 0) <= (r.get("context_tokens") or 0)
        for r in rows
        if "prompt_tokens" in r
    ]
    prompt_tokens = [r["prompt_tokens"] for r in rows if "prompt_tokens" in r]
    memory_tokens = [r["memory_tokens"] for r in rows if "memory_tokens" in r]
    return {
        "conversation_id": conversation_id,
        "turns": len(rows),
        "failed_turns": sum(1 for r in rows if not r.get("ok")),
        "problems": sorted({r["problem"] for r in rows if r.get("problem")})[:5],
        "prompt_tokens": {
            "p50": pct(prompt_tokens, 50),
            "max": max(prompt_tokens or [0]),
            "per_turn": prompt_tokens,
        },
        "memory_tokens": {"p50": pct(memory_tokens, 50), "max": max(memory_tokens or [0])},
        "context_tokens": next(
            (r.get("context_tokens") for r in rows if r.get("context_tokens")), None
        ),
        "within_window": f"{sum(window)}/{len(window)}",
        "ttft_ms": {
            "p50": pct([r["ttft_ms"] for r in rows if r.get("ok")], 50),
            "p95": pct([r["ttft_ms"] for r in rows if r.get("ok")], 95),
        },
        "entries": len(entries),
        "by_kind": dict(Counter(e["kind"] for e in entries)),
        "by_source": dict(Counter(e["source"] for e in entries)),
        "summaries_by_layer": dict(
            Counter(str(e["layer"]) for e in entries if e["kind"] == "summary")
        ),
        "probes": probes,
        "facts_in_prompt": f"{sum(p['in_prompt'] for p in probes)}/{len(probes)}",
        "facts_in_memory_section": f"{sum(p['in_memory'] for p in probes)}/{len(probes)}",
        "facts_in_answer": f"{sum(p['answered'] for p in probes)}/{len(probes)}",
    }


def compare_run(reader: Reader, turns: int) -> dict:
    conversation_id = reader.conversation()
    rows = [reader.turn(conversation_id, text) for text, _ in script(turns)]
    ttft = [r["ttft_ms"] for r in rows if r.get("ok") and "ttft_ms" in r]
    return {
        "turns": len(rows),
        "ok": len(ttft),
        "ttft_p50_ms": pct(ttft, 50),
        "ttft_p95_ms": pct(ttft, 95),
        "prompt_tokens_p50": pct([r["prompt_tokens"] for r in rows if "prompt_tokens" in r], 50),
    }


def restart_chat(stack, mode: str) -> None:
    stack.stop("worker-chat")
    stack.start_worker("chat", env={"MEMORY_MODE": mode}, concurrency=2)
    stack.wait_worker("chat")


def main() -> None:
    print(f"memory bench: {TURNS} turns on {MODEL}, then {COMPARE} turns with memory on and off")
    with (
        tempfile.TemporaryDirectory(prefix="gaji-memory-bench-") as tmp,
        start_stack(Path(tmp), extra_env={"LLM_LOCAL_MODEL": MODEL}) as stack,
    ):
        token, scenario, _ = setup(stack)
        reader = Reader(stack, token, scenario["id"])
        restart_chat(stack, "model")
        started = time.perf_counter()
        result = {"model": MODEL, "long": long_run(reader)}
        result["long"]["seconds"] = round(time.perf_counter() - started)
        result["memory_on"] = compare_run(reader, COMPARE)
        restart_chat(stack, "off")
        result["memory_off"] = compare_run(reader, COMPARE)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    report(result)


def report(result: dict) -> None:
    long = result["long"]
    print(
        f"\nmodel {result['model']}: {long['turns']} turns in {long['seconds']} s "
        f"({long['failed_turns']} failed {long['problems']})"
    )
    print(
        f"prompt tokens p50 {long['prompt_tokens']['p50']}, max {long['prompt_tokens']['max']} "
        f"(window {long['context_tokens']}, answer room included: {long['within_window']} within); "
        f"memory section p50 {long['memory_tokens']['p50']}, max {long['memory_tokens']['max']}"
    )
    print(
        f"memory written: {long['entries']} entries, by kind {long['by_kind']}, "
        f"by source {long['by_source']}, summaries by layer {long['summaries_by_layer']}"
    )
    print(
        f"planted facts asked later: in the prompt {long['facts_in_prompt']} "
        f"(in the memory section {long['facts_in_memory_section']}), "
        f"named in the answer {long['facts_in_answer']}"
    )
    for probe in long["probes"]:
        print(
            f"  turn {probe['turn']:>4} fact {probe['fact']}: memory {probe['in_memory']}, "
            f"history {probe['in_history']}, answer {probe['answered']}"
        )
    print(
        f"first token over the long run: p50 {long['ttft_ms']['p50']:.0f} ms, "
        f"p95 {long['ttft_ms']['p95']:.0f} ms"
    )
    for name in ("memory_on", "memory_off"):
        row = result[name]
        print(
            f"{name:>10}: {row['ok']}/{row['turns']} turns, first token p50 "
            f"{row['ttft_p50_ms']:.0f} ms, p95 {row['ttft_p95_ms']:.0f} ms, "
            f"prompt p50 {row['prompt_tokens_p50']} tokens"
        )
    print(f"written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
