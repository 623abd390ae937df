"""Render an :class:`~cnaps_rag.evaluation.models.EvalReport` as a self-contained HTML page.

The page needs nothing but a browser: inline CSS, inline SVG charts, no script, no font,
image or style sheet from the network. Every piece of answer text is HTML-escaped; removed
URLs and names and unsupported claims are ``<mark>`` elements with the classes
``stripped-url``, ``stripped-model``, ``unsupported`` and ``misattributed``, with the reason as
their title. A pure function of the report.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

from ..scores import METRICS, Scores
from ..validation import Violation
from .models import CRITERIA, EvalReport, Row
from .sections import report_sections, where
from .tables import Block, Chart, Figure, Heading, Items, Para, Table, html_table, html_text
from .wording import escape as _e
from .wording import format_number, format_score, label, several_files

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


def bar_chart(chart: Chart) -> str:
    """Return an inline SVG bar chart: a bar per mean, a tick at its minimum, its figures beside it."""
    label_width, plot_width, bar, gap, top = 150, 300, 18, 6, 8
    height = top + (bar + gap) * len(chart.bars) + 24
    width = label_width + plot_width + 300
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(chart.title)}">',
        f"<title>{_e(chart.title)}</title>",
    ]
    for tick in (0.0, 0.5, 1.0):
        x = label_width + tick * plot_width
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 20}"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick:.1f}</text>')
    for index, item in enumerate(chart.bars):
        summary = item.summary
        y = top + index * (bar + gap)
        out.append(f'<text x="{label_width - 8}" y="{y + bar - 5}" text-anchor="end">{_e(item.label)}</text>')
        if summary.mean is None:
            out.append(f'<text x="{label_width + 4}" y="{y + bar - 5}">n/a</text>')
            continue
        bar_width = max(0.0, min(1.0, summary.mean)) * plot_width
        out.append(
            f'<rect class="{item.css}" x="{label_width}" y="{y}" width="{bar_width:.1f}" height="{bar}"/>'
        )
        if summary.minimum is not None:
            x = label_width + max(0.0, min(1.0, summary.minimum)) * plot_width
            out.append(f'<line class="minimum" x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + bar}"/>')
        rank = f" (rank {item.rank})" if item.rank is not None else ""
        note = f"{summary.mean:.3f}{rank}, min {format_number(summary.minimum)}, "
        note += f"{(summary.perfect or 0):.0%} perfect"
        out.append(f'<text x="{label_width + plot_width + 6}" y="{y + bar - 5}">{_e(note)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def html_blocks(blocks: Iterable[Block]) -> Iterator[str]:
    """Yield the blocks as lines of HTML."""
    for block in blocks:
        if isinstance(block, Heading):
            yield f"<h{block.level}>{html_text(block.text)}</h{block.level}>"
        elif isinstance(block, Para):
            yield f"<p>{html_text(block.text)}</p>"
        elif isinstance(block, Items):
            yield "<ul>"
            yield from (f"<li>{html_text(item)}</li>" for item in block.items)
            yield "</ul>"
        elif isinstance(block, Table):
            yield from html_table(block)
        elif isinstance(block, Figure):
            yield f'<figure class="chart"><figcaption>{_e(block.title)}</figcaption>'
            yield bar_chart(block.chart)
            yield from html_table(block.table)
            yield "</figure>"
        elif isinstance(block, Chart):
            yield bar_chart(block)
        else:
            yield from html_blocks(block.blocks)


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
        f"{html_text(where(row.source, row.line, several))}</span></h3>",
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
    ]
    yield "\n".join(out) + "\n"
    for line in html_blocks(report_sections(report)):
        yield line + "\n"
    if report.counts.get("scored"):
        yield (
            "<h2>Answers</h2>\n"
            '<p>Marked (hover for the reason): <mark class="unsupported">unsupported claim</mark>, '
            '<mark class="unsupported misattributed">claim its source does not make</mark>, '
            '<mark class="stripped-url">URL the validator strips</mark>, '
            '<mark class="stripped-model">model name the validator strips</mark>.</p>\n'
        )
    texts, several = report._texts, several_files(report)
    for index, row in enumerate(report.rows):
        if row.status == "scored":
            pair = texts.get(index) if texts is not None else (None, None)
            yield "\n".join(_answer_html(index + 1, row, pair, many, several)) + "\n"
    yield "</body>\n</html>\n"


def report_html(report: EvalReport) -> str:
    """Return the report as one self-contained HTML page (no script, nothing loaded from a network)."""
    return "".join(iter_report_html(report))
