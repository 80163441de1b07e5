#!/usr/bin/env python
"""Fault injection against the real stack (`make chaos`): for each fault,
what a user sees and what is lost. Prints one table; exits non-zero when a
case loses data or leaves something stuck.

    .venv/bin/python tests-e2e/chaos.py

The stack (tests-e2e/stack.py) runs on a private Redis server started here
on a free port, so stopping Redis hurts nothing else on the machine. Cases:

1. the ai service down while a reader sends a message;
2. core down while a generation completes (the worker retries the save);
3. the chat worker killed mid-answer (kill -9), and the local model
   crashing its pool process (SIGSEGV) mid-answer;
4. the ingestion worker killed mid-ingest;
5. a hanging LLM provider (an OpenAI-compatible server that never answers);
6. Redis stopped while a reader browses, and during a stream;
7. PostgreSQL stopped for a few seconds and started again while readers
   browse and send messages, with an answer in flight.

PostgreSQL is private too: a cluster made here with initdb (in a temp dir,
on a free port, as the `postgres` user when run as root), so restarting it
hurts nothing else on the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import ROOT, VENV_BIN, free_port, start_stack, use_bench_redis
from test_conversations_journey import read_stream

use_bench_redis()  # not the e2e suite's database: a run beside `make test-e2e` stays apart

ROWS: list[tuple[str, str, str, bool]] = []


def row(case: str, seen: str, lost: str, ok: bool) -> None:
    ROWS.append((case, seen, lost, ok))
    print(f"[{'ok' if ok else 'FAIL'}] {case}: {seen}; lost: {lost}", flush=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait(predicate, timeout: float, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def read_until_complete(url: str, timeout: float = 180) -> list[tuple[str, dict]]:
    """The stream's (event, data) pairs; a broken connection is one more pair."""
    try:
        return read_stream(url, timeout=timeout)
    except (httpx.HTTPError, AssertionError) as exc:
        return [("transport_error", {"error": type(exc).__name__})]


