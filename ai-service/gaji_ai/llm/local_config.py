"""How the local model (llama.cpp) may run on *this* machine.

llama.cpp can place weights in "extra buffer types" (AMX tiles, repacked
Q4 layouts). On some CPUs those code paths crash the process on the first
token (seen on Sapphire Rapids with AVX-512/AMX). Whether they are safe is
found out at setup by the self-test (`python -m gaji_ai.llm.selftest`),
which runs one real generation in a subprocess and records the outcome in
`var/llm-local.json`, keyed by the CPU and the installed llama.cpp build.

LLM_LOCAL_EXTRA_BUFTS: `auto` (default) uses the recorded outcome when it
was recorded for this CPU and this build, and otherwise stays off (the safe
choice; it costs little, see bench/REPORT.md); `on` / `off` force it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
RECORD_PATH = Path(os.environ.get("LLM_LOCAL_RECORD", REPO_ROOT / "var" / "llm-local.json"))


def cpu_signature() -> str:
    """The CPU as llama.cpp sees it: architecture, model and feature flags."""
    model, flags = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in {"model name", "Processor", "CPU part"} and not model:
                model = value.strip()
            elif key in {"flags", "Features"} and not flags:
                flags = " ".join(sorted(value.split()))
            if model and flags:
                break
    raw = f"{platform.machine()}|{model}|{flags}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def library_signature() -> str:
    """The installed llama.cpp build (a hash of its native libraries)."""
    try:
        import llama_cpp
    except ImportError:
        return "missing"
    lib = Path(llama_cpp.__file__).parent / "lib"
    digest = hashlib.sha256()
    for path in sorted(lib.glob("lib*.so*")) if lib.is_dir() else []:
        if path.is_file() and not path.is_symlink():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def read_record(path: Path = RECORD_PATH) -> dict | None:
    """The self-test's record, if it was made for this CPU and this build."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("cpu") != cpu_signature() or record.get("library") != library_signature():
        return None
    return record


def extra_bufts_allowed(setting: str | None = None, path: Path = RECORD_PATH) -> bool:
    choice = (setting or os.environ.get("LLM_LOCAL_EXTRA_BUFTS") or "auto").strip().lower()
    if choice in {"on", "true", "1"}:
        return True
    if choice in {"off", "false", "0"}:
        return False
    record = read_record(path)
    return bool(record and record.get("use_extra_bufts") is True)


_patch_lock = threading.Lock()


def load_llama(model_path: str, *, use_extra_bufts: bool, llama_class=None, **kwargs):
    """`llama_cpp.Llama(...)` (or `llama_class`, a subclass) with the model
    parameter `use_extra_bufts` set (Llama's constructor does not expose it;
    it reads the library's default parameters, which are wrapped for the
    duration of the load)."""
    import llama_cpp
    import llama_cpp.llama as llama_module

    with _patch_lock:
        original = llama_module.llama_cpp.llama_model_default_params

        def params():
            value = original()
            value.use_extra_bufts = use_extra_bufts
            return value

        llama_module.llama_cpp.llama_model_default_params = params
        try:
            return (llama_class or llama_cpp.Llama)(model_path=model_path, **kwargs)
        finally:
            llama_module.llama_cpp.llama_model_default_params = original
