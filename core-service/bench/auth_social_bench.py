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

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core-service"
VENV_BIN = Path(sys.executable).parent
DB_NAME = os.environ.get("BENCH_DB", "gaji_bench")
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
USERS = int(os.environ.get("BENCH_USERS", "50000"))
FOLLOWS_PER_USER = 4  # 4 x 50,000 = 200,000 follows
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
PASSWORD = "BenchPass123"

# p95 targets from gaji-api-spec.txt
TARGETS_MS = {
    "register": 200,
    "login": 100,
    "refresh": 50,
    "get profile": 100,
    "follow": 100,
    "followers list": 200,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def core_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=f"{PG}/{DB_NAME}",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        SERVICE_TOKEN=secrets.token_urlsafe(48),
        RATE_LIMIT_SCALE="1000000",
        REDIS_URL="redis://127.0.0.1:6379/11",
        LOG_LEVEL="WARNING",
        CORE_BIND=f"127.0.0.1:{port}",
        CORE_WORKERS=str(WORKERS),
        CORE_THREADS=str(THREADS),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        JWT_PRIVATE_KEY_PATH=str(ROOT / "var" / "keys" / "jwt-private.pem"),
    )
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=CORE, env=env, check=True)


def seed(env: dict[str, str]) -> None:
    # Make sure the signing key exists (created outside production only).
    dev_env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    manage("ensure_database", env=dev_env)
    manage("migrate", "--no-input", "-v", "0", env=dev_env)
    with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
        have = conn.execute(
            "SELECT count(*) FROM accounts_user WHERE email LIKE 'bench%%@bench.local'"
        ).fetchone()[0]
        follows = conn.execute("SELECT count(*) FROM social_follow").fetchone()[0]
        if have >= USERS and follows >= USERS * FOLLOWS_PER_USER:
            print(f"seed: reusing {have} users and {follows} follows in {DB_NAME}")
            return
        print(f"seed: creating {USERS} users and {USERS * FOLLOWS_PER_USER} follows in {DB_NAME} ...")
        started = time.perf_counter()
        hashed = subprocess.run(
            [
                str(VENV_BIN / "python"),
                "-c",
                "import django; django.setup(); from django.contrib.auth.hashers import make_password; "
                f"print(make_password('{PASSWORD}'))",
            ],
            cwd=CORE,
            env=dev_env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        conn.execute("DELETE FROM social_follow")
        conn.execute("DELETE FROM accounts_user WHERE email LIKE 'bench%%@bench.local'")
        conn.execute(
            """
            INSERT INTO accounts_user (id, email, username, password, bio, avatar_url, is_active,
                                       is_staff, is_superuser, created_at, updated_at)
            SELECT gen_random_uuid(), 'bench' || i || '@bench.local', 'bench_' || i, %s,
                   'Bench reader ' || i, '', true, false, false,
                   now() - (i || ' seconds')::interval, now()
            FROM generate_series(1, %s) AS i
            """,
            [hashed, USERS],
        )
        conn.execute(
            """
            WITH u AS (
                SELECT id, substring(username FROM 7)::int AS n FROM accounts_user
                WHERE username LIKE 'bench\\_%%'
            )
            INSERT INTO social_follow (follower_id, following_id, created_at)
            SELECT a.id, b.id, now() - ((a.n * 4 + k) || ' seconds')::interval
            FROM u a CROSS JOIN generate_series(1, %s) AS k
            JOIN u b ON b.n = ((a.n + k * 7919) %% %s) + 1
            ON CONFLICT DO NOTHING
            """,
            [FOLLOWS_PER_USER, USERS],
        )
        conn.execute("ANALYZE accounts_user")
        conn.execute("ANALYZE social_follow")
        print(f"seed: done in {time.perf_counter() - started:.1f}s")


def sample_users(n: int) -> list[tuple[str, str, str]]:
    with psycopg.connect(f"{PG}/{DB_NAME}") as conn:
        rows = conn.execute(
            "SELECT id::text, email, username FROM accounts_user WHERE email LIKE 'bench%%@bench.local' "
            "ORDER BY random() LIMIT %s",
            [n],
        ).fetchall()
    return [tuple(r) for r in rows]


def start_core(port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "config.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=CORE,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("core did not become ready")


LUA_TEMPLATE = r"""
local reqs = {
%(requests)s
}
local prepared = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Each wrk thread takes a disjoint slice, so one-shot bodies (register)
  -- are never sent twice.
  for i = tid + 1, #reqs, %(threads)d do
    local r = reqs[i]
    table.insert(prepared, wrk.format(r[1], r[2], r[3], r[4]))
  end
end

function request()
  counter = counter + 1
  return prepared[((counter - 1) %% #prepared) + 1]
end

function done(summary, latency, requests)
  io.write(string.format(
    "BENCH {\"requests\": %%d, \"duration_us\": %%d, \"status_errors\": %%d, \"socket_errors\": %%d, " ..
    "\"p50\": %%d, \"p95\": %%d, \"p99\": %%d}\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def lua_request(method: str, path: str, *, token: str | None = None, body: dict | None = None) -> str:
    headers = ['["Content-Type"]=' + lua_string("application/json")]
    if token:
        headers.append('["Authorization"]=' + lua_string(f"Bearer {token}"))
    payload = lua_string(json.dumps(body)) if body is not None else "nil"
    return f"  {{{lua_string(method)}, {lua_string(path)}, {{{', '.join(headers)}}}, {payload}}},"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("installing wrk (apt-get) ...")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def drive(wrk: str, name: str, base: str, requests: list[str], clients: int, workdir: Path) -> dict:
    """Run wrk with `clients` connections over the prepared requests."""
    threads = min(2, clients)
    script = workdir / f"{name.replace(' ', '_').replace('(', '').replace(')', '')}.lua"
    script.write_text(LUA_TEMPLATE % {"requests": "\n".join(requests), "threads": threads})
    args = [wrk, f"-t{threads}", f"-c{clients}", f"-d{SECONDS:.0f}s", "--timeout", "30s"]
    out = subprocess.run(
        [*args, "-s", str(script), base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    raw = json.loads(line[len("BENCH ") :])
    return {
        "endpoint": name,
        "concurrency": clients,
        "requests": raw["requests"],
        "errors": raw["status_errors"] + raw["socket_errors"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50": raw["p50"] / 1000,
        "p95": raw["p95"] / 1000,
        "p99": raw["p99"] / 1000,
        "target_p95": TARGETS_MS[name.split(" (")[0]],
    }


def login_tokens(base: str, users: list[tuple[str, str, str]]) -> list[dict]:
    tokens = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _, email, _ in users:
            r = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            tokens.append(r.json()["tokens"])
    return tokens


def run_all(base: str, workdir: Path) -> list[dict]:
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
        result = drive(wrk, name, base, requests, clients, workdir)
        results.append(result)
        print(
            f"  {name:<17} {result['requests']:>6} req  {result['rps']:>7.1f} req/s  "
            f"p50 {result['p50']:>7.1f}  p95 {result['p95']:>7.1f}  p99 {result['p99']:>7.1f} ms",
            flush=True,
        )
    return results


def main() -> None:
    port = free_port()
    env = core_env(port)
    seed(env)
    proc = start_core(port, env)
    try:
        print(
            f"core: gunicorn {WORKERS} gthread workers x {THREADS} threads, {os.cpu_count()} CPUs; "
            f"load: {CONCURRENCY} concurrent clients, {SECONDS:.0f}s per endpoint"
        )
        with tempfile.TemporaryDirectory() as workdir:
            results = run_all(f"http://127.0.0.1:{port}", Path(workdir))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    print()
    print(
        f"{'endpoint':<18}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'target p95':>12}{'errors':>8}"
    )
    for r in results:
        verdict = "ok" if r["p95"] <= r["target_p95"] else "OVER"
        print(
            f"{r['endpoint']:<18}{r['concurrency']:>8}{r['rps']:>9.1f}"
            f"{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
            f"{'< ' + str(r['target_p95']) + ' ' + verdict:>12}{r['errors']:>8}"
        )
    out = ROOT / "var" / "bench" / "auth_social.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nraw results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
