"""Benchmark cnaps-rag, each figure as a ratio to a baseline measured in the same run.

Run: ``python -m eval.bench [--quick] [--json]`` (``-h`` lists the sizes). The machines
this runs on are small, shared and noisy, so no figure is an absolute time alone: each
is set against a baseline measured in the same process, interleaved with it, and the
fastest of the repetitions is kept. ``eval/BENCH.md`` says what every figure means.

Figures (``--only`` takes the group names in brackets):

- [validate] ``validate(answer, spec)`` per fixture answer, and on 2 KB answers, against a
  bare regular-expression URL scan of the same text;
- [score] ``cnaps_rag.score.score`` against the same scan ("not available" when it does not import);
- [import] ``python -c "import cnaps_rag"`` against ``python -c pass``;
- [answer] a guided answer with the embedded model against replaying its requests as raw
  llama-cpp-python calls, and against one raw free-form generation of the same length;
- [constrained] JSON-schema-constrained decoding against unconstrained decoding of as many tokens;
- [batch] a batch reusing llama.cpp's KV cache across prompts against a fresh context per request;
- [memory] the peak RSS of ``cnaps-rag batch`` against the model file's size, at two batch sizes;
- [eval] ``cnaps-rag eval`` at scale: two processes against one, 100,000 answers' peak RSS against
  1,000's, a Dask cluster's report against the local one (``eval/bench_eval.py``).
- [serve] ``batch --workers N`` against llama.cpp's ``llama-server --parallel N`` on loopback,
  against the same requests sent raw with the openai client (``eval/bench_serve.py``).

Exit code 0 whatever the figures say (this is a benchmark, not a test); 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from cnaps_rag import PromptSpec, load_prompt_file, validate
from cnaps_rag.allowlist import AllowList
from cnaps_rag.backends import Completion, LocalBackend, Request

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
GUIDED_MAX_RATIO = 1.5
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
    serve_strategy: str = "guided"
    """guided: the embedded model's own strategy, short requests (capable: minutes per prompt on 2 cores)."""
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


def _log(message: str) -> None:
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


def _ratio(measured: float, baseline: float) -> float | None:
    return measured / baseline if baseline > 0 and math.isfinite(measured) else None


def _fmt_ratio(ratio: float | None) -> str:
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
        "load_average_start": _load_average(),
    }


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- text figures


@dataclass
class LabelledAnswer:
    """A fixture answer and the prompt it answers."""

    id: str
    spec: PromptSpec
    text: str


def load_answers(path: Path = LABELLED, limit: int | None = None) -> list[LabelledAnswer]:
    """Return the fixture answers (fields id, prompt, answer), each with its parsed prompt."""
    specs: dict[str, PromptSpec] = {}
    answers = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record["prompt"] not in specs:
            specs[record["prompt"]] = load_prompt_file(PROMPTS / record["prompt"])[0]
        answers.append(LabelledAnswer(record["id"], specs[record["prompt"]], record["answer"]))
    return answers[:limit] if limit else answers


def two_kb_answers(answers: Sequence[LabelledAnswer], size: int = 2048) -> list[LabelledAnswer]:
    """Return one answer of about ``size`` bytes per prompt: its fixture answers joined, cut at a line."""
    by_prompt: dict[str, list[LabelledAnswer]] = {}
    for item in answers:
        by_prompt.setdefault(item.spec.id, []).append(item)
    result = []
    for prompt_id, items in by_prompt.items():
        text = ""
        index = 0
        while len(text.encode()) < size:
            text += items[index % len(items)].text.rstrip("\n") + "\n\n"
            index += 1
        cut = text.encode()[:size].decode("utf-8", errors="ignore")
        cut = cut[: cut.rfind("\n") + 1] or cut
        result.append(LabelledAnswer(f"{prompt_id}-2kb", items[0].spec, cut))
    return result


def _calibrate(fn: Callable[[], object], target: float = 2e-4) -> int:
    """Return how many calls of ``fn`` take about ``target`` seconds (so a sample is not all timer)."""
    started = time.perf_counter()
    fn()
    once = time.perf_counter() - started
    return max(1, min(10_000, int(target / max(once, 1e-7))))


def _sample(fn: Callable[[], object], inner: int) -> float:
    started = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - started) / inner


def time_against_scan(
    fn: Callable[[str, PromptSpec], object], answers: Sequence[LabelledAnswer], repeat: int
) -> list[tuple[float, float]]:
    """Return (scan seconds, ``fn`` seconds) per answer, each the fastest of ``repeat`` interleaved runs."""
    result = []
    for item in answers:
        text, spec = item.text, item.spec

        def scan(text: str = text) -> object:
            return URL_SCAN.findall(text)

        def measured(text: str = text, spec: PromptSpec = spec) -> object:
            return fn(text, spec)

        scan_inner, fn_inner = _calibrate(scan), _calibrate(measured)
        scans, runs = [], []
        for _ in range(repeat):
            scans.append(_sample(scan, scan_inner))
            runs.append(_sample(measured, fn_inner))
        result.append((min(scans), min(runs)))
    return result


