"""The report page's sections for many systems and for the judge: tables, and an SVG chart per metric.

Pure functions of the report, every text HTML-escaped; :mod:`.html_page` puts them on the page.
"""

from __future__ import annotations

from ..score import METRICS
from .models import EvalReport
from .tables import (
    CLAIMS_NOTE,
    agreement_table,
    blind_spot_table,
    claims_table,
    html_table,
    judge_table,
    metric_by_prompt,
    metric_table,
    panel_scores_table,
    panel_table,
    prompt_table,
    systems_table,
)
from .wording import (
    agreement_sentence,
    format_number,
    judged_sentence,
    label,
    panel_sentences,
    stripped_sentence,
)
from .wording import (
    escape as _e,
)


def _system_chart(report: EvalReport, metric: str) -> str:
    """Return an inline SVG chart of one metric: a bar per system (its mean), a tick at its minimum."""
    label_width, plot_width, bar, gap, top = 150, 300, 18, 6, 8
    height = top + (bar + gap) * len(report.systems) + 24
    width = label_width + plot_width + 300
    title = f"{label(metric)}: mean per system, minimum marked"
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for tick in (0.0, 0.5, 1.0):
        x = label_width + tick * plot_width
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 20}"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick:.1f}</text>')
    for index, system in enumerate(report.systems):
        summary = system.metric(metric).final
        y = top + index * (bar + gap)
        out.append(
            f'<text x="{label_width - 8}" y="{y + bar - 5}" text-anchor="end">{_e(system.name)}</text>'
        )
        if summary.mean is None:
            out.append(f'<text x="{label_width + 4}" y="{y + bar - 5}">n/a</text>')
            continue
        bar_width = max(0.0, min(1.0, summary.mean)) * plot_width
        out.append(
            f'<rect class="sys-{index % 8}" x="{label_width}" y="{y}" '
            f'width="{bar_width:.1f}" height="{bar}"/>'
        )
        if summary.minimum is not None:
            x = label_width + max(0.0, min(1.0, summary.minimum)) * plot_width
            out.append(f'<line class="minimum" x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + bar}"/>')
        rank = system.ranks.get(metric)
        note = (
            f"{summary.mean:.3f} (rank {rank}), min {format_number(summary.minimum)}, "
            f"{(summary.perfect or 0):.0%} perfect"
        )
        out.append(f'<text x="{label_width + plot_width + 6}" y="{y + bar - 5}">{_e(note)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def systems_html(report: EvalReport) -> list[str]:
    systems = report.systems
    out = [
        "<h2>Systems</h2>",
        "<p>Each metric's mean over a system's final answers, its rank among the systems in brackets "
        "(1 is best); the best is starred.</p>",
        *html_table(systems_table(report)),
        "<h2>Claims by system</h2>",
        f"<p>{_e(CLAIMS_NOTE)}</p>",
        *html_table(claims_table(report)),
        "<h2>Each metric by system</h2>",
    ]
    for metric in METRICS:
        out.append(f'<figure class="chart"><figcaption>{_e(label(metric))}</figcaption>')
        out.append(_system_chart(report, metric))
        out += html_table(metric_table(report, metric))
        out.append("</figure>")
    out += [
        "<h2>What the validator strips from each system</h2>",
        "<p>From the draft where a record has one, else from the answer as scored.</p>",
        "<table><thead><tr><th>system</th><th>stripped</th><th>stripped most often (answers)</th>"
        "</tr></thead><tbody>",
    ]
    for system in systems:
        which = system.violations["draft"] if system.counts["with_draft"] else system.violations["final"]
        often = ", ".join(f"{_e(v.value)} ({v.answers})" for v in system.stripped) or "—"
        out.append(
            f"<tr><td>{_e(system.name)}</td><td>{_e(stripped_sentence(which))}</td>"
            f'<td class="text">{often}</td></tr>'
        )
    out.append("</tbody></table>")
    out += [
        "<h2>Per prompt</h2>",
        "<p>Each system's score of its answer to the prompt; the best starred where some system scored "
        "lower.</p>",
    ]
    for metric in METRICS:
        out.append(f"<h3>{_e(label(metric))}</h3>")
        out += html_table(prompt_table(report, metric_by_prompt(report.prompts, metric), best=metric))
    stripped = {p.prompt_id: {n: str(v) for n, v in p.stripped.items()} for p in report.prompts}
    extra = [("Stripped by the validator (URLs and names)", stripped)]
    if any(p.judge for p in report.prompts):
        judged = {p.prompt_id: {n: f"{v:.3f}" for n, v in p.judge.items()} for p in report.prompts}
        extra.append(("The judge's overall score (0 to 1)", judged))
    for title, values in extra:
        out.append(f"<h3>{_e(title)}</h3>")
        out += html_table(prompt_table(report, values))
    return out


def judge_html(report: EvalReport) -> list[str]:
    judge = report.judge
    assert judge is not None
    out = [
        f"<h2>Judge: {_e(judge.model)}, rubric {_e(judge.rubric_version)}</h2>",
        f"<p>{_e(judged_sentence(report))}</p>",
        *html_table(judge_table(report)),
        f"<p>{_e(agreement_sentence(report))}</p>",
        *html_table(agreement_table(report)),
    ]
    failures = [r for r in report.rows if r.judge_error is not None]
    if failures:
        out.append("<h3>Judge failures (the answers are scored all the same)</h3><ul>")
        out += [f"<li><b>{_e(r.id)}</b> ({_e(r.system)}): {_e(r.judge_error)}</li>" for r in failures]
        out.append("</ul>")
    return out


def panel_html(report: EvalReport) -> list[str]:
    """Return the panel's section: who judged, how far they agree, their picks, their blind spots."""
    panel = report.judges
    assert panel is not None
    first, spots = panel_sentences(panel)
    out = ["<h2>Judges as a panel</h2>", f"<p>{_e(first)}</p>", *html_table(panel_table(panel))]
    scores = panel_scores_table(panel)
    if scores is not None:
        out += [
            "<p>Each judge's mean score of each system's answers, on its own scale:</p>",
            *html_table(scores),
        ]
    if panel.failures:
        out.append("<p>Comparisons that gave no pick (the run went on):</p><ul>")
        out += [f"<li>{_e(failure)}</li>" for failure in panel.failures]
        out.append("</ul>")
    out += ["<h3>Blind spots</h3>", f"<p>{_e(spots)}</p>"]
    if panel.blind_spots:
        out += html_table(blind_spot_table(report))
    return out
