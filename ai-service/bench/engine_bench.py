"""Many readers at once: the local engine (llama-server, parallel slots)
against today's in-process worker (llama-cpp-python, one stream at a time
per process), in one run on this machine (issue 22).

    python ai-service/bench/engine_bench.py [--model NAME] [--streams 1,4,8,16,50]
        [--slots 4] [--answer-tokens 64] [--inprocess-streams 1,4,8] [--no-inprocess]
        [--no-follow-ups] [--tag NAME]

Every turn is built as the chat worker builds it (`build_messages`: the
what-if brief and persona, the conversation so far, up to 256 passage
tokens from Pride and Prejudice, the message). `N` readers of ONE scenario
and character (the same brief and persona, each their own question and
passages) send their first turns at the same moment; then all N send a
follow-up at once (their first exchange in the history). For each N it
prints: aggregate decoded tokens/s (all answer tokens / wall time from the
burst to the last token), first-token p50/p95, the share of the engine's
time spent evaluating prompts (from the server's own timings), and the
floor this machine allows for the burst's first tokens: the prompt tokens
the engine had to evaluate (after its cache) / its measured prompt speed.

The in-process worker serves the same bursts one turn after another (one
process = one model copy = one stream), with its prompt cache on. Memory:
the engine's RSS (one copy of the model whatever the number of workers)
against one in-process worker's model RSS (times the worker processes).

Writes var/bench/engine.json."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ai-service"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_model_bench import machine_description, pct  # noqa: E402

from gaji_ai.generation.prompt import (  # noqa: E402
    Persona,
    Turn,
    _words,
    build_messages,
    prompt_budget,
    render_brief,
)
from gaji_ai.ingestion.chunking import chunk_chapters  # noqa: E402
from gaji_ai.ingestion.text import decode, split_chapters, strip_gutenberg  # noqa: E402
from gaji_ai.llm import engine, models  # noqa: E402
from gaji_ai.llm.providers import ChatMessage, EngineProvider, LocalProvider  # noqa: E402

NOVEL = ROOT / "data" / "novels" / "pride-and-prejudice.txt"
STORY = "Pride and Prejudice"
CONTEXT = 2048
GROUNDING = 256
BRIEF = render_brief(
    "SETTING_MODIFICATION",
    {
        "setting_element": "time_period",
        "scope": "global",
        "impact_level": "high",
        "change_description": "The story is set in 2025 London",
    },
)
PERSONA = Persona(
    "Elizabeth Bennet",
    "The second of the five Bennet daughters, quick-witted and fond of laughing at folly.",
    ("lively", "clever", "prejudiced"),
)
SUBJECTS = [
    "Mr. Darcy",
    "Mr. Bingley",
    "Mr. Wickham",
    "Lady Catherine",
    "Charlotte Lucas",
    "Mr. Collins",
    "your mother",
    "Jane",
    "Lydia",
    "Pemberley",
]
ASKS = [
    "What do you think of {s} now?",
    "Tell me what happened with {s} at the ball.",
    "How would you describe {s} to a stranger?",
    "Has {s} changed your mind about anything?",
    "What did your family say about {s}?",
]
FOLLOW_UPS = [
    "And what would you say to {s} if you met today?",
    "Why do you feel that way about {s}?",
]


def questions(n: int, pool: list[str], burst: str = "") -> list[str]:
    """n readers' questions; `burst` makes every burst's questions its own, so
    no burst finds another's prompts in the engine's cache."""
    out = []
    for i in range(n):
        ask = pool[(i // len(SUBJECTS)) % len(pool)].format(s=SUBJECTS[i % len(SUBJECTS)])
        out.append(f"(Reader {burst}{i + 1}) {ask}" if burst else ask)
    return out


class Passages:
    def __init__(self) -> None:
        document = strip_gutenberg(decode(NOVEL.read_bytes()))
        self.chunks = chunk_chapters(
            document.body, split_chapters(document.body), lambda t: int(len(t.split()) * 1.3)
        )
        self.words = [_words(c.text) for c in self.chunks]

    def for_question(self, question: str) -> list[str]:
        wanted = _words(question)
        ranked = sorted(range(len(self.chunks)), key=lambda i: -len(self.words[i] & wanted))
        return [self.chunks[i].text for i in ranked[:3]]


def build(count_tokens, passages: Passages, question: str, history: list[Turn]):
    return build_messages(
        story=STORY,
        brief=BRIEF,
        persona=PERSONA,
        passages=passages.for_question(question),
        history=history,
        user_message=question,
        count_tokens=count_tokens,
        budget=prompt_budget(CONTEXT),
        grounding_tokens=GROUNDING,
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def engine_turn(url: str, model: str, messages: list[ChatMessage], tokens: int) -> dict:
    """One streamed answer; the server's own timings from its last chunk."""
    body = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
        "max_tokens": tokens,
        "temperature": 0.0,
        "timings_per_token": False,
    }
    started = time.perf_counter()
    first = None
    text = ""
    count = 0
    timings: dict = {}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=3600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if chunk.get("timings"):
                timings = chunk["timings"]
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    first = first or time.perf_counter()
                    text += delta
                    count += 1
    end = time.perf_counter()
    return {
        "started": started,
        "first": first or end,
        "end": end,
        "tokens": count,
        "text": text,
        "prompt_n": timings.get("prompt_n", 0),
        "cache_n": timings.get("cache_n", 0),
        "prompt_ms": timings.get("prompt_ms", 0.0),
        "predicted_ms": timings.get("predicted_ms", 0.0),
    }


