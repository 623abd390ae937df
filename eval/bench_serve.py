"""[serve] ``batch --workers N`` against llama.cpp's server, beside the same requests sent raw.

For each N, llama.cpp's ``llama-server`` is started on loopback with ``--parallel N`` and
continuous batching, serving the embedded model. The real dev prompts of the first format
(``../shared/real-answers/format1_dev.jsonl``, read now, written only to a temporary dataset)
are answered by :func:`cnaps_rag.answer_batch` with N workers through the ``llamacpp``
provider, every request it sends being recorded; then the recorded requests are sent again
with the bare openai client from N threads. The figure is the batch's answers per second over
the raw replay's (the same prompts over the wall time of their requests alone). Each round is a
batch and its replay (in turn first and second), and the figure is the median of the rounds'
ratios, each round's two sides timed back to back under the same load. The batch is slower than
its replay where its own work (parsing, validation, scoring, one prompt's requests waiting on
each other) leaves the server idle: that is what the figure measures.

``llama-server`` is found as ``$LLAMA_SERVER``, else on PATH (llama.cpp's build:
``cmake -B build && cmake --build build --target llama-server``); without it the figure says
"not available". The server gets ``--threads`` as llama-cpp-python chooses (half the cores):
on a shared two-core machine two spinning threads per generation ran 15 times slower.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bench_common import ROOT, Figure, say, unavailable
from .faults import free_port, serving

REAL_PROMPTS = ROOT.parent / "shared" / "real-answers" / "format1_dev.jsonl"
SERVE_MIN_RATIO = 0.9
"""Issue 21: the batch reaches at least 0.9x the raw throughput at the same concurrency."""
CTX_PER_SLOT = 4096
GOAL = f">= {SERVE_MIN_RATIO}x raw"
WARM_UP = {"model": "local", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def server_binary() -> str | None:
    """Return llama.cpp's ``llama-server``: ``$LLAMA_SERVER``, else the one on PATH, else None."""
    chosen = os.environ.get("LLAMA_SERVER") or shutil.which("llama-server")
    return chosen if chosen and Path(chosen).is_file() else None


def dev_prompts(limit: int) -> list[dict[str, str]]:
    """Return the first ``limit`` distinct real dev prompts as ``{"id", "prompt"}`` records."""
    seen: dict[str, str] = {}
    for line in REAL_PROMPTS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            seen.setdefault(str(record["id"]), str(record["prompt"]))
    return [{"id": key, "prompt": text} for key, text in list(seen.items())[:limit]]


@contextmanager
def llama_server(binary: str, parallel: int, threads: int, log: Path) -> Iterator[str]:
    """Run ``llama-server`` with the embedded model, ``parallel`` slots and continuous batching."""
    from cnaps_rag.backends import embedded_model_path
    from cnaps_rag.backends.local import repack_decision

    model = embedded_model_path()
    port = free_port()
    command = [
        binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--parallel", str(parallel), "--cont-batching", "--ctx-size", str(CTX_PER_SLOT * parallel),
        "--threads", str(threads), "--threads-batch", str(threads),
        # A RAM prompt cache would serve the replay from the batch's own prompts.
        "--cache-ram", "0",
    ]  # fmt: skip
    if not repack_decision(model).repack:  # where the local backend would not repack (AMX crash)
        command.append("--no-repack")
    with serving("llama-server", command, port, log, 120, "/health") as url:
        yield url


class Recorder:
    """An openai client's ``chat.completions`` that keeps every request's arguments."""

    def __init__(self, client: Any):
        self.client = client
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.chat = self
        self.completions = self
        self.api_key = client.api_key
        self.base_url = client.base_url

    def create(self, **kwargs: Any) -> Any:
        with self._lock:
            self.requests.append(kwargs)
        return self.client.chat.completions.create(**kwargs)


def run_batch(
    url: str, dataset: Path, out: Path, workers: int, strategy: str, max_tokens: int | None
) -> tuple[float, int, list[dict[str, Any]]]:
    """Return the seconds a batch took, its failed prompts, and the requests it sent."""
    import openai

    from cnaps_rag import answer_batch
    from cnaps_rag.backends import OpenAIBackend

    recorder = Recorder(openai.OpenAI(base_url=url, api_key="not-needed", max_retries=0))
    backend = OpenAIBackend(provider="llamacpp", base_url=url, client=recorder)
    started = time.perf_counter()
    summary = answer_batch(
        [str(dataset)], out, backend=backend, strategy=strategy,  # type: ignore[arg-type]
        max_tokens=max_tokens, workers=workers, resume=False, progress=False,
    )  # fmt: skip
    return time.perf_counter() - started, summary.failed, recorder.requests


