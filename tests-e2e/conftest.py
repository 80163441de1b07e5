"""Start core, ai and the Celery worker as real processes on free ports,
against a throwaway PostgreSQL database and Redis db, and tear them down.

Everything here talks HTTP; nothing imports the services' code except the
Celery client used to send a task to the real worker.
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PG = os.environ.get("E2E_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_DB_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/12")


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
    logs: dict[str, Path] = field(default_factory=dict)

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


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    tmp = tmp_path_factory.mktemp("e2e")
    db_name = f"gaji_e2e_{uuid.uuid4().hex[:8]}"
    core_port, ai_port = free_port(), free_port()
    token = secrets.token_urlsafe(40)
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    env = dict(os.environ)
    env.update(
        GAJI_ENV="development",
        DATABASE_URL=f"{PG}/{db_name}",
        REDIS_URL=REDIS_DB_URL,
        CELERY_BROKER_URL=REDIS_DB_URL,
        REDIS_KEY_PREFIX=f"{prefix}:core",
        RATE_LIMIT_PREFIX=f"{prefix}:ai",
        SERVICE_TOKEN=token,
        CORE_BASE_URL=f"http://127.0.0.1:{core_port}",
        AI_BASE_URL=f"http://127.0.0.1:{ai_port}",
        AI_INTERNAL_URL=f"http://127.0.0.1:{ai_port}",
        QDRANT_PATH=str(tmp / "qdrant"),
        MEDIA_ROOT=str(tmp / "media"),
        JWT_PRIVATE_KEY_PATH=str(tmp / "keys" / "jwt-private.pem"),
        RATE_LIMIT_SCALE="1000",
        LOG_LEVEL="INFO",
        CORE_BIND=f"127.0.0.1:{core_port}",
        CORE_WORKERS="2",
    )
    env.pop("QDRANT_URL", None)
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

    procs: list[subprocess.Popen] = []
    logs: dict[str, Path] = {}

    def start(name: str, args: list[str], cwd: Path) -> subprocess.Popen:
        log = tmp / f"{name}.log"
        logs[name] = log
        handle = log.open("wb")
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        procs.append(proc)
        return proc

    core = start(
        "core",
        [str(VENV_BIN / "gunicorn"), "config.wsgi:application", "-c", "gunicorn.conf.py"],
        core_dir,
    )
    ai = start(
        "ai",
        [str(VENV_BIN / "uvicorn"), "gaji_ai.main:app", "--no-proxy-headers", "--port", str(ai_port)],
        ai_dir,
    )
    start(
        "worker",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "gaji_ai.worker",
            "worker",
            "-Q",
            "ingestion,generation",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--hostname",
            f"e2e-{prefix}@%h",
        ],
        ai_dir,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{core_port}/readyz", core, "core", logs["core"])
        _wait_ready(f"http://127.0.0.1:{ai_port}/healthz", ai, "ai", logs["ai"])
        yield Stack(
            core_url=f"http://127.0.0.1:{core_port}",
            ai_url=f"http://127.0.0.1:{ai_port}",
            service_token=token,
            redis_url=REDIS_DB_URL,
            env=env,
            logs=logs,
        )
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@pytest.fixture
def staff_token(stack, core) -> str:
    """An access token of the demo staff user (seed_demo, idempotent)."""
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "seed_demo"],
        cwd=ROOT / "core-service",
        env=stack.env,
        check=True,
        capture_output=True,
    )
    response = core.post("/api/v1/auth/login", json={"email": "admin@gaji.local", "password": "GajiAdmin123"})
    assert response.status_code == 200, response.text
    return response.json()["tokens"]["access_token"]


@pytest.fixture
def core(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.core_url, timeout=30) as client:
        yield client


@pytest.fixture
def ai(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.ai_url, timeout=30) as client:
        yield client


@pytest.fixture
def reader(core) -> dict:
    """A freshly registered reader: {user, tokens, password}."""
    tag = uuid.uuid4().hex[:10]
    password = "E2ePassw0rd"
    response = core.post(
        "/api/v1/auth/register",
        json={"email": f"e2e_{tag}@example.com", "username": f"e2e_{tag}", "password": password},
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "password": password}
