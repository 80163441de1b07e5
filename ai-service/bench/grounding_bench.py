"""How much of the novel the local model can read per turn: first-token
latency with 96, 256 and 512 grounding tokens, with llama.cpp's prompt cache
off and on (issue 16).

    python ai-service/bench/grounding_bench.py [--conversations 3] [--turns 6]
        [--budgets 96,256,512] [--answer-tokens 64]

One generation worker serves several readers in turn, so the bench plays
`conversations` readers on Pride and Prejudice, each talking to a different
character, interleaved turn by turn (reader 1's turn 1, reader 2's turn 1,
..., reader 1's turn 2, ...). Every turn is built as the worker builds it:
`build_messages` with the scenario brief and persona, the conversation so
far (the real answers of earlier turns), the three passages of the novel
sharing the most words with the message (a stand-in for the search: only
their length matters here) and `grounding_tokens` = the budget, then
streamed through `LocalProvider` (the worker's provider) with or without
`prompt_cache_bytes`. The clock runs from the call to the first streamed
token, so it includes finding and restoring a cached state.

Each (budget, cache) pair runs in its own subprocess, so a crash is
reported as a result. Prints p50/p95 of the first token over all turns and
over follow-ups only (turn 2 on), the passage tokens that reached the
prompt, and writes var/bench/grounding.json."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ai-service"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_model_bench import machine_description, pct, run_child  # noqa: E402

NOVEL = ROOT / "data" / "novels" / "pride-and-prejudice.txt"
STORY = "Pride and Prejudice"
CACHE_BYTES = 256 * 1024 * 1024
CONTEXT_TOKENS = 2048  # LLM_CONTEXT_TOKENS' default
READERS = [
    ("Elizabeth Bennet", "decision", "to accept Mr. Collins", "to refuse Mr. Collins"),
    ("Jane Bennet", "temper", "suspicious of everyone", "trusting"),
    ("Fitzwilliam Darcy", "pride", "humble from the start", "proud"),
]
QUESTIONS = [
    "How did you first meet Mr. Bingley at the Meryton assembly?",
    "What do you think of Mr. Wickham and his story about the living?",
    "Tell me about the visit to Rosings and Lady Catherine de Bourgh.",
    "What did the letter written at Hunsford say, and did you believe it?",
    "How did your family take the news that Lydia had gone off?",
    "What happened when you walked through the grounds of Pemberley?",
    "Would your mother ever approve of the match with Netherfield?",
    "What would you say to Charlotte Lucas about her marriage?",
]


def child(budget: int, cache: bool, conversations: int, turns: int, answer_tokens: int) -> None:
    from gaji_ai.generation.prompt import (
        KeptPassage,
        Persona,
        Turn,
        _words,
        build_messages,
        prompt_budget,
        render_brief,
    )
    from gaji_ai.ingestion.chunking import chunk_chapters
    from gaji_ai.ingestion.text import decode, split_chapters, strip_gutenberg
    from gaji_ai.llm.providers import LocalProvider

    document = strip_gutenberg(decode(NOVEL.read_bytes()))
    chunks = chunk_chapters(
        document.body, split_chapters(document.body), lambda t: int(len(t.split()) * 1.3)
    )
    chunk_words = [_words(c.text) for c in chunks]

    def passages_for(question: str) -> list[str]:
        wanted = _words(question)
        ranked = sorted(range(len(chunks)), key=lambda i: -len(chunk_words[i] & wanted))
        return [chunks[i].text for i in ranked[:3]]

    provider = LocalProvider(
        n_ctx=CONTEXT_TOKENS,
        n_threads=os.cpu_count(),
        prompt_cache_bytes=CACHE_BYTES if cache else 0,
    )
    provider.warm()
    histories: list[list[Turn]] = [[] for _ in range(conversations)]
    rows = []
    for turn in range(turns):
        for reader in range(conversations):
            name, prop, new, original = READERS[reader % len(READERS)]
            brief = render_brief(
                "CHARACTER_CHANGE",
                {"character": name, "property": prop, "new_value": new, "original_value": original},
            )
            question = QUESTIONS[(turn + reader) % len(QUESTIONS)]
            kept: list[KeptPassage] = []
            messages = build_messages(
                story=STORY,
                brief=brief,
                persona=Persona(name=name),
                passages=passages_for(question),
                history=histories[reader],
                user_message=question,
                count_tokens=provider.count_tokens,
                budget=prompt_budget(CONTEXT_TOKENS),
                grounding_tokens=budget,
                kept=kept,
            )
            grounding = sum(provider.count_tokens(k.text) for k in kept)
            prompt = sum(provider.count_tokens(m.content) + 5 for m in messages)
            started = time.perf_counter()
            first = None
            answer = []
            for delta in provider.stream(messages, max_tokens=answer_tokens, temperature=0.0):
                if first is None:
                    first = (time.perf_counter() - started) * 1000
                answer.append(delta)
            if first is None:  # an empty answer: the end is its first token
                first = (time.perf_counter() - started) * 1000
            histories[reader] += [Turn("user", question), Turn("assistant", "".join(answer))]
            rows.append(
                {
                    "turn": turn,
                    "reader": reader,
                    "first_ms": first,
                    "grounding": grounding,
                    "prompt": prompt,
                }
            )
    cache_stats = provider.prompt_cache
    hits = cache_stats.hits if cache_stats else 0
    misses = cache_stats.misses if cache_stats else 0
    print(json.dumps({"rows": rows, "hits": hits, "misses": misses}), flush=True)


def summarise(rows: list[dict]) -> dict:
    firsts = [r["first_ms"] for r in rows]
    opening = [r["first_ms"] for r in rows if r["turn"] == 0]
    follow = [r["first_ms"] for r in rows if r["turn"] > 0]
    return {
        "turns": len(rows),
        "first_p50_ms": round(statistics.median(firsts)),
        "first_p95_ms": round(pct(firsts, 0.95)),
        "opening_p50_ms": round(statistics.median(opening)),
        "follow_up_p50_ms": round(statistics.median(follow)) if follow else None,
        "follow_up_p95_ms": round(pct(follow, 0.95)) if follow else None,
        "grounding_tokens_mean": round(statistics.mean(r["grounding"] for r in rows)),
        "prompt_tokens_mean": round(statistics.mean(r["prompt"] for r in rows)),
    }


def measure(budget: int, cache: bool, args: argparse.Namespace) -> dict:
    argv = [
        sys.executable,
        __file__,
        "--child",
        f"{budget}:{'on' if cache else 'off'}",
        "--conversations",
        str(args.conversations),
        "--turns",
        str(args.turns),
        "--answer-tokens",
        str(args.answer_tokens),
    ]
    row: dict = {"budget": budget, "cache": "on" if cache else "off"}
    result, failure = run_child(argv, timeout=3600)
    if failure:
        row["outcome"] = failure
        return row
    row.update(outcome="ok", hits=result["hits"], misses=result["misses"])
    row.update(summarise(result["rows"]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--budgets", default="96,256,512")
    parser.add_argument("--answer-tokens", type=int, default=64)
    args = parser.parse_args()
    if args.child:
        budget, cache = args.child.split(":")
        child(int(budget), cache == "on", args.conversations, args.turns, args.answer_tokens)
        return
    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    header = (
        "grounding",
        "cache",
        "passage tok",
        "prompt tok",
        "p50 ms",
        "p95 ms",
        "opening p50",
        "follow p50",
        "follow p95",
    )
    print("{:>9} {:>6} {:>11} {:>10} {:>8} {:>8} {:>11} {:>10} {:>10}".format(*header), flush=True)
    rows = []
    for budget in budgets:
        for cache in (False, True):
            row = measure(budget, cache, args)
            rows.append(row)
            if row["outcome"] != "ok":
                print(f"{budget:>9} {row['cache']:>6} {row['outcome']}", flush=True)
                continue
            print(
                f"{budget:>9} {row['cache']:>6} {row['grounding_tokens_mean']:>11} "
                f"{row['prompt_tokens_mean']:>10} "
                f"{row['first_p50_ms']:>8} {row['first_p95_ms']:>8} {row['opening_p50_ms']:>11} "
                f"{row['follow_up_p50_ms'] or '-':>10} {row['follow_up_p95_ms'] or '-':>10}",
                flush=True,
            )
    out = ROOT / "var" / "bench" / "grounding.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "cpu": machine_description(),
        "conversations": args.conversations,
        "turns": args.turns,
        "answer_tokens": args.answer_tokens,
        "cache_bytes": CACHE_BYTES,
        "rows": rows,
    }
    out.write_text(json.dumps(body, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