def run_raw(url: str, requests: Sequence[dict[str, Any]], workers: int) -> float:
    """Return the seconds ``requests`` take sent by the bare openai client from ``workers`` threads."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="not-needed", max_retries=0)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda kwargs: client.chat.completions.create(**kwargs), requests))
    return time.perf_counter() - started


@dataclass
class Round:
    """One batch and the replay of its requests, timed side by side."""

    batch_s: float
    raw_s: float
    requests: int
    failed: int


def _round(
    url: str, dataset: Path, out: Path, n: int, strategy: str, max_tokens: int | None, previous: list[Any]
) -> tuple[Round, list[dict[str, Any]]]:
    """Return one round (a batch with ``n`` workers and the replay of its requests) and its requests.

    With ``previous`` (the last round's requests) the replay goes first, so that neither side always
    meets the server after the other's work.
    """
    raw_first = run_raw(url, previous, n) if previous else None
    say(f"serve: --parallel {n}, batch --workers {n}{', after its replay' if previous else ''}")
    seconds, failed, requests = run_batch(url, dataset, out, n, strategy, max_tokens)
    raw_s = raw_first if raw_first is not None else run_raw(url, requests, n)
    return Round(seconds, raw_s, len(requests), failed), requests


def bench_serve(
    prompts: int, workers: Sequence[int], strategy: str, max_tokens: int | None, repeat: int
) -> list[Figure]:
    """Return one figure per N in ``workers``: batch answers/s over raw answers/s at concurrency N."""
    binary = server_binary()
    names = [f"serve, batch --workers {n} / raw" for n in workers]
    if binary is None:
        reason = "llama.cpp's llama-server not found: set $LLAMA_SERVER or put it on PATH"
        return [unavailable("serve", name, GOAL, reason) for name in names]
    if not REAL_PROMPTS.is_file():
        return [unavailable("serve", name, GOAL, f"{REAL_PROMPTS} is missing") for name in names]
    records = dev_prompts(prompts)
    threads = max(1, (os.cpu_count() or 2) // 2)
    figures = []
    with tempfile.TemporaryDirectory(prefix="cnaps-serve-") as tmp:
        dataset = Path(tmp) / "prompts.jsonl"
        dataset.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        first = Path(tmp) / "first.jsonl"  # the warm-up: the pipeline's first answer loads its data
        first.write_text(json.dumps(records[0]) + "\n", encoding="utf-8")
        for n, name in zip(workers, names, strict=True):
            with llama_server(binary, n, threads, Path(tmp) / f"server-{n}.log") as url:
                run_raw(url, [WARM_UP], 1)
                run_batch(url, first, Path(tmp) / f"first-{n}.jsonl", 1, strategy, max_tokens)
                rounds: list[Round] = []
                requests: list[dict[str, Any]] = []
                for rep in range(repeat):
                    out = Path(tmp) / f"out-{n}-{rep}.jsonl"
                    previous = requests if rep % 2 else []
                    done, requests = _round(url, dataset, out, n, strategy, max_tokens, previous)
                    rounds.append(done)
            batch_s, raw_s = min(r.batch_s for r in rounds), min(r.raw_s for r in rounds)
            # Each round's batch and replay ran side by side, under the same load: their ratio is
            # steadier than the ratio of the fastest of each, and the median of them is the figure.
            ratio = statistics.median(r.raw_s / r.batch_s for r in rounds)
            failed = sum(r.failed for r in rounds)
            figures.append(
                Figure(
                    key="serve",
                    name=name,
                    measured=f"{len(records) / batch_s:.3f} answers/s",
                    baseline=f"raw openai client {len(records) / raw_s:.3f} answers/s",
                    ratio=round(ratio, 3),
                    goal=GOAL,
                    met=ratio >= SERVE_MIN_RATIO and failed == 0,
                    details={
                        "parallel": n,
                        "workers": n,
                        "prompts": len(records),
                        "requests": [r.requests for r in rounds],
                        "round_ratios": [round(r.raw_s / r.batch_s, 3) for r in rounds],
                        "strategy": strategy,
                        "max_tokens": max_tokens,
                        "threads": threads,
                        "failed": failed,
                        "batch_s": round(batch_s, 3),
                        "raw_s": round(raw_s, 3),
                    },
                    note="ratio: the median over rounds of each round's batch against its own replay; "
                    "measured and baseline: the fastest of each",
                )
            )
    return figures
