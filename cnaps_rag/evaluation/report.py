"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as JSON and Markdown, and write all three files.

Each renderer is a pure function of the report, so the same report gives the same bytes. Each
yields its text in pieces, a row at a time: the report of a large run is hundreds of MB as one
string.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import ConfigError
from ..scores import METRICS
from ..validation import Violation
from .html_page import iter_report_html
from .models import EvalReport, Row
from .sections import (
    Block,
    Cell,
    Code,
    Figure,
    Heading,
    Items,
    Para,
    Table,
    Text,
    cells,
    format_score,
    label,
    report_sections,
)


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


def md_cell(text: str) -> str:
    """Return ``text`` fit for a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


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
    out = []
    for piece in text:
        if isinstance(piece, Code):
            out.append(md_code(piece.text))
        elif one_line and piece.strip():
            edge = (" " if piece[0].isspace() else "", " " if piece[-1].isspace() else "")
            out.append(edge[0] + md_cell(piece) + edge[1])
        else:
            out.append(piece if not one_line or not piece else " ")
    return "".join(out)


def markdown_row(row: Sequence[Cell | str]) -> str:
    return (
        "| " + " | ".join(f"**{md_text(c.text)}**" if c.best else md_text(c.text) for c in cells(row)) + " |"
    )


def markdown_table(table: Table) -> list[str]:
    align = ("---" if i < table.left else "---:" for i in range(len(table.head)))
    head = ["| " + " | ".join(md_cell(h) for h in table.head) + " |", "| " + " | ".join(align) + " |"]
    return head + [markdown_row(row) for row in table.rows]


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


def _stripped_md(violations: Sequence[Violation]) -> list[str]:
    return [
        f"- {v.kind} {md_code(v.value)} ({v.action}"
        + (f", section {v.section}" if v.section is not None else "")
        + (f", nearest allowed {md_code(v.nearest)}" if v.nearest else "")
        + ")"
        for v in violations
    ]


def _answer_details_md(row: Row) -> list[str]:
    out: list[str] = []
    final = row.final_scores
    assert final is not None
    if final.structure < 1:
        empty = f", empty {final.empty_sections}" if final.empty_sections else ""
        out.append(f"Structure: numbered sections {final.sections_found or 'none'}{empty}.")
    if final.unsupported:
        out.append("Unsupported sentences in the final answer:")
        out += [
            f"- {md_code(s.text)} ({s.why or f'{s.support:.0%} of its words found'})"
            for s in final.unsupported
        ]
    if row.draft_stripped:
        out += ["Stripped from the draft:", *_stripped_md(row.draft_stripped)]
    if row.final_stripped:
        out += ["Stripped from the final answer:", *_stripped_md(row.final_stripped)]
    return out


def _markdown_lines(report: EvalReport) -> Iterator[str]:
    many = len(report.systems) > 1
    yield from markdown_blocks(report_sections(report))
    if not report.counts.get("scored"):
        return
    head = ["answer", *(["system"] if many else []), "prompt", *(label(m) for m in METRICS)]
    yield from ["## Answers", "", "Final answer scores; the draft's in brackets where there is one.", ""]
    yield from markdown_table(Table([*head, "stripped (url, model)"], left=3 if many else 2))
    for row in report.rows:
        if row.status != "scored":
            continue
        scores = [format_score(row.final_scores, m) for m in METRICS]
        if row.draft_scores is not None:
            scores = [
                f"{final} ({format_score(row.draft_scores, m)})"
                for final, m in zip(scores, METRICS, strict=True)
            ]
        stripped = row.draft_scores or row.final_scores
        assert stripped is not None
        counts = f"{stripped.violations.get('url', 0)}, {stripped.violations.get('model', 0)}"
        yield markdown_row([row.id, *([row.system] if many else []), row.prompt_id or "", *scores, counts])
    yield ""
    for row in report.rows:
        details = _answer_details_md(row) if row.status == "scored" else []
        if details:
            title = md_code(row.id) + (f" ({md_cell(row.system)})" if many else "")
            yield from [f"### {title}", "", *details, ""]


def iter_report_markdown(report: EvalReport) -> Iterator[str]:
    """Yield the report's Markdown in pieces: its lines joined, blank lines at the end dropped."""
    blank, first = 0, True
    for line in _markdown_lines(report):
        if not line:
            blank += 1
            continue
        yield ("" if first else "\n") + "\n" * blank + line
        blank, first = 0, False
    yield "\n"


def report_markdown(report: EvalReport) -> str:
    """Return the report as Markdown: summary, systems side by side, judge, problems, then each answer."""
    return "".join(iter_report_markdown(report))


def write_report(report: EvalReport, out_dir: str | Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir`` (created) and return
    their paths; raise :class:`ConfigError` when the folder cannot be written."""
    folder = Path(out_dir)
    files = {
        "report.json": iter_report_json(report),
        "report.md": iter_report_markdown(report),
        "report.html": iter_report_html(report),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, pieces in files.items():
            # newline="\n": the same bytes on every platform.
            with (folder / name).open("w", encoding="utf-8", newline="\n") as file:
                file.writelines(pieces)
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot write the report ({exc.strerror or exc})") from None
    return [folder / name for name in files]
