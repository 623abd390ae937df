"""What the report's sections show, for ``sections.j2`` (the sections, written once for both formats):
the names, figures, cells and rows its tables are made of, and the Jinja environment of the templates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from ..scores import METRICS, Scores
from .models import (
    CRITERIA,
    BrokenLine,
    EvalReport,
    MetricSummary,
    PanelReport,
    Row,
    SystemSummary,
)

LABELS = {
    "url_precision": "URL precision",
    "source_recall": "source recall",
    "model_precision": "model-name precision",
    "correctness_completeness": "correctness and completeness",
    "workflow_design": "workflow design",
    "provided_models_only": "provided models only",
    "supported_share": "sentences supported",
    "does_what_was_asked": "does what was asked",
}


@dataclass(frozen=True)
class Code:
    """A name, id or value as written: a code span in Markdown, ``<code>`` on the page."""

    text: str


Text = str | Sequence[str | Code]


@dataclass(frozen=True)
class Cell:
    text: Text
    best: bool = False
    answer: int | None = None  # the answer (#answer-N on the page) the cell is about


@dataclass(frozen=True)
class Bar:
    label: str
    css: str
    summary: MetricSummary
    rank: int | None


Rows = list[list[Cell | str]]


def label(name: str) -> str:
    """Return a metric's or a judge measure's name as the reports print it."""
    return LABELS.get(name, name)


def number(value: float | None, form: str = ".3f") -> str:
    return "n/a" if value is None else format(value, form)


def format_score(scores: Scores | None, metric: str) -> str:
    return "—" if scores is None else number(getattr(scores, metric))


def cells(row: Sequence[Cell | str]) -> list[Cell]:
    return [c if isinstance(c, Cell) else Cell(c) for c in row]


def where(source: str | None, line: int | None, several: bool) -> tuple[str | Code, ...]:
    """Return where a record stands: its line, and its file when there are several files."""
    if line is None:  # a results file: one prompt's answers, no line of their own
        return (Code(source or ""),)
    return (Code(source), f" line {line}") if several and source else (f"line {line}",)


def several_files(report: EvalReport) -> bool:
    """Return whether the records came from more than one file (then a line number needs its file)."""
    return len({r.source for r in report.rows} | {b.source for b in report.broken_lines}) > 1


def _ranked(metric: str, system: SystemSummary) -> Cell:
    rank = system.ranks.get(metric)
    return Cell(number(system.metric(metric).final.mean) + (f" ({rank})" if rank else ""), rank == 1)


def _claim_cells(claims: dict[str, int]) -> list[str]:
    """Return claims, the share supported (general ones left out), unsupported, misattributed, general."""
    counts = Counter(claims)
    judged = counts["claims"] - counts["general"]
    share = (judged - counts["unsupported"]) / judged if judged > 0 else None
    return [
        str(counts["claims"]),
        number(share),
        *(str(counts[k]) for k in ("unsupported", "misattributed", "general")),
    ]


def _stripped_cells(system: SystemSummary) -> list[Cell | str]:
    which = system.violations["draft" if system.counts["with_draft"] else "final"]
    names = {"url": "URLs", "model": "model names"}
    often: list[str | Code] = []
    for value in system.stripped:
        often += [*([", "] if often else []), Code(value.value), f" ({value.answers})"]
    return [
        ", ".join(f"{n} {names.get(kind, kind)}" for kind, n in which.items()) or "nothing",
        Cell(often or "—"),
    ]


def _system_bars(report: EvalReport, metric: str) -> list[Bar]:
    return [
        Bar(s.name, f"sys-{i % 8}", s.metric(metric).final, s.ranks.get(metric))
        for i, s in enumerate(report.systems)
    ]


def _metric_bars(report: EvalReport, which: str) -> list[Bar]:
    return [Bar(label(m.metric), f"bar-{which}", getattr(m, which), None) for m in report.metrics]


def _prompt_table(report: EvalReport, kind: str) -> tuple[list[str], Rows]:
    """Return per prompt each system's score of metric ``kind`` (its best marked), its stripped items or
    the judge's overall score, each linked to its answer."""
    names = [s.name for s in report.systems]
    rows: Rows = []
    for prompt in report.prompts:
        if kind == "stripped":
            values = {n: str(v) for n, v in prompt.stripped.items()}
        elif kind == "judge":
            values = {n: f"{v:.3f}" for n, v in prompt.judge.items()}
        else:
            values = {n: number(s[kind]) for n, s in prompt.scores.items()}
        row: list[Cell | str] = [prompt.prompt_id]
        for name in names:
            text = values.get(name)
            answer = prompt.answers.get(name) if text is not None else None
            row.append(Cell("—" if text is None else text, name in prompt.best.get(kind, []), answer))
        rows.append(row)
    return ["prompt", *names], rows


