"""The [eval] group of ``python -m eval.bench``: ``cnaps-rag eval`` at scale, each figure against a baseline.

- processes: answers scored per second with ``jobs=2`` against ``jobs=1``, in the same run,
  interleaved, the best of ``repeat`` each (goal: at least 1.7x on a 2-core machine);
- memory: the peak RSS of ``cnaps-rag eval ... -o DIR`` on 100,000 answers against 1,000
  (goal: at most 100 MB more), each in a child process whose high-water mark is polled;
- Dask: the report from a local Dask cluster on loopback against the in-process one (goal: the
  same bytes), with both rates.

The answers are the 115 real dev answers of ``../shared/real-answers/`` repeated under new ids
(``Deblur-MSSNet-GoPro~7``), their prompts in an index (``--prompts``), so that the prompts stay
the 40 they are and only the answers grow. Nothing of them is kept in the project: the files are
written to a temporary folder and removed.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.bench_common import Figure, ratio_of, say, unavailable
from eval.bench_memory import cli_command, peak_rss_of

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-answers"
SOURCES = ("format1_dev.jsonl", "format2_dev.jsonl")

JOBS_MIN_SPEEDUP = 1.7
MEMORY_MAX_GROWTH_MB = 100.0


def write_answers(folder: Path, count: int) -> tuple[Path, Path]:
    """Write ``count`` answers (the dev answers repeated under new ids) and their prompts' index."""
    texts = [(REAL / name).read_text(encoding="utf-8") for name in SOURCES]
    records = [json.loads(line) for text in texts for line in text.split("\n") if line.strip()]
    prompts = folder / "prompts.jsonl"
    with prompts.open("w", encoding="utf-8") as out:
        for prompt_id, text in {r["id"]: r["prompt"] for r in records}.items():
            out.write(json.dumps({"id": prompt_id, "prompt": text}) + "\n")
    answers = folder / f"answers-{count}.jsonl"
    with answers.open("w", encoding="utf-8") as out:
        for index in range(count):
            record = records[index % len(records)]
            row = {
                "id": f"{record['id']}~{index // len(records)}",
                "system": record["system"],
                "prompt": record["id"],  # the name of a prompt in the index
                "markdown": record["markdown"],
            }
            out.write(json.dumps(row) + "\n")
    return answers, prompts


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def bench_jobs(folder: Path, count: int, repeat: int) -> Figure:
    """Return answers per second with two processes against one, interleaved, best of ``repeat``."""
    from cnaps_rag.evaluation import evaluate, load_prompt_index

    answers, prompts = write_answers(folder, count)
    index = load_prompt_index(prompts)
    evaluate([answers], index)  # warm: imports, the parsed prompts, the allow-lists
    best = {1: float("inf"), 2: float("inf")}
    # CPU seconds of this process and of the pool's workers (reaped at the end of each run): what
    # two idle cores could give, whatever else runs on the machine.
    cpu = {1: [float("inf"), 0.0], 2: [float("inf"), float("inf")]}
    for round_ in range(repeat):
        for jobs in (1, 2) if round_ % 2 == 0 else (2, 1):
            say(f"eval: {count} answers, jobs={jobs} ({round_ + 1}/{repeat})")
            children = _children_cpu()
            own = time.process_time()
            started = time.perf_counter()
            report = evaluate([answers], index, jobs=jobs)
            best[jobs] = min(best[jobs], time.perf_counter() - started)
            cpu[jobs][0] = min(cpu[jobs][0], time.process_time() - own)
            if jobs == 2:
                cpu[jobs][1] = min(cpu[jobs][1], _children_cpu() - children)
            assert report.counts["scored"] == count
    one, two = count / best[1], count / best[2]
    speedup = two / one
    main, workers = cpu[2]
    # On two idle cores the run takes as long as the busier of: this process, or all the work halved.
    ceiling = cpu[1][0] / max(main, (main + workers) / 2)
    return Figure(
        key="eval-jobs",
        name=f"eval, --jobs 2, {count} answers",
        measured=f"{two:.0f} answers/s",
        baseline=f"--jobs 1, {one:.0f} answers/s",
        ratio=round(speedup, 3),
        goal=f"≥ {JOBS_MIN_SPEEDUP:g}× faster",
        met=speedup >= JOBS_MIN_SPEEDUP,
        details={
            "answers": count,
            "repeat": repeat,
            "cores": os.cpu_count(),
            "load_average": _load_average(),
            "cpu_ms_per_answer": {
                "jobs_1": round(cpu[1][0] / count * 1e3, 3),
                "jobs_2_main": round(main / count * 1e3, 3),
                "jobs_2_workers": round(workers / count * 1e3, 3),
            },
            "speedup_on_idle_cores": round(ceiling, 3),
        },
        note=f"by CPU time, {ceiling:.2f}× on two idle cores (load average {_load_average()})",
    )


