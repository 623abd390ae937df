"""What every benchmark figure shares: the groups, the run's settings and goals, the figure, the
machine, and the arithmetic of percentiles and ratios (``eval/bench.py`` runs the groups)."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "fixtures" / "labelled" / "answers.jsonl"
PROMPTS = ROOT / "fixtures" / "prompts"

URL_SCAN = re.compile(r"https?://\S+")
"""The baseline of the text figures: the least work that still looks at every URL."""

GROUPS = ("validate", "score", "import", "answer", "constrained", "batch", "memory", "eval", "serve")

# Goals (issue 6).
VALIDATE_MAX_RATIO = 20.0
SCORE_MAX_RATIO = 20.0
# Issue 15: per 2 KB, on the real answers and on the 2 KB fixture answers alike.
MAX_MS_2KB = 1.0
MAX_RATIO_2KB = 300.0
IMPORT_MAX_EXTRA_MS = 100.0  # issue 15 (issue 6 allowed 150)
# Issue 18: score checks each claim against its sources, on real answers.
SCORE_REAL_MAX_MS_2KB = 2.0
SCORE_REAL_MAX_RATIO = 600.0
PIPELINE_MAX_OVERHEAD = 1.05
SCAFFOLD_MAX_RATIO = 1.5
CONSTRAINED_MAX_RATIO = 1.2
MEMORY_MAX_EXTRA_MB = 300.0
MEMORY_FLAT_MB = 10.0
MEMORY_FLAT_MB_PER_PROMPT = 0.1
"""'Flat in the number of prompts': the larger batch peaks at most 10 MB + 0.1 MB per extra prompt
higher. The fixed part allows for the prompts themselves: a batch that reaches a longer prompt
touches a little more memory once, which is not growth with the number of prompts."""


# --------------------------------------------------------------------------- results


@dataclass
class Figure:
    """One row of the table: a measurement, its baseline from the same run, and the goal."""

    key: str
    name: str
    measured: str
    baseline: str
    ratio: float | None
    """measured / baseline (for batch: baseline time / measured time, so > 1 is faster)."""
    goal: str
    met: bool | None
    """None when the figure could not be measured."""
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def unavailable(key: str, name: str, goal: str, reason: str) -> Figure:
    """Return a row for a figure that could not be measured, saying why."""
    return Figure(key, name, "not available", "-", None, goal, None, {"reason": reason}, note=reason)


@dataclass
class Settings:
    """How much to measure. ``quick()`` is a smoke run of a minute or two."""

    repeat: int = 7
    """Interleaved repetitions of each text measurement (the fastest is kept)."""
    answers: int = 0
    """Fixture answers timed by the text figures (0: all 46)."""
    import_runs: int = 15
    answer_prompts: int = 6
    """Prompts answered with the model (0: every single-prompt fixture file)."""
    model_repeat: int = 2
    """Repetitions of each model measurement, in alternating order (the fastest is kept)."""
    constrained_requests: int = 20
    batch_prompts: int = 0
    """Prompts per batch in the batch figure (0: every single-prompt fixture file)."""
    memory_prompts: int = 100
    memory_small: int = 20
    eval_answers: int = 100_000
    """The large eval of the [eval] memory figure (the small one is ``eval_small``)."""
    eval_small: int = 1000
    eval_speed_answers: int = 4000
    """Answers scored per run in the [eval] processes figure."""
    serve_prompts: int = 20
    """Real dev prompts answered through llama.cpp's server at each concurrency."""
    serve_workers: tuple[int, ...] = (1, 2, 4)
    serve_strategy: str = "scaffold"
    """scaffold: the embedded model's own strategy, short requests (capable: minutes a prompt on 2 cores)."""
    serve_max_tokens: int | None = None
    serve_repeat: int = 5
    """Batch-and-replay rounds per concurrency: on a shared machine one round's time varies by 1.5x."""
    only: tuple[str, ...] = GROUPS

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            repeat=3,
            import_runs=5,
            answer_prompts=2,
            model_repeat=1,
            constrained_requests=5,
            batch_prompts=3,
            memory_prompts=10,
            memory_small=3,
            eval_answers=10_000,
            eval_speed_answers=1000,
            serve_prompts=4,
            serve_workers=(1, 2),
            serve_repeat=1,
        )


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile (0-1) of ``values``, interpolating linearly."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio_of(measured: float, baseline: float) -> float | None:
    return measured / baseline if baseline > 0 and math.isfinite(measured) else None


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.3f}×" if ratio < 10 else f"{ratio:,.0f}×"


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """Return what the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        llama_version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        llama_version = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "llama_cpp_python": llama_version,
        "platform": platform.platform(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_start": load_average(),
    }


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