def _panel_table(panel: PanelReport) -> tuple[list[str], Rows]:
    """Return per judge, then the majority, the prompts it judged, its picks per system, its blind spots."""
    records = [*panel.judges, panel.majority]
    systems = list(dict.fromkeys(s for record in records for s in record.picks))
    live = any(record.reordered for record in panel.judges)
    head = ["judge", "prompts judged", *(f"picked {s}" for s in systems), "blind spots"]
    head += [
        "by stripped items",
        "by claims",
        *(["asked again, answers reordered", "pick changed"] if live else []),
    ]
    rows: Rows = []
    for record in records:
        most = max(record.picks.values(), default=0)
        row: list[Cell | str] = [record.name, str(record.judged)]
        row += [Cell(str(record.picks.get(s, 0)), most > 0 and record.picks.get(s) == most) for s in systems]
        row += [str(record.blind_spots), str(record.stripped_spots), str(record.claim_spots)]
        if live:
            row += [str(record.reordered), str(record.changed)] if record is not panel.majority else ["", ""]
        rows.append(row)
    return head, rows


def _panel_scores_table(panel: PanelReport) -> tuple[list[str], Rows]:
    """Return per judge that gave scores its mean score of each system's answers (no rows: none did)."""
    scoring = [record for record in panel.judges if record.mean_scores]
    systems = list(dict.fromkeys(s for record in scoring for s in record.mean_scores))
    rows: Rows = []
    for record in scoring:
        values = {s: v for s, v in record.mean_scores.items() if v is not None}
        top = max(values.values(), default=None)
        means = [Cell(number(record.mean_scores.get(s), ".2f"), values.get(s) == top) for s in systems]
        rows.append([record.name, str(record.scored), *means])
    return ["judge", "prompts scored", *systems], rows


def _blind_spot_table(report: EvalReport) -> tuple[list[str], Rows, int]:
    """Return each blind spot: prompt, judge, its pick and what counts against it, the answers with
    the fewest stripped items and flagged claims (on the page, linked to their sections)."""
    assert report.judges is not None
    answers = {prompt.prompt_id: prompt.answers for prompt in report.prompts}
    rows: Rows = []
    for spot in report.judges.blind_spots:
        counted = Counter((item.kind, item.value) for item in spot.stripped)
        stripped = ", ".join(f"{k} {v}" + (f" ×{n}" if n > 1 else "") for (k, v), n in counted.items())
        # As in the claims table: misattributed claims are among the unsupported.
        misattributed = sum(item.kind == "misattributed" for item in spot.claims)
        claims = f"{len(spot.claims)} unsupported" + (
            f" ({misattributed} misattributed)" if misattributed else ""
        )
        where = answers.get(spot.id, {})
        cleanest = Cell(f"{spot.cleanest} ({spot.cleanest_stripped})", answer=where.get(spot.cleanest))
        grounded = Cell(f"{spot.grounded} ({spot.grounded_claims})", answer=where.get(spot.grounded))
        pick = Cell(spot.picked, answer=where.get(spot.picked))
        rows.append([spot.id, spot.judge, pick, stripped or "—", cleanest, claims, grounded])
    head = ["prompt", "judge", "picked", "stripped from the pick", "cleanest answer (stripped)"]
    return [*head, "claims flagged in the pick", "fewest flagged (answer)"], rows, 5


def _broken_line(broken: BrokenLine, several: bool) -> Text:
    return (*where(broken.source, broken.line, several), ": ", broken.reason)


def _unscored(row: Row, several: bool) -> Text:
    return (Code(row.id), " (", *where(row.source, row.line, several), "): ", row.reason or "")


def _judge_failure(row: Row) -> Text:
    return (Code(row.id), " (", row.system, "): ", row.judge_error or "")


def load_template(name: str, **helpers: Any) -> Any:
    """Return the Jinja template ``name`` beside this module, ``helpers`` among its filters and globals
    (the names ``sections.j2`` uses are there too)."""
    import jinja2  # here, not at the top: `import cnaps_rag` stays fast for those who only validate

    env = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    env.loader = jinja2.DictLoader(
        {"sections.j2": (files(__package__) / "sections.j2").read_text(encoding="utf-8")}
    )
    names = {
        "blind_spot_table": _blind_spot_table,
        "blind_spot_count": lambda record: f"{record.name} {record.blind_spots}",
        "broken_line": _broken_line,
        "cells": cells,
        "claim_cells": _claim_cells,
        "clamp": lambda value: max(0.0, min(1.0, value)),  # a bar's length on the page
        "code": Code,
        "criteria": CRITERIA,
        "judge_failure": _judge_failure,
        "label": label,
        "mean_of": lambda criterion, means: number(means.get(criterion)),
        "metric_bars": _metric_bars,
        "metrics": METRICS,
        "number": number,
        "signed": lambda value: number(value, "+.3f"),
        "panel_scores_table": _panel_scores_table,
        "panel_table": _panel_table,
        "prompt_table": _prompt_table,
        "ranked": _ranked,
        "score": format_score,
        "stripped_cells": _stripped_cells,
        "system_bars": _system_bars,
        "unscored": _unscored,
        "where": where,
        **helpers,
    }
    env.filters.update(names)
    env.globals.update(names)
    return env.from_string((files(__package__) / name).read_text(encoding="utf-8"))
