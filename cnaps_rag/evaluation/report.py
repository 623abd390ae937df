"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as JSON and Markdown (``report.md.j2``).

Each renderer is a pure function of the report, so the same report gives the same bytes. Each
yields its text in pieces, a row at a time: the report of a large run is hundreds of MB as one
string.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..scores import METRICS
from .html_page import iter_report_html
from .models import EvalReport
from .sections import Code, Text, label, load_template, several_files


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


@lru_cache(maxsize=1)
def _template() -> Any:
    return load_template("report.md.j2", md=md_text, cell=md_cell, code=md_code)


def iter_report_markdown(report: EvalReport) -> Iterator[str]:
    """Yield the report's Markdown in pieces, each answer's as it comes (:func:`report_markdown`'s text)."""
    many = len(report.systems) > 1
    head = ["answer", *(["system"] if many else []), "prompt", *(label(m) for m in METRICS)]
    answers_head = [*head, "stripped (url, model)"]
    return _template().generate(
        report=report, answers_head=answers_head, many=many, several=several_files(report)
    )


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
