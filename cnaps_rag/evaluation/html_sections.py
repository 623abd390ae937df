"""The report page's sections for many systems and for the judge: tables, and an SVG chart per metric.

Pure functions of the report, every text HTML-escaped; :mod:`.html_page` puts them on the page.
"""

from __future__ import annotations

from .models import CRITERIA, EvalReport, PromptRow
from .wording import (
    LABELS,
    format_number,
    format_signed,
    judge_label,
    metric_label,
    ranked,
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
    title = f"{metric_label(metric)}: mean per system, minimum marked"
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
        label = (
            f"{summary.mean:.3f} (rank {rank}), min {format_number(summary.minimum)}, "
            f"{(summary.perfect or 0):.0%} perfect"
        )
        out.append(f'<text x="{label_width + plot_width + 6}" y="{y + bar - 5}">{_e(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _prompt_table_head(names: list[str]) -> str:
    """Return the opening of a per-prompt table: a column for the prompt, one per system."""
    columns = "".join(f"<th>{_e(n)}</th>" for n in names)
    return f"<table><thead><tr><th>prompt</th>{columns}</tr></thead><tbody>"


def _td(value: str, best: bool = False) -> str:
    return f'<td class="best">{value}</td>' if best else f"<td>{value}</td>"


def systems_html(report: EvalReport) -> list[str]:
    systems = report.systems
    names = [s.name for s in systems]
    out = [
        "<h2>Systems</h2>",
        "<p>Each metric's mean over a system's final answers, its rank among the systems in brackets "
        "(1 is best); the best is starred.</p>",
        "<table><thead><tr><th>system</th><th>scored</th>"
        + "".join(f"<th>{_e(metric_label(m))}</th>" for m in LABELS)
        + "</tr></thead><tbody>",
    ]
    for system in systems:
        ranks = "".join(
            _td(ranked(system.metric(m).final.mean, system.ranks.get(m)), system.ranks.get(m) == 1)
            for m in LABELS
        )
        out.append(f"<tr><td>{_e(system.name)}</td><td>{system.counts['scored']}</td>{ranks}</tr>")
    out.append("</tbody></table>")
    out.append("<h2>Each metric by system</h2>")
    for metric in LABELS:
        out.append(f'<figure class="chart"><figcaption>{_e(metric_label(metric))}</figcaption>')
        out.append(_system_chart(report, metric))
        out.append(
            "<table><thead><tr><th>system</th><th>mean</th><th>min</th><th>share perfect</th><th>rank</th>"
            "</tr></thead><tbody>"
        )
        for name in report.ranking.get(metric, []):
            system = report.system(name)
            summary = system.metric(metric).final
            out.append(
                f"<tr><td>{_e(name)}</td><td>{format_number(summary.mean)}</td>"
                f"<td>{format_number(summary.minimum)}</td><td>{format_number(summary.perfect)}</td>"
                f"<td>{system.ranks[metric]}</td></tr>"
            )
        out.append("</tbody></table></figure>")
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
    for metric in LABELS:
        out.append(f"<h3>{_e(metric_label(metric))}</h3>")
        out.append(_prompt_table_head(names))
        for prompt in report.prompts:
            cells = []
            for name in names:
                value = prompt.scores.get(name, {}).get(metric)
                text = "—" if value is None else _to_answer(prompt, name, format_number(value))
                cells.append(_td(text, name in prompt.best.get(metric, [])))
            out.append(f"<tr><td>{_e(prompt.prompt_id)}</td>{''.join(cells)}</tr>")
        out.append("</tbody></table>")
    stripped = {p.prompt_id: {n: str(v) for n, v in p.stripped.items()} for p in report.prompts}
    extra = [("Stripped by the validator (URLs and names)", stripped)]
    if any(p.judge for p in report.prompts):
        judged = {p.prompt_id: {n: f"{v:.3f}" for n, v in p.judge.items()} for p in report.prompts}
        extra.append(("The judge's overall score (0 to 1)", judged))
    for title, values in extra:
        out.append(f"<h3>{_e(title)}</h3>")
        out.append(_prompt_table_head(names))
        for prompt in report.prompts:
            cells = []
            for name in names:
                shown = values[prompt.prompt_id].get(name)
                cells.append(f"<td>{'—' if shown is None else _to_answer(prompt, name, _e(shown))}</td>")
            out.append(f"<tr><td>{_e(prompt.prompt_id)}</td>{''.join(cells)}</tr>")
        out.append("</tbody></table>")
    return out


def _to_answer(prompt: PromptRow, system: str, text: str) -> str:
    """Return ``text`` (already HTML) as a link to the system's answer section on the page."""
    position = prompt.answers.get(system)
    return text if position is None else f'<a href="#answer-{position}">{text}</a>'


def judge_html(report: EvalReport) -> list[str]:
    judge = report.judge
    assert judge is not None
    out = [
        f"<h2>Judge: {_e(judge.model)}, rubric {_e(judge.rubric_version)}</h2>",
        f"<p>Judged {judge.judged} answers; the judge failed on {judge.failed}.</p>",
        "<table><thead><tr><th>system</th><th>judged</th><th>failed</th>"
        + "".join(f"<th>{_e(judge_label(c))}</th>" for c in CRITERIA)
        + "<th>sentences supported</th><th>does what was asked</th></tr></thead><tbody>",
    ]
    for system in report.systems:
        verdicts = system.judge
        if verdicts is None:
            continue
        out.append(
            f"<tr><td>{_e(system.name)}</td><td>{verdicts.judged}</td><td>{verdicts.failed}</td>"
            + "".join(f"<td>{format_number(verdicts.criteria.get(c))}</td>" for c in CRITERIA)
            + f"<td>{format_number(verdicts.supported_share)}</td>"
            f"<td>{format_number(verdicts.does_what_was_asked)}</td></tr>"
        )
    out.append("</tbody></table>")
    answers = judge.agreement[0].answers if judge.agreement else 0
    out += [
        f"<p>Agreement with the metrics: Spearman's rank correlation over the {answers} judged answers "
        "(n/a: too few answers, or one side constant).</p>",
        "<table><thead><tr><th>judge</th>"
        + "".join(f"<th>{_e(metric_label(m))}</th>" for m in LABELS)
        + "</tr></thead><tbody>",
    ]
    rho = {(a.judge, a.metric): a.rho for a in judge.agreement}
    for measure in dict.fromkeys(a.judge for a in judge.agreement):
        out.append(
            f"<tr><td>{_e(judge_label(measure))}</td>"
            + "".join(f"<td>{format_signed(rho.get((measure, m)))}</td>" for m in LABELS)
            + "</tr>"
        )
    out.append("</tbody></table>")
    failures = [r for r in report.rows if r.judge_error is not None]
    if failures:
        out.append("<h3>Judge failures (the answers are scored all the same)</h3><ul>")
        out += [f"<li><b>{_e(r.id)}</b> ({_e(r.system)}): {_e(r.judge_error)}</li>" for r in failures]
        out.append("</ul>")
    return out