def _text_figure(
    key: str,
    name: str,
    pairs: list[tuple[float, float]],
    answers: Sequence[LabelledAnswer],
    max_ratio: float,
) -> Figure:
    scans = [s * 1e6 for s, _ in pairs]
    runs = [r * 1e6 for _, r in pairs]
    p50, p95 = statistics.median(runs), percentile(runs, 0.95)
    s50, s95 = statistics.median(scans), percentile(scans, 0.95)
    ratio = _ratio(p50, s50)
    sizes = [len(a.text.encode()) for a in answers]
    return Figure(
        key=key,
        name=name,
        measured=f"p50 {p50:,.0f} µs, p95 {p95:,.0f} µs",
        baseline=f"URL scan p50 {s50:,.1f} µs, p95 {s95:,.1f} µs",
        ratio=ratio,
        goal=f"≤ {max_ratio:g}×",
        met=ratio is not None and ratio <= max_ratio,
        details={
            "answers": len(answers),
            "bytes_p50": statistics.median(sizes),
            "bytes_max": max(sizes),
            "us_p50": round(p50, 2),
            "us_p95": round(p95, 2),
            "scan_us_p50": round(s50, 3),
            "scan_us_p95": round(s95, 3),
            "ratio_p95": _ratio(p95, s95),
        },
    )


def bench_validate(answers: Sequence[LabelledAnswer], repeat: int) -> list[Figure]:
    """Return the validate figures: per fixture answer, and on 2 KB answers (≤ 1 ms)."""
    pairs = time_against_scan(validate, answers, repeat)
    per_answer = _text_figure("validate", "validate, µs per answer", pairs, answers, VALIDATE_MAX_RATIO)
    # Where the time goes: validate(text, spec) takes the allow-list from a cache keyed by the
    # prompt's content (AllowList.for_spec); building one (from_spec) is timed apart, and validate
    # is timed again with the allow-list passed in, which skips even the cache's key.
    allow_lists = {a.spec.id: AllowList.from_spec(a.spec) for a in answers}
    build = time_against_scan(lambda _text, spec: AllowList.from_spec(spec), answers, repeat)
    prebuilt = time_against_scan(lambda text, spec: validate(text, allow_lists[spec.id]), answers, repeat)
    per_answer.details["allowlist_build_us_p50"] = round(statistics.median(r for _, r in build) * 1e6, 1)
    per_answer.details["with_prebuilt_allowlist_us_p50"] = round(
        statistics.median(r for _, r in prebuilt) * 1e6, 1
    )

    big = two_kb_answers(answers)
    big_pairs = time_against_scan(validate, big, repeat)
    figure = _text_figure("validate_2kb", "validate, 2 KB answer", big_pairs, big, VALIDATE_MAX_RATIO)
    ms = figure.details["us_p50"] / 1000
    figure.measured = f"p50 {ms:.2f} ms, p95 {figure.details['us_p95'] / 1000:.2f} ms"
    figure.goal = f"≤ {MAX_MS_2KB:g} ms (and ≤ {MAX_RATIO_2KB:g}×)"
    figure.met = ms <= MAX_MS_2KB and figure.ratio is not None and figure.ratio <= MAX_RATIO_2KB
    big_prebuilt = time_against_scan(lambda text, spec: validate(text, allow_lists[spec.id]), big, repeat)
    figure.details["with_prebuilt_allowlist_ms_p50"] = round(
        statistics.median(r for _, r in big_prebuilt) * 1e3, 3
    )
    return [per_answer, figure]


def load_score() -> tuple[Callable[..., object] | None, str]:
    """Return ``cnaps_rag.score.score``, or None and why it cannot be imported."""
    try:
        from cnaps_rag.score import score
    except Exception as exc:  # being written concurrently: any failure means "not available"
        return None, f"cnaps_rag.score does not import ({type(exc).__name__}: {exc})"
    return score, ""


def bench_score(answers: Sequence[LabelledAnswer], repeat: int) -> Figure:
    """Return the score figure, or a 'not available' row when the scorer does not import or run."""
    name, goal = "score, µs per answer", f"≤ {SCORE_MAX_RATIO:g}×"
    score, reason = load_score()
    if score is None:
        return unavailable("score", name, goal, reason)
    try:
        pairs = time_against_scan(score, answers, repeat)
    except Exception as exc:  # a scorer in progress may fail on some answer
        return unavailable("score", name, goal, f"score() failed: {type(exc).__name__}: {exc}")
    return _text_figure("score", name, pairs, answers, SCORE_MAX_RATIO)


