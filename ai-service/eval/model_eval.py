"""Which local model can follow a what-if? Each candidate runs on the local
engine (llama-server, as `make run` serves it) over prompts written from the
bundled novels (eval/model_prompts.json), built by the chat worker's own
prompt code (the brief, the persona, a passage from the novel, the reader's
question), and each answer is checked:

- first person: the addressed character speaks as "I" and does not talk
  about itself by name in the third person;
- premise: the answer uses a word of the what-if (any of premise_terms);
- on the question: it uses a word of the question's subject (topic_terms);
- repetition: the share of repeated word 4-grams (a looping answer is high);
- first token (ms) and decoding speed (tokens/s) on this machine.

    python ai-service/eval/model_eval.py [--models a,b] [--tokens 128] [--samples 3]

Prints a table per split (TUNE: Pride and Prejudice, looked at while
setting up; TEST: the other novels, read in aggregate) and writes
var/bench/model_eval.json. Not part of `make test`'s pass/fail: answers of
a sampled model are measured, not asserted."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "ai-service"))

from gaji_ai.generation.prompt import (  # noqa: E402
    MAX_ANSWER_TOKENS,
    Persona,
    build_messages,
    prompt_budget,
    render_brief,
)
from gaji_ai.ingestion.text import decode  # noqa: E402
from gaji_ai.llm import engine, models  # noqa: E402
from gaji_ai.llm.providers import EngineProvider  # noqa: E402

FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|me|my|mine|myself)\b")
NOVELS = ROOT / "data" / "novels"


def passage_for(novel: str, words: list[str], limit: int = 900) -> str:
    """The first paragraph of the novel holding every word (real text)."""
    text = decode((NOVELS / novel).read_bytes())
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if all(word.lower() in flat.lower() for word in words):
            return flat[:limit]
    return ""


def third_person_self(answer: str, character: str) -> bool:
    """Does the answer talk about the speaker by name ("Elizabeth thinks")?"""
    names = [n for n in re.split(r"\s+", character.replace("the ", "")) if len(n) > 2]
    names = [n for n in names if n not in {"Mr.", "Mrs.", "Miss"}]
    verbs = r"(is|was|has|had|thinks|thought|feels|felt|would|says|said|finds|found|believes)"
    return any(re.search(rf"\b{re.escape(n)}\b\s+{verbs}\b", answer) for n in names)


def repetition(answer: str) -> float:
    words = answer.lower().split()
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    if not grams:
        return 0.0
    return round(1 - len(set(grams)) / len(grams), 3)


def has_any(answer: str, terms: list[str]) -> bool:
    low = answer.lower()
    return any(term.lower() in low for term in terms)


def run_model(
    name: str, prompts: list[dict], tokens: int, port: int, samples: int = 1
) -> list[dict]:
    config = engine.EngineConfig(
        model=name,
        port=port,
        slots=1,
        context_per_slot=2048,
        threads=2,
        cache_ram_mib=0,
        repack=engine.repack_allowed("auto", name),
    )
    supervisor = engine.Supervisor(config, say=lambda line: None)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        if not engine.wait_healthy(config.url, timeout=300):
            raise SystemExit(f"{name}: the engine did not come up")
        provider = EngineProvider(base_url=config.url, model=name, timeout=600)
        rows = []
        for prompt in [p for p in prompts for _ in range(samples)]:
            persona = Persona(prompt["character"])
            passage = passage_for(prompt["novel"], prompt["passage_words"])
            messages = build_messages(
                story=prompt["story"],
                brief=render_brief(prompt["scenario_type"], prompt["parameters"]),
                persona=persona,
                passages=[passage] if passage else [],
                history=[],
                user_message=prompt["question"],
                count_tokens=provider.count_tokens,
                budget=prompt_budget(2048),
                grounding_tokens=256,
            )
            prompt_tokens = sum(provider.count_tokens(m.content) + 8 for m in messages)
            started = time.perf_counter()
            first = None
            answer = ""
            count = 0
            for delta in provider.stream(messages, max_tokens=tokens, temperature=0.7):
                first = first or time.perf_counter()
                answer += delta
                count += 1
            done = time.perf_counter()
            decode_s = done - (first or done)
            rows.append(
                {
                    "model": name,
                    "id": prompt["id"],
                    "split": prompt["split"],
                    "prompt_tokens": prompt_tokens,
                    "first_token_ms": round(((first or done) - started) * 1000),
                    "tokens_per_s": round((count - 1) / decode_s, 1) if count > 1 else 0.0,
                    "first_person": bool(FIRST_PERSON.search(answer))
                    and not third_person_self(answer, prompt["character"]),
                    "premise": has_any(answer, prompt["premise_terms"]),
                    "on_question": has_any(answer, prompt["topic_terms"]),
                    "repetition": repetition(answer),
                    "answer": answer.strip(),
                }
            )
            print(
                f"  {name:<28} {prompt['id']:<24} first {rows[-1]['first_token_ms']:>6} ms  "
                f"{rows[-1]['tokens_per_s']:>5} tok/s  I={rows[-1]['first_person']!s:<5} "
                f"premise={rows[-1]['premise']!s:<5} topic={rows[-1]['on_question']!s:<5}",
                flush=True,
            )
        return rows
    finally:
        supervisor.stop()
        thread.join(30)


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    return {
        "n": n,
        "first_person": sum(r["first_person"] for r in rows) / n,
        "premise": sum(r["premise"] for r in rows) / n,
        "on_question": sum(r["on_question"] for r in rows) / n,
        "all_three": sum(r["first_person"] and r["premise"] and r["on_question"] for r in rows) / n,
        "repetition": statistics.mean(r["repetition"] for r in rows),
        "first_token_ms_p50": statistics.median(r["first_token_ms"] for r in rows),
        "tokens_per_s_p50": statistics.median(r["tokens_per_s"] for r in rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(models.CATALOGUE))
    parser.add_argument("--tokens", type=int, default=MAX_ANSWER_TOKENS)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument(
        "--samples", type=int, default=1, help="answers per prompt (sampled at temperature 0.7)"
    )
    args = parser.parse_args()
    prompts = json.loads((HERE / "model_prompts.json").read_text())["prompts"]
    results: dict[str, dict] = {}
    answers: list[dict] = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        try:
            models.model_path(name)
        except models.ModelUnavailable as exc:
            print(f"{name}: skipped ({exc})")
            continue
        print(f"{name}:", flush=True)
        rows = run_model(name, prompts, args.tokens, args.port, args.samples)
        answers.extend(rows)
        results[name] = {
            split: summary([r for r in rows if split == "ALL" or r["split"] == split])
            for split in ("TUNE", "TEST", "ALL")
        }
    print()
    print(
        f"{'model':<28} {'split':<5} {'n':>3} {'1st person':>10} {'premise':>8} {'on topic':>8} "
        f"{'all 3':>6} {'repeat':>7} {'1st tok p50':>11} {'tok/s':>6}"
    )
    for name, splits in results.items():
        for split, s in splits.items():
            print(
                f"{name:<28} {split:<5} {s['n']:>3} {s['first_person']:>10.2f} "
                f"{s['premise']:>8.2f} {s['on_question']:>8.2f} {s['all_three']:>6.2f} "
                f"{s['repetition']:>7.3f} "
                f"{s['first_token_ms_p50']:>9.0f} ms {s['tokens_per_s_p50']:>6.1f}"
            )
    out = ROOT / "var" / "bench" / "model_eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": results, "answers": answers}, indent=2) + "\n")
    print(f"\nanswers and numbers: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
