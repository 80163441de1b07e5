"""Start core, ai, the local engine (llama-server under its supervisor, on the
smallest real model) and the two Celery workers as real processes on free ports,
against a throwaway PostgreSQL database and Redis db, and tear them down.
Used by the end-to-end tests (tests-e2e/conftest.py) and by the chat
benchmark (ai-service/bench/chat_bench.py).

Everything here talks HTTP; nothing imports the services' code.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PG = os.environ.get("E2E_PG", "postgresql://postgres@127.0.0.1:5432")
# The e2e suite's Redis database. Benchmarks and the chaos run start their
# stacks on database 15 (BENCH_REDIS_URL below): two stacks on one database
# share Celery's queues, and one stack's workers would take the other's tasks.
REDIS_DB_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/12")
BENCH_REDIS_URL = "redis://127.0.0.1:6379/15"


def use_bench_redis() -> None:
    """Call before start_stack in a benchmark: its stack on its own database."""
    global REDIS_DB_URL
    REDIS_DB_URL = os.environ.get("BENCH_REDIS_URL", BENCH_REDIS_URL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    core_url: str
    ai_url: str
    service_token: str
    redis_url: str
    env: dict[str, str]
    tmp: Path
    prefix: str
    logs: dict[str, Path] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)  # log size when a worker started
    engine_url: str = ""

    def start(
        self, name: str, args: list[str], cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        handle = log.open("ab")
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_worker(
        self, name: str, env: dict[str, str] | None = None, concurrency: int = 1
    ) -> subprocess.Popen:
        """A Celery worker consuming WORKERS[name] (chat: generation, ingest: ingestion)
        with `concurrency` processes (make run: one chat process per engine slot)."""
        log = self.tmp / f"worker-{name}.log"
        self.marks[name] = log.stat().st_size if log.exists() else 0
        return self.start(
            f"worker-{name}",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "gaji_ai.worker",
                "worker",
                "-Q",
                WORKERS[name],
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--hostname",
                f"e2e-{name}-{self.prefix}@%h",
            ],
            ROOT / "ai-service",
            env,
        )

    def wait_worker(self, name: str, timeout: float = 120) -> None:
        """Until the worker started last under `name` logs that its process
        is ready (models loaded); earlier runs' lines in the log don't count."""
        deadline = time.monotonic() + timeout
        while True:
            raw = self.logs[f"worker-{name}"].read_bytes()[self.marks.get(name, 0) :]
            text = raw.decode(errors="replace")
            if "ready." in text and "worker process ready" in text:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} not ready:\n{text[-3000:]}")
            time.sleep(0.2)

    def stop(self, name: str, *, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL) the process group, and wait for it."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def log_text(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def log_lines_with(self, name: str, needle: str, timeout: float = 10.0) -> list[str]:
        """The log lines holding `needle`. A service writes its access-log
        line after the response has gone out, so wait (bounded) for it."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.log_text(name).splitlines() if needle in line]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)


def _wait_ready(url: str, proc: subprocess.Popen, name: str, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} not ready at {url}:\n{log.read_text()[-4000:]}")


WORKERS = {"chat": "generation", "ingest": "ingestion"}


@contextmanager
def start_stack(
    tmp: Path,
    *,
    extra_env: dict[str, str] | None = None,
    core_workers: int = 2,
    pg: str = PG,
) -> Iterator[Stack]:
    """core (gunicorn), ai (uvicorn) and one Celery worker per queue, on free
    ports, with a fresh database (dropped afterwards) on the PostgreSQL server
    `pg` and key prefixes of their own in the Redis db."""
    db_name = f"gaji_e2e_{uuid.uuid4().hex[:8]}"
    core_port, ai_port, engine_port = free_port(), free_port(), free_port()
    token = secrets.token_urlsafe(40)
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    env = dict(os.environ)
    env.update(
        GAJI_ENV="development",
        DATABASE_URL=f"{pg}/{db_name}",
        REDIS_URL=REDIS_DB_URL,
        CELERY_BROKER_URL=REDIS_DB_URL,
        REDIS_KEY_PREFIX=f"{prefix}:core",
        RATE_LIMIT_PREFIX=f"{prefix}:ai",
        SERVICE_TOKEN=token,
        CORE_BASE_URL=f"http://127.0.0.1:{core_port}",
        AI_BASE_URL=f"http://127.0.0.1:{ai_port}",
        AI_PUBLIC_URL=f"http://127.0.0.1:{ai_port}",
        # The web app is served by core: ai lets that origin call it (CORS).
        WEB_ORIGINS=f"http://127.0.0.1:{core_port}",
        AI_INTERNAL_URL=f"http://127.0.0.1:{ai_port}",
        QDRANT_PATH=str(tmp / "qdrant"),
        MEDIA_ROOT=str(tmp / "media"),
        # Mail (password resets) as files the tests read.
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp / "mail"),
        JWT_PRIVATE_KEY_PATH=str(tmp / "keys" / "jwt-private.pem"),
        RATE_LIMIT_SCALE="1000",
        # The URL import's happy path fetches from a server on 127.0.0.1 (tests only;
        # every refusal of a private address is tested in core's unit tests).
        NOVEL_IMPORT_ALLOW_LOOPBACK="true",
        LOG_LEVEL="INFO",
        CORE_BIND=f"127.0.0.1:{core_port}",
        CORE_WORKERS=str(core_workers),
        # The engine as `make run` starts it, on the smallest real model.
        LLM_LOCAL_MODEL="smollm2-135m-instruct",
        LLM_LOCAL_ENGINE="server",
        LLM_ENGINE_PORT=str(engine_port),
        LLM_ENGINE_SLOTS="2",
    )
    env.pop("QDRANT_URL", None)
    env.update(extra_env or {})
    core_dir, ai_dir = ROOT / "core-service", ROOT / "ai-service"
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "ensure_database"], cwd=core_dir, env=env, check=True
    )
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=core_dir,
        env=env,
        check=True,
    )
    stack = Stack(
        core_url=f"http://127.0.0.1:{core_port}",
        ai_url=f"http://127.0.0.1:{ai_port}",
        service_token=token,
        redis_url=REDIS_DB_URL,
        env=env,
        tmp=tmp,
        prefix=prefix,
    )
    stack.engine_url = f"http://127.0.0.1:{engine_port}"
    try:
        engine = stack.start("engine", [str(VENV_BIN / "python"), "-m", "gaji_ai.llm.engine"], ai_dir)
        core = stack.start(
            "core",
            [str(VENV_BIN / "gunicorn"), "config.wsgi:application", "-c", "gunicorn.conf.py"],
            core_dir,
        )
        ai = stack.start(
            "ai",
            [str(VENV_BIN / "uvicorn"), "gaji_ai.main:app", "--no-proxy-headers", "--port", str(ai_port)],
            ai_dir,
        )
        for name in WORKERS:
            stack.start_worker(name)
        _wait_ready(f"{stack.core_url}/readyz", core, "core", stack.logs["core"])
        _wait_ready(f"{stack.ai_url}/healthz", ai, "ai", stack.logs["ai"])
        _wait_ready(f"{stack.engine_url}/health", engine, "engine", stack.logs["engine"])
        yield stack
    finally:
        for name in list(stack.procs):
            stack.stop(name)
        with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
