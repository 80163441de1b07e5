"""Setup's self-test of the local model: one real generation, in a child
process, so that a crash of the native code cannot take anything else down.

    python -m gaji_ai.llm.selftest            # test (unless already done), record
    python -m gaji_ai.llm.selftest --force    # test again
    python -m gaji_ai.llm.selftest --engine MODEL [--force]
                                              # the same through llama-server

`--engine` starts the engine's binary on a free port with MODEL, streams one
answer through the OpenAI-compatible API (EngineProvider, the chat workers'
path), and records in var/llm-engine.json whether weight repacking (the
engine's extra buffer types) is safe for this CPU, binary and model.

It tries llama.cpp with its extra buffer types first (fastest), and if the
child dies (SIGSEGV, SIGILL, an abort) or hangs, without them. The outcome
goes to var/llm-local.json, keyed by the CPU and the llama.cpp build, where
the local provider reads it (gaji_ai.llm.local_config). Exit status: 0 when
a configuration works, 3 when every one crashed with this build (setup then
rebuilds llama.cpp for a lower CPU profile), 1 on other errors."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from gaji_ai.config import get_settings
from gaji_ai.llm import engine, local_config
from gaji_ai.llm.providers import (
    ChatMessage,
    EngineProvider,
    LocalProvider,
    ProviderError,
    local_model_path,
)

CHILD_TIMEOUT_SECONDS = 180
PROMPT = [{"role": "user", "content": "Say hello to Elizabeth Bennet in one sentence."}]
ALL_CRASHED = 3


def _child(use_extra_bufts: bool) -> None:
    """Runs in the child: load, generate, print timings as JSON."""
    started = time.perf_counter()
    llm = local_config.load_llama(
        local_model_path(), use_extra_bufts=use_extra_bufts, n_ctx=512, verbose=False
    )
    loaded = time.perf_counter()
    first = None
    text = ""
    for chunk in llm.create_chat_completion(messages=PROMPT, stream=True, max_tokens=16):
        delta = chunk["choices"][0]["delta"].get("content")
        if delta:
            first = first or time.perf_counter()
            text += delta
    if not text.strip():
        raise SystemExit("the model produced no text")
    print(
        json.dumps(
            {
                "load_ms": round((loaded - started) * 1000, 1),
                "first_token_ms": round(((first or loaded) - loaded) * 1000, 1),
                "text": text[:80],
            }
        ),
        flush=True,
    )


def _ask(prompt: str, tokens: int) -> None:
    """Runs in a child for the staff LLM test: the local model's first
    `tokens` tokens for `prompt`, as JSON (a crash kills only the child)."""
    llm = get_settings().llm
    provider = LocalProvider(
        model=llm.llm_local_model,
        n_ctx=llm.llm_context_tokens,
        n_threads=llm.llm_threads,
        extra_bufts=llm.llm_local_extra_bufts,
    )
    deltas = provider.stream([ChatMessage("user", prompt)], max_tokens=tokens)
    print(json.dumps({"text": "".join(deltas)}), flush=True)


async def ask_in_child(prompt: str, tokens: int, timeout: float) -> str:
    """The local model's answer from a child process; ProviderError-worthy
    failures (a crash, a hang) raise RuntimeError with a safe message."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        *CHILD[:-1],
        "--ask",
        prompt,
        "--tokens",
        str(tokens),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, _err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"the local model {describe(None, timeout)}") from None
    if process.returncode != 0:
        raise RuntimeError(f"the local model {describe(process.returncode)}")
    try:
        return json.loads(out.decode().strip().splitlines()[-1])["text"]
    except (ValueError, IndexError, KeyError):
        raise RuntimeError("the local model sent an unreadable answer") from None


def describe(returncode: int | None, timeout: float = CHILD_TIMEOUT_SECONDS) -> str:
    if returncode is None:
        return f"hung (no answer within {timeout:.0f} s)"
    if returncode < 0:
        try:
            return f"crashed ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"crashed (signal {-returncode})"
    return f"failed (exit status {returncode})"


CHILD = [sys.executable, "-m", "gaji_ai.llm.selftest", "--child"]


