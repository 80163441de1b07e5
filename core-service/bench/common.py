"""Shared machinery of the benchmarks in this folder: the `gaji_bench`
database and its bench users, core under gunicorn with production settings,
wrk over prepared request lists, and the results table.

The scripts run as `python core-service/bench/<name>.py`, so this module is
imported as `common` from this folder (core's own `common` package is not on
the bench's path: the bench talks to core over HTTP and SQL only).
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core-service"
VENV_BIN = Path(sys.executable).parent
DB_NAME = os.environ.get("BENCH_DB", "gaji_bench")
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB_URL = f"{PG}/{DB_NAME}"
USERS = int(os.environ.get("BENCH_USERS", "50000"))
FOLLOWS_PER_USER = 4  # 4 x 50,000 = 200,000 follows
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
PASSWORD = "BenchPass123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def core_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=DB_URL,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        SERVICE_TOKEN=secrets.token_urlsafe(48),
        RATE_LIMIT_SCALE="1000000",
        REDIS_URL="redis://127.0.0.1:6379/11",
        # One key space per database: shared counts and search pages of one
        # database must never answer for another run on another size.
        REDIS_KEY_PREFIX=f"bench:{DB_NAME}:core",
        LOG_LEVEL="WARNING",
        CORE_BIND=f"127.0.0.1:{port}",
        CORE_WORKERS=str(WORKERS),
        CORE_THREADS=str(THREADS),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        JWT_PRIVATE_KEY_PATH=str(ROOT / "var" / "keys" / "jwt-private.pem"),
    )
    return env


def dev_env(env: dict[str, str]) -> dict[str, str]:
    """Local settings: may create the signing key and the database."""
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"}


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=CORE, env=env, check=True)


def prepare_database(env: dict[str, str]) -> None:
    """Create `gaji_bench` if missing and apply every migration."""
    manage("ensure_database", env=dev_env(env))
    manage("migrate", "--no-input", "-v", "0", env=dev_env(env))


def seed_users(env: dict[str, str]) -> None:
    """50,000 users bench_1..bench_50000 (password BenchPass123, one shared
    Argon2 hash) and 200,000 follows, unless already there. Call
    prepare_database first."""
    with psycopg.connect(DB_URL, autocommit=True) as conn:
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
            env=dev_env(env),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        # Scenarios point at their creators (PROTECT): reseeding the users
        # drops the scenario seed too (scenarios_bench.py recreates it).
        conn.execute("TRUNCATE scenarios_scenario CASCADE")
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
    """n random bench users as (id, email, username)."""
    with psycopg.connect(DB_URL) as conn:
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
    stop_core(proc)
    raise SystemExit("core did not become ready")


def stop_core(proc: subprocess.Popen) -> None:
    """Stop gunicorn; after its graceful timeout (20 s: requests a load run
    left behind may still be running), kill what is left."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, process group, CPU seconds used so far), Linux."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process has gone
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()  # state, ppid, pgrp, ..., utime, stime
        found[int(stat.parent.name)] = (comm, int(fields[2]), (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _group_cpu_seconds(pgid: int) -> float:
    return sum(cpu for _, group, cpu in _processes().values() if group == pgid)


def _busy_cpu_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """CPU used during a run by processes that are not part of the benchmark
    (not core's gunicorn, wrk, this script, Redis, or PostgreSQL other than
    client backends of other databases): on a shared machine, a run with
    much other load measured the neighbours too. Kernel work for loopback
    traffic counts as other, so a quiet machine reads about 0.1."""

    def __init__(self, core: subprocess.Popen | None) -> None:
        self.pgid = core.pid if core is not None else None
        self.started = time.perf_counter()
        self.busy = _busy_cpu_seconds()
        self.children = self._children_cpu()
        self.before = _processes()

    @staticmethod
    def _children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _foreign_backends() -> set[int]:
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND datname IS DISTINCT FROM %s",
                [DB_NAME],
            ).fetchall()
        return {r[0] for r in rows}

    def cpus(self) -> float:
        """Average number of CPUs the other processes kept busy."""
        after = _processes()
        foreign = self._foreign_backends()
        ours = self._children_cpu() - self.children
        for pid, (comm, group, cpu) in after.items():
            mine = pid == os.getpid() or (self.pgid is not None and group == self.pgid)
            if mine or comm == "redis-server" or (comm == "postgres" and pid not in foreign):
                before = self.before.get(pid)
                ours += cpu - (before[2] if before and before[0] == comm else 0.0)
        elapsed = time.perf_counter() - self.started
        return max(0.0, (_busy_cpu_seconds() - self.busy - ours) / elapsed)


def wait_idle(proc: subprocess.Popen, *, timeout: float = 120) -> float:
    """Wait until core has finished the requests wrk left behind (wrk stops
    after its duration, but requests it sent keep the workers and PostgreSQL
    busy) so they do not slow down the next endpoint's run: no active query
    on the bench database and gunicorn's processes nearly idle. Returns the
    seconds waited."""
    started = time.perf_counter()
    quiet = 0
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        cpu = _group_cpu_seconds(proc.pid)
        while time.perf_counter() - started < timeout:
            time.sleep(0.25)
            now = _group_cpu_seconds(proc.pid)
            active = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                "AND pid <> pg_backend_pid()",
                [DB_NAME],
            ).fetchone()[0]
            quiet = quiet + 1 if now - cpu < 0.03 and not active else 0
            cpu = now
            if quiet >= 2:
                return time.perf_counter() - started
    print(f"  (core still busy after {timeout:.0f}s; measuring anyway)")
    return time.perf_counter() - started


