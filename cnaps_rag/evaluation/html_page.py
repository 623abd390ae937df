"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as a self-contained HTML page.

The page needs nothing but a browser: inline CSS, an inline SVG chart, no script, no font,
image or style sheet from the network. Every piece of answer text is HTML-escaped; removed
URLs and names and unsupported sentences are ``<mark>`` elements with the classes
``stripped-url``, ``stripped-model`` and ``unsupported``. A pure function of the report.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence

from ..score import Scores
from ..validate import Violation
from .models import EvalReport, MetricSummary, Row
from .wording import (
    LABELS,
    counts_sentence,
    format_number,
    format_score,
    format_signed,
    metric_label,
    violations_sentence,
)

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 62em; padding: 0 1em; }
body { color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
pre.text { white-space: pre-wrap; background: #fafafa; border: 1px solid #ddd; padding: 0.8em; }
mark { padding: 0 1px; }
mark.unsupported { background: #fff1a8; }
mark.stripped-url, mark.stripped-model { text-decoration: line-through; }
mark.stripped-url { background: #ffc9c9; }
mark.stripped-model { background: #ffd8a8; }
mark.unsupported.stripped-url, mark.unsupported.stripped-model { outline: 1px dashed #b08900; }
section.answer { border-top: 2px solid #ddd; margin-top: 2em; }
.muted { color: #666; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
svg .bar-draft, svg .bar-other { fill: #adb5bd; }
svg .bar-final, svg .bar-this { fill: #1c7ed6; }
svg .grid { stroke: #ddd; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _highlight(text: str, marks: Sequence[tuple[int, int, str, str]]) -> str:
    """Return ``text`` HTML-escaped with each (start, end, class, title) span in a ``<mark>``.

    Overlapping spans are cut at every boundary, so the marks never nest and a piece
    covered by two spans carries both classes.
    """
    spans = [(max(0, s), min(len(text), e), c, t) for s, e, c, t in marks if s < e and s < len(text)]
    cuts = sorted({0, len(text), *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    out = []
    for start, end in itertools.pairwise(cuts):
        covering = [(c, t) for s, e, c, t in spans if s <= start and end <= e]
        piece = _e(text[start:end])
        if not covering:
            out.append(piece)
            continue
        classes = " ".join(sorted({c for c, _ in covering}))
        titles = "; ".join(sorted({t for _, t in covering}))
        out.append(f'<mark class="{classes}" title="{_e(titles)}">{piece}</mark>')
    return "".join(out)


def _marks(scores: Scores | None, stripped: Sequence[Violation]) -> list[tuple[int, int, str, str]]:
    marks = [
        (
            v.start,
            v.end,
            f"stripped-{v.kind}",
            f"stripped {v.kind} ({v.action})" + (f"; nearest allowed: {v.nearest}" if v.nearest else ""),
        )
        for v in stripped
    ]
    if scores is not None:
        marks += [
            (
                s.start,
                s.end,
                "unsupported",
                f"unsupported: {s.support:.0%} of its content words in the prompt",
            )
            for s in scores.unsupported
        ]
    return marks


def _chart(series: Sequence[tuple[str, str, dict[str, float | None]]], title: str) -> str:
    """Return an inline SVG bar chart: one group per metric, one bar per (label, class, values) series."""
    label_width, plot_width, bar, gap = 170, 420, 14, 12
    group = bar * len(series) + gap
    top = 28
    height = top + group * len(LABELS) + 24
    width = label_width + plot_width + 60
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for index, (label, css, _) in enumerate(series):
        x = label_width + index * 130
        out.append(f'<rect class="bar-{css}" x="{x}" y="6" width="12" height="12"/>')
        out.append(f'<text x="{x + 18}" y="16">{_e(label)}</text>')
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tick_x = label_width + tick * plot_width
        out.append(
            f'<line class="grid" x1="{tick_x:.1f}" y1="{top - 4}" x2="{tick_x:.1f}" y2="{height - 20}"/>'
        )
        out.append(f'<text x="{tick_x:.1f}" y="{height - 6}" text-anchor="middle">{tick:.2f}</text>')
    for row, metric in enumerate(LABELS):
        y = top + row * group
        label_y = y + bar * len(series) / 2 + 4
        name = _e(metric_label(metric))
        out.append(f'<text x="{label_width - 8}" y="{label_y:.1f}" text-anchor="end">{name}</text>')
        for index, (_, css, values) in enumerate(series):
            value = values.get(metric)
            bar_y = y + index * bar
            if value is None:
                out.append(f'<text x="{label_width + 4}" y="{bar_y + bar - 3}">n/a</text>')
                continue
            bar_width = max(0.0, min(1.0, value)) * plot_width
            out.append(
                f'<rect class="bar-{css}" x="{label_width}" y="{bar_y}" width="{bar_width:.1f}" '
                f'height="{bar - 2}"/>'
            )
            out.append(
                f'<text x="{label_width + bar_width + 4:.1f}" y="{bar_y + bar - 3}">{value:.3f}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _summary_html(report: EvalReport) -> list[str]:
    out = [
        "<table><thead><tr><th>metric</th><th>final mean</th><th>final min</th><th>final share perfect</th>"
        "<th>draft mean</th><th>final − draft</th></tr></thead><tbody>"
    ]
    for row in report.metrics:
        out.append(
            f"<tr><td>{_e(metric_label(row.metric))}</td><td>{format_number(row.final.mean)}</td>"
            f"<td>{format_number(row.final.minimum)}</td><td>{format_number(row.final.perfect)}</td>"
            f"<td>{format_number(row.draft.mean)}</td><td>{format_signed(row.difference)}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _means(summaries: dict[str, MetricSummary]) -> dict[str, float | None]:
    return {metric: summary.mean for metric, summary in summaries.items()}


def _answer_html(position: int, row: Row) -> list[str]:
    final = row.final_scores
    assert final is not None and row.markdown is not None
    out = [
        f'<section class="answer" id="answer-{position}">',
        f'<h3>{_e(row.id)} <span class="muted">prompt {_e(row.prompt_id)}, line {_e(row.line)}</span></h3>',
        "<table><thead><tr><th>metric</th><th>final</th>"
        + ("<th>draft</th>" if row.draft_scores else "")
        + "</tr></thead><tbody>",
    ]
    for metric in LABELS:
        out.append(
            f"<tr><td>{_e(metric_label(metric))}</td><td>{format_score(final, metric)}</td>"
            + (f"<td>{format_score(row.draft_scores, metric)}</td>" if row.draft_scores else "")
            + "</tr>"
        )
    out.append("</tbody></table>")
    if not final.structure:
        empty = f", empty: {final.empty_sections}" if final.empty_sections else ""
        out.append(f"<p>Numbered sections found: {_e(final.sections_found or 'none')}{_e(empty)}.</p>")
    out.append("<h4>Final answer</h4>")
    out.append(f'<pre class="text">{_highlight(row.markdown, _marks(final, row.final_stripped))}</pre>')
    if row.draft is not None:
        out.append("<h4>Draft (before validation)</h4>")
        out.append(
            f'<pre class="text">{_highlight(row.draft, _marks(row.draft_scores, row.draft_stripped))}</pre>'
        )
    out.append("</section>")
    return out


def report_html(report: EvalReport) -> str:
    """Return the report as one self-contained HTML page (no script, nothing loaded from a network)."""
    title = f"cnaps-rag evaluation: {report.name}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{_e(counts_sentence(report))}</p>",
        *_summary_html(report),
        f"<p>{_e(violations_sentence(report))}</p>",
    ]
    final_means = _means({row.metric: row.final for row in report.metrics})
    series: list[tuple[str, str, dict[str, float | None]]] = []
    if report.counts["with_draft"]:
        series.append(("draft", "draft", _means({row.metric: row.draft for row in report.metrics})))
    series.append(("final", "final", final_means))
    out.append(_chart(series, "Mean of each metric" + (", draft and final" if len(series) > 1 else "")))
    if report.comparison is not None:
        comparison = report.comparison
        out += [
            f"<h2>Compared with {_e(comparison.other)}</h2>",
            f"<p>Scored answers: {comparison.this_scored} here, {comparison.other_scored} there, "
            f"{comparison.common_ids} ids in both.</p>",
            "<table><thead><tr><th>metric</th><th>this (final mean)</th><th>other (final mean)</th>"
            "<th>this − other</th></tr></thead><tbody>",
        ]
        out += [
            f"<tr><td>{_e(metric_label(m.metric))}</td><td>{format_number(m.this)}</td><td>{format_number(m.other)}</td>"
            f"<td>{format_signed(m.difference)}</td></tr>"
            for m in comparison.metrics
        ]
        out.append("</tbody></table>")
        out.append(
            _chart(
                [
                    ("other", "other", {m.metric: m.other for m in comparison.metrics}),
                    ("this", "this", {m.metric: m.this for m in comparison.metrics}),
                ],
                "Final means, this run and the other",
            )
        )
    if report.broken_lines:
        out.append("<h2>Broken lines</h2><ul>")
        out += [f"<li>line {b.line}: {_e(b.reason)}</li>" for b in report.broken_lines]
        out.append("</ul>")
    for status, heading in (("failed", "Failed answers (not scored)"), ("unscorable", "Not scorable")):
        rows = [r for r in report.rows if r.status == status]
        if rows:
            out.append(f"<h2>{heading}</h2><ul>")
            out += [f"<li><b>{_e(r.id)}</b> (line {_e(r.line)}): {_e(r.reason)}</li>" for r in rows]
            out.append("</ul>")
    scored = [(position, r) for position, r in enumerate(report.rows, start=1) if r.status == "scored"]
    if scored:
        out += [
            "<h2>Answers</h2>",
            '<p>Marked: <mark class="unsupported">unsupported sentence</mark>, '
            '<mark class="stripped-url">URL the validator strips</mark>, '
            '<mark class="stripped-model">model name the validator strips</mark>.</p>',
        ]
        for position, row in scored:
            out += _answer_html(position, row)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
