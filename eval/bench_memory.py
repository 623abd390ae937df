"""[memory]: the peak RSS of ``cnaps-rag batch`` against the model file's size, at two batch sizes."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnaps_rag import load_prompt_file
from eval.bench_common import (
    MEMORY_FLAT_MB,
    MEMORY_FLAT_MB_PER_PROMPT,
    MEMORY_MAX_EXTRA_MB,
    Figure,
    ratio_of,
    say,
)
from eval.bench_model import single_prompt_files

# --------------------------------------------------------------------------- memory


def write_dataset(path: Path, count: int) -> None:
    """Write a JSONL dataset of ``count`` prompts: the fixture prompts repeated, with distinct ids."""
    texts = [load_prompt_file(p)[0].raw for p in single_prompt_files()]
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            out.write(json.dumps({"id": f"m{index:04d}", "prompt": texts[index % len(texts)]}) + "\n")


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "cnaps-rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cnaps_rag.cli"]


def memory_mb(pid: int) -> tuple[float, float] | None:
    """Return (VmRSS, VmHWM) of a live process in MB, or None once it is gone."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return (values["VmRSS"], values["VmHWM"]) if len(values) == 2 else None


@dataclass
class ChildRun:
    """A child process run to its end: how it ended, its peak RSS (VmHWM), and an RSS trace."""

    status: int
    usage: Any
    peak_mb: float
    trace: list[tuple[int, float]]
    """(progress, RSS in MB) every 0.25 s: a leak shows as a rising series."""
    seconds: float


def peak_rss_of(command: list[str], log: str | Path, progress: Callable[[], int] = lambda: 0) -> ChildRun:
    """Run ``command`` in a child (stdout and stderr to ``log``), polling its memory until it exits.

    The peak is the child's own VmHWM from /proc. Not ru_maxrss: posix_spawn (vfork) makes Linux
    count the parent's memory at the spawn in the child's ru_maxrss, and the parent may hold the
    model. Interrupted, the child is stopped rather than left running.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    started = time.perf_counter()
    pid = os.posix_spawn(
        command[0],
        command,
        dict(os.environ),
        file_actions=[(os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o644), (os.POSIX_SPAWN_DUP2, 1, 2)],
    )
    trace: list[tuple[int, float]] = []
    high = [0.0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.25):
            memory = memory_mb(pid)
            if memory is not None:
                trace.append((progress(), round(memory[0], 1)))
                high[0] = max(high[0], memory[1])

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        _, status, usage = os.wait4(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        raise
    finally:
        stop.set()
        poller.join()
    return ChildRun(status, usage, high[0], trace, time.perf_counter() - started)


def peak_rss_of_batch(count: int, tmp: Path) -> dict[str, Any]:
    """Run ``cnaps-rag batch`` over ``count`` prompts in a child process; return its peak RSS and a
    trace of its RSS by answers written (:func:`peak_rss_of`)."""
    dataset = tmp / f"dataset-{count}.jsonl"
    output = tmp / f"answers-{count}.jsonl"
    log = tmp / f"batch-{count}.log"
    write_dataset(dataset, count)
    command = [
        *cli_command(),
        "batch",
        str(dataset),
        "-o",
        str(output),
        "-q",
        "--no-resume",
        "--strategy",
        "scaffold",
    ]
    run = peak_rss_of(
        command, log, progress=lambda: output.read_bytes().count(b"\n") if output.exists() else 0
    )
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines() if line.strip()]
    answered = sum(1 for r in records if not r.get("error"))
    return {
        "prompts": count,
        "answered": answered,
        "exit": os.waitstatus_to_exitcode(run.status),
        "peak_rss_mb": round(run.peak_mb or run.usage.ru_maxrss / 1024, 1),
        "ru_maxrss_mb": round(run.usage.ru_maxrss / 1024, 1),
        "seconds": round(run.seconds, 1),
        "rss_mb_by_answers": _rss_series(run.trace, count),
        "log_tail": log.read_text(errors="replace")[-300:] if answered < count else "",
    }


def _rss_series(trace: list[tuple[int, float]], count: int, points: int = 5) -> dict[str, float]:
    """Return the highest polled RSS after 1, ..., ``count`` - 1 answers, at about ``points`` counts.

    The samples after the last answer are left out: the process is closing the model then.
    """
    by_done: dict[int, float] = {}
    for done, rss in trace:
        if 1 <= done < count:
            by_done[done] = max(rss, by_done.get(done, 0.0))
    if not by_done:
        return {}
    keys = sorted(by_done)
    chosen = sorted({keys[round(i * (len(keys) - 1) / max(1, points - 1))] for i in range(points)})
    return {str(k): by_done[k] for k in chosen}


def bench_memory(large: int, small: int) -> Figure:
    """Return the peak RSS of a batch of ``large`` prompts against the model file's size.

    A batch of ``small`` prompts shows whether the peak grows with the number of prompts.
    """
    from cnaps_rag.backends import embedded_model_path

    model_mb = embedded_model_path().stat().st_size / 2**20
    with tempfile.TemporaryDirectory(prefix="cnaps-bench-") as tmp:
        runs = []
        for count in (small, large):
            say(f"memory: cnaps-rag batch of {count} prompts in a child process")
            runs.append(peak_rss_of_batch(count, Path(tmp)))
    low, high = runs
    growth = high["peak_rss_mb"] - low["peak_rss_mb"]
    allowed_growth = MEMORY_FLAT_MB + MEMORY_FLAT_MB_PER_PROMPT * (large - small)
    peak = high["peak_rss_mb"]
    complete = all(r["answered"] == r["prompts"] and r["exit"] == 0 for r in runs)
    within = peak <= model_mb + MEMORY_MAX_EXTRA_MB
    flat = growth <= allowed_growth
    return Figure(
        key="memory",
        name=f"peak RSS, batch of {large}",
        measured=f"{peak:.0f} MB ({low['peak_rss_mb']:.0f} MB at {small} prompts)",
        baseline=f"model file {model_mb:.0f} MB",
        ratio=ratio_of(peak, model_mb),
        goal=f"≤ model + {MEMORY_MAX_EXTRA_MB:g} MB, flat (≤ +{allowed_growth:g} MB from {small} to {large})",
        met=within and flat and complete,
        details={
            "model_mb": round(model_mb, 1),
            "growth_mb": round(growth, 1),
            "allowed_growth_mb": allowed_growth,
            "extra_over_model_mb": round(peak - model_mb, 1),
            "runs": runs,
        },
        note="" if complete else "some prompts were not answered: see details.runs",
    )
