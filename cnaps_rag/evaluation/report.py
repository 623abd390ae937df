"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as JSON and Markdown, and write all three files.

Each renderer is a pure function of the report, so the same report gives the same bytes; the
HTML page is :func:`cnaps_rag.evaluation.html.report_html`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..score import Sentence
from ..validate import Violation
from .html_page import report_html
from .models import EvalReport, Row
from .wording import (
    LABELS,
    counts_sentence,
    format_number,
    format_score,
    format_signed,
    metric_label,
    violations_sentence,
)

# --------------------------------------------------------------------------- JSON


def report_json(report: EvalReport) -> str:
    """Return the report as JSON text: sorted keys, two-space indent, a final newline."""
    return json.dumps(report.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- Markdown


def _cell(text: str) -> str:
    """Return ``text`` fit for a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def _code(text: str) -> str:
    """Return ``text`` as a Markdown code span, whatever backticks it holds."""
    text = " ".join(text.split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _summary_md(report: EvalReport) -> list[str]:
    lines = [
        "| metric | final mean | final min | final share perfect | draft mean | final − draft |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report.metrics:
        lines.append(
            f"| {metric_label(row.metric)} | {format_number(row.final.mean)} "
            f"| {format_number(row.final.minimum)} | {format_number(row.final.perfect)} "
            f"| {format_number(row.draft.mean)} | {format_signed(row.difference)} |"
        )
    return lines


def _stripped_md(violations: Sequence[Violation]) -> list[str]:
    return [
        f"- {v.kind} {_code(v.value)} ({v.action}"
        + (f", section {v.section}" if v.section is not None else "")
        + (f", nearest allowed {_code(v.nearest)}" if v.nearest else "")
        + ")"
        for v in violations
    ]


def _unsupported_md(sentences: Sequence[Sentence]) -> list[str]:
    return [f"- {_code(s.text)} ({s.support:.0%} of its content words in the prompt)" for s in sentences]


def report_markdown(report: EvalReport) -> str:
    """Return the report as Markdown: summary, comparison, problems, then each answer."""
    out = [f"# cnaps-rag evaluation: {_code(report.name)}", "", counts_sentence(report), ""]
    out += _summary_md(report)
    out += ["", violations_sentence(report), ""]
    if report.comparison is not None:
        comparison = report.comparison
        out += [
            f"## Compared with {_code(comparison.other)}",
            "",
            f"Scored answers: {comparison.this_scored} here, {comparison.other_scored} there, "
            f"{comparison.common_ids} ids in both.",
            "",
            "| metric | this (final mean) | other (final mean) | this − other |",
            "| --- | ---: | ---: | ---: |",
        ]
        out += [
            f"| {metric_label(m.metric)} | {format_number(m.this)} | {format_number(m.other)} "
            f"| {format_signed(m.difference)} |"
            for m in comparison.metrics
        ]
        out.append("")
    if report.broken_lines:
        out += ["## Broken lines", ""]
        out += [f"- line {b.line}: {_cell(b.reason)}" for b in report.broken_lines]
        out.append("")
    for status, title in (("failed", "Failed answers (not scored)"), ("unscorable", "Not scorable")):
        rows = [r for r in report.rows if r.status == status]
        if rows:
            out += [f"## {title}", ""]
            out += [f"- {_code(r.id)} (line {r.line}): {_cell(r.reason or '')}" for r in rows]
            out.append("")
    scored = [r for r in report.rows if r.status == "scored"]
    if scored:
        out += [
            "## Answers",
            "",
            "Final answer scores; the draft's in brackets where there is one.",
            "",
            "| answer | prompt | "
            + " | ".join(metric_label(m) for m in LABELS)
            + " | stripped (url, model) |",
            "| --- | --- | " + " | ".join("---:" for _ in LABELS) + " | ---: |",
        ]
        for row in scored:
            cells = []
            for metric in LABELS:
                cell = format_score(row.final_scores, metric)
                if row.draft_scores is not None:
                    cell += f" ({format_score(row.draft_scores, metric)})"
                cells.append(cell)
            stripped = row.draft_scores or row.final_scores
            assert stripped is not None
            out.append(
                f"| {_cell(row.id)} | {_cell(row.prompt_id or '')} | "
                + " | ".join(cells)
                + f" | {stripped.violations.get('url', 0)}, {stripped.violations.get('model', 0)} |"
            )
        out.append("")
        for row in scored:
            details = _answer_details_md(row)
            if details:
                out += [f"### {_code(row.id)}", "", *details, ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _answer_details_md(row: Row) -> list[str]:
    out: list[str] = []
    final = row.final_scores
    assert final is not None
    if not final.structure:
        out.append(
            f"Structure: numbered sections {final.sections_found or 'none'}"
            + (f", empty {final.empty_sections}" if final.empty_sections else "")
            + "."
        )
    if final.unsupported:
        out += ["Unsupported sentences in the final answer:", *_unsupported_md(final.unsupported)]
    if row.draft_stripped:
        out += ["Stripped from the draft:", *_stripped_md(row.draft_stripped)]
    if row.final_stripped:
        out += ["Stripped from the final answer:", *_stripped_md(row.final_stripped)]
    return out


def write_report(report: EvalReport, out_dir: str | Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir`` and return their paths.

    Creates the folder. Raises :class:`ConfigError` when it cannot be written.
    """
    folder = Path(out_dir)
    files = {
        "report.json": report_json(report),
        "report.md": report_markdown(report),
        "report.html": report_html(report),
    }
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = folder / name
            # newline="\n": the same bytes on every platform.
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot write the report ({exc.strerror or exc})") from None
    return written