# --------------------------------------------------------------------------- real answers

REAL_ANSWERS = ROOT.parent / "shared" / "real-answers"
"""The frontier models' answers to the dataset's prompts (read at run time, never copied)."""
REAL_MAX_RATIO = MAX_RATIO_2KB
REAL_MAX_MS_2KB = MAX_MS_2KB


def load_real_answers(limit: int | None = None) -> list[LabelledAnswer]:
    """Return the real dev answers whose prompts parse (none when ``../shared/real-answers`` is absent)."""
    from cnaps_rag import parse_prompt
    from cnaps_rag.errors import PromptError

    result = []
    for name in ("format1_dev.jsonl", "format2_dev.jsonl"):
        path = REAL_ANSWERS / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            record = json.loads(line)
            try:
                spec = parse_prompt(record["prompt"])
            except PromptError:
                continue
            result.append(LabelledAnswer(f"{name}:{number}", spec, record["markdown"]))
    return result[:limit] if limit else result


def bench_real(
    answers: Sequence[LabelledAnswer],
    repeat: int,
    key: str,
    fn: Callable[..., object],
    max_ms: float = REAL_MAX_MS_2KB,
    max_ratio: float = REAL_MAX_RATIO,
) -> Figure:
    """Return ms per 2 KB of ``fn`` on the real answers, against the URL scan of the same texts."""
    name = f"{key}, real answer, ms per 2 KB"
    goal = f"≤ {max_ms:g} ms per 2 KB (and ≤ {max_ratio:g}×)"
    if not answers:
        return unavailable(f"{key}_real", name, goal, f"no real answers at {REAL_ANSWERS}")
    pairs = time_against_scan(fn, answers, repeat)
    figure = _text_figure(f"{key}_real", name, pairs, answers, max_ratio)
    per_2kb = [run / len(a.text.encode()) * 2048 * 1e3 for (_, run), a in zip(pairs, answers, strict=True)]
    ms = statistics.median(per_2kb)
    figure.measured = f"p50 {ms:.2f} ms per 2 KB, p95 {percentile(per_2kb, 0.95):.2f} ms"
    figure.goal = goal
    figure.met = ms <= max_ms and figure.ratio is not None and figure.ratio <= max_ratio
    figure.details["ms_per_2kb_p50"] = round(ms, 3)
    return figure


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
        ratio=_ratio(cached["import_ms"], cached["pass_ms"]),
        goal=f"≤ +{IMPORT_MAX_EXTRA_MS:g} ms, llama_cpp/openai lazy",
        met=extra <= IMPORT_MAX_EXTRA_MS and not heavy,
        details=details,
        note=note,
    )


# --------------------------------------------------------------------------- model figures


def _first_spec() -> PromptSpec:
    return load_prompt_file(single_prompt_files(1)[0])[0]


def single_prompt_files(limit: int = 0) -> list[Path]:
    """Return the fixture prompt files that hold exactly one prompt, sorted."""
    files = [p for p in sorted(PROMPTS.glob("*.txt")) if len(load_prompt_file(p)) == 1]
    return files[:limit] if limit else files


@dataclass
class RecordingBackend(LocalBackend):
    """The local backend, keeping each request it is sent with its completion and seconds."""

    calls: list[tuple[Request, Completion, float]] = field(default_factory=list, repr=False)

    def complete(self, request: Request) -> Completion:
        started = time.perf_counter()
        completion = super().complete(request)
        self.calls.append((request, completion, time.perf_counter() - started))
        return completion


@dataclass
class FreshContextBackend(LocalBackend):
    """The local backend with llama.cpp's KV cache cleared before every request."""

    def complete(self, request: Request) -> Completion:
        self.llama.reset()
        return super().complete(request)


@dataclass
class CaptureBackend:
    """Keeps the requests it is sent and replies with a well-formed draft or slot: no model involved."""

    name: ClassVar[str] = "capture"
    supports_schema: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True
    in_process: ClassVar[bool] = False
    model: str = "capture"
    n_ctx: int = 4096
    is_embedded: bool = False
    requests: list[Request] = field(default_factory=list)

    def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        if "workflow" in (request.schema or {}).get("properties", {}):
            return Completion(text='{"task": "t", "workflow": "w", "sources": []}')
        return Completion(text='{"sentence": "The user wants a sharper photo of the scene."}')