def login_tokens(base: str, users: list[tuple[str, str, str]]) -> list[dict]:
    """{access_token, refresh_token} of each (id, email, username)."""
    tokens = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _, email, _ in users:
            r = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            tokens.append(r.json()["tokens"])
    return tokens


# wrk counts only status >= 400 as errors; response() counts every status so
# any non-2xx (3xx included) is an error here, and keeps one failing body.
LUA_TEMPLATE = r"""
local reqs = {
%(requests)s
}
local prepared = {}
local counter = 0
local threads = {}
statuses = {}
sample = nil

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

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and sample == nil then
    sample = status .. " " .. string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local total = {}
  local first = nil
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses") or {}) do
      total[status] = (total[status] or 0) + n
    end
    first = first or t:get("sample")
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format("\"%%d\": %%d", status, n))
  end
  io.write(string.format(
    "BENCH {\"requests\": %%d, \"duration_us\": %%d, \"bytes\": %%d, \"status_errors\": %%d, " ..
    "\"socket_errors\": %%d, \"connect\": %%d, \"read\": %%d, \"write\": %%d, \"timeout\": %%d, " ..
    "\"p50\": %%d, \"p95\": %%d, \"p99\": %%d, \"statuses\": {%%s}}\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), table.concat(parts, ", ")))
  if first then
    io.write("BENCH_SAMPLE " .. string.gsub(first, "[\r\n]", " ") .. "\n")
  end
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


def drive(
    wrk: str,
    name: str,
    base: str,
    requests: list[str],
    clients: int,
    workdir: Path,
    *,
    target_p95: float,
    core: subprocess.Popen | None = None,
    seconds: float = SECONDS,
) -> dict:
    """Run wrk with `clients` connections over the prepared requests (cycled)
    for `seconds`; print one line and return the numbers. Errors are non-2xx
    responses plus socket errors (connect/read/write/timeout). With `core`,
    first wait for the server to finish earlier runs' requests."""
    waited = wait_idle(core) if core is not None else 0.0
    other = OtherLoad(core)
    threads = min(2, clients)
    safe = "".join(c if c.isalnum() else "_" for c in name)
    script = workdir / f"{safe}.lua"
    script.write_text(LUA_TEMPLATE % {"requests": "\n".join(requests), "threads": threads})
    args = [wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "30s"]
    out = subprocess.run(
        [*args, "-s", str(script), base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    other_cpus = other.cpus()
    lines = out.splitlines()
    raw = json.loads(next(line for line in lines if line.startswith("BENCH "))[len("BENCH ") :])
    sample = next((line[len("BENCH_SAMPLE ") :] for line in lines if line.startswith("BENCH_SAMPLE ")), None)
    statuses = {int(k): v for k, v in sorted(raw["statuses"].items())}
    non_2xx = sum(n for status, n in statuses.items() if not 200 <= status <= 299)
    result = {
        "endpoint": name,
        "concurrency": clients,
        "requests": raw["requests"],
        "errors": non_2xx + raw["socket_errors"],
        "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout") if raw[k]},
        "statuses": statuses,
        "error_sample": sample,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "bytes_per_response": raw["bytes"] / raw["requests"] if raw["requests"] else 0,
        "p50": raw["p50"] / 1000,
        "p95": raw["p95"] / 1000,
        "p99": raw["p99"] / 1000,
        "target_p95": target_p95,
        "waited_idle_s": round(waited, 1),
        "other_cpus": round(other_cpus, 2),
    }
    note = f"  (waited {waited:.0f}s for core to go idle)" if waited >= 2 else ""
    if other_cpus >= 0.3:
        note += f"  (other processes kept {other_cpus:.1f} CPUs busy)"
    print(
        f"  {name:<17} {result['requests']:>6} req  {result['rps']:>7.1f} req/s  "
        f"p50 {result['p50']:>7.1f}  p95 {result['p95']:>7.1f}  p99 {result['p99']:>7.1f} ms"
        f"  errors {result['errors']}{note}",
        flush=True,
    )
    if result["errors"]:
        print(f"    statuses {statuses}, socket errors {result['socket_errors']}; first failure: {sample}")
    return result


def print_table(results: list[dict]) -> None:
    width = max([18, *(len(r["endpoint"]) + 1 for r in results)])
    print(
        f"{'endpoint':<{width}}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'target p95':>12}{'errors':>8}{'other CPU':>11}"
    )
    for r in results:
        verdict = "ok" if r["p95"] <= r["target_p95"] else "OVER"
        print(
            f"{r['endpoint']:<{width}}{r['concurrency']:>8}{r['rps']:>9.1f}"
            f"{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
            f"{'< ' + str(r['target_p95']) + ' ' + verdict:>12}{r['errors']:>8}{r['other_cpus']:>11.1f}"
        )
    noisy = [r["endpoint"] for r in results if r["other_cpus"] >= 0.3]
    if noisy:
        print(
            f"other CPU: CPUs kept busy by processes outside the benchmark during the run; "
            f"{', '.join(noisy)} shared the machine with them, so their numbers are pessimistic."
        )


def write_results(filename: str, data) -> Path:
    out = ROOT / "var" / "bench" / filename
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, default=str))
    print(f"\nraw results: {out.relative_to(ROOT)}")
    return out
