"""First-token latency of the local model (llama.cpp on SmolLM2) per build
and configuration, each in its own subprocess so a crash is reported as a
result instead of ending the benchmark.

    python ai-service/bench/local_model_bench.py [--runs 40]
        [--build NAME=DIR ...]   # extra llama_cpp builds (an unpacked wheel's folder)

For each build (the installed one, plus any --build) and each setting of
llama.cpp's extra buffer types (on: AMX/repacked weights where the build has
them; off), it loads the model and answers `runs` chat turns shaped like the
platform's: a stable system prefix (cached by llama.cpp across turns), three
passages that change every turn, and a question. Prints p50/p95 of the time
to the first streamed token, and writes var/bench/local_model.json."""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ai-service"))

SYSTEM = (
    "You are Elizabeth Bennet in an alternate telling of Pride and Prejudice. "
    "What if: Elizabeth accepted Mr. Collins's proposal. Stay in character, answer in a few "
    "sentences, and keep to what the passages of the novel say."
)
QUESTIONS = [
    "Do you regret your marriage?",
    "What do you think of Mr. Darcy now?",
    "How is your sister Jane?",
    "Tell me about Lady Catherine.",
    "What would your father say?",
]


def passages(i: int) -> str:
    text = (ROOT / "data" / "novels" / "pride-and-prejudice.txt").read_text(errors="replace")
    words = text.split()
    start = 2000 + (i * 997) % (len(words) - 400)
    return "\n\n".join(" ".join(words[start + k * 70 : start + k * 70 + 60]) for k in range(3))


def child(extra: str, runs: int) -> None:
    import llama_cpp

    from gaji_ai.llm.local_config import load_llama
    from gaji_ai.llm.providers import local_model_path

    info = llama_cpp.llama_print_system_info().decode()
    started = time.perf_counter()
    llm = load_llama(
        local_model_path(),
        use_extra_bufts=extra == "on",
        n_ctx=2048,
        n_threads=os.cpu_count(),
        verbose=False,
    )
    load_ms = (time.perf_counter() - started) * 1000
    firsts = []
    for i in range(runs):
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passages:\n{passages(i)}\n\n{QUESTIONS[i % 5]}"},
        ]
        t0 = time.perf_counter()
        for chunk in llm.create_chat_completion(
            messages=messages, stream=True, max_tokens=8, repeat_penalty=1.15
        ):
            if chunk["choices"][0]["delta"].get("content"):
                firsts.append((time.perf_counter() - t0) * 1000)
                break
    print(json.dumps({"system_info": info, "load_ms": load_ms, "first_ms": firsts}), flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine_description() -> str:
    """Cores, CPU model and the instruction sets llama.cpp cares about."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    extras = [f for f in ("avx512f", "amx_int8", "avx2") if f" {f}" in cpuinfo]
    return f"{os.cpu_count()} x {cpu} ({', '.join(extras)})"


def run_child(argv: list[str], *, env: dict | None = None, timeout: float) -> tuple[dict, str]:
    """Run a measuring subprocess: (its last stdout line as JSON, "") or
    ({}, how it ended: crashed with a signal, or failed with its stderr)."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode < 0:
        return {}, f"crashed ({signal.Signals(-done.returncode).name})"
    if done.returncode != 0:
        return {}, f"failed ({done.returncode}): {done.stderr.strip()[-300:]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def measure(name: str, path: str | None, extra: str, runs: int) -> dict:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
    argv = [sys.executable, __file__, "--child", extra, "--runs", str(runs)]
    row = {"build": name, "extra_bufts": extra}
    result, failure = run_child(argv, env=env, timeout=900)
    if failure:
        row["outcome"] = failure
        return row
    firsts = result["first_ms"]
    features = [f for f in ("AVX512", "AMX_INT8", "AVX2") if f"{f} = 1" in result["system_info"]]
    row.update(
        outcome="ok",
        features=" ".join(features),
        load_ms=round(result["load_ms"]),
        first_p50_ms=round(statistics.median(firsts), 1),
        first_p95_ms=round(pct(firsts, 0.95), 1),
        runs=len(firsts),
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["on", "off"])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--build", action="append", default=[], help="NAME=DIR of a llama_cpp")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs)
        return
    builds = [("installed", None)] + [tuple(b.split("=", 1)) for b in args.build]
    rows = []
    header = ("build", "extra bufts", "features", "load ms", "p50 ms", "p95 ms")
    print("{:<12} {:<12} {:<20} {:>8} {:>8} {:>8}".format(*header))
    for name, path in builds:
        for extra in ("on", "off"):
            row = measure(name, path, extra, args.runs)
            rows.append(row)
            if row["outcome"] == "ok":
                print(
                    f"{name:<12} {extra:<12} {row['features']:<20} {row['load_ms']:>8} "
                    f"{row['first_p50_ms']:>8} {row['first_p95_ms']:>8}",
                    flush=True,
                )
            else:
                print(f"{name:<12} {extra:<12} {row['outcome']}", flush=True)
    out = ROOT / "var" / "bench" / "local_model.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = {"runs": args.runs, "cpu": machine_description(), "rows": rows}
    out.write_text(json.dumps(body, indent=2) + "\n")


if __name__ == "__main__":
    main()
