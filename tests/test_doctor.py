"""The weight-repacking decision, and `cnaps-rag doctor` with the real model in a child process."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from cnaps_rag import ConfigError
from cnaps_rag.backends.native import AMX_FLAGS, cpu_flags, decide_repack, repack_setting
from cnaps_rag.doctor import crash_hint, run_smoke

XEON_FLAGS = frozenset({"fpu", "sse2", "avx2", "avx512f", "avx512_vnni", "amx_bf16", "amx_tile", "amx_int8"})
EPYC_FLAGS = frozenset({"fpu", "sse2", "avx2", "avx512f"})


@pytest.mark.parametrize(
    ("setting", "embedded", "flags", "built_with", "repack"),
    [
        ("auto", True, XEON_FLAGS, "", False),  # AMX: off, whatever the model
        ("auto", False, XEON_FLAGS, "", False),
        ("auto", False, EPYC_FLAGS, "CPU : AVX2 = 1 | AMX_INT8 = 1 |", False),  # a build for AMX
        ("auto", True, EPYC_FLAGS, "", False),  # the embedded Q4_1 model gains nothing from it
        ("auto", False, EPYC_FLAGS, "CPU : AVX2 = 1 |", True),  # a larger GGUF keeps its speed-up
        ("auto", False, frozenset(), "", True),  # no /proc/cpuinfo (macOS, Windows)
        ("on", True, XEON_FLAGS, "", True),  # the user's word wins
        ("off", False, EPYC_FLAGS, "", False),
    ],
)
def test_repack_decision(setting, embedded, flags, built_with, repack):
    decision = decide_repack(setting, embedded=embedded, flags=flags, built_with=built_with)
    assert decision.repack is repack
    assert decision.reason
    if setting == "auto" and flags & AMX_FLAGS:
        assert "amx_int8" in decision.reason and "20824" in decision.reason


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu avx2 amx_tile amx_int8\n\n")
    assert cpu_flags(cpuinfo) & AMX_FLAGS == {"amx_tile", "amx_int8"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_repack_setting_from_environment(monkeypatch):
    monkeypatch.setenv("CNAPS_RAG_REPACK", "OFF")
    assert repack_setting() == "off"
    assert repack_setting("on") == "on"
    monkeypatch.setenv("CNAPS_RAG_REPACK", "sometimes")
    with pytest.raises(ConfigError, match="repacking") as info:
        repack_setting()
    assert "auto, on or off" in (info.value.hint or "")


def test_crash_hints_name_the_fix():
    error, fix = crash_hint(-11, "generate", repack=True)
    assert "SIGSEGV" in error and "CNAPS_RAG_REPACK=off" in fix
    _, fix = crash_hint(-11, "generate", repack=False)
    assert "GGML_NATIVE=OFF" in fix
    error, fix = crash_hint(-4, "import", repack=None)
    assert "SIGILL" in error and "another CPU" in fix
    # A real-time signal has no name in signal.Signals, though valid_signals() holds it.
    error, _ = crash_hint(-(signal.SIGRTMIN + 1), "load", repack=None)
    assert f"(signal {signal.SIGRTMIN + 1})" in error


def test_a_child_killed_by_a_signal_becomes_one_line(tmp_path):
    # Control flow only: a stand-in interpreter that says its stages, then dies as llama.cpp does.
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'echo \'{"stage": "info", "system_info": "CPU : AMX_INT8 = 1 |"}\'\n'
        'echo \'{"repack": true, "repack_reason": "CNAPS_RAG_REPACK=on", "stage": "load"}\'\n'
        'echo \'{"stage": "generate"}\'\n'
        "kill -SEGV $$\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    smoke, said = run_smoke(tmp_path / "m.gguf", "on", python=str(fake))
    assert not smoke.ok and smoke.stage == "generate"
    assert "crashed inside llama.cpp (SIGSEGV) at generate" in (smoke.error or "")
    assert "CNAPS_RAG_REPACK=off" in (smoke.hint or "")
    assert said["system_info"] == "CPU : AMX_INT8 = 1 |"


# --------------------------------------------------------------------------- real model


@pytest.mark.model
def test_repacking_off_reaches_the_loaded_model(tmp_path):
    from cnaps_rag.backends import LocalBackend

    backend = LocalBackend(repack="off", n_ctx=1024)
    assert backend.loaded.llama.model_params.use_extra_bufts is False
    assert backend.loaded.repack.reason.startswith("set to off")
    # A prompt of well over five tokens: the one that crashes with AMX repacking.
    reply = backend.loaded.llama("Upscaling an image by two with a deblurring model is", max_tokens=4)
    assert reply["usage"]["completion_tokens"] >= 1
    import llama_cpp.llama_cpp as native

    assert native.llama_model_default_params().use_extra_bufts is True, "the patch is undone after loading"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnaps_rag.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.model
def test_doctor_reports_the_machine_and_a_passing_smoke_generation():
    result = _cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "smoke generation: ok" in out
    assert "llama-cpp-python: 0." in out
    assert "llama.cpp system info: CPU :" in out
    assert ".gguf (" in out and "embedded" in out
    assert "weight repacking: off" in out  # the embedded model, auto


@pytest.mark.model
def test_doctor_json_and_a_bad_model_file(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    result = _cli("doctor", "--json", "--model", str(bad), "--repack", "on")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["smoke"]["ok"] is False and report["smoke"]["stage"] == "load"
    assert "cannot load model" in report["smoke"]["error"]
    assert report["repack_setting"] == "on" and report["repack"] is True
    assert "Traceback" not in result.stderr


def test_a_llama_cpp_python_without_the_setting_reports_repacking_on(monkeypatch):
    import cnaps_rag.backends.local as local

    monkeypatch.setattr(local, "can_set_repack", lambda: False)  # as an old llama-cpp-python would answer
    decision = local.repack_decision(local.embedded_model_path(), "off")
    assert decision.repack is True and "pip install -U llama-cpp-python" in decision.reason
