"""The local inference engine: llama.cpp's own server (`llama-server`), one
process holding the one copy of the local model, serving every chat worker
through its OpenAI-compatible API with parallel slots (continuous batching,
a prompt cache per slot and a bounded one in RAM shared by all slots).

    python -m gaji_ai.llm.engine            # supervise: start, restart when it dies
    python -m gaji_ai.llm.engine --print    # the command line it would run

The binary is built by setup from the llama.cpp source vendored in the
llama-cpp-python sdist, for a portable CPU profile
(deploy/scripts/llama-server.sh) and installed as `<venv>/bin/llama-server`.
The supervisor restarts a dead server with backoff (1 s doubling to 30 s,
back to 1 s after a minute of uptime); ai's `/readyz` reports it through
`GET /health`. A crash mid-answer ends that turn `failed` (the provider's
stream breaks); the next turn is answered once the server is back.

Threads: llama.cpp's threads wait on each other at every step, so a busy
core next to them slows every stream many times over; the engine therefore
runs above the ingestion worker (setup gives ingestion the lowest CPU
priority and one torch thread: deploy/scripts/run-all.sh) and its own wait
policy is passive (OMP_WAIT_POLICY), see bench/REPORT.md "Engine beside
ingestion"."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from gaji_ai.config import get_settings
from gaji_ai.llm import models
from gaji_ai.llm.local_config import cpu_signature

logger = logging.getLogger("gaji_ai.llm.engine")

RECORD_PATH = Path(
    os.environ.get(
        "LLM_ENGINE_RECORD", Path(__file__).resolve().parents[3] / "var" / "llm-engine.json"
    )
)
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0
# How long a stopping llama-server may take to exit on SIGTERM before it is
# killed: its graceful shutdown was seen hanging (after make run's Ctrl-C
# reached the supervisor only), which kept make run from ever returning.
STOP_GRACE_SECONDS = 10.0


def binary_path() -> str:
    """`llama-server` next to this interpreter (setup installs it there)."""
    override = os.environ.get("LLM_ENGINE_BINARY")
    if override:
        return override
    return str(Path(sys.executable).parent / "llama-server")


def binary_signature(path: str | None = None) -> str:
    """Which build: the venv's marker (profile, hash), else the file's size."""
    path = path or binary_path()
    marker = Path(path).parent.parent / ".llama-server"
    with contextlib.suppress(OSError):
        return marker.read_text().strip()
    with contextlib.suppress(OSError):
        return f"size:{Path(path).stat().st_size}"
    return "missing"


@dataclass(frozen=True)
class EngineConfig:
    model: str  # catalogue name (gaji_ai.llm.models)
    host: str = "127.0.0.1"
    port: int = 8090
    slots: int = 4
    context_per_slot: int = 2048
    threads: int = 2
    cache_ram_mib: int = 256
    repack: bool = True
    binary: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_settings(cls, settings) -> EngineConfig:
        llm = settings.llm
        return cls(
            model=llm.llm_local_model,
            host=llm.llm_engine_host,
            port=llm.llm_engine_port,
            slots=llm.llm_engine_slots,
            context_per_slot=llm.llm_context_tokens,
            threads=llm.llm_threads,
            cache_ram_mib=llm.llm_engine_cache_mib,
            repack=repack_allowed(llm.llm_local_extra_bufts, llm.llm_local_model),
        )

    def argv(self) -> list[str]:
        """The server's command line."""
        return [
            self.binary or binary_path(),
            "--model",
            models.model_path(self.model),
            "--alias",
            self.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
            # One window per slot: the context is split evenly between them.
            "--parallel",
            str(self.slots),
            "--ctx-size",
            str(self.slots * self.context_per_slot),
            "--threads",
            str(self.threads),
            "--threads-batch",
            str(self.threads),
            "--flash-attn",
            "auto",
            # The RAM prompt cache (shared by the slots) is bounded: its default is 8 GiB.
            "--cache-ram",
            str(self.cache_ram_mib),
            "--jinja",
            "--no-webui",
            "--metrics",
            # Warnings and errors only: per-request timings are in /metrics.
            "--verbosity",
            "2",
            *([] if self.repack else ["--no-repack"]),
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # Threads sleep rather than spin while waiting for each other: a
        # spinning thread takes a core that a sibling or another process needs.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env


def read_record(path: Path = RECORD_PATH) -> dict:
    """The self-test's outcomes per model for this CPU and this binary."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    if record.get("cpu") != cpu_signature() or record.get("binary") != binary_signature():
        return {}
    return record.get("models") or {}


def repack_allowed(setting: str | None, model: str, path: Path = RECORD_PATH) -> bool:
    """Weight repacking (llama.cpp's extra buffer types) as LLM_LOCAL_EXTRA_BUFTS
    says; `auto`: only where the self-test ran this model with it here."""
    choice = (setting or "auto").strip().lower()
    if choice in {"on", "true", "1"}:
        return True
    if choice in {"off", "false", "0"}:
        return False
    outcome = read_record(path).get(model) or {}
    return outcome.get("repack") is True


def healthy(url: str, timeout: float = 2.0) -> bool:
    """The server answers /health with 200 (model loaded, ready for requests)."""
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


async def check_health(url: str) -> None:
    """For ai's /readyz: raises unless the engine is loaded and answering."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        response = await client.get(f"{url}/health")
    if response.status_code != 200:
        raise EngineNotReady(f"engine answered {response.status_code}")


class EngineNotReady(Exception):
    pass


def wait_healthy(url: str, timeout: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if healthy(url, timeout=1.0):
            return True
        time.sleep(0.2)
    return False


def _kill_if_running(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()


class Supervisor:
    """Runs the server and starts it again whenever it exits, until stopped."""

    def __init__(self, config: EngineConfig, *, say=print) -> None:
        self.config = config
        self.say = say
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()

    def stop(self, *_: object) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            killer = threading.Timer(STOP_GRACE_SECONDS, _kill_if_running, args=(process,))
            killer.daemon = True
            killer.start()

    def run(self) -> int:
        delay = BACKOFF_FIRST_SECONDS
        argv = self.config.argv()
        while not self._stopping.is_set():
            started = time.monotonic()
            self.say(f"engine: starting {' '.join(argv)}")
            self.process = subprocess.Popen(argv, env=self.config.environment())
            if wait_healthy(self.config.url, timeout=300, process=self.process):
                self.say(f"engine: ready at {self.config.url} ({self.config.model})")
            code = self.process.wait()
            if self._stopping.is_set():
                break
            uptime = time.monotonic() - started
            delay = BACKOFF_FIRST_SECONDS if uptime > STABLE_SECONDS else delay
            self.restarts += 1
            self.say(
                f"engine: llama-server exited ({describe(code)}) after {uptime:.0f} s; "
                f"restarting in {delay:.0f} s (restart {self.restarts})"
            )
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return 0


def describe(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the command line and exit")
    args = parser.parse_args(argv)
    config = EngineConfig.from_settings(get_settings())
    try:
        command = config.argv()
    except models.ModelUnavailable as exc:
        print(f"engine: {exc}", file=sys.stderr, flush=True)
        return 1
    if args.print:
        print(" ".join(command))
        return 0
    if not Path(command[0]).exists():
        print(
            f"engine: {command[0]} is missing; `make deps` builds it "
            "(deploy/scripts/llama-server.sh)",
            file=sys.stderr,
            flush=True,
        )
        return 1
    supervisor = Supervisor(config, say=lambda line: print(line, flush=True))
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