class ModelBench:
    """The model figures, sharing one loaded llama.cpp model and the requests the pipeline sent."""

    def __init__(self, settings: Settings, *, warm: bool = True):
        self.settings = settings
        self.recorder = RecordingBackend()
        self.fresh_backend = FreshContextBackend()
        self.llama = self.recorder.llama
        self.specs = [load_prompt_file(p)[0] for p in single_prompt_files(settings.answer_prompts)]
        self.requests: list[Request] = []
        self.last_usage: dict[str, int] = {}
        if warm:
            self.warm_up()

    def warm_up(self, tries: int = 6) -> list[float]:
        """Repeat a guided request until its time settles; return the times.

        The first few calls after loading cost seconds more (llama.cpp and its threads
        warming up: 3-8 s on the 2-core test machine), which belongs to no figure.
        """
        import cnaps_rag

        capture = CaptureBackend()
        cnaps_rag.answer(self.specs[0] if self.specs else _first_spec(), backend=capture, strategy="guided")
        request = capture.requests[0]
        times: list[float] = []
        for _ in range(tries):
            self.llama.reset()
            seconds = self.raw_call(request)[0] + self.raw_call(request, constrained=False)[0]
            times.append(seconds)
            if len(times) >= 2 and seconds >= 0.8 * times[-2]:
                break
        return times

    # ----------------------------------------------------------------- raw calls

    def raw_call(
        self,
        request: Request,
        *,
        constrained: bool = True,
        max_tokens: int | None = None,
        ban_eos: bool = False,
    ) -> tuple[float, int]:
        """Send ``request`` straight to llama-cpp-python as LocalBackend would; return (seconds, tokens)."""
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": max_tokens if max_tokens is not None else request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        if constrained and request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
        if ban_eos:  # so an unconstrained run writes exactly max_tokens tokens
            kwargs["logit_bias"] = {self.llama.token_eos(): -1e9}
        started = time.perf_counter()
        result = self.llama.create_chat_completion(**kwargs)
        seconds = time.perf_counter() - started
        self.last_usage = dict(result["usage"])
        return seconds, int(result["usage"]["completion_tokens"])

    def _free_length(self, request: Request, tokens: int) -> tuple[float, int, bool]:
        """Return (seconds, tokens, EOS banned) of an unconstrained generation of ``tokens`` tokens."""
        seconds, produced = self.raw_call(request, constrained=False, max_tokens=tokens)
        if produced >= tokens:
            return seconds, produced, False
        seconds, produced = self.raw_call(request, constrained=False, max_tokens=tokens, ban_eos=True)
        return seconds, produced, True

    def free_request(self, spec: PromptSpec, max_tokens: int) -> Request:
        """Return the request the ``free`` strategy sends for ``spec`` (captured without the model)."""
        import cnaps_rag

        capture = CaptureBackend(n_ctx=self.recorder.n_ctx)
        cnaps_rag.answer(spec, backend=capture, strategy="free")
        return replace(capture.requests[0], max_tokens=max_tokens)

    # ----------------------------------------------------------------- answer, guided

    def bench_answer(self) -> list[Figure]:
        """Return the pipeline-overhead figure and the guided-versus-free-form figure."""
        import cnaps_rag

        rows = []
        for number, spec in enumerate(self.specs, start=1):
            _log(f"answer {number}/{len(self.specs)}: {spec.id}")
            pipe_times, raw_times, free_times, in_model = [], [], [], []
            calls: list[tuple[Request, Completion, float]] = []
            meta: Any = None
            free_req: Any = None
            free_tokens, free_prompt_tokens, banned = 0, 0, False
            replay_tokens: list[int] = []
            for rep in range(self.settings.model_repeat):
                order = ["pipeline", "replay", "free"]
                if rep % 2:
                    order.reverse()
                if not calls:  # the replays need the pipeline's requests first
                    order = ["pipeline", *[o for o in order if o != "pipeline"]]
                for step in order:
                    self.llama.reset()  # every run starts from the same (empty) cache
                    if step == "pipeline":
                        self.recorder.calls.clear()
                        started = time.perf_counter()
                        result = cnaps_rag.answer(spec, backend=self.recorder, strategy="guided")
                        pipe_times.append(time.perf_counter() - started)
                        calls = list(self.recorder.calls)
                        in_model.append(sum(seconds for _, _, seconds in calls))
                        meta = result.meta
                    elif step == "replay":
                        total, replay_tokens = 0.0, []
                        for request, _, _ in calls:
                            seconds, tokens = self.raw_call(request)
                            total += seconds
                            replay_tokens.append(tokens)
                        raw_times.append(total)
                    else:
                        if free_req is None:
                            free_req = self.free_request(spec, meta.completion_tokens)
                        seconds, free_tokens, banned = self._free_length(free_req, meta.completion_tokens)
                        free_times.append(seconds)
                        free_prompt_tokens = self.last_usage.get("prompt_tokens", 0)
            self.requests.extend(request for request, _, _ in calls)
            rows.append(
                {
                    "id": spec.id,
                    "pipeline_s": min(pipe_times),
                    "replay_s": min(raw_times),
                    "in_model_calls_s": min(in_model),
                    "free_form_s": min(free_times),
                    "free_form_tokens": free_tokens,
                    "free_form_prompt_tokens": free_prompt_tokens,
                    "free_form_eos_banned": banned,
                    "replay_tokens_match": replay_tokens == [c.completion_tokens for _, c, _ in calls],
                    "generations": meta.generations,
                    "prompt_tokens": meta.prompt_tokens,
                    "completion_tokens": meta.completion_tokens,
                    "meta_timings": meta.timings,
                }
            )
        n = len(rows)
        pipe = sum(r["pipeline_s"] for r in rows)
        raw = sum(r["replay_s"] for r in rows)
        free = sum(r["free_form_s"] for r in rows)
        model_calls = sum(r["in_model_calls_s"] for r in rows)
        completion = sum(r["completion_tokens"] for r in rows)
        prompt_tokens = sum(r["prompt_tokens"] for r in rows)
        overhead = _ratio(pipe, raw)
        threads = self.llama.context_params
        common = {
            "prompts": n,
            "repeat": self.settings.model_repeat,
            "n_threads": threads.n_threads,
            "n_threads_batch": threads.n_threads_batch,
            "n_ctx": self.recorder.n_ctx,
        }
        answer_figure = Figure(
            key="answer",
            name="local answer (guided), pipeline overhead",
            measured=f"{pipe / n:.2f} s/prompt, {completion / pipe:.1f} completion tok/s",
            baseline=f"raw replay {raw / n:.2f} s/prompt",
            ratio=overhead,
            goal=f"≤ {PIPELINE_MAX_OVERHEAD:g}× (≤ 5% overhead)",
            met=overhead is not None and overhead <= PIPELINE_MAX_OVERHEAD,
            details={
                **common,
                "pipeline_s_per_prompt": round(pipe / n, 3),
                "replay_s_per_prompt": round(raw / n, 3),
                "completion_tokens_per_s": round(completion / pipe, 2),
                "prompt_plus_completion_tokens_per_s": round((completion + prompt_tokens) / pipe, 2),
                "generations_per_prompt": sum(r["generations"] for r in rows) / n,
                "outside_model_calls_fraction": round((pipe - model_calls) / pipe, 5),
                "in_run_overhead": _ratio(pipe, model_calls),
                "replays_identical": all(r["replay_tokens_match"] for r in rows),
                "rows": rows,
            },
            note=(
                f"in the same run, {100 * (pipe - model_calls) / pipe:.2f}% of the pipeline's time is "
                "outside its model calls; the rest of the gap to the replay is machine noise"
            ),
        )
        guided = _ratio(pipe, free)
        guided_figure = Figure(
            key="guided",
            name="guided strategy, whole answer",
            measured=f"{pipe / n:.2f} s/prompt ({completion / n:.0f} tokens in "
            f"{sum(r['generations'] for r in rows) / n:.1f} calls)",
            baseline=f"one free-form generation, same tokens {free / n:.2f} s",
            ratio=guided,
            goal=f"≤ {GUIDED_MAX_RATIO:g}×",
            met=guided is not None and guided <= GUIDED_MAX_RATIO,
            details={
                **common,
                "free_form_s_per_prompt": round(free / n, 3),
                "free_form_tokens_equal": all(r["free_form_tokens"] == r["completion_tokens"] for r in rows),
                "free_form_prompt": "the free strategy's prompt for the same spec",
            },
        )
        return [answer_figure, guided_figure]

    # ----------------------------------------------------------------- constrained

    def _record_requests(self) -> None:
        import cnaps_rag

        for spec in self.specs:
            self.recorder.calls.clear()
            cnaps_rag.answer(spec, backend=self.recorder, strategy="guided")
            self.requests.extend(request for request, _, _ in self.recorder.calls)
            if len(self.requests) >= self.settings.constrained_requests:
                break

    def bench_constrained(self, requests: Sequence[Request] | None = None) -> Figure:
        """Return constrained versus unconstrained decoding of the same number of tokens.

        Each request's prompt is cached first, so both sides decode from the same state
        and the time is the decoding (plus, for the constrained side, building the grammar).
        """
        from llama_cpp import LlamaGrammar

        if requests is None:
            if not self.requests:
                self._record_requests()
            requests = _spread(self.requests, self.settings.constrained_requests)
        requests = [r for r in requests if r.schema is not None]
        constrained_s, free_s, tokens_total, banned, mismatched = 0.0, 0.0, 0, 0, 0
        grammar_s = 0.0
        for number, request in enumerate(requests, start=1):
            _log(f"constrained {number}/{len(requests)}")
            self.llama.reset()
            _, tokens = self.raw_call(request)  # caches the prompt
            best_c, best_f = math.inf, math.inf
            for rep in range(max(2, self.settings.model_repeat)):
                for side in ("c", "f") if rep % 2 == 0 else ("f", "c"):
                    if side == "c":
                        seconds, produced = self.raw_call(request)
                        best_c = min(best_c, seconds)
                    else:
                        seconds, produced, was_banned = self._free_length(request, tokens)
                        best_f = min(best_f, seconds)
                        banned += was_banned and rep == 0
                        mismatched += produced != tokens and rep == 0
            constrained_s += best_c
            free_s += best_f
            tokens_total += tokens
            started = time.perf_counter()
            LlamaGrammar.from_json_schema(json.dumps(request.schema), verbose=False)
            grammar_s += time.perf_counter() - started
        if not requests or tokens_total == 0:
            return unavailable("constrained", "constrained decoding", "≤ 1.2×", "no constrained requests")
        ratio = _ratio(constrained_s, free_s)
        return Figure(
            key="constrained",
            name="constrained vs unconstrained decoding",
            measured=f"{1e3 * constrained_s / tokens_total:.1f} ms/token with JSON schema",
            baseline=f"{1e3 * free_s / tokens_total:.1f} ms/token free",
            ratio=ratio,
            goal=f"≤ {CONSTRAINED_MAX_RATIO:g}×",
            met=ratio is not None and ratio <= CONSTRAINED_MAX_RATIO,
            details={
                "requests": len(requests),
                "tokens": tokens_total,
                "constrained_s": round(constrained_s, 4),
                "unconstrained_s": round(free_s, 4),
                "grammar_from_schema_ms_per_request": round(1e3 * grammar_s / len(requests), 3),
                "unconstrained_needed_eos_ban": banned,
                "token_count_mismatches": mismatched,
            },
        )

    # ----------------------------------------------------------------- batch

    def bench_batch(self, limit: int) -> Figure:
        """Return prompts/s of a batch reusing the KV cache over one with a fresh context per request."""
        from cnaps_rag import answer_batch

        files = single_prompt_files(limit)
        best: dict[str, float] = {"cached": math.inf, "fresh": math.inf}
        failed = 0
        with tempfile.TemporaryDirectory(prefix="cnaps-bench-") as tmp:
            for rep in range(self.settings.model_repeat):
                for mode in ("cached", "fresh") if rep % 2 == 0 else ("fresh", "cached"):
                    _log(f"batch {mode} ({len(files)} prompts)")
                    self.llama.reset()
                    backend = self.recorder if mode == "cached" else self.fresh_backend
                    started = time.perf_counter()
                    summary = answer_batch(
                        [str(f) for f in files],
                        Path(tmp) / f"{mode}-{rep}.jsonl",
                        backend=backend,
                        strategy="guided",
                        resume=False,
                        progress=False,
                    )
                    best[mode] = min(best[mode], time.perf_counter() - started)
                    failed += summary.failed
                    self.recorder.calls.clear()
        n = len(files)
        cached, fresh = n / best["cached"], n / best["fresh"]
        speedup = _ratio(cached, fresh)
        return Figure(
            key="batch",
            name="batch, prompts/s (KV cache reused)",
            measured=f"{cached:.3f} prompts/s",
            baseline=f"fresh context per request {fresh:.3f} prompts/s",
            ratio=speedup,
            goal="faster (> 1×)",
            met=speedup is not None and speedup > 1 and failed == 0,
            details={
                "prompts": n,
                "repeat": self.settings.model_repeat,
                "failed": failed,
                "cached_s": round(best["cached"], 3),
                "fresh_s": round(best["fresh"], 3),
            },
        )


