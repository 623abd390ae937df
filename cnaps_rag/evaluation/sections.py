"""The report's sections before the answers, built once for both formats.

Each section is a list of blocks (:mod:`.tables`: headings, sentences, lists, tables, charts);
:mod:`.report` writes them as Markdown and :mod:`.html_page` as HTML. A chart, and a
:class:`~.tables.Page` block, are on the page only. The rows are read back from disk once per
pass, so the lists of failed and unscorable answers are generators.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..scores import METRICS
from .models import EvalReport, Row
from .tables import (
    CLAIMS_NOTE,
    Bar,
    Block,
    Cell,
    Chart,
    Code,
    Figure,
    Heading,
    Items,
    Page,
    Para,
    Table,
    Text,
    agreement_table,
    blind_spot_table,
    claims_table,
    judge_table,
    metric_by_prompt,
    metric_table,
    panel_scores_table,
    panel_table,
    prompt_table,
    summary_table,
    systems_table,
)
from .wording import (
    agreement_sentence,
    counts_sentence,
    judged_sentence,
    label,
    panel_sentences,
    several_files,
    stripped_sentence,
    violations_sentence,
)


def where(source: str | None, line: int | None, several: bool) -> tuple[str | Code, ...]:
    """Return where a record stands: its line, and its file when there are several files."""
    if line is None:  # a results file: one prompt's answers, no line of their own
        return (Code(source or ""),)
    return (Code(source), f" line {line}") if several and source else (f"line {line}",)


def _systems(report: EvalReport) -> list[Block]:
    """Return the side-by-side sections: systems, each metric, stripped values, per prompt."""
    blocks: list[Block] = [
        Heading(2, "Systems"),
        Para(
            "Each metric's mean over a system's final answers, its rank among the systems in brackets "
            "(1 is best), the best in bold."
        ),
        systems_table(report),
        Heading(2, "Claims by system"),
        Para(CLAIMS_NOTE),
        claims_table(report),
        Heading(2, "Each metric by system"),
    ]
    for metric in METRICS:
        bars = [
            Bar(s.name, f"sys-{i % 8}", s.metric(metric).final, s.ranks.get(metric))
            for i, s in enumerate(report.systems)
        ]
        chart = Chart(f"{label(metric)}: mean per system, minimum marked", bars)
        blocks.append(Figure(label(metric), chart, metric_table(report, metric)))
    stripped = Table(["system", "stripped", "stripped most often (answers)"], left=3)
    for system in report.systems:
        which = system.violations["draft"] if system.counts["with_draft"] else system.violations["final"]
        often: list[str | Code] = []
        for value in system.stripped:
            often += [", "] if often else []
            often += [Code(value.value), f" ({value.answers})"]
        stripped.rows.append([system.name, stripped_sentence(which), Cell(tuple(often) or "—")])
    blocks += [
        Heading(2, "What the validator strips from each system"),
        Para("From the draft where a record has one, else from the answer as scored."),
        stripped,
        Heading(2, "Per prompt"),
        Para(
            "Each system's score of its answer to the prompt; the best in bold where some system "
            "scored lower."
        ),
    ]
    for metric in METRICS:
        table = prompt_table(report, metric_by_prompt(report.prompts, metric), best=metric)
        blocks += [Heading(3, label(metric)), table]
    counts = {p.prompt_id: {n: str(v) for n, v in p.stripped.items()} for p in report.prompts}
    page: list[Block] = [
        Heading(3, "Stripped by the validator (URLs and names)"),
        prompt_table(report, counts),
    ]
    if any(p.judge for p in report.prompts):
        judged = {p.prompt_id: {n: f"{v:.3f}" for n, v in p.judge.items()} for p in report.prompts}
        page += [Heading(3, "The judge's overall score (0 to 1)"), prompt_table(report, judged)]
    blocks.append(Page(page))
    return blocks


def _judge(report: EvalReport) -> list[Block]:
    judge = report.judge
    assert judge is not None
    blocks: list[Block] = [
        Heading(2, ("Judge: ", Code(judge.model), ", rubric ", Code(judge.rubric_version))),
        Para(judged_sentence(report)),
        judge_table(report),
        Para(agreement_sentence(report)),
        agreement_table(report),
    ]
    failures = [r for r in report.rows if r.judge_error is not None]
    if failures:
        blocks.append(Para("Judge failures (the answers are scored all the same):"))
        blocks.append(Items([(Code(r.id), " (", r.system, "): ", r.judge_error or "") for r in failures]))
    return blocks


def _panel(report: EvalReport) -> list[Block]:
    panel = report.judges
    assert panel is not None
    first, spots = panel_sentences(panel)
    blocks: list[Block] = [Heading(2, "Judges as a panel"), Para(first), panel_table(panel)]
    scores = panel_scores_table(panel)
    if scores is not None:
        blocks += [Para("Each judge's mean score of each system's answers, on its own scale:"), scores]
    if panel.failures:
        blocks += [Para("Comparisons that gave no pick (the run went on):"), Items(list(panel.failures))]
    blocks += [Heading(3, "Blind spots"), Para(spots)]
    if panel.blind_spots:
        blocks.append(blind_spot_table(report))
    return blocks


def _unscored(report: EvalReport, status: str, several: bool) -> Iterator[Text]:
    rows: Iterator[Row] = (r for r in report.rows if r.status == status)
    for r in rows:
        yield (Code(r.id), " (", *where(r.source, r.line, several), "): ", r.reason or "")


def report_sections(report: EvalReport) -> Iterator[Block]:
    """Yield the blocks of every section before the answers, in report order."""
    many = len(report.systems) > 1
    yield Heading(1, ("cnaps-rag evaluation: ", Code(report.name)))
    yield Para(counts_sentence(report))
    if many:
        yield from _systems(report)
        yield Heading(2, "All answers together")
    yield summary_table(report.metrics)
    yield Para(violations_sentence(report))
    charts = []
    if report.counts["with_draft"]:
        drafts = [Bar(label(m.metric), "bar-draft", m.draft, None) for m in report.metrics]
        charts.append(Chart("Mean of each metric, drafts", drafts))
    finals = [Bar(label(m.metric), "bar-final", m.final, None) for m in report.metrics]
    charts.append(Chart("Mean of each metric" + (", final answers" if charts else ""), finals))
    yield Page(charts)
    if report.judge is not None:
        yield from _judge(report)
    if report.judges is not None:
        yield from _panel(report)
    several = several_files(report)
    if report.broken_lines:
        yield Heading(2, "Broken lines")
        yield Items([(*where(b.source, b.line, several), ": ", b.reason) for b in report.broken_lines])
    for status, title in (("failed", "Failed answers (not scored)"), ("unscorable", "Not scorable")):
        if report.counts.get(status):
            yield Heading(2, title)
            yield Items(_unscored(report, status, several))
