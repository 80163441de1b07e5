"""The portable llama.cpp build (deploy/scripts/llama-wheel.sh): the profile
follows the CPU's flags, never "native", and the installed build is the one
the venv's marker names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import llama_cpp

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "scripts" / "llama-wheel.sh"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_the_default_profile_is_the_best_portable_one_this_cpu_has():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.split(":", 1)[1].split())
            break
    detected = run("--detect").stdout.strip()
    if {"avx", "avx2", "fma", "f16c", "bmi2"} <= flags:
        assert detected == "x86-64-v3"  # never v4 (opt-in) and never native
    elif "sse4_2" in flags:
        assert detected == "x86-64-v2"
    else:
        assert detected in {"x86-64", "generic"}


def test_unknown_profiles_are_refused():
    done = run("/nonexistent-venv", "0.3.36", "/tmp/nonexistent-cache", "native")
    assert done.returncode == 2 and "unknown llama.cpp profile" in done.stderr


def test_the_installed_build_has_no_amx_and_matches_the_venv_marker():
    info = llama_cpp.llama_print_system_info().decode()
    assert "AMX_INT8 = 1" not in info
    marker = Path(sys.prefix) / ".llama-wheel"
    profile = marker.read_text().split()[0]
    assert profile in {"x86-64-v4", "x86-64-v3", "x86-64-v2", "x86-64", "generic"}
    assert ("AVX512 = 1" in info) == (profile == "x86-64-v4")
