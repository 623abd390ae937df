"""[import]: ``python -c "import cnaps_rag"`` against ``python -c pass``."""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.bench_common import IMPORT_MAX_EXTRA_MS, Figure, ratio_of

# --------------------------------------------------------------------------- import


def _python(arguments: list[str], env: dict[str, str], cwd: str) -> tuple[float, str, str]:
    """Run this interpreter with ``arguments``; return (seconds, stdout, stderr)."""
    import subprocess

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *arguments], env=env, cwd=cwd, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started, done.stdout, done.stderr


def _import_times(runs: int, env: dict[str, str], cwd: str) -> dict[str, Any]:
    """Return the median times of ``python -c pass`` and ``-c "import cnaps_rag"``, alternating."""
    for code in ("pass", "import cnaps_rag"):  # fill the bytecode and file caches first
        _python(["-c", code], env, cwd)
    bare, imported, differences = [], [], []
    for run in range(runs):
        pair: dict[str, float] = {}
        for code in ("pass", "import cnaps_rag") if run % 2 == 0 else ("import cnaps_rag", "pass"):
            pair[code] = _python(["-c", code], env, cwd)[0]
        bare.append(pair["pass"] * 1e3)
        imported.append(pair["import cnaps_rag"] * 1e3)
        differences.append((pair["import cnaps_rag"] - pair["pass"]) * 1e3)
    return {
        "pass_ms": round(statistics.median(bare), 1),
        "import_ms": round(statistics.median(imported), 1),
        "extra_ms": round(statistics.median(differences), 1),
        "runs": runs,
    }


_HEAVY = ("llama_cpp", "openai", "numpy")


def _import_profile(env: dict[str, str], cwd: str, top: int = 8) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the heavy modules ``import cnaps_rag`` loads, and its slowest imports (``-X importtime``)."""
    code = f"import cnaps_rag, sys; print(','.join(m for m in {_HEAVY!r} if m in sys.modules))"
    _, out, err = _python(["-X", "importtime", "-c", code], env, cwd)
    rows: list[dict[str, Any]] = []
    for line in err.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            self_ms, cumulative_ms = int(match.group(1)) / 1e3, int(match.group(2)) / 1e3
            rows.append({"module": match.group(3), "self_ms": self_ms, "cumulative_ms": cumulative_ms})
    heavy = [m for m in out.strip().split(",") if m]
    return heavy, sorted(rows, key=lambda r: -r["self_ms"])[:top]


def bench_import(runs: int, uncached_runs: int | None = None) -> Figure:
    """Return the import figure: ``import cnaps_rag`` in a fresh interpreter, over ``python -c pass``.

    When PYTHONDONTWRITEBYTECODE is set, ``uncached_runs`` (default ``runs // 3``, at least 3;
    0 to skip) also measure the import as this environment runs it, compiling every start.
    """
    note = ""
    with tempfile.TemporaryDirectory(prefix="cnaps-bench-") as tmp:
        # Bytecode cached, as after `pip install`; kept out of the repository with a prefix.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        cached = _import_times(runs, env, tmp)
        heavy, slowest = _import_profile(env, tmp)
        details: dict[str, Any] = {**cached, "heavy_modules_imported": heavy, "slowest_imports": slowest}
        if uncached_runs is None:
            uncached_runs = max(3, runs // 3)
        if os.environ.get("PYTHONDONTWRITEBYTECODE") and uncached_runs > 0:
            uncached = _import_times(uncached_runs, dict(os.environ), tmp)
            details["without_bytecode_cache_extra_ms"] = uncached["extra_ms"]
            note = (
                "PYTHONDONTWRITEBYTECODE is set here, so an editable install recompiles cnaps_rag on "
                f"every start: +{uncached['extra_ms']:.0f} ms; the row is with bytecode cached."
            )
    extra = cached["extra_ms"]
    if heavy:
        note = f"{note} imports {', '.join(heavy)} eagerly.".strip()
    return Figure(
        key="import",
        name="import cnaps_rag",
        measured=f"+{extra:.0f} ms ({cached['import_ms']:.0f} ms)",
        baseline=f"python -c pass {cached['pass_ms']:.0f} ms",
        ratio=ratio_of(cached["import_ms"], cached["pass_ms"]),
        goal=f"≤ +{IMPORT_MAX_EXTRA_MS:g} ms, llama_cpp/openai lazy",
        met=extra <= IMPORT_MAX_EXTRA_MS and not heavy,
        details=details,
        note=note,
    )
