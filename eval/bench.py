"""Benchmark cnaps-rag, each figure as a ratio to a baseline measured in the same run.

Run: ``python -m eval.bench [--quick] [--json]`` (``-h`` lists the sizes). The machines
this runs on are small, shared and noisy, so no figure is an absolute time alone: each
is set against a baseline measured in the same process, interleaved with it, and the
fastest of the repetitions is kept. ``eval/BENCH.md`` says what every figure means.

Figures (``--only`` takes the group names in brackets):

- [validate] ``validate(answer, spec)`` per fixture answer, and on 2 KB answers, against a
  bare regular-expression URL scan of the same text;
- [score] ``cnaps_rag.scores.score`` against the same scan ("not available" when it does not import);
- [import] ``python -c "import cnaps_rag"`` against ``python -c pass``;
- [answer] a scaffold answer with the embedded model against replaying its requests as raw
  llama-cpp-python calls, and against one raw free-form generation of the same length;
- [constrained] JSON-schema-constrained decoding against unconstrained decoding of as many tokens;
- [batch] a batch reusing llama.cpp's KV cache across prompts against a fresh context per request;
- [memory] the peak RSS of ``cnaps-rag batch`` against the model file's size, at two batch sizes;
- [eval] ``cnaps-rag eval`` at scale: two processes against one, 100,000 answers' peak RSS against
  1,000's, a Dask cluster's report against the local one (``eval/bench_eval.py``).
- [serve] ``batch --workers N`` against llama.cpp's ``llama-server --parallel N`` on loopback,
  against the same requests sent raw with the openai client (``eval/bench_serve.py``).

Each group is measured by a module of its own: ``bench_text`` (validate, score), ``bench_import``,
``bench_model`` (answer, constrained, batch), ``bench_memory``, ``bench_eval``, ``bench_serve``;
``bench_common`` holds what they share (the figure, the settings, the goals, the machine). This
module runs the groups asked for and prints the table.

Exit code 0 whatever the figures say (this is a benchmark, not a test); 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from cnaps_rag import validate
from eval.bench_common import (
    GROUPS,
    SCORE_REAL_MAX_MS_2KB,
    SCORE_REAL_MAX_RATIO,
    Figure,
    Settings,
    format_ratio,
    load_average,
    machine,
    say,
    unavailable,
)
from eval.bench_import import bench_import
from eval.bench_memory import bench_memory
from eval.bench_model import ModelBench
from eval.bench_text import (
    bench_real,
    bench_score,
    bench_validate,
    load_answers,
    load_real_answers,
    load_score,
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
        say("interrupted: reporting the figures measured so far")
    info["load_average_end"] = load_average()
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
            say(f"validate: {len(answers)} answers x {settings.repeat}")
            figures += bench_validate(answers, settings.repeat)
        if "score" in wanted:
            say(f"score: {len(answers)} answers x {settings.repeat}")
            figures.append(bench_score(answers, settings.repeat))
        real = load_real_answers(limit=settings.answers or None)
        if "validate" in wanted:
            say(f"validate: {len(real)} real answers x {settings.repeat}")
            figures.append(bench_real(real, settings.repeat, "validate", validate))
        score, _ = load_score()
        if "score" in wanted and score is not None:
            say(f"score: {len(real)} real answers x {settings.repeat}")
            figures.append(
                bench_real(real, settings.repeat, "score", score, SCORE_REAL_MAX_MS_2KB, SCORE_REAL_MAX_RATIO)
            )
    if "import" in wanted:
        say(f"import: {settings.import_runs} runs each")
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
        cells = [f["name"], f["measured"], f["baseline"], format_ratio(f["ratio"]), f["goal"], met]
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
    parser.add_argument(
        "--serve-strategy", choices=["scaffold", "capable", "fields"], help="default scaffold"
    )
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
