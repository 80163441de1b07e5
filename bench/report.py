#!/usr/bin/env python
"""Write bench/REPORT.md from the raw results the benchmarks left in
var/bench/ (`make bench` runs them all, then this).

    .venv/bin/python bench/report.py

One table of every measured endpoint (p50/p95/p99, requests/s, concurrency,
dataset, the API spec's p95 target and the ratio p95/target), then the
mixed workload. A benchmark whose results file is missing is listed as not
run, never filled in.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "var" / "bench"
OUT = ROOT / "bench" / "REPORT.md"
KEEP_MARKER = "<!-- sections below are kept by bench/report.py -->"

SOURCES = {
    "auth_social.json": "make bench-auth",
    "scenarios.json": "make bench-scenarios",
    "conversations.json": "make bench-conversations",
    "ai_ingest_search.json": "make bench-ai",
    "ai_chat.json": "make bench-chat",
    "mixed.json": "make bench-mixed",
    "local_model.json": "make bench-local-model",
    "floor.json": "make bench-floor",
}


def load(name: str) -> dict | list | None:
    path = RAW / name
    return json.loads(path.read_text()) if path.exists() else None


def ms(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def ratio(p95, target) -> str:
    if not target or p95 is None or (isinstance(p95, float) and math.isnan(p95)):
        return "-"
    value = p95 / target
    return f"**{value:.2f}**" if value > 1 else f"{value:.2f}"


def when(name: str) -> str:
    path = RAW / name
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


Row = tuple[str, object, object, object, object, object, str, object, str, object]


def wrk_rows(data: dict, dataset: str, prefix: str) -> list[Row]:
    rows = []
    for r in data["results"]:
        errors = f"{r['errors']} of {r['requests']}" if r["errors"] else f"0 of {r['requests']}"
        rows.append(
            (
                f"{prefix}{r['endpoint']}",
                r["p50"],
                r["p95"],
                r["p99"],
                f"{r['rps']:,.1f}",
                r["concurrency"],
                dataset,
                r["target_p95"],
                errors,
                r.get("other_cpus"),
            )
        )
    return rows


def core_rows() -> list[Row]:
    rows: list[Row] = []
    auth = load("auth_social.json")
    if isinstance(auth, dict):
        seed = auth["seed"]
        dataset = f"{seed['users']:,} users, {seed['follows']:,} follows"
        rows += wrk_rows(auth, dataset, "auth: ")
    scenarios = load("scenarios.json")
    if scenarios:
        dataset = f"{scenarios['seed']['scenarios']:,} scenarios, trees to depth 8"
        rows += wrk_rows(scenarios, dataset, "scenarios: ")
    conversations = load("conversations.json")
    if conversations:
        seed = conversations["seed"]
        dataset = f"{seed['conversations']:,} conversations, {seed['messages']:,} messages"
        rows += wrk_rows(conversations, dataset, "conversations: ")
    return rows


def ai_rows() -> list[Row]:
    rows: list[Row] = []
    data = load("ai_ingest_search.json")
    if data:
        ingest = data["ingestion"]
        rows.append(
            (
                "ai: ingest Pride and Prejudice (whole job, in-process)",
                ingest["wall_s"] * 1000,
                ingest["wall_s"] * 1000,  # one run: every percentile is that run
                ingest["wall_s"] * 1000,
                f"{ingest['passages_per_s']:.1f} passages/s",
                1,
                f"{ingest['passages']} passages",
                60_000,
                "-",
                ingest.get("other_cpus"),
            )
        )
        passages = f"{data['collection']['passages']:,} passages"
        for run in data["search"]["runs"]:
            p50, p95, p99 = run["latency_ms"]
            rows.append(
                (
                    "ai: POST /api/ai/search/passages",
                    p50,
                    p95,
                    p99,
                    f"{run['rps']:,.1f}",
                    run["concurrency"],
                    passages,
                    300,
                    f"{run['errors']} of {run['requests']}",
                    run.get("other_cpus"),
                )
            )
    chat = load("ai_chat.json")
    if chat:
        for r in chat["results"]:
            label = "SmolLM2 local" if r["provider"] == "local" else "scripted OpenAI-compatible"
            rows.append(
                (
                    f"chat: first token through the platform ({label})",
                    r["platform_ttft_p50_ms"],
                    r["platform_ttft_p95_ms"],
                    None,
                    f"{r['platform_tokens_per_s']} tokens/s",
                    1,
                    "Alice in Wonderland, grounded scenario",
                    1000,
                    f"{r['failed_turns']} failed turns",
                    None,
                )
            )
            rows.append(
                (
                    f"chat: follow-up first token ({label})",
                    r["followup_ttft_p50_ms"],
                    r["followup_ttft_p95_ms"],
                    None,
                    "-",
                    1,
                    "same, with history",
                    1000,
                    "-",
                    None,
                )
            )
            rows.append(
                (
                    f"chat: {r['concurrent_streams']} turns at once ({label})",
                    r["concurrent_ttft_p50_ms"],
                    r["concurrent_ttft_p95_ms"],
                    None,
                    f"{r['concurrent_streams'] / r['concurrent_wall_s']:.2f} turns/s"
                    if r["concurrent_wall_s"]
                    else "-",
                    r["concurrent_streams"],
                    "one chat worker",
                    1000,
                    f"{r['concurrent_streams'] - r['concurrent_complete']} incomplete",
                    None,
                )
            )
    return rows


HEADER = (
    "| endpoint | p50 ms | p95 ms | p99 ms | req/s | concurrency | dataset "
    "| target p95 ms | p95 / target | errors | other CPUs |\n"
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|"
)


def table(rows: list[Row]) -> str:
    lines = [HEADER]
    for name, p50, p95, p99, rps, clients, dataset, target, errors, other in rows:
        busy = f"{other:.1f}" if isinstance(other, int | float) else "-"
        lines.append(
            f"| {name} | {ms(p50)} | {ms(p95)} | {ms(p99)} | {rps} | {clients} | {dataset} "
            f"| {target if target else '-'} | {ratio(p95, target)} | {errors} | {busy} |"
        )
    return "\n".join(lines)


MIXED_LABELS = {
    "local": "local model (SmolLM2-135M, llama.cpp)",
    "scripted": "fast scripted OpenAI-compatible server",
}


def mixed_section() -> str:
    data = load("mixed.json")
    if not data:
        return "Not run (`make bench-mixed`).\n"
    runs = data["runs"]
    rows: list[Row] = []
    totals = []
    for run in runs:
        label = MIXED_LABELS.get(run["provider"], run["provider"])
        totals.append(
            f"- **{label}: {run['requests_in_window']} requests in {run['seconds']:.0f} s = "
            f"{run['rps']} req/s; error rate {run['error_rate']:.2%} ({run['errors']} of "
            f"{run['requests']}); {run['turns']} chat turns, {run['turns_failed']} failed.** "
            f"The load generator used {run['client_cpus']} CPUs."
        )
        for r in run["rows"]:
            rows.append(
                (
                    f"{run['provider']} · {r['kind']}: {r['endpoint']}",
                    r["p50"],
                    r["p95"],
                    r["p99"],
                    f"{r['rps']:.2f}",
                    run["users"],
                    f"{r['count']} done",
                    r["target_p95"],
                    f"{r['errors']} of {r['count']}",
                    None,
                )
            )
    first = runs[0]
    dataset = first["dataset"]
    return (
        f"{first['users']} readers in a closed loop (no think time) for {first['seconds']:.0f} s "
        "on the real stack, once per chat provider: each action is browse (60 %), search (25 %) "
        "or chat (15 %: send, then read the stream to `message_complete`). Dataset: "
        f"{dataset['scenarios']} scenarios ({dataset['roots']} roots, the rest forks), "
        f"{dataset['novels_ingested']} ingested novel (Alice in Wonderland), {first['users']} "
        "readers with a conversation each. Errors: non-2xx answers, transport errors, streams "
        "ending in `error` or without `message_complete`.\n\n"
        + "\n".join(totals)
        + "\n\nA reader who chats waits for the whole answer before its next action. With the "
        "local model, answers come from one chat worker (as `make run` starts it) whose model "
        "takes both cores while it generates: turns queue behind each other, so most readers "
        "soon wait on an answer, and the browse and search rows show what the others got while "
        "the model held the CPUs. The scripted run swaps only the model for a fast "
        "OpenAI-compatible server: what the platform itself sustains.\n\n"
        + table(rows).replace("| concurrency |", "| readers |")
        + "\n"
    )


def local_model_section() -> str:
    data = load("local_model.json")
    if not data:
        return "Not run (`make bench-local-model`).\n"
    lines = [
        f"On {data.get('cpu', 'this machine')}: {data['runs']} chat turns shaped like the "
        "platform's (a stable system prefix that llama.cpp keeps cached, three passages that "
        "change every turn, a question), each build and setting in its own process, so a "
        "crash is a result. `installed` is the wheel setup installs (portable profile); "
        "others are passed with `BUILDS=`. Extra buffer types: llama.cpp's AMX and "
        "repacked-weight layouts.\n",
        "| build | extra buffer types | instruction sets | load ms | first token p50 ms "
        "| first token p95 ms |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in data["rows"]:
        if row["outcome"] == "ok":
            lines.append(
                f"| {row['build']} | {row['extra_bufts']} | {row['features']} | {row['load_ms']} "
                f"| {ms(row['first_p50_ms'])} | {ms(row['first_p95_ms'])} |"
            )
        else:
            lines.append(f"| {row['build']} | {row['extra_bufts']} | **{row['outcome']}** | - | - | - |")
    return "\n".join(lines) + "\n"


def floor_section() -> str:
    """Core against the floor (make bench-floor), one table per database size,
    smallest first: floor.json (the default database) and floor-<db>.json."""
    found = []
    for path in sorted(RAW.glob("floor*.json")):
        data = json.loads(path.read_text())
        found.append((data["scenarios"], data.get("variant") or "", path.name, data))
    if not found:
        return "Not run (`make bench-floor`).\n"
    lines = []
    for scenarios, variant, name, data in sorted(found):
        lines += [
            f"**{scenarios:,} scenarios{', ' + variant if variant else ''}** (`var/bench/{name}`, written "
            f"{when(name)}; each server gunicorn "
            f"{data['workers']} workers x {data['threads']} threads, {data['seconds']:.0f} s per run)\n",
            "| endpoint | c | core req/s | floor req/s | core/floor | core p95 ms | floor p95 ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in data["rows"]:
            core, floor = row["core"], row["floor"]
            lines.append(
                f"| {row['endpoint']} | {row['concurrency']} | {core['rps']:,.0f} | {floor['rps']:,.0f} "
                f"| {row['ratio']:.2f} | {ms(core['p95'])} | {ms(floor['p95'])} "
                f"| {core['errors'] + floor['errors']} |"
            )
        lines.append("")
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    runs = "\n".join(
        f"- `{command}`: "
        + (f"`var/bench/{name}` written {when(name)}" if (RAW / name).exists() else "**not run**")
        for name, command in SOURCES.items()
    )
    rows = core_rows() + ai_rows()
    over = [r for r in rows if r[7] and r[2] is not None and r[2] > r[7]]
    text = f"""# Gaji benchmark report