def peak_rss_of_eval(answers: Path, prompts: Path, out: Path) -> dict[str, Any]:
    """Run ``cnaps-rag eval`` (one process, report files written) in a child; return its peak RSS."""
    command = [
        *cli_command(),
        "eval",
        str(answers),
        "--prompts",
        str(prompts),
        "-o",
        str(out),
        "-q",
        "--jobs",
        "1",
    ]
    run = peak_rss_of(command, os.devnull)
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in out.glob("report.*")}
    return {
        "exit": os.waitstatus_to_exitcode(run.status),
        "peak_rss_mb": round(run.peak_mb or run.usage.ru_maxrss / 1024, 1),
        "seconds": round(run.seconds, 1),
        "report_mb": sizes,
    }


def bench_memory(folder: Path, large: int, small: int) -> Figure:
    """Return the peak RSS of an eval of ``large`` answers against one of ``small``."""
    runs = {}
    for count in (small, large):
        answers, prompts = write_answers(folder, count)
        say(f"eval memory: cnaps-rag eval of {count} answers in a child process")
        runs[count] = peak_rss_of_eval(answers, prompts, folder / f"report-{count}")
        answers.unlink()
        for path in (folder / f"report-{count}").glob("report.*"):
            path.unlink()  # hundreds of MB for the large run
    low, high = runs[small]["peak_rss_mb"], runs[large]["peak_rss_mb"]
    growth = high - low
    complete = all(run["exit"] == 0 for run in runs.values())
    return Figure(
        key="eval-memory",
        name=f"eval peak RSS, {large:,} answers",
        measured=f"{high:.0f} MB",
        baseline=f"{small:,} answers, {low:.0f} MB",
        ratio=ratio_of(high, low),
        goal=f"≤ +{MEMORY_MAX_GROWTH_MB:g} MB",
        met=complete and growth <= MEMORY_MAX_GROWTH_MB,
        details={"growth_mb": round(growth, 1), "runs": {str(k): v for k, v in runs.items()}},
        note="" if complete else "an eval run failed: see details.runs",
    )


def bench_dask(folder: Path, count: int) -> Figure:
    """Return whether a local Dask cluster gives the in-process report, and both rates."""
    try:
        import distributed
    except ImportError:
        return unavailable(
            "eval-dask", "eval on a Dask cluster", "same report", "distributed is not installed"
        )
    from cnaps_rag.evaluation import evaluate, load_prompt_index, report_json

    answers, prompts = write_answers(folder, count)
    index = load_prompt_index(prompts)
    started = time.perf_counter()
    local = evaluate([answers], index)
    local_seconds = time.perf_counter() - started
    say(f"eval: {count} answers on a local Dask cluster (2 worker processes on loopback)")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        started = time.perf_counter()
        remote = evaluate([answers], index, executor=client.get_executor())
        dask_seconds = time.perf_counter() - started
    same = report_json(remote) == report_json(local)
    return Figure(
        key="eval-dask",
        name=f"eval on a local Dask cluster, {count} answers",
        measured=f"{count / dask_seconds:.0f} answers/s, report {'identical' if same else 'DIFFERENT'}",
        baseline=f"in process, {count / local_seconds:.0f} answers/s",
        ratio=ratio_of(local_seconds, dask_seconds),
        goal="the same report",
        met=same,
        details={"answers": count, "dask": distributed.__version__},
    )


def bench_eval(large: int, small: int, speed: int, repeat: int) -> list[Figure]:
    """Return the [eval] group's figures (module docstring)."""
    if not all((REAL / name).is_file() for name in SOURCES):
        reason = f"the real dev answers are not at {REAL}"
        return [unavailable("eval", "eval at scale", "-", reason)]
    with tempfile.TemporaryDirectory(prefix="cnaps-bench-eval-") as tmp:
        folder = Path(tmp)
        return [
            bench_jobs(folder, speed, repeat),
            bench_dask(folder, small),
            bench_memory(folder, large, small),
        ]
