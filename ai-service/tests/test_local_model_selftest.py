"""Setup's self-test of the local model (gaji_ai.llm.selftest) and the choice
it records (gaji_ai.llm.local_config).

The crash paths use a child that really dies (SIGSEGV sent to itself, a
hang), since the llama.cpp crash seen on Sapphire Rapids does not happen on
every machine; one test runs the real model in a real subprocess."""

from __future__ import annotations

import json
import sys
import textwrap

import llama_cpp
import llama_cpp.llama as llama_module
import pytest

from gaji_ai.llm import local_config, providers, selftest
from gaji_ai.llm.providers import LocalProvider, local_model_path

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    behaviour, mode = sys.argv[1], sys.argv[2]
    if behaviour == "crash-always" or (behaviour == "crash-on" and mode == "on"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if behaviour == "hang":
        time.sleep(60)
    print("llama.cpp noise")
    print(json.dumps({"load_ms": 12.0, "first_token_ms": 34.0, "text": "Hello " + mode}))
    """
)


@pytest.fixture
def child(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return lambda behaviour: [sys.executable, str(script), behaviour]


def run(record, command, **kwargs):
    lines: list[str] = []
    status = selftest.self_test(record, force=True, say=lines.append, command=command, **kwargs)
    return status, lines


def test_a_crash_with_extra_buffer_types_switches_them_off_and_says_so(tmp_path, child):
    record = tmp_path / "llm-local.json"
    status, lines = run(record, child("crash-on"))
    assert status == 0
    saved = json.loads(record.read_text())
    assert saved["use_extra_bufts"] is False
    assert [t["outcome"] for t in saved["tried"]] == ["crashed (SIGSEGV)", "ok"]
    assert saved["cpu"] == local_config.cpu_signature()
    assert saved["library"] == local_config.library_signature()
    assert "crashed (SIGSEGV); switching configuration" in lines[0]
    assert "passed without extra buffer types" in lines[1]
    # The provider's automatic choice follows the record.
    assert local_config.extra_bufts_allowed("auto", record) is False


def test_a_working_build_keeps_extra_buffer_types(tmp_path, child):
    record = tmp_path / "llm-local.json"
    status, lines = run(record, child("fine"))
    assert status == 0 and len(lines) == 1
    assert json.loads(record.read_text())["use_extra_bufts"] is True
    assert local_config.extra_bufts_allowed("auto", record) is True
    # Done once: the next setup does not test again.
    again: list[str] = []
    assert selftest.self_test(record, say=again.append, command=child("crash-always")) == 0
    assert "passed on this CPU and build" in again[0]


def test_every_configuration_crashing_asks_for_a_rebuild_and_drops_the_old_record(tmp_path, child):
    record = tmp_path / "llm-local.json"
    assert run(record, child("fine"))[0] == 0
    status, lines = run(record, child("crash-always"))
    assert status == selftest.ALL_CRASHED
    assert not record.exists()
    assert "every configuration crashed" in lines[-1]
    assert local_config.extra_bufts_allowed("auto", record) is False


def test_a_hanging_generation_counts_as_a_failure(tmp_path, child):
    status, lines = run(tmp_path / "r.json", child("hang"), timeout=1)
    assert status == selftest.ALL_CRASHED
    assert "hung (no answer within 1 s)" in lines[0]


def test_a_record_made_on_another_cpu_or_build_is_not_trusted(tmp_path, child):
    record = tmp_path / "llm-local.json"
    run(record, child("fine"))
    saved = json.loads(record.read_text())
    for field in ("cpu", "library"):
        record.write_text(json.dumps({**saved, field: "0000000000000000"}))
        assert local_config.read_record(record) is None
        assert local_config.extra_bufts_allowed("auto", record) is False
    record.write_text("not json")
    assert local_config.extra_bufts_allowed("auto", record) is False


def test_forced_settings_win_over_the_record(tmp_path):
    missing = tmp_path / "none.json"
    assert local_config.extra_bufts_allowed("on", missing) is True
    assert local_config.extra_bufts_allowed("off", missing) is False
    assert local_config.extra_bufts_allowed("auto", missing) is False


def test_the_real_model_answers_in_a_child_process():
    worked, details = selftest.run_child(False)
    assert worked, details
    assert details["outcome"] == "ok" and details["text"].strip()


def test_load_llama_sets_the_parameter_only_for_that_load(monkeypatch):
    seen = []
    original = llama_module.llama_cpp.llama_model_default_params

    def spy():
        value = original()
        seen.append(value)
        return value

    monkeypatch.setattr(llama_module.llama_cpp, "llama_model_default_params", spy)
    llm = local_config.load_llama(
        local_model_path(), use_extra_bufts=False, n_ctx=256, verbose=False
    )
    assert llm.tokenize(b"Longbourn")
    assert seen and all(params.use_extra_bufts is False for params in seen)
    assert llama_module.llama_cpp.llama_model_default_params is spy  # restored
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True  # library default


def test_the_local_provider_uses_the_configured_choice(monkeypatch):
    calls = []

    def fake_load(path, *, use_extra_bufts, **kwargs):
        calls.append(use_extra_bufts)
        return object()

    monkeypatch.setattr(providers, "load_llama", fake_load)  # where the provider reads it
    LocalProvider(extra_bufts="off")._loaded()
    LocalProvider(extra_bufts="on")._loaded()
    assert calls == [False, True]
