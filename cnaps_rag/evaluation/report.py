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
from ..scores import METRICS, Sentence
from ..validation import Violation
from .html_page import iter_report_html
from .models import EvalReport, Row
from .sections import report_sections
from .tables import (
    Block,
    Figure,
    Heading,
    Items,
    Para,
    Table,
    markdown_row,
    markdown_table,
    md_cell,
    md_code,
    md_text,
)
from .wording import format_score, label

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


def _stripped_md(violations: Sequence[Violation]) -> list[str]:
    return [
        f"- {v.kind} {md_code(v.value)} ({v.action}"
        + (f", section {v.section}" if v.section is not None else "")
        + (f", nearest allowed {md_code(v.nearest)}" if v.nearest else "")
        + ")"
        for v in violations
    ]


def _unsupported_md(sentences: Sequence[Sentence]) -> list[str]:
    return [f"- {md_code(s.text)} ({s.why or f'{s.support:.0%} of its words found'})" for s in sentences]


def markdown_blocks(blocks: Iterable[Block]) -> Iterator[str]:
    """Yield the blocks as Markdown lines, each block followed by a blank line (charts left out)."""
    for block in blocks:
        if isinstance(block, Heading):
            yield "#" * block.level + " " + md_text(block.text, one_line=False)
        elif isinstance(block, Para):
            yield md_text(block.text, one_line=False)
        elif isinstance(block, Items):
            yield from ("- " + md_text(item) for item in block.items)
        elif isinstance(block, Table):
            yield from markdown_table(block)
        elif isinstance(block, Figure):
            yield from [f"### {block.title}", "", *markdown_table(block.table)]
        else:
            continue  # a chart, or blocks on the page only
        yield ""


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
    yield from markdown_blocks(report_sections(report))
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
            title = f"{md_code(row.id)}" + (f" ({md_cell(row.system)})" if many else "")
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