def run_child(
    use_extra_bufts: bool,
    *,
    command: list[str] | None = None,
    timeout: float = CHILD_TIMEOUT_SECONDS,
) -> tuple[bool, dict]:
    """(worked, details) of one generation in a fresh interpreter (`command`
    plus `on`/`off`; the tests pass a child that crashes on purpose)."""
    argv = [*(command or CHILD), "on" if use_extra_bufts else "off"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, {"outcome": describe(None, timeout)}
    if done.returncode == 0:
        lines = done.stdout.strip().splitlines()
        try:
            return True, {"outcome": "ok", **json.loads(lines[-1])}
        except (ValueError, IndexError):
            return False, {"outcome": "failed (unreadable answer)"}
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
    return False, {"outcome": describe(done.returncode), "last_line": tail[0][:300]}


def write_record(path: Path, record: dict) -> None:
    """Replace the record file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)


def self_test(
    record_path: Path,
    *,
    force: bool = False,
    say=print,
    command: list[str] | None = None,
    timeout: float = CHILD_TIMEOUT_SECONDS,
) -> int:
    if not force and (record := local_config.read_record(record_path)):
        mode = "with" if record["use_extra_bufts"] else "without"
        say(f"local model: self-test passed on this CPU and build ({mode} extra buffer types)")
        return 0
    tried = []
    for use_extra_bufts in (True, False):
        label = "with extra buffer types" if use_extra_bufts else "without extra buffer types"
        worked, details = run_child(use_extra_bufts, command=command, timeout=timeout)
        tried.append({"use_extra_bufts": use_extra_bufts, **details})
        if worked:
            say(
                f"local model: self-test passed {label} (load {details['load_ms']:.0f} ms, "
                f"first token {details['first_token_ms']:.0f} ms)"
            )
            record = {
                "cpu": local_config.cpu_signature(),
                "library": local_config.library_signature(),
                "use_extra_bufts": use_extra_bufts,
                "tested_at": datetime.now(UTC).isoformat(),
                "tried": tried,
            }
            write_record(record_path, record)
            return 0
        say(f"local model: one generation {label} {details['outcome']}; switching configuration")
    say("local model: every configuration crashed with this llama.cpp build")
    with contextlib.suppress(FileNotFoundError):
        record_path.unlink()  # an older record must not outlive this outcome
    return ALL_CRASHED


def engine_run(
    model: str, repack: bool, *, binary: str | None = None, timeout: float = CHILD_TIMEOUT_SECONDS
) -> tuple[bool, dict]:
    """(worked, details) of one streamed answer from a fresh llama-server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = engine.EngineConfig(
        model=model,
        port=port,
        slots=1,
        context_per_slot=512,
        threads=os.cpu_count() or 1,
        cache_ram_mib=0,
        repack=repack,
        binary=binary or "",
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        config.argv(),
        env=config.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not engine.wait_healthy(config.url, timeout, process):
            process.poll()
            return False, {"outcome": describe(process.returncode, timeout), **_tail(process)}
        loaded = time.perf_counter()
        provider = EngineProvider(base_url=config.url, model=model, timeout=timeout)
        first, text = None, ""
        try:
            for delta in provider.stream(
                [ChatMessage(**message) for message in PROMPT], max_tokens=16, temperature=0.0
            ):
                first = first or time.perf_counter()
                text += delta
        except ProviderError:
            process.poll()
            return False, {"outcome": describe(process.returncode, timeout), **_tail(process)}
        if not text.strip():
            return False, {"outcome": "failed (no text)"}
        return True, {
            "load_ms": round((loaded - started) * 1000, 1),
            "first_token_ms": round(((first or loaded) - loaded) * 1000, 1),
            "text": text[:80],
        }
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _tail(process: subprocess.Popen) -> dict:
    if process.poll() is None:
        return {}
    lines = (process.stderr.read() if process.stderr else "").strip().splitlines()
    return {"last_line": lines[-1][:300]} if lines else {}


def engine_self_test(
    model: str,
    record_path: Path | None = None,
    *,
    force: bool = False,
    say=print,
    binary: str | None = None,
    timeout: float = CHILD_TIMEOUT_SECONDS,
) -> int:
    record_path = record_path or engine.RECORD_PATH
    known = engine.read_record(record_path)
    if not force and model in known:
        say(f"local engine: self-test passed for {model} on this CPU and build")
        return 0
    tried = []
    for repack in (True, False):
        label = "with weight repacking" if repack else "without weight repacking"
        worked, details = engine_run(model, repack, binary=binary, timeout=timeout)
        tried.append({"repack": repack, **details})
        if worked:
            say(
                f"local engine: {model} answered {label} (load {details['load_ms']:.0f} ms, "
                f"first token {details['first_token_ms']:.0f} ms)"
            )
            try:
                record = json.loads(record_path.read_text())
            except (OSError, ValueError):
                record = {}
            if not isinstance(record, dict) or not known:
                record = {}  # another CPU or binary: start afresh
            record.update(cpu=local_config.cpu_signature(), binary=engine.binary_signature(binary))
            record.setdefault("models", {})[model] = {
                "repack": repack,
                "tested_at": datetime.now(UTC).isoformat(),
                "tried": tried,
            }
            write_record(record_path, record)
            return 0
        say(f"local engine: one answer {label} {details['outcome']}; switching configuration")
    say(f"local engine: every configuration failed for {model} with this build")
    return ALL_CRASHED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--ask", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--force", action="store_true", help="test again even if recorded")
    parser.add_argument("--engine", metavar="MODEL", help="self-test llama-server with MODEL")
    parser.add_argument("--record", type=Path, default=local_config.RECORD_PATH)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child == "on")
        return 0
    if args.ask is not None:
        _ask(args.ask, args.tokens)
        return 0
    if args.engine:
        return engine_self_test(
            args.engine, force=args.force, say=lambda line: print(line, flush=True)
        )
    return self_test(args.record, force=args.force, say=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