def burst(run_one, jobs: list) -> tuple[list[dict], float, float]:
    """All jobs at once (one thread each); (results, t0, t_end)."""
    results: list[dict | None] = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = run_one(jobs[i])
        except BaseException as exc:  # counted as a lost turn
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [r for r in results if r is not None]
    end = max((r["end"] for r in done), default=time.perf_counter())
    for r in done:
        r["first_ms"] = (r["first"] - t0) * 1000
    return done, t0, end


def summarize(results: list[dict], t0: float, end: float, n: int, prompt_speed: float) -> dict:
    tokens = sum(r["tokens"] for r in results)
    firsts = [r["first_ms"] for r in results]
    prompt_ms = sum(r.get("prompt_ms", 0.0) for r in results)
    predicted_ms = sum(r.get("predicted_ms", 0.0) for r in results)
    evaluated = sum(r.get("prompt_n", 0) for r in results)
    row = {
        "streams": n,
        "lost": n - len(results),
        "wall_s": round(end - t0, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / (end - t0), 2) if end > t0 else 0.0,
        "first_p50_ms": round(statistics.median(firsts)) if firsts else None,
        "first_p95_ms": round(pct(firsts, 0.95)) if firsts else None,
        "prompt_tokens_evaluated": evaluated,
        "prompt_tokens_cached": sum(r.get("cache_n", 0) for r in results),
    }
    if prompt_ms + predicted_ms > 0:
        row["prompt_share"] = round(prompt_ms / (prompt_ms + predicted_ms), 3)
    if prompt_speed and evaluated:
        row["floor_ms"] = round(evaluated / prompt_speed * 1000)
        row["p95_over_floor"] = round(row["first_p95_ms"] / row["floor_ms"], 2)
    return row


def run_engine(args, passages: Passages) -> dict:
    port = args.port
    config = engine.EngineConfig(
        model=args.model,
        port=port,
        slots=args.slots,
        context_per_slot=CONTEXT,
        threads=os.cpu_count() or 2,
        cache_ram_mib=args.cache_mib,
        repack=engine.repack_allowed("auto", args.model),
    )
    supervisor = engine.Supervisor(config, say=lambda line: None)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        if not engine.wait_healthy(config.url, timeout=600):
            raise SystemExit("engine did not come up")
        provider = EngineProvider(base_url=config.url, model=args.model, timeout=600)
        count = provider.count_tokens
        # Prompt speed alone: one cold prompt, nothing else running.
        probe = build(count, passages, "Tell me about the assembly at Meryton.", [])
        alone = engine_turn(config.url, args.model, probe, 1)
        prompt_speed = alone["prompt_n"] / (alone["prompt_ms"] / 1000) if alone["prompt_ms"] else 0
        rows = []
        for n in args.streams:
            # Another scenario's prompt in between, so no burst starts warm.
            engine_turn(config.url, args.model, build(count, passages, f"Reset {n}.", []), 1)
            asked = questions(n, ASKS, f"E{n}-")
            firsts = [build(count, passages, q, []) for q in asked]
            results, t0, end = burst(
                lambda m: engine_turn(config.url, args.model, m, args.answer_tokens), firsts
            )
            first_row = summarize(results, t0, end, n, prompt_speed)
            first_row["kind"] = "first turns"
            rows.append(first_row)
            print(row_line("engine", first_row), flush=True)
            if args.no_follow_ups:
                continue
            history = {
                i: [Turn("user", q), Turn("assistant", r["text"])]
                for i, (q, r) in enumerate(zip(asked, results, strict=False))
            }
            follow = [
                build(count, passages, q, history.get(i, []))
                for i, q in enumerate(questions(n, FOLLOW_UPS, f"E{n}-"))
            ]
            results, t0, end = burst(
                lambda m: engine_turn(config.url, args.model, m, args.answer_tokens), follow
            )
            follow_row = summarize(results, t0, end, n, prompt_speed)
            follow_row["kind"] = "follow-ups"
            rows.append(follow_row)
            print(row_line("engine", follow_row), flush=True)
        return {
            "slots": args.slots,
            "prompt_tokens_per_s": round(prompt_speed, 1),
            "rss_mib": rss_mib(supervisor.process.pid),
            "rows": rows,
        }
    finally:
        supervisor.stop()
        thread.join(30)