Written by `bench/report.py` from the raw results in `var/bench/` (commit {commit()}).
**Machine: {machine()}.** Every server, PostgreSQL, Redis, the load generator (wrk, or
Python for the streams) and the model share these cores, so each number includes their
contention.

Reproduce: `make bench` (every benchmark, then this report; about an hour, most of it
seeding and the local model). One part: `make bench-auth`, `bench-scenarios`,
`bench-conversations`, `bench-ai`, `bench-chat`, `bench-mixed`, `bench-local-model`, then
`make bench-report`.

Runs behind this report:
{runs}

## Every endpoint

`target p95` is the API spec's (`gaji-api-spec.txt`) performance line for the endpoint,
or its general table (by id < 100 ms, lists < 200 ms, full-text search < 300 ms, trees
< 500 ms, writes < 200 ms, first streamed chunk < 1000 ms). `p95 / target` above 1 is in
bold: {len(over)} of {len([r for r in rows if r[7]])} rows with a target. Core endpoints:
gunicorn (3 gthread workers x 4 threads, production settings) driven by wrk for the
configured seconds per endpoint; errors are non-2xx answers plus socket errors. The
`auth: login`/`register` rows pay Argon2 by design (a CPU-bound hash per request).
At 16 clients on 2 cores most of a core request's latency is queueing (p50 is about
clients / throughput). `other CPUs`: CPUs kept busy by processes outside the benchmark
during the run (a quiet machine shows 0.0); a row with more shared the machine.

{table(rows)}

## Mixed workload (browse, search, chat)

{mixed_section()}
## Local model per CPU (llama.cpp builds)

{local_model_section()}
## Core against the performance floor

`make bench-floor`: core next to bench/floor (gunicorn gthread, a psycopg pool, orjson, no
framework) serving the same SQL, counting and JSON on the same database (checked before
measuring), one server at a time; `BENCH_DB`/`BENCH_SCENARIOS` for other sizes.

{floor_section()}"""
    # Sections measured by hand-run benchmarks (grounding, retrieval, the
    # engine) follow the marker and are kept as they are.
    if OUT.exists() and KEEP_MARKER in OUT.read_text():
        text = text.rstrip() + "\n\n" + KEEP_MARKER + OUT.read_text().split(KEEP_MARKER, 1)[1]
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