def _spread(items: Sequence[Any], count: int) -> list[Any]:
    """Return ``count`` items spread evenly over ``items`` (all of them when there are fewer)."""
    if count <= 0 or count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


# --------------------------------------------------------------------------- memory


def write_dataset(path: Path, count: int) -> None:
    """Write a JSONL dataset of ``count`` prompts: the fixture prompts repeated, with distinct ids."""
    texts = [load_prompt_file(p)[0].raw for p in single_prompt_files()]
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            out.write(json.dumps({"id": f"m{index:04d}", "prompt": texts[index % len(texts)]}) + "\n")


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "cnaps-rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cnaps_rag.cli"]


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """Return (VmRSS, VmHWM) of a live process in MB, or None once it is gone."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return (values["VmRSS"], values["VmHWM"]) if len(values) == 2 else None


def peak_rss_of_batch(count: int, tmp: Path) -> dict[str, Any]:
    """Run ``cnaps-rag batch`` over ``count`` prompts in a child process; return its peak RSS and a trace.

    The peak is the child's VmHWM, polled from /proc until it exits.
    """
    dataset = tmp / f"dataset-{count}.jsonl"
    output = tmp / f"answers-{count}.jsonl"
    log = tmp / f"batch-{count}.log"
    write_dataset(dataset, count)
    command = [*_cli(), "batch", str(dataset), "-o", str(output), "-q", "--no-resume", "--strategy", "guided"]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    started = time.perf_counter()
    pid = os.posix_spawn(
        command[0],
        command,
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
    )
    trace: list[tuple[int, float]] = []
    high_water = [0.0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.25):
            memory = _memory_mb(pid)
            done = output.read_bytes().count(b"\n") if output.exists() else 0
            if memory is not None:
                trace.append((done, round(memory[0], 1)))
                high_water[0] = max(high_water[0], memory[1])

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        _, status, usage = os.wait4(pid, 0)
    except BaseException:  # interrupted: do not leave the batch running
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        raise
    finally:
        stop.set()
        poller.join()
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines() if line.strip()]
    answered = sum(1 for r in records if not r.get("error"))
    return {
        "prompts": count,
        "answered": answered,
        "exit": os.waitstatus_to_exitcode(status),
        # The child's own high-water mark. Not ru_maxrss: posix_spawn (vfork) makes Linux count the
        # parent's memory at the spawn in the child's ru_maxrss, and the parent may hold the model.
        "peak_rss_mb": round(high_water[0] or usage.ru_maxrss / 1024, 1),
        "ru_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 1),
        # RSS polled every 0.25 s, by answers written so far: a leak shows as a rising series.
        "rss_mb_by_answers": _rss_series(trace, count),
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
            _log(f"memory: cnaps-rag batch of {count} prompts in a child process")
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
        ratio=_ratio(peak, model_mb),
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


# --------------------------------------------------------------------------- run


def run(settings: Settings) -> dict[str, Any]:
    """Measure the figures ``settings.only`` names; return machine, settings and figures.

    Interrupted (Ctrl-C, or SIGTERM under :func:`main`), it returns the figures measured
    so far, with ``interrupted`` set.
    """
    started = time.perf_counter()
    info = machine()
    figures: list[Figure] = []
    interrupted = False
    try:
        _measure(settings, figures)
    except KeyboardInterrupt:
        interrupted = True
        _log("interrupted: reporting the figures measured so far")
    info["load_average_end"] = _load_average()
    return {
        "machine": info,
        "settings": asdict(settings),
        "seconds": round(time.perf_counter() - started, 1),
        "interrupted": interrupted,
        "figures": [asdict(f) for f in figures],
    }


def _measure(settings: Settings, figures: list[Figure]) -> None:
    """Append each wanted figure to ``figures`` as soon as it is measured."""
    wanted = set(settings.only)
    if wanted & {"validate", "score"}:
        answers = load_answers(limit=settings.answers or None)
        if "validate" in wanted:
            _log(f"validate: {len(answers)} answers x {settings.repeat}")
            figures += bench_validate(answers, settings.repeat)
        if "score" in wanted:
            _log(f"score: {len(answers)} answers x {settings.repeat}")
            figures.append(bench_score(answers, settings.repeat))
        real = load_real_answers(limit=settings.answers or None)
        if "validate" in wanted:
            _log(f"validate: {len(real)} real answers x {settings.repeat}")
            figures.append(bench_real(real, settings.repeat, "validate", validate))
        score, _ = load_score()
        if "score" in wanted and score is not None:
            _log(f"score: {len(real)} real answers x {settings.repeat}")
            figures.append(
                bench_real(real, settings.repeat, "score", score, SCORE_REAL_MAX_MS_2KB, SCORE_REAL_MAX_RATIO)
            )
    if "import" in wanted:
        _log(f"import: {settings.import_runs} runs each")
        figures.append(bench_import(settings.import_runs))
    model_groups = wanted & {"answer", "constrained", "batch"}
    if model_groups:
        try:
            bench = ModelBench(settings)
        except Exception as exc:  # no llama-cpp-python or no model: say so in the table
            reason = f"the local model cannot be loaded ({type(exc).__name__}: {exc})"
            figures += [unavailable(g, g, "-", reason) for g in sorted(model_groups)]
        else:
            if "answer" in wanted:
                figures += bench.bench_answer()
            if "constrained" in wanted:
                figures.append(bench.bench_constrained())
            if "batch" in wanted:
                figures.append(bench.bench_batch(settings.batch_prompts))
    if "memory" in wanted:
        figures.append(bench_memory(settings.memory_prompts, settings.memory_small))
    if "eval" in wanted:
        from eval.bench_eval import bench_eval

        figures += bench_eval(
            settings.eval_answers, settings.eval_small, settings.eval_speed_answers, settings.repeat
        )
    if "serve" in wanted:
        from .bench_serve import bench_serve

        figures += bench_serve(
            settings.serve_prompts,
            settings.serve_workers,
            settings.serve_strategy,
            settings.serve_max_tokens,
            settings.serve_repeat,
        )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    """Return the report as a markdown table, the machine, and the notes."""
    info = report["machine"]
    lines = [
        "| figure | measured | baseline | ratio | goal | met? |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in report["figures"]:
        met = "n/a" if f["met"] is None else "yes" if f["met"] else "**no**"
        cells = [f["name"], f["measured"], f["baseline"], _fmt_ratio(f["ratio"]), f["goal"], met]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    load = info.get("load_average_start"), info.get("load_average_end")
    lines += [
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"llama-cpp-python {info['llama_cpp_python']}; {info['date']}; "
        f"load average {load[0][0] if load[0] else '?'} at start, {load[1][0] if load[1] else '?'} at end; "
        f"{report['seconds']:.0f} s.",
    ]
    notes = [f"- {f['name']}: {f['note']}" for f in report["figures"] if f.get("note")]
    if report.get("interrupted"):
        notes.append("- the run was interrupted: the figures after the last row were not measured")
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> tuple[Settings, bool]:
    """Return the settings the command line asks for, and whether to print JSON."""
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer repetitions, small batches")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--only", help=f"comma-separated groups to run, of: {', '.join(GROUPS)}")
    parser.add_argument("--repeat", type=int, help="text repetitions (default 7, quick 3)")
    parser.add_argument("--answers", type=int, help="fixture answers timed (default all 46)")
    parser.add_argument("--import-runs", type=int, help="interpreter starts (default 15, quick 5)")
    parser.add_argument("--answer-prompts", type=int, help="prompts answered (default 6, 0 all 13; quick 2)")
    parser.add_argument("--model-repeat", type=int, help="repetitions of model runs (default 2, quick 1)")
    parser.add_argument("--constrained-requests", type=int, help="requests decoded (default 20, quick 5)")
    parser.add_argument("--batch-prompts", type=int, help="prompts per batch (default all 13, quick 3)")
    parser.add_argument("--memory-prompts", type=int, help="the large memory batch (default 100, quick 10)")
    parser.add_argument("--memory-small", type=int, help="the small memory batch (default 20, quick 3)")
    parser.add_argument("--eval-answers", type=int, help="the large eval (default 100000, quick 10000)")
    parser.add_argument("--eval-small", type=int, help="the small eval (default 1000)")
    parser.add_argument(
        "--eval-speed-answers", type=int, help="answers per --jobs run (default 4000, quick 1000)"
    )
    parser.add_argument("--serve-prompts", type=int, help="real prompts served (default 20, quick 4)")
    parser.add_argument("--serve-strategy", choices=["guided", "capable", "free"], help="default guided")
    parser.add_argument("--serve-max-tokens", type=int, help="token budget per generation in serve")
    parser.add_argument("--serve-repeat", type=int, help="batch-and-replay rounds per N (default 5)")
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    for name in (
        "repeat",
        "answers",
        "import_runs",
        "answer_prompts",
        "model_repeat",
        "constrained_requests",
        "batch_prompts",
        "memory_prompts",
        "memory_small",
        "eval_answers",
        "eval_small",
        "eval_speed_answers",
        "serve_prompts",
        "serve_strategy",
        "serve_max_tokens",
        "serve_repeat",
    ):
        value = getattr(args, name)
        if value is not None:
            if name != "serve_strategy" and value < (
                0 if name in ("answers", "answer_prompts", "batch_prompts") else 1
            ):
                parser.error(f"--{name.replace('_', '-')} must be positive")
            settings = replace(settings, **{name: value})
    if args.only:
        only = tuple(g.strip() for g in args.only.split(",") if g.strip())
        unknown = [g for g in only if g not in GROUPS]
        if unknown:
            parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
        settings = replace(settings, only=only)
    if "memory" in settings.only and settings.memory_small >= settings.memory_prompts:
        parser.error("--memory-small must be smaller than --memory-prompts")
    if "eval" in settings.only and settings.eval_small >= settings.eval_answers:
        parser.error("--eval-small must be smaller than --eval-answers")
    return settings, args.json


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so a killed run still prints what it measured and cleans up


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table (or JSON); return 0."""
    settings, as_json = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run(settings)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(render_markdown(report), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
