"""llama.cpp's native side: CPU features, the weight-repacking decision, model parameters.

llama.cpp's CPU backend repacks weights into "extra buffer types" for faster matrix
products. On CPUs with AMX (Intel Xeon 4th generation and later) that repacking
crashes a natively built llama-cpp-python inside ``llama_decode`` (ggml-org/llama.cpp
issue 20824) on any prompt of five tokens or more. llama.cpp honours
``llama_model_params.use_extra_bufts = False``, but the high-level ``Llama`` does not
expose it: its constructor reads ``llama_cpp.llama_model_default_params()``, so
:func:`model_params` wraps that function while a model loads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple, get_args

from ..errors import ConfigError

RepackSetting = Literal["auto", "on", "off"]
REPACK_ENV = "CNAPS_RAG_REPACK"
AMX_FLAGS = frozenset({"amx_int8", "amx_tile", "amx_bf16"})  # as /proc/cpuinfo spells them
CRASH_ISSUE = "ggml-org/llama.cpp issue 20824"
NATIVE_BUILD_FIX = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON" '
    "pip install --force-reinstall --no-cache-dir llama-cpp-python"
)

_PATCH_LOCK = threading.Lock()


class RepackDecision(NamedTuple):
    repack: bool
    reason: str


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """Return the first CPU's entries in /proc/cpuinfo (empty where there is none)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    info = cpu_info(cpuinfo)
    return frozenset((info.get("flags") or info.get("Features") or "").split())


def system_info() -> str:
    """Return llama.cpp's own system info line (the CPU features it was built with)."""
    import llama_cpp

    return str(llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")).strip()


def repack_setting(value: str | None = None) -> RepackSetting:
    chosen = (value or os.environ.get(REPACK_ENV) or "auto").strip().lower()
    if chosen not in get_args(RepackSetting):
        raise ConfigError(
            f"unknown weight-repacking setting {chosen!r}",
            hint=f"set {REPACK_ENV} (or repack=) to auto, on or off",
        )
    return chosen  # type: ignore[return-value]


def decide_repack(
    setting: RepackSetting, *, embedded: bool, flags: frozenset[str], built_with: str = ""
) -> RepackDecision:
    """Return whether llama.cpp may repack weights for a model: ``on`` and ``off`` are the user's word.

    ``auto`` turns it off where the CPU has AMX (it crashes there), and for the embedded model,
    whose Q4_1 weights llama.cpp repacks only for AMX; a larger GGUF elsewhere keeps it (faster).
    """
    if setting != "auto":
        return RepackDecision(setting == "on", f"set to {setting} ({REPACK_ENV} or the repack option)")
    amx = sorted(flags & AMX_FLAGS)
    if amx or "AMX_INT8 = 1" in built_with:
        shown = ", ".join(amx) if amx else "AMX_INT8 in llama.cpp's build"
        return RepackDecision(
            False, f"the CPU has AMX ({shown}), whose weight repacking crashes ({CRASH_ISSUE})"
        )
    if embedded:
        return RepackDecision(False, "the embedded Q4_1 model gains nothing from repacking without AMX")
    return RepackDecision(True, "no AMX on this CPU")


def can_set_repack() -> bool:
    import llama_cpp.llama_cpp as native

    return any(name == "use_extra_bufts" for name, *_ in native.llama_model_params._fields_)


@contextlib.contextmanager
def model_params(repack: bool) -> Iterator[None]:
    """While active, every ``llama_cpp.Llama`` built loads its model with repacking on or off."""
    import llama_cpp.llama_cpp as native

    if repack or not can_set_repack():
        yield
        return
    original = native.llama_model_default_params

    def without_repacking() -> native.llama_model_params:
        params = original()
        params.use_extra_bufts = False
        return params

    # The function is a module attribute read at call time; one patch at a time.
    with _PATCH_LOCK:
        native.llama_model_default_params = without_repacking
        try:
            yield
        finally:
            native.llama_model_default_params = original
