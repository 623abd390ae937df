"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as JSON, Markdown (``report.md.j2``) and a
self-contained HTML page (``report.html.j2``), and write the three files. Both formats include
``sections.j2`` (the sections before the answers, written once); the functions below give it the
names, figures, cells and rows its tables are made of.

Each renderer is a pure function of the report, so the same report gives the same bytes, and yields
its text in pieces, a row at a time: the report of a large run is hundreds of MB as one string. On
the page every piece of answer text is HTML-escaped; removed URLs and names and unsupported claims
are ``<mark>`` elements (classes ``stripped-url``, ``stripped-model``, ``unsupported``,
``misattributed``) with the reason as their title.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..scores import METRICS, Scores
from ..validation import Violation
from .models import CRITERIA, BrokenLine, EvalReport, MetricSummary, PanelReport, Row, SystemSummary
from .run import RowStore

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


@lru_cache(maxsize=2)
def load_template(name: str, **helpers: Any) -> Any:
    """Return the Jinja template ``name`` beside this module (made once), ``helpers`` among its filters
    and globals (the names ``sections.j2`` uses are there too)."""
    import jinja2  # here, not at the top: `import cnaps_rag` stays fast for those who only validate

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files(__package__))),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
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
    return env.get_template(name)


def _dumps(data: object) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)


def iter_report_json(report: EvalReport) -> Iterator[str]:
    """Yield the text of ``json.dumps(report, sort_keys=True, indent=2)`` key by key, the rows one by
    one: writing the file never holds the whole report as JSON data or text."""
    rest = report.model_dump(mode="json", exclude={"rows"})
    rest["rows"] = None
    for number, key in enumerate(sorted(rest)):
        yield ("{" if number == 0 else ",") + f"\n  {json.dumps(key)}: "
        if key != "rows":
            yield textwrap.indent(_dumps(rest[key]), "  ").removeprefix("  ")
            continue
        empty = True
        for row in report.rows:
            yield ("[\n" if empty else ",\n") + textwrap.indent(_dumps(row.model_dump(mode="json")), "    ")
            empty = False
        yield "[]" if empty else "\n  ]"
    yield "\n}\n"


def report_json(report: EvalReport) -> str:
    """Return the report as JSON text: sorted keys, two-space indent, a final newline."""
    return "".join(iter_report_json(report))


def md_cell(text: str, strip: bool = True) -> str:
    """Return ``text`` fit for a Markdown table cell: one line, pipes escaped; with ``strip`` off a
    space at either edge is kept (as one space)."""
    text = re.sub(r"\s+", " ", text.strip() if strip else text)
    return text.replace("\\", "\\\\").replace("|", "\\|")


def md_code(text: str) -> str:
    """Return ``text`` as a Markdown code span, whatever backticks it holds."""
    text = " ".join(text.split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: Text, one_line: bool = True) -> str:
    """Return ``text`` as Markdown: code spans for :class:`Code`; with ``one_line`` the plain pieces
    are made one line with pipes escaped (as in a table cell), their edge spaces kept."""
    if isinstance(text, str):
        return md_cell(text) if one_line else text
    pieces = (md_code(p.text) if isinstance(p, Code) else md_cell(p, False) if one_line else p for p in text)
    return "".join(pieces)


def iter_report_markdown(report: EvalReport) -> Iterator[str]:
    """Yield the report's Markdown in pieces, each answer's as it comes (:func:`report_markdown`'s text)."""
    many = len(report.systems) > 1
    head = ["answer", *(["system"] if many else []), "prompt", *(label(m) for m in METRICS)]
    answers_head = [*head, "stripped (url, model)"]
    return load_template("report.md.j2", md=md_text, cell=md_cell, code=md_code).generate(
        report=report, answers_head=answers_head, many=many, several=several_files(report)
    )


def report_markdown(report: EvalReport) -> str:
    """Return the report as Markdown: summary, systems side by side, judge, problems, then each answer."""
    return "".join(iter_report_markdown(report))


# --------------------------------------------------------------------------- the page


def escape(text: object) -> str:
    """Return ``text`` as HTML text or attribute value (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def highlight(text: str, scores: Scores | None, stripped: Sequence[Violation]) -> str:
    """Return ``text`` HTML-escaped with what the validator strips and the claims the score flags
    each in a ``<mark>``; overlapping spans are cut at every boundary, so the marks never nest and
    a piece covered by two spans carries both classes."""
    marks = []
    for v in stripped:
        # Only what the validator found in the text itself (a later pass's spans are in its output).
        if text[v.start : v.end] == v.value:
            nearest = f"; nearest allowed: {v.nearest}" if v.nearest else ""
            marks.append((v.start, v.end, f"stripped-{v.kind}", f"stripped {v.kind} ({v.action}){nearest}"))
    if scores is not None:
        misattributed = {m.start for m in scores.misattributed}
        for s in scores.unsupported:
            kind = "unsupported misattributed" if s.start in misattributed else "unsupported"
            marks.append(
                (s.start, s.end, kind, f"unsupported: {s.why or f'{s.support:.0%} of its words found'}")
            )
    spans = [(max(0, s), min(len(text), e), c, t) for s, e, c, t in marks if s < e and s < len(text)]
    cuts = sorted({0, len(text), *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    out = []
    for start, end in itertools.pairwise(cuts):
        covering = [(c, t) for s, e, c, t in spans if s <= start and end <= e]
        piece = escape(text[start:end])
        if covering:
            classes = " ".join(sorted({c for c, _ in covering}))
            titles = "; ".join(sorted({t for _, t in covering}))
            piece = f'<mark class="{classes}" title="{escape(titles)}">{piece}</mark>'
        out.append(piece)
    return "".join(out)


def iter_report_html(report: EvalReport) -> Iterator[str]:
    """Yield the report as one self-contained HTML page (no script, nothing loaded from a network) in
    pieces, each answer's text read from disk as its section is written."""
    # A run's rows keep the texts the page shows; rows from elsewhere (read back from JSON) do not.
    texts = report.rows if isinstance(report.rows, RowStore) else None
    answers = (
        (index + 1, row, *(texts.get(index) if texts is not None else (None, None)))
        for index, row in enumerate(report.rows)
        if row.status == "scored"
    )
    return load_template("report.html.j2", esc=escape, highlight=highlight).generate(
        report=report,
        answers=answers,
        many=len(report.systems) > 1,
        several=several_files(report),
    )


def write_report(report: EvalReport, out_dir: str | Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir`` (created) and return
    their paths; raise :class:`ConfigError` when the folder cannot be written."""
    folder = Path(out_dir)
    outputs = {
        "report.json": iter_report_json(report),
        "report.md": iter_report_markdown(report),
        "report.html": iter_report_html(report),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, pieces in outputs.items():
            # newline="\n": the same bytes on every platform.
            with (folder / name).open("w", encoding="utf-8", newline="\n") as file:
                file.writelines(pieces)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot write the report ({exc.strerror or exc})") from None
    return [folder / name for name in outputs]
