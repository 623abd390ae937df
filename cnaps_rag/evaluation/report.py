"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as JSON and Markdown, and write all three files.

Each renderer is a pure function of the report, so the same report gives the same bytes; the
HTML page is :func:`cnaps_rag.evaluation.html_page.report_html`; the tables both share are
built in :mod:`.tables`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import ConfigError
from ..score import METRICS, Sentence
from ..validate import Violation
from .html_page import iter_report_html
from .models import EvalReport, Row
from .tables import (
    CLAIMS_NOTE,
    Table,
    agreement_table,
    blind_spot_table,
    claims_table,
    judge_table,
    markdown_row,
    markdown_table,
    md_cell,
    metric_by_prompt,
    metric_table,
    panel_scores_table,
    panel_table,
    prompt_table,
    summary_table,
    systems_table,
)
from .wording import (
    agreement_sentence,
    counts_sentence,
    format_score,
    judged_sentence,
    label,
    panel_sentences,
    several_files,
    stripped_sentence,
    violations_sentence,
)

# --------------------------------------------------------------------------- JSON


def _dumps(data: object) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)


def iter_report_json(report: EvalReport) -> Iterator[str]:
    """Yield the report's JSON text in pieces, one row at a time (the text :func:`report_json` returns).

    Key by key, as ``json.dumps(..., sort_keys=True, indent=2)`` writes it, with the rows dumped
    one by one: writing the file never holds the whole report as JSON data or text.
    """
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


# --------------------------------------------------------------------------- Markdown


