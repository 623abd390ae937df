"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as a self-contained HTML page.

The page needs nothing but a browser: inline CSS, an inline SVG chart, no script, no font,
image or style sheet from the network. Every piece of answer text is HTML-escaped; removed
URLs and names and unsupported claims are ``<mark>`` elements with the classes
``stripped-url``, ``stripped-model``, ``unsupported`` and ``misattributed``, with the reason as
their title. A pure function of the report.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from ..score import METRICS, Scores
from ..validate import Violation
from .html_sections import judge_html, panel_html, systems_html
from .models import CRITERIA, EvalReport, MetricSummary, Row
from .tables import Table, html_table, summary_table
from .wording import (
    counts_sentence,
    format_score,
    label,
    several_files,
    violations_sentence,
)
from .wording import (
    escape as _e,
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
mark.misattributed { background: #ffd8b0; }
mark.stripped-url, mark.stripped-model { text-decoration: line-through; }
mark.stripped-url { background: #ffc9c9; }
mark.stripped-model { background: #ffd8a8; }
mark.unsupported.stripped-url, mark.unsupported.stripped-model { outline: 1px dashed #b08900; }
section.answer { border-top: 2px solid #ddd; margin-top: 2em; }
.muted { color: #666; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
svg .bar-draft { fill: #adb5bd; }
svg .bar-final { fill: #1c7ed6; }
svg .grid { stroke: #ddd; }
svg .sys-0 { fill: #1c7ed6; } svg .sys-1 { fill: #f08c00; } svg .sys-2 { fill: #2f9e44; }
svg .sys-3 { fill: #ae3ec9; } svg .sys-4 { fill: #e03131; } svg .sys-5 { fill: #0c8599; }
svg .sys-6 { fill: #5c940d; } svg .sys-7 { fill: #868e96; }
svg .minimum { stroke: #222; stroke-width: 2; }
td.best { font-weight: bold; background: #e7f5ff; white-space: nowrap; }
td.text { text-align: left; }
td.best::after { content: " ★"; color: #1c7ed6; }
figure.chart { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure.chart figcaption { font-weight: bold; }
"""


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


def _marks(
    text: str, scores: Scores | None, stripped: Sequence[Violation]
) -> list[tuple[int, int, str, str]]:
    marks = [
        (
            v.start,
            v.end,
            f"stripped-{v.kind}",
            f"stripped {v.kind} ({v.action})" + (f"; nearest allowed: {v.nearest}" if v.nearest else ""),
        )
        for v in stripped
        # Only what the validator found in the text itself (a later pass's spans are in its output).
        if text[v.start : v.end] == v.value
    ]
    if scores is not None:
        marks += [
            (
                s.start,
                s.end,
                "unsupported misattributed"
                if any(m.start == s.start for m in scores.misattributed)
                else "unsupported",
                f"unsupported: {s.why or f'{s.support:.0%} of its words found'}",
            )
            for s in scores.unsupported
        ]
    return marks


def _chart(series: Sequence[tuple[str, str, dict[str, float | None]]], title: str) -> str:
    """Return an inline SVG bar chart: one group per metric, one bar per (label, class, values) series."""
    label_width, plot_width, bar, gap = 170, 420, 14, 12
    group = bar * len(series) + gap
    top = 28
    height = top + group * len(METRICS) + 24
    width = label_width + plot_width + 60
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for index, (legend, css, _) in enumerate(series):
        x = label_width + index * 130
        out.append(f'<rect class="bar-{css}" x="{x}" y="6" width="12" height="12"/>')
        out.append(f'<text x="{x + 18}" y="16">{_e(legend)}</text>')
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        tick_x = label_width + tick * plot_width
        out.append(
            f'<line class="grid" x1="{tick_x:.1f}" y1="{top - 4}" x2="{tick_x:.1f}" y2="{height - 20}"/>'
        )
        out.append(f'<text x="{tick_x:.1f}" y="{height - 6}" text-anchor="middle">{tick:.2f}</text>')
    for row, metric in enumerate(METRICS):
        y = top + row * group
        label_y = y + bar * len(series) / 2 + 4
        name = _e(label(metric))
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


def _means(summaries: dict[str, MetricSummary]) -> dict[str, float | None]:
    return {metric: summary.mean for metric, summary in summaries.items()}


def _answer_html(
    position: int, row: Row, texts: tuple[str | None, str | None], many: bool, several: bool
) -> list[str]:
    final = row.final_scores
    assert final is not None
    markdown, draft = texts
    system = f"{row.system}, " if many else ""
    out = [
        f'<section class="answer" id="answer-{position}">',
        f'<h3>{_e(row.id)} <span class="muted">{_e(system)}prompt {_e(row.prompt_id)}, '
        f"{_where(row.source, row.line, several)}</span></h3>",
    ]
    scores = [final, *([row.draft_scores] if row.draft_scores else [])]
    table = Table(["metric", "final", "draft"][: 1 + len(scores)])
    table.rows = [[label(m), *(format_score(s, m) for s in scores)] for m in METRICS]
    out += html_table(table)
    if final.structure < 1:
        empty = f", empty: {final.empty_sections}" if final.empty_sections else ""
        out.append(f"<p>Numbered sections found: {_e(final.sections_found or 'none')}{_e(empty)}.</p>")
    if row.judgment is not None:
        judgment = row.judgment
        out.append("<table><thead><tr><th>judge</th><th>score</th><th>reason</th></tr></thead><tbody>")
        for criterion in CRITERIA:
            out.append(
                f"<tr><td>{_e(label(criterion))}</td><td>{judgment.scores[criterion]}</td>"
                f'<td class="text">{_e(judgment.reasons.get(criterion, ""))}</td></tr>'
            )
        out.append(
            f"<tr><td>does what was asked</td><td>{'yes' if judgment.does_what_was_asked else 'no'}</td>"
            f'<td class="text">{_e(judgment.reasons.get("does_what_was_asked", ""))}</td></tr>'
            "</tbody></table>"
        )
    elif row.judge_error is not None:
        out.append(f"<p>The judge failed: {_e(row.judge_error)}</p>")
    if markdown is not None:
        out.append("<h4>Final answer</h4>")
        out.append(
            f'<pre class="text">{_highlight(markdown, _marks(markdown, final, row.final_stripped))}</pre>'
        )
    if draft is not None:
        out.append("<h4>Draft (before validation)</h4>")
        marks = _marks(draft, row.draft_scores, row.draft_stripped)
        out.append(f'<pre class="text">{_highlight(draft, marks)}</pre>')
    out.append("</section>")
    return out


def _where(source: str | None, line: int | None, several: bool) -> str:
    """Return where a record stands, as HTML: its line, and its file when there are several files."""
    if line is None:  # a results file: one prompt's answers, no line of their own
        return _e(source or "")
    return f"{_e(source)} line {_e(line)}" if several and source else f"line {_e(line)}"


def iter_report_html(report: EvalReport) -> Iterator[str]:
    """Yield the report's HTML page in pieces, each answer's section read back as it is written."""
    title = f"cnaps-rag evaluation: {report.name}"
    many = len(report.systems) > 1
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
    ]
    if many:
        out += systems_html(report)
        out.append("<h2>All answers together</h2>")
    out += html_table(summary_table(report.metrics))
    out.append(f"<p>{_e(violations_sentence(report))}</p>")
    final_means = _means({row.metric: row.final for row in report.metrics})
    series: list[tuple[str, str, dict[str, float | None]]] = []
    if report.counts["with_draft"]:
        series.append(("draft", "draft", _means({row.metric: row.draft for row in report.metrics})))
    series.append(("final", "final", final_means))
    out.append(_chart(series, "Mean of each metric" + (", draft and final" if len(series) > 1 else "")))
    if report.judge is not None:
        out += judge_html(report)
    if report.judges is not None:
        out += panel_html(report)
    several = several_files(report)
    if report.broken_lines:
        out.append("<h2>Broken lines</h2><ul>")
        out += [f"<li>{_where(b.source, b.line, several)}: {_e(b.reason)}</li>" for b in report.broken_lines]
        out.append("</ul>")
    yield "\n".join(out) + "\n"
    # The rows are read back from disk once per pass, never held all at once.
    for status, heading in (("failed", "Failed answers (not scored)"), ("unscorable", "Not scorable")):
        if report.counts.get(status):
            yield f"<h2>{heading}</h2><ul>\n"
            for r in report.rows:
                if r.status == status:
                    where = _where(r.source, r.line, several)
                    system = _e(r.system) + ", " if many else ""
                    yield f"<li><b>{_e(r.id)}</b> ({system}{where}): {_e(r.reason)}</li>\n"
            yield "</ul>\n"
    if report.counts.get("scored"):
        yield (
            "<h2>Answers</h2>\n"
            '<p>Marked (hover for the reason): <mark class="unsupported">unsupported claim</mark>, '
            '<mark class="unsupported misattributed">claim its source does not make</mark>, '
            '<mark class="stripped-url">URL the validator strips</mark>, '
            '<mark class="stripped-model">model name the validator strips</mark>.</p>\n'
        )
    texts = report._texts
    for index, row in enumerate(report.rows):
        if row.status == "scored":
            pair = texts.get(index) if texts is not None else (None, None)
            yield "\n".join(_answer_html(index + 1, row, pair, many, several)) + "\n"
    yield "</body>\n</html>\n"


def report_html(report: EvalReport) -> str:
    """Return the report as one self-contained HTML page (no script, nothing loaded from a network)."""
    return "".join(iter_report_html(report))