def run_inprocess(args, passages: Passages) -> dict:
    provider = LocalProvider(
        model=args.model,
        n_ctx=CONTEXT,
        n_threads=os.cpu_count(),
        prompt_cache_bytes=256 * 1024 * 1024,
    )
    before = rss_mib(os.getpid())
    provider.warm()
    model_rss = round(rss_mib(os.getpid()) - before, 1)
    count = provider.count_tokens

    def one(messages):
        started = time.perf_counter()
        first = None
        text = ""
        tokens = 0
        for delta in provider.stream(messages, max_tokens=args.answer_tokens, temperature=0.0):
            first = first or time.perf_counter()
            text += delta
            tokens += 1
        end = time.perf_counter()
        return {
            "started": started,
            "first": first or end,
            "end": end,
            "tokens": tokens,
            "text": text,
        }

    rows = []
    for n in args.inprocess_streams:
        asked = questions(n, ASKS, f"P{n}-")
        firsts = [build(count, passages, q, []) for q in asked]
        results, t0, end = burst(one, firsts)
        first_row = summarize(results, t0, end, n, 0)
        first_row["kind"] = "first turns"
        rows.append(first_row)
        print(row_line("in-process", first_row), flush=True)
        history = {
            i: [Turn("user", q), Turn("assistant", r["text"])]
            for i, (q, r) in enumerate(zip(asked, results, strict=False))
        }
        follow = [
            build(count, passages, q, history.get(i, []))
            for i, q in enumerate(questions(n, FOLLOW_UPS, f"P{n}-"))
        ]
        results, t0, end = burst(one, follow)
        follow_row = summarize(results, t0, end, n, 0)
        follow_row["kind"] = "follow-ups"
        rows.append(follow_row)
        print(row_line("in-process", follow_row), flush=True)
    return {
        "model_rss_mib": model_rss,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": rows,
    }


def row_line(side: str, row: dict) -> str:
    floor = (
        f"  floor {row['floor_ms']:>7} ms (p95/floor {row['p95_over_floor']})"
        if "floor_ms" in row
        else ""
    )
    share = f"  prompt share {row['prompt_share']:.0%}" if "prompt_share" in row else ""
    return (
        f"{side:<10} {row['kind']:<11} n={row['streams']:>3}  lost {row['lost']}  "
        f"{row['tokens_per_s']:>6.1f} tok/s  first p50 {row['first_p50_ms']:>7} ms "
        f"p95 {row['first_p95_ms']:>7} ms{share}{floor}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("LLM_LOCAL_MODEL", models.DEFAULT_MODEL))
    parser.add_argument("--streams", default="1,4,8,16,50")
    parser.add_argument("--inprocess-streams", default="1,4,8")
    parser.add_argument("--no-inprocess", action="store_true")
    parser.add_argument("--no-follow-ups", action="store_true", help="first turns only")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--cache-mib", type=int, default=256)
    parser.add_argument("--answer-tokens", type=int, default=64)
    parser.add_argument("--port", type=int, default=8094)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    args.streams = [int(x) for x in args.streams.split(",") if x]
    args.inprocess_streams = [int(x) for x in args.inprocess_streams.split(",") if x]
    models.model_path(args.model)  # fails early, with the command that sets it up
    passages = Passages()
    print(
        f"{machine_description()}; model {args.model}; {args.slots} slots; "
        f"answers of {args.answer_tokens} tokens",
        flush=True,
    )
    result = {
        "machine": machine_description(),
        "model": args.model,
        "answer_tokens": args.answer_tokens,
        "engine": run_engine(args, passages),
    }
    print(
        f"engine: prompt speed {result['engine']['prompt_tokens_per_s']} tokens/s alone, "
        f"RSS {result['engine']['rss_mib']} MiB",
        flush=True,
    )
    if not args.no_inprocess and args.inprocess_streams:
        result["inprocess"] = run_inprocess(args, passages)
        print(
            f"in-process: model RSS {result['inprocess']['model_rss_mib']} MiB per worker process",
            flush=True,
        )
    out = ROOT / "var" / "bench" / f"engine{('-' + args.tag) if args.tag else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