def _code(text: str) -> str:
    """Return ``text`` as a Markdown code span, whatever backticks it holds."""
    text = " ".join(text.split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _stripped_md(violations: Sequence[Violation]) -> list[str]:
    return [
        f"- {v.kind} {_code(v.value)} ({v.action}"
        + (f", section {v.section}" if v.section is not None else "")
        + (f", nearest allowed {_code(v.nearest)}" if v.nearest else "")
        + ")"
        for v in violations
    ]


def _unsupported_md(sentences: Sequence[Sentence]) -> list[str]:
    return [f"- {_code(s.text)} ({s.why or f'{s.support:.0%} of its words found'})" for s in sentences]


def _systems_md(report: EvalReport) -> list[str]:
    """Return the side-by-side sections: systems, each metric, stripped values, per prompt, judge."""
    systems = report.systems
    out = [
        "## Systems",
        "",
        "Each metric's mean over a system's final answers, its rank among the systems in brackets "
        "(1 is best), the best in bold.",
        "",
        *markdown_table(systems_table(report)),
        "",
        "## Claims by system",
        "",
        CLAIMS_NOTE,
        "",
        *markdown_table(claims_table(report)),
        "",
        "## Each metric by system",
        "",
    ]
    for metric in METRICS:
        out += [f"### {label(metric)}", "", *markdown_table(metric_table(report, metric)), ""]
    out += [
        "## What the validator strips from each system",
        "",
        "From the draft where a record has one, else from the answer as scored.",
        "",
        "| system | stripped | stripped most often (answers) |",
        "| --- | --- | --- |",
    ]
    for system in systems:
        which = system.violations["draft"] if system.counts["with_draft"] else system.violations["final"]
        often = ", ".join(f"{_code(v.value)} ({v.answers})" for v in system.stripped) or "—"
        out.append(f"| {md_cell(system.name)} | {stripped_sentence(which)} | {often} |")
    out += [
        "",
        "## Per prompt",
        "",
        "Each system's score of its answer to the prompt; the best in bold where some system scored lower.",
        "",
    ]
    for metric in METRICS:
        table = prompt_table(report, metric_by_prompt(report.prompts, metric), best=metric)
        out += [f"### {label(metric)}", "", *markdown_table(table), ""]
    return out


def _judge_md(report: EvalReport) -> list[str]:
    judge = report.judge
    assert judge is not None
    out = [
        f"## Judge: {_code(judge.model)}, rubric {_code(judge.rubric_version)}",
        "",
        judged_sentence(report),
        "",
        *markdown_table(judge_table(report)),
        "",
        agreement_sentence(report),
        "",
        *markdown_table(agreement_table(report)),
    ]
    failures = [r for r in report.rows if r.judge_error is not None]
    if failures:
        out += ["", "Judge failures (the answers are scored all the same):", ""]
        out += [f"- {_code(r.id)} ({md_cell(r.system)}): {md_cell(r.judge_error or '')}" for r in failures]
    out.append("")
    return out


def _panel_md(report: EvalReport) -> list[str]:
    panel = report.judges
    assert panel is not None
    first, spots = panel_sentences(panel)
    out = ["## Judges as a panel", "", first, "", *markdown_table(panel_table(panel)), ""]
    scores = panel_scores_table(panel)
    if scores is not None:
        out += ["Each judge's mean score of each system's answers, on its own scale:", ""]
        out += [*markdown_table(scores), ""]
    if panel.failures:
        out += ["Comparisons that gave no pick (the run went on):", ""]
        out += [*(f"- {md_cell(failure)}" for failure in panel.failures), ""]
    out += ["### Blind spots", "", spots, ""]
    if panel.blind_spots:
        out += [*markdown_table(blind_spot_table(report)), ""]
    return out


def _where(source: str | None, line: int | None, several: bool) -> str:
    """Return where a record stands: its line, and its file when there are several files."""
    if line is None:  # a results file: one prompt's answers, no line of their own
        return _code(source or "")
    return f"{_code(source)} line {line}" if several and source else f"line {line}"


def _joined(lines: Iterable[str]) -> Iterator[str]:
    """Yield ``lines`` joined by newlines, ending in one newline (blank lines at the end dropped)."""
    blank, first = 0, True
    for line in lines:
        if not line:
            blank += 1
            continue
        yield ("" if first else "\n") + "\n" * blank + line
        blank, first = 0, False
    yield "\n"


def _markdown_lines(report: EvalReport) -> Iterator[str]:
    many = len(report.systems) > 1
    out = [f"# cnaps-rag evaluation: {_code(report.name)}", "", counts_sentence(report), ""]
    if many:
        out += _systems_md(report)
        out += ["## All answers together", ""]
    out += markdown_table(summary_table(report.metrics))
    out += ["", violations_sentence(report), ""]
    if report.judge is not None:
        out += _judge_md(report)
    if report.judges is not None:
        out += _panel_md(report)
    several = several_files(report)
    if report.broken_lines:
        out += ["## Broken lines", ""]
        out += [f"- {_where(b.source, b.line, several)}: {md_cell(b.reason)}" for b in report.broken_lines]
        out.append("")
    yield from out
    # The rows are read back from disk once per pass, never held all at once.
    for status, title in (("failed", "Failed answers (not scored)"), ("unscorable", "Not scorable")):
        if report.counts.get(status):
            yield from [f"## {title}", ""]
            for r in report.rows:
                if r.status == status:
                    yield f"- {_code(r.id)} ({_where(r.source, r.line, several)}): {md_cell(r.reason or '')}"
            yield ""
    if not report.counts.get("scored"):
        return
    head = ["answer", *(["system"] if many else []), "prompt", *(label(m) for m in METRICS)]
    table = Table([*head, "stripped (url, model)"], left=3 if many else 2)
    yield from ["## Answers", "", "Final answer scores; the draft's in brackets where there is one.", ""]
    yield from markdown_table(table)
    for row in report.rows:
        if row.status != "scored":
            continue
        cells = []
        for metric in METRICS:
            cell = format_score(row.final_scores, metric)
            if row.draft_scores is not None:
                cell += f" ({format_score(row.draft_scores, metric)})"
            cells.append(cell)
        stripped = row.draft_scores or row.final_scores
        assert stripped is not None
        violations = f"{stripped.violations.get('url', 0)}, {stripped.violations.get('model', 0)}"
        yield markdown_row([row.id, *([row.system] if many else []), row.prompt_id or "", *cells, violations])
    yield ""
    for row in report.rows:
        details = _answer_details_md(row) if row.status == "scored" else []
        if details:
            title = f"{_code(row.id)}" + (f" ({md_cell(row.system)})" if many else "")
            yield from [f"### {title}", "", *details, ""]


def iter_report_markdown(report: EvalReport) -> Iterator[str]:
    """Yield the report's Markdown in pieces, each answer's as it comes (:func:`report_markdown`'s text)."""
    return _joined(_markdown_lines(report))


def report_markdown(report: EvalReport) -> str:
    """Return the report as Markdown: summary, systems side by side, judge, problems, then each answer."""
    return "".join(iter_report_markdown(report))


def _answer_details_md(row: Row) -> list[str]:
    out: list[str] = []
    final = row.final_scores
    assert final is not None
    if final.structure < 1:
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

    Creates the folder. The page's answer sections are written one at a time, each answer's
    text read back from its file as it is written. Raises :class:`ConfigError` when the
    folder cannot be written.
    """
    folder = Path(out_dir)
    files: dict[str, Iterable[str]] = {
        "report.json": iter_report_json(report),
        "report.md": iter_report_markdown(report),
        "report.html": iter_report_html(report),
    }
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, pieces in files.items():
            path = folder / name
            # newline="\n": the same bytes on every platform.
            with path.open("w", encoding="utf-8", newline="\n") as file:
                for piece in pieces:
                    file.write(piece)
            written.append(path)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot write the report ({exc.strerror or exc})") from None
    return written
