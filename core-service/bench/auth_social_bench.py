#!/usr/bin/env python
"""Benchmark of the auth and social endpoints against production-like core.

    make bench                      # or: .venv/bin/python core-service/bench/auth_social_bench.py
    BENCH_SECONDS=20 BENCH_CONCURRENCY=32 make bench

What it does:
1. Creates (once) the database `gaji_bench` with 50,000 users and 200,000
   follows (bulk SQL; every bench user shares one Argon2 hash).
2. Starts core under gunicorn (gthread workers, production settings,
   rate limits scaled out of the way) on a free port.
3. Drives each endpoint for BENCH_SECONDS with BENCH_CONCURRENCY
   concurrent connections using wrk (installed with apt-get if missing; a C
   load generator, so the client steals little CPU from the server) over
   prepared request lists, and prints p50/p95/p99 latency and requests/s
   next to the API spec's p95 target.

It prints numbers; it asserts nothing. wrk, PostgreSQL and Redis share the
machine's cores with the server, so these are lower bounds.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
import uuid
from pathlib import Path

from common import (
    CONCURRENCY,
    FOLLOWS_PER_USER,
    PASSWORD,
    SECONDS,
    THREADS,
    USERS,
    WORKERS,
    core_env,
    drive,
    ensure_wrk,
    free_port,
    login_tokens,
    lua_request,
    prepare_database,
    print_table,
    sample_users,
    seed_users,
    start_core,
    stop_core,
    write_results,
)

# p95 targets from gaji-api-spec.txt
TARGETS_MS = {
    "register": 200,
    "login": 100,
    "refresh": 50,
    "get profile": 100,
    "follow": 100,
    "followers list": 200,
}


def run_all(base: str, workdir: Path, core: subprocess.Popen) -> list[dict]:
    wrk = ensure_wrk()
    users = sample_users(2000)
    actors = users[:CONCURRENCY]
    tokens = login_tokens(base, actors)
    run_id = uuid.uuid4().hex[:8]
    rng = random.Random(7)
    one_shot = int(SECONDS * 600)  # more register bodies than a run can use

    register = [
        lua_request(
            "POST",
            "/api/v1/auth/register",
            body={"email": f"r{run_id}_{i}@bench.local", "username": f"r{run_id}_{i}", "password": PASSWORD},
        )
        for i in range(one_shot)
    ]
    login = [
        lua_request("POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})
        for _, email, _ in users[:500]
    ]
    refresh = [
        lua_request("POST", "/api/v1/auth/refresh", body={"refresh_token": t["refresh_token"]})
        for t in tokens
    ]
    profile = [lua_request("GET", f"/api/v1/users/{username}") for _, _, username in users]
    actor_ids = {a[0] for a in actors}
    targets = [u[0] for u in users if u[0] not in actor_ids]
    follow = [
        lua_request(
            "POST",
            f"/api/v1/users/{rng.choice(targets)}/follow",
            token=tokens[i % len(tokens)]["access_token"],
        )
        for i in range(2000)
    ]
    followers = [
        lua_request("GET", f"/api/v1/users/{user_id}/followers?page=0&size=20") for user_id, _, _ in users
    ]

    results = []
    # Argon2 is CPU-bound by design: with more clients than cores a login
    # waits for others' hashes, so also measure one client alone.
    for name, requests, clients in [
        ("login (1 client)", login, 1),
        ("register", register, CONCURRENCY),
        ("login", login, CONCURRENCY),
        ("refresh", refresh, CONCURRENCY),
        ("get profile", profile, CONCURRENCY),
        ("follow", follow, CONCURRENCY),
        ("followers list", followers, CONCURRENCY),
    ]:
        target = TARGETS_MS[name.split(" (")[0]]
        results.append(drive(wrk, name, base, requests, clients, workdir, target_p95=target, core=core))
    return results


def main() -> None:
    port = free_port()
    env = core_env(port)
    prepare_database(env)
    seed_users(env)
    proc = start_core(port, env)
    try:
        print(
            f"core: gunicorn {WORKERS} gthread workers x {THREADS} threads, {os.cpu_count()} CPUs; "
            f"load: {CONCURRENCY} concurrent clients, {SECONDS:.0f}s per endpoint"
        )
        with tempfile.TemporaryDirectory() as workdir:
            results = run_all(f"http://127.0.0.1:{port}", Path(workdir), proc)
    finally:
        stop_core(proc)
    print()
    print_table(results)
    write_results(
        "auth_social.json",
        {
            "config": {
                "workers": WORKERS,
                "threads": THREADS,
                "cpus": os.cpu_count(),
                "concurrency": CONCURRENCY,
                "seconds": SECONDS,
            },
            "seed": {"users": USERS, "follows": USERS * FOLLOWS_PER_USER},
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
