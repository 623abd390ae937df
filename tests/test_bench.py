"""Smoke tests of the benchmark (eval/bench.py): it runs and reports well-formed figures.

No timing is asserted: the machines are shared and noisy, and the bench reports its
figures as ratios for a person to read, not as pass/fail thresholds for CI.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest

from eval import bench, bench_common, bench_import, bench_model, bench_text

FIELDS = {"key", "name", "measured", "baseline", "ratio", "goal", "met", "details", "note"}


@pytest.fixture(scope="module")
def answers() -> list[bench_text.LabelledAnswer]:
    return bench_text.load_answers(limit=4)


def check_figure(figure: bench_common.Figure) -> None:
    data = asdict(figure)
    assert set(data) == FIELDS
    assert figure.measured and figure.baseline and figure.goal
    assert figure.ratio is not None and math.isfinite(figure.ratio) and figure.ratio > 0
    assert isinstance(figure.met, bool)
    json.dumps(data)  # the --json report can hold it


def test_validate_figures_against_the_scan(answers):
    per_answer, two_kb = bench_text.bench_validate(answers, repeat=1)
    for figure in (per_answer, two_kb):
        check_figure(figure)
    assert per_answer.details["answers"] == 4
    assert per_answer.details["us_p50"] > 0 and per_answer.details["scan_us_p50"] > 0
    assert per_answer.details["allowlist_build_us_p50"] > 0
    assert 1500 <= two_kb.details["bytes_p50"] <= 2048


def test_two_kb_answers_are_about_two_kilobytes(answers):
    big = bench_text.two_kb_answers(answers)
    assert {a.spec.id for a in big} == {a.spec.id for a in answers}
    assert all(1000 < len(a.text.encode()) <= 2048 and a.text.endswith("\n") for a in big)


def test_score_figure_or_not_available(answers):
    figure = bench_text.bench_score(answers, repeat=1)
    if bench_text.load_score()[0] is None:
        assert figure.measured == "not available" and figure.met is None and figure.note
    else:
        check_figure(figure)


def test_score_not_importable_is_reported_not_raised(answers, monkeypatch):
    monkeypatch.setattr(bench_text, "load_score", lambda: (None, "cnaps_rag.scores does not import (test)"))
    figure = bench_text.bench_score(answers, repeat=1)
    assert figure.measured == "not available" and figure.ratio is None and figure.met is None
    assert "not available" in bench.render_markdown(_report([figure]))


def test_import_figure():
    figure = bench_import.bench_import(runs=1, uncached_runs=0)
    check_figure(figure)
    assert figure.details["heavy_modules_imported"] == []  # llama_cpp and openai stay lazy
    assert figure.details["slowest_imports"]


def test_percentile():
    assert bench_common.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert bench_common.percentile([1.0, 2.0], 0.95) == pytest.approx(1.95)
    assert math.isnan(bench_common.percentile([], 0.5))


def _report(figures: list[bench_common.Figure]) -> dict:
    return {
        "machine": bench_common.machine() | {"load_average_end": None},
        "settings": {},
        "seconds": 1.0,
        "figures": [asdict(f) for f in figures],
    }


def test_markdown_table_and_json_output(capsys):
    assert bench.main(["--only", "validate", "--repeat", "1", "--answers", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"machine", "settings", "seconds", "figures"} <= report.keys()
    assert {"cpu", "cores", "python", "llama_cpp_python", "date"} <= report["machine"].keys()
    # validate_real: the real dev answers (issue 15), a "not available" row when they are absent.
    assert [f["key"] for f in report["figures"]] == ["validate", "validate_2kb", "validate_real"]
    table = bench.render_markdown(report)
    assert table.startswith("| figure | measured | baseline | ratio | goal | met? |")
    assert "Machine:" in table and report["machine"]["cpu"] in table


def test_bad_usage_exits_2():
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--only", "nothing"])
    assert exit_info.value.code == 2
    settings, as_json = bench.parse_args(["--quick", "--memory-prompts", "7", "--json"])
    assert settings.memory_prompts == 7 and settings.memory_small == 3 and as_json


def test_serve_without_llama_server_is_not_available_and_its_options_parse(monkeypatch, tmp_path):
    from eval import bench_serve

    monkeypatch.setenv("LLAMA_SERVER", str(tmp_path / "no-such-llama-server"))
    monkeypatch.setenv("PATH", str(tmp_path))
    figures = bench_serve.bench_serve(2, (1, 2), "scaffold", None, 1)
    assert [f.name for f in figures] == ["serve, batch --workers 1 / raw", "serve, batch --workers 2 / raw"]
    assert all(f.met is None and "llama-server not found" in f.note for f in figures)
    settings, _ = bench.parse_args(["--only", "serve", "--serve-prompts", "5", "--serve-strategy", "capable"])
    assert (settings.only, settings.serve_prompts, settings.serve_strategy) == (("serve",), 5, "capable")
    assert settings.serve_workers == (1, 2, 4) and settings.serve_repeat == 5
    if bench_serve.REAL_PROMPTS.is_file():  # 20 distinct real prompts, read where they are (not in CI)
        records = bench_serve.dev_prompts(20)
        assert len(records) == 20 == len({r["id"] for r in records})


@pytest.mark.model
def test_constrained_figure_with_the_model():
    from cnaps_rag.backends import Request

    model = bench_model.ModelBench(bench_common.Settings(answer_prompts=1, model_repeat=1), warm=False)
    request = Request(
        messages=[{"role": "user", "content": 'Reply with {"sentence": "..."} about image deblurring.'}],
        max_tokens=12,
        schema={
            "type": "object",
            "properties": {"sentence": {"type": "string", "maxLength": 160}},
            "required": ["sentence"],
        },
    )
    figure = model.bench_constrained([request])
    check_figure(figure)
    assert figure.details["tokens"] > 0


def test_the_eval_group_on_a_few_answers(capsys):
    """The [eval] figures' plumbing on small sizes (the figures themselves come from full runs)."""
    arguments = [
        "--only",
        "eval",
        "--eval-answers",
        "120",
        "--eval-small",
        "115",
        "--eval-speed-answers",
        "20",
    ]
    assert bench.main([*arguments, "--repeat", "1", "--json"]) == 0
    figures = {f["key"]: f for f in json.loads(capsys.readouterr().out)["figures"]}
    if set(figures) == {"eval"}:
        pytest.skip(figures["eval"]["note"])  # no real dev answers on this machine
    assert list(figures) == ["eval-jobs", "eval-dask", "eval-memory"]
    assert figures["eval-dask"]["met"] is True and "identical" in figures["eval-dask"]["measured"]
    runs = figures["eval-memory"]["details"]["runs"]
    assert [run["exit"] for run in runs.values()] == [0, 0] and all(
        run["peak_rss_mb"] > 0 for run in runs.values()
    )
    assert figures["eval-jobs"]["ratio"] > 0
    with pytest.raises(SystemExit):
        bench.parse_args(["--only", "eval", "--eval-small", "10", "--eval-answers", "10"])
