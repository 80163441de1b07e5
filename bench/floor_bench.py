#!/usr/bin/env python
"""Core against the performance floor (`make bench-floor`).

    .venv/bin/python bench/floor_bench.py
    BENCH_SECONDS=10 BENCH_SCENARIOS=1000000 BENCH_DB=gaji_bench_1m .venv/bin/python bench/floor_bench.py

1. Seeds (once) the scenario benchmark's database (core-service/bench/
   scenarios_bench.py: ~220,000 scenarios by default, BENCH_SCENARIOS more).
2. Starts core (gunicorn, production settings) and the minimal reference
   service (bench/floor/app.py: gunicorn gthread, a psycopg pool, orjson, no
   framework) with the same worker and thread counts, on the same database.
3. Checks that both give the same JSON for a sample of every request (the
   comparison is of parsed documents; it stops if they differ).
4. Drives each read path on each server with wrk, at concurrency 4 and 32,
   one after the other, and prints req/s, p95 and core/floor per endpoint;
   writes var/bench/floor.json (or floor-<BENCH_DB>.json).

It prints numbers and asserts nothing about speed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core-service" / "bench"))

import conversations_bench as cb  # noqa: E402
import scenarios_bench as sb  # noqa: E402
from common import (  # noqa: E402
    DB_NAME,
    DB_URL,
    SECONDS,
    THREADS,
    VENV_BIN,
    WORKERS,
    core_env,
    drive,
    ensure_wrk,
    free_port,
    lua_request,
    prepare_database,
    seed_users,
    start_core,
    stop_core,
    write_results,
)

TAG = os.environ.get("BENCH_FLOOR_TAG", "")
LEVELS = [int(c) for c in os.environ.get("BENCH_FLOOR_CONCURRENCY", "4,32").split(",")]
TARGETS = {"by id": 100, "list": 200, "search": 300, "conversation": 100}
ONLY = [e for e in os.environ.get("BENCH_FLOOR_ENDPOINTS", "").split(",") if e]  # e.g. "by id,list"


def wanted(name: str) -> bool:
    return not ONLY or name in ONLY


def start_floor(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "FLOOR_THREADS": str(THREADS),
        "FLOOR_KEY_PREFIX": f"floor:{DB_NAME}",
    }
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "-k",
            "gthread",
            "-w",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT / "bench" / "floor"),
            "--log-level",
            "warning",
            "app:app",
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/scenarios?size=1", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("the floor service did not start")


def paths(until: str, conversations_until: str | None) -> dict[str, list[str]]:
    rng = random.Random(11)
    targets = sb.sample_targets(until)
    lists = [
        "/api/v1/scenarios?"
        + urllib.parse.urlencode(
            {
                "base_story": rng.choice(targets["stories"]),
                "scenario_type": rng.choice(sb.TYPES),
                "sort": "quality_score,desc",
                "page": rng.choice([0, 0, 0, 0, 1, 2]),
                "size": 20,
            }
        )
        for _ in range(2000)
    ]
    search = [
        "/api/v1/scenarios/search?" + urllib.parse.urlencode({"q": rng.choice(sb.SEARCH_WORDS)})
        for _ in range(2000)
    ]
    requests = {
        "by id": [f"/api/v1/scenarios/{i}" for i in targets["get"]],
        "list": lists,
        "search": search,
    }
    if conversations_until:
        with psycopg.connect(DB_URL) as conn:
            fifty = conn.execute(
                "SELECT id::text FROM conversations_conversation WHERE created_at <= %s AND depth = 0 "
                "AND message_count = 50 ORDER BY random() LIMIT 2000",
                [conversations_until],
            ).fetchall()
        requests["conversation"] = [f"/api/v1/conversations/{r[0]}" for r in fifty]
    return {name: p for name, p in requests.items() if wanted(name)}


def forget_shared_answers() -> None:
    """Start with no shared counts or search pages, on both sides, so an
    earlier run (seconds ago) never answers for this one."""
    for url, pattern in (
        ("redis://127.0.0.1:6379/11", f"bench:{DB_NAME}:core:*"),
        ("redis://127.0.0.1:6379/12", f"floor:{DB_NAME}:*"),
    ):
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(pattern, count=1000))
        if keys:
            client.delete(*keys)


def first_difference(a, b, path: str = "") -> str:
    """Where two JSON documents first differ, and the two values there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{index}]")
    return f"{path or '.'}: core {str(a)[:300]} / floor {str(b)[:300]}"