class Hanging:
    """An OpenAI-compatible server that accepts and then never answers."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                time.sleep(3600)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Reader:
    def __init__(self, stack) -> None:
        self.stack = stack
        self.core = httpx.Client(base_url=stack.core_url, timeout=30)
        tag = uuid.uuid4().hex[:8]
        body = {"email": f"chaos_{tag}@example.com", "username": f"chaos_{tag}", "password": "ChaosPassw0rd"}
        self.token = self.core.post("/api/v1/auth/register", json=body).json()["tokens"]["access_token"]
        self.me = bearer(self.token)
        scenario = self.core.post(
            "/api/v1/scenarios",
            json={
                "base_story": "pride-and-prejudice",
                "scenario_type": "CHARACTER_CHANGE",
                "parameters": {"character": "Jane Bennet", "property": "personality", "new_value": "bold"},
            },
            headers=self.me,
        ).json()
        self.scenario_id = scenario["id"]

    def conversation(self) -> str:
        return self.core.post(
            "/api/v1/conversations", json={"scenario_id": self.scenario_id}, headers=self.me
        ).json()["id"]

    def send(self, conversation_id: str, text: str = "Tell me about your sisters, in detail."):
        return self.core.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"content": text}, headers=self.me
        )

    def answer(self, conversation_id: str) -> dict:
        history = self.core.get(f"/api/v1/conversations/{conversation_id}/messages", headers=self.me)
        return history.json()["content"][-1]

    def regenerate(self, conversation_id: str, message_id: str):
        return self.core.post(
            f"/api/v1/conversations/{conversation_id}/messages/{message_id}/regenerate",
            json={},
            headers=self.me,
        )


FRANKENSTEIN = {
    "novel_file_path": "frankenstein.txt",
    "metadata": {"title": "Frankenstein", "author": "Mary Shelley"},
}


def completes(url: str) -> bool:
    return read_until_complete(url)[-1][0] == "message_complete"


def first_chunk(url: str) -> None:
    with httpx.stream("GET", url, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("event: message_chunk"):
                return


def case_ai_down(stack, reader: Reader) -> None:
    conversation = reader.conversation()
    stack.stop("ai")
    sent = reader.send(conversation)
    kept = reader.answer(conversation)
    body = sent.json()
    restart_ai(stack)
    again = reader.regenerate(conversation, body.get("assistant_message_id", kept["id"]))
    done = (
        again.status_code == 202
        and read_until_complete(again.json()["stream_url"])[-1][0] == "message_complete"
    )
    ok = (
        sent.status_code == 503
        and body.get("code") == "AI_UNAVAILABLE"
        and kept["status"] == "failed"
        and done
    )
    row(
        "ai down while sending",
        f"{sent.status_code} {body.get('code')}, message kept, regenerate after restart "
        + ("completes" if done else "FAILS"),
        "nothing" if ok else "see above",
        ok,
    )


def restart_ai(stack) -> None:
    port = int(stack.ai_url.rsplit(":", 1)[1])
    proc = stack.start(
        "ai",
        [str(VENV_BIN / "uvicorn"), "gaji_ai.main:app", "--no-proxy-headers", "--port", str(port)],
        ROOT / "ai-service",
    )
    wait(lambda: _up(f"{stack.ai_url}/healthz") or proc.poll() is not None, 90)


def restart_core(stack) -> None:
    stack.start(
        "core",
        [str(VENV_BIN / "gunicorn"), "config.wsgi:application", "-c", "gunicorn.conf.py"],
        ROOT / "core-service",
    )
    wait(lambda: _up(f"{stack.core_url}/readyz"), 90)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def case_core_down_at_completion(stack, reader: Reader) -> None:
    conversation = reader.conversation()
    turn = reader.send(conversation).json()
    first_chunk(turn["stream_url"])
    stack.stop("core")
    seen: list = []
    listener = threading.Thread(target=lambda: seen.extend(read_until_complete(turn["stream_url"])))
    listener.start()
    time.sleep(15)  # the answer finishes meanwhile; its save waits for core
    stalled = not any(name == "message_complete" for name, _ in seen)
    restart_core(stack)
    saved = wait(lambda: (a := reader.answer(conversation))["status"] == "completed" and a, 120)
    listener.join(timeout=120)
    told = bool(seen) and seen[-1][0] == "message_complete"
    ok = stalled and bool(saved) and saved["content"] != "" and told
    row(
        "core down while an answer completes",
        "the stream waits (no message_complete while core is away); the worker retries the save, "
        + ("the answer appears once core is back" if saved else "the answer NEVER appears")
        + (" and the open stream then gets message_complete" if told else ""),
        "nothing" if ok else "the answer",
        ok,
    )


def case_chat_worker_killed(stack, reader: Reader) -> None:
    conversation = reader.conversation()
    turn = reader.send(conversation).json()
    first_chunk(turn["stream_url"])
    started = time.monotonic()
    stack.stop("worker-chat", kill=True)
    failed = wait(lambda: reader.answer(conversation)["status"] == "failed", 90)
    seconds = time.monotonic() - started
    stack.start_worker("chat")
    stack.wait_worker("chat")
    again = reader.regenerate(conversation, turn["assistant_message_id"])
    done = (
        again.status_code == 202
        and read_until_complete(again.json()["stream_url"])[-1][0] == "message_complete"
    )
    ok = bool(failed) and done
    row(
        "chat worker killed mid-answer",
        f"answer `failed` (WORKER_LOST) after {seconds:.0f} s, partial text kept; regenerate "
        + ("completes" if done else "FAILS"),
        "nothing (the partial answer is replaced by the regenerated one)" if ok else "see above",
        ok,
    )


def case_model_crash(stack, reader: Reader) -> None:
    """The local model crashes its pool process (SIGSEGV) mid-answer."""
    from test_chat_faults import pool_processes

    conversation = reader.conversation()
    turn = reader.send(conversation).json()
    first_chunk(turn["stream_url"])
    [pool] = pool_processes(stack.procs["worker-chat"].pid)
    started = time.monotonic()
    os.kill(pool, signal.SIGSEGV)
    failed = wait(lambda: reader.answer(conversation)["status"] == "failed", 90)
    failed_after = time.monotonic() - started
    follow = reader.send(conversation, "And what happened next?")
    events = read_until_complete(follow.json()["stream_url"]) if follow.status_code == 202 else []
    answered = bool(events) and events[-1][1].get("status") == "completed"
    answered_after = time.monotonic() - started
    ok = bool(failed) and answered and stack.procs["worker-chat"].poll() is None
    row(
        "model crash (SIGSEGV in the chat pool process) mid-answer",
        f"answer `failed` (WORKER_LOST) after {failed_after:.1f} s; the same worker's new pool "
        f"process answers the next turn {answered_after:.1f} s after the crash"
        if ok
        else "the next turn is NOT answered",
        "nothing (the partial answer is kept; regenerate works)" if ok else "see above",
        ok,
    )


def case_ingest_worker_killed(stack, staff: str) -> None:
    ai = httpx.Client(base_url=stack.ai_url, timeout=30, headers=bearer(staff))
    job = ai.post(
        "/api/ai/novels/ingest",
        json={
            "novel_file_path": "frankenstein.txt",
            "metadata": {"title": "Frankenstein", "author": "Mary Shelley"},
        },
    ).json()

    def status():
        return ai.get(f"/api/ai/novels/status/{job['job_id']}").json()

    wait(lambda: status()["progress"]["passages_processed"] > 0, 120, 0.2)
    started = time.monotonic()
    stack.stop("worker-ingest", kill=True)
    ended = wait(lambda: (s := status())["status"] in {"failed", "completed"} and s, 120, 1)
    seconds = time.monotonic() - started
    stack.start_worker("ingest")
    retry = ai.post(
        "/api/ai/novels/ingest",
        json={
            "novel_file_path": "frankenstein.txt",
            "metadata": {"title": "Frankenstein", "author": "Mary Shelley"},
        },
    ).json()
    final = wait(
        lambda: (
            (s := ai.get(f"/api/ai/novels/status/{retry['job_id']}").json())["status"]
            in {"failed", "completed"}
            and s
        ),
        400,
        1,
    )
    ok = bool(ended) and ended["status"] == "failed" and bool(final) and final["status"] == "completed"
    row(
        "ingestion worker killed mid-ingest",
        f"job `{ended['status'] if ended else 'stuck'}` after {seconds:.0f} s (never reported complete); "
        f"a new ingest {'completes' if ok else 'FAILS'}",
        "nothing (passages are replaced, never duplicated)" if ok else "see above",
        ok,
    )


def case_hanging_provider(stack, reader: Reader) -> None:
    hanging = Hanging()
    stack.stop("worker-chat")
    stack.start_worker(
        "chat",
        env={
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": hanging.url,
            "LLM_MODEL": "hangs",
            "LLM_TIMEOUT_SECONDS": "3",
            "LLM_FALLBACK_LOCAL": "false",
        },
    )
    stack.wait_worker("chat")
    conversation = reader.conversation()
    turn = reader.send(conversation).json()
    started = time.monotonic()
    events = read_until_complete(turn["stream_url"], timeout=60)
    seconds = time.monotonic() - started
    answer = reader.answer(conversation)
    names = [name for name, _ in events]
    ok = "error" in names and answer["status"] == "failed" and seconds < 30
    code = events[names.index("error")][1].get("code") if "error" in names else "-"
    for line in stack.log_lines_with("worker-chat", turn["assistant_message_id"]):
        if "first token after" in line:  # the worker's own stage times
            print(f"    worker: {line[-160:]}", flush=True)
    stack.stop("worker-chat")
    stack.start_worker("chat")
    stack.wait_worker("chat")
    row(
        "LLM provider hangs",
        f"`error` {code} after {seconds:.0f} s "
        f"(timeout 3 s), answer `{answer['status']}` (not pending), regenerate possible",
        "nothing" if ok else "see above",
        ok,
    )


def case_redis_down(stack, reader: Reader, redis_proc: subprocess.Popen, redis_port: int, data: Path) -> None:
    conversation = reader.conversation()
    turn = reader.send(conversation).json()
    first_chunk(turn["stream_url"])
    redis_proc.terminate()
    redis_proc.wait(timeout=10)
    browse = [
        httpx.get(f"{stack.core_url}/api/v1/scenarios", timeout=10).status_code,
        httpx.get(f"{stack.core_url}/api/v1/scenarios/{reader.scenario_id}", timeout=10).status_code,
        httpx.get(f"{stack.core_url}/api/v1/novels", timeout=10).status_code,
    ]
    events = read_until_complete(turn["stream_url"], timeout=10)
    stream = events[-1][1].get("code", events[-1][0]) if events else "nothing"
    send = reader.send(reader.conversation()).status_code
    new_redis = start_redis(redis_port, data)
    time.sleep(3)
    answer = wait(lambda: reader.answer(conversation)["status"] in {"completed", "failed"}, 120)
    final = reader.answer(conversation)
    ok = (
        all(code == 200 for code in browse)
        and stream != "transport_error"
        and send in (202, 503)
        and bool(answer)
    )
    row(
        "Redis stopped while browsing and streaming",
        f"browsing {browse} (reads keep working; rate limiting fails open), "
        f"a stream reconnect ends with {stream}, "
        f"send {send}; after Redis is back the answer ends `{final['status']}`",
        "the stream's frames in memory (Redis without persistence) — the answer on core is kept"
        if ok
        else "see above",
        ok,
    )
    return new_redis


def case_postgres_restart(stack, reader: Reader, postgres: PrivatePostgres) -> None:
    """Readers browse and send while PostgreSQL is stopped for OUTAGE_SECONDS
    and started again; the services are not restarted."""
    conversation = reader.conversation()
    turn = reader.send(conversation).json()
    first_chunk(turn["stream_url"])
    load = Load(stack, reader)
    load.start()
    time.sleep(3)
    down_at = time.monotonic()
    postgres.stop()
    time.sleep(OUTAGE_SECONDS)
    postgres.start()
    up_at = time.monotonic()
    time.sleep(12)
    load.stop()
    during = load.statuses(down_at, up_at)
    after = load.statuses(up_at, None)
    recovered = load.first_success_after(up_at)
    tail = load.statuses(up_at + 5, None)
    answer = wait(lambda: (a := reader.answer(conversation))["status"] in {"completed", "failed"} and a, 120)
    missing = load.missing_messages()
    ok = (
        set(during) <= {200, 202, 503}
        and set(tail) <= {200, 202}
        and bool(tail)
        and not missing
        and bool(answer)
        and answer["status"] == "completed"
    )
    row(
        "PostgreSQL restarted under load",
        f"{len(load.results)} requests from 4 readers; while down ({OUTAGE_SECONDS} s): {dict(during)} "
        f"(503 SERVICE_UNAVAILABLE with Retry-After); first success {recovered:.1f} s after the start, "
        f"after it {dict(after)}; no service restarted; the answer in flight ends "
        f"`{answer['status'] if answer else 'pending'}` (its save retried)",
        f"nothing: all {load.accepted()} messages answered 202 are in their histories"
        if not missing
        else f"{len(missing)} acknowledged messages missing",
        ok,
    )


OUTAGE_SECONDS = 6


class Load:
    """Four readers: each browses (scenarios, a scenario, novels) in a loop;
    two of them also send a message every 4 s. Every answer is recorded."""

    def __init__(self, stack, reader: Reader) -> None:
        self.stack = stack
        self.reader = reader
        self.results: list[tuple[float, int]] = []
        self.sent: list[tuple[str, str]] = []  # (conversation, user message id) answered 202
        self.conversations = [reader.conversation(), reader.conversation()]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(4)]
        self._lock = threading.Lock()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _record(self, status: int) -> None:
        with self._lock:
            self.results.append((time.monotonic(), status))

    def _run(self, index: int) -> None:
        client = httpx.Client(base_url=self.stack.core_url, timeout=30, headers=self.reader.me)
        paths = ["/api/v1/scenarios", f"/api/v1/scenarios/{self.reader.scenario_id}", "/api/v1/novels"]
        next_send = time.monotonic() + index
        while not self._stop.is_set():
            for path in paths:
                self._record(self._status(lambda p=path: client.get(p)))
            if index < 2 and time.monotonic() >= next_send:
                next_send = time.monotonic() + 4
                conversation = self.conversations[index]
                response = None

                def send(conversation=conversation):
                    nonlocal response
                    response = client.post(
                        f"/api/v1/conversations/{conversation}/messages",
                        json={"content": f"Question {uuid.uuid4().hex[:6]}: how are you?"},
                    )
                    return response

                status = self._status(send)
                self._record(status)
                if status == 202:
                    with self._lock:
                        self.sent.append((conversation, response.json()["message_id"]))
            time.sleep(0.05)

    @staticmethod
    def _status(call) -> int:
        try:
            return call().status_code
        except httpx.HTTPError:
            return 0  # a transport error: the connection was cut or refused

    def statuses(self, start: float, end: float | None) -> dict[int, int]:
        counts: dict[int, int] = {}
        for at, status in self.results:
            if at >= start and (end is None or at < end):
                counts[status] = counts.get(status, 0) + 1
        return dict(sorted(counts.items()))

    def first_success_after(self, moment: float) -> float:
        times = [at for at, status in self.results if at >= moment and 200 <= status < 300]
        return (min(times) - moment) if times else float("nan")

    def accepted(self) -> int:
        return len(self.sent)

    def missing_messages(self) -> list[str]:
        stored = set()
        for conversation in self.conversations:
            history = self.reader.core.get(
                f"/api/v1/conversations/{conversation}/messages",
                params={"size": 100},
                headers=self.reader.me,
            ).json()
            stored |= {message["id"] for message in history["content"]}
        return [message for _, message in self.sent if message not in stored]


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port (trust auth, no fsync)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gaji-chaos-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._as = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.dir, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        binary = str(PG_BIN / tool) if PG_BIN else tool
        subprocess.run([*self._as, binary, *args], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


def start_redis(port: int, data: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait(lambda: _redis_up(port), 20, 0.1)
    return proc


def _redis_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gaji-chaos-") as tmp:
        tmp_path = Path(tmp)
        redis_port = free_port()
        redis_proc = start_redis(redis_port, tmp_path)
        url = f"redis://127.0.0.1:{redis_port}/0"
        postgres = PrivatePostgres()
        try:
            with start_stack(
                tmp_path,
                extra_env={"REDIS_URL": url, "CELERY_BROKER_URL": url, "JOB_STALE_SECONDS": "20"},
                pg=postgres.url,
            ) as stack:
                stack.wait_worker("chat")
                subprocess.run(
                    [str(VENV_BIN / "python"), "manage.py", "seed_demo"],
                    cwd=ROOT / "core-service",
                    env=stack.env,
                    check=True,
                    capture_output=True,
                )
                staff = httpx.post(
                    f"{stack.core_url}/api/v1/auth/login",
                    json={"email": "admin@gaji.local", "password": "GajiAdmin123"},
                ).json()["tokens"]["access_token"]
                reader = Reader(stack)
                case_ai_down(stack, reader)
                case_core_down_at_completion(stack, reader)
                case_chat_worker_killed(stack, reader)
                case_model_crash(stack, reader)
                case_ingest_worker_killed(stack, staff)
                case_hanging_provider(stack, reader)
                redis_proc = case_redis_down(stack, reader, redis_proc, redis_port, tmp_path)
                case_postgres_restart(stack, reader, postgres)
        finally:
            redis_proc.terminate()
            postgres.remove()
    print("\n| fault | what the user sees | what is lost | ok |\n|---|---|---|---|")
    for case, seen, lost, ok in ROWS:
        print(f"| {case} | {seen} | {lost} | {'yes' if ok else 'NO'} |")
    return 0 if all(ok for *_, ok in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
