"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as JSON, Markdown (``report.md.j2``) and a
self-contained HTML page (``report.html.j2``), and write the three files.

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
import textwrap
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..scores import METRICS, Scores
from ..validation import Violation
from .models import EvalReport
from .run import RowStore
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
def _markdown_template() -> Any:
    return load_template("report.md.j2", md=md_text, cell=md_cell, code=md_code)


def iter_report_markdown(report: EvalReport) -> Iterator[str]:
    """Yield the report's Markdown in pieces, each answer's as it comes (:func:`report_markdown`'s text)."""
    many = len(report.systems) > 1
    head = ["answer", *(["system"] if many else []), "prompt", *(label(m) for m in METRICS)]
    answers_head = [*head, "stripped (url, model)"]
    return _markdown_template().generate(
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


@lru_cache(maxsize=1)
def _page_template() -> Any:
    return load_template("report.html.j2", esc=escape, highlight=highlight)


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
    return _page_template().generate(
        report=report,
        answers=answers,
        many=len(report.systems) > 1,
        several=several_files(report),
    )


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