def same_answers(core: str, floor: str, requests: dict[str, list[str]]) -> None:
    """Stop unless both servers give the same document for a sample."""
    with httpx.Client(timeout=60) as client:
        for name, path_list in requests.items():
            for path in [*path_list[:15], *sorted(set(path_list))[:10]]:
                a, b = client.get(core + path), client.get(floor + path)
                if (a.status_code, a.json()) != (b.status_code, b.json()):
                    where = first_difference(a.json(), b.json())
                    raise SystemExit(f"{name}: core and floor differ on {path} at {where}")
    print("same JSON from core and floor on every sampled request")


def main() -> None:
    core_port, floor_port = free_port(), free_port()
    env = core_env(core_port)
    prepare_database(env)
    seed_users(env)
    seed = sb.seed_scenarios()
    # The conversation benchmark's 100,000 conversations and 1M messages, only when measured.
    conversations_until = (
        cb.seed_conversations(seed["seeded_until"])["seeded_until"] if wanted("conversation") else None
    )
    with psycopg.connect(DB_URL) as conn:
        scenarios = conn.execute("SELECT count(*) FROM scenarios_scenario").fetchone()[0]
    requests = paths(seed["seeded_until"], conversations_until)
    forget_shared_answers()
    wrk = ensure_wrk()
    core = start_core(core_port, env)
    floor = start_floor(floor_port)
    rows = []
    try:
        bases = {"core": f"http://127.0.0.1:{core_port}", "floor": f"http://127.0.0.1:{floor_port}"}
        same_answers(bases["core"], bases["floor"], requests)
        print(
            f"{scenarios} scenarios in {DB_NAME}; each server: gunicorn {WORKERS} workers x {THREADS} "
            f"threads; {SECONDS:.0f}s per run"
        )
        with tempfile.TemporaryDirectory() as workdir:
            for name, path_list in requests.items():
                lua = [lua_request("GET", p) for p in path_list]
                for clients in LEVELS:
                    measured = {}
                    for server, proc in (("core", core), ("floor", floor)):
                        measured[server] = drive(
                            wrk,
                            f"{server} {name} c{clients}",
                            bases[server],
                            lua,
                            clients,
                            Path(workdir),
                            target_p95=TARGETS[name],
                            core=proc,
                        )
                    rows.append(
                        {
                            "endpoint": name,
                            "concurrency": clients,
                            "core": measured["core"],
                            "floor": measured["floor"],
                            "ratio": measured["core"]["rps"] / measured["floor"]["rps"],
                        }
                    )
    finally:
        stop_core(core)
        os.killpg(floor.pid, signal.SIGTERM)
        floor.wait(timeout=30)
    print(
        f"\n{'endpoint':<13}{'c':>4}{'core req/s':>12}{'floor req/s':>13}{'core/floor':>12}"
        f"{'core p95 ms':>13}{'floor p95 ms':>14}{'errors':>8}"
    )
    for r in rows:
        errors = r["core"]["errors"] + r["floor"]["errors"]
        print(
            f"{r['endpoint']:<13}{r['concurrency']:>4}{r['core']['rps']:>12.0f}{r['floor']['rps']:>13.0f}"
            f"{r['ratio']:>12.2f}{r['core']['p95']:>13.1f}{r['floor']['p95']:>14.1f}{errors:>8}"
        )
    # BENCH_FLOOR_TAG names a variant (e.g. uncached-search) so it does not replace the main run.
    tag = "".join(f"-{part}" for part in (DB_NAME if DB_NAME != "gaji_bench" else "", TAG) if part)
    name = f"floor{tag}.json"
    write_results(
        name,
        {
            "scenarios": scenarios,
            "workers": WORKERS,
            "threads": THREADS,
            "seconds": SECONDS,
            "variant": TAG or None,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
