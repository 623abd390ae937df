"""[validate] and [score]: the text figures, each against a bare URL scan of the same text, on the
fixture answers, on 2 KB answers and on the real dev answers."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnaps_rag import PromptSpec, load_prompt_file, validate
from cnaps_rag.allowlist import AllowList
from eval.bench_common import (
    LABELLED,
    MAX_MS_2KB,
    MAX_RATIO_2KB,
    PROMPTS,
    ROOT,
    SCORE_MAX_RATIO,
    URL_SCAN,
    VALIDATE_MAX_RATIO,
    Figure,
    percentile,
    ratio_of,
    unavailable,
)

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
    ratio = ratio_of(p50, s50)
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
            "ratio_p95": ratio_of(p95, s95),
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
    """Return ``cnaps_rag.scores.score``, or None and why it cannot be imported."""
    try:
        from cnaps_rag.scores import score
    except Exception as exc:  # being written concurrently: any failure means "not available"
        return None, f"cnaps_rag.scores does not import ({type(exc).__name__}: {exc})"
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
