"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as a self-contained HTML page.

The page is ``report.html.j2`` beside this module. Every piece of answer text is HTML-escaped;
removed URLs and names and unsupported claims are ``<mark>`` elements with the classes
``stripped-url``, ``stripped-model``, ``unsupported`` and ``misattributed``, with the reason as
their title. A pure function of the report.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from ..scores import Scores
from ..validation import Violation
from .models import CRITERIA, EvalReport
from .sections import load_template, several_files, where


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


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


@lru_cache(maxsize=1)
def _template() -> Any:
    helpers = {"esc": escape, "clamp": _clamp, "criteria": CRITERIA, "highlight": highlight, "where": where}
    return load_template("report.html.j2", **helpers)


def iter_report_html(report: EvalReport) -> Iterator[str]:
    """Yield the report's HTML page in pieces, each answer's text read from disk as its section is written."""
    texts = report._texts
    answers = (
        (index + 1, row, *(texts.get(index) if texts is not None else (None, None)))
        for index, row in enumerate(report.rows)
        if row.status == "scored"
    )
    return _template().generate(
        report=report,
        answers=answers,
        many=len(report.systems) > 1,
        several=several_files(report),
    )


def report_html(report: EvalReport) -> str:
    """Return the report as one self-contained HTML page (no script, nothing loaded from a network)."""
    return "".join(iter_report_html(report))
