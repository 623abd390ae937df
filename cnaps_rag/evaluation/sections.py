"""The report's sections before the answers, built once as blocks for both formats.

:mod:`.report` writes the blocks as Markdown, :mod:`.html_page` as HTML; charts and
:class:`Page` blocks are on the page only. Rows are read back from disk once per pass, so the
lists of failed and unscorable answers are generators.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, ClassVar

from ..scores import METRICS, Scores
from .models import CRITERIA, EvalReport, MetricSummary, PanelReport

LABELS = {
    "url_precision": "URL precision",
    "source_recall": "source recall",
    "model_precision": "model-name precision",
    "correctness_completeness": "correctness and completeness",
    "workflow_design": "workflow design",
    "provided_models_only": "provided models only",
    "supported_share": "sentences supported",
    "does_what_was_asked": "does what was asked",
}


def label(name: str) -> str:
    """Return a metric's or a judge measure's name as the reports print it."""
    return LABELS.get(name, name)


def number(value: float | None, form: str = ".3f") -> str:
    return "n/a" if value is None else format(value, form)


def format_score(scores: Scores | None, metric: str) -> str:
    return "—" if scores is None else number(getattr(scores, metric))


def load_template(name: str, **helpers: Any) -> Any:
    """Return the Jinja template ``name`` beside this module, ``helpers`` among its filters and globals."""
    import jinja2  # here, not at the top: `import cnaps_rag` stays fast for those who only validate

    env = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    env.filters.update(helpers)
    env.globals.update(helpers, cells=cells, label=label, metrics=METRICS, number=number, score=format_score)
    return env.from_string((files(__package__) / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Code:
    """A name, id or value as written: a code span in Markdown, ``<code>`` on the page."""

    text: str


Text = str | tuple[str | Code, ...]


@dataclass(frozen=True)
class Cell:
    text: Text
    best: bool = False
    answer: int | None = None
    """Position of the answer (``#answer-N`` on the page) the cell is about."""


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    head: list[str]
    rows: list[list[Cell | str]] = field(default_factory=list)
    left: int = 1
    """How many columns, from the first, Markdown aligns left (the page aligns left only the first)."""


@dataclass(frozen=True)
class Heading:
    kind: ClassVar[str] = "heading"
    level: int
    text: Text


@dataclass(frozen=True)
class Para:
    kind: ClassVar[str] = "para"
    text: Text


@dataclass(frozen=True)
class Items:
    """A bulleted list (an iterable: a long list is read as it is written)."""

    kind: ClassVar[str] = "items"
    items: Iterable[Text]


@dataclass(frozen=True)
class Bar:
    label: str
    css: str
    summary: MetricSummary
    rank: int | None


@dataclass(frozen=True)
class Chart:
    kind: ClassVar[str] = "chart"
    title: str
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Figure:
    """A titled table; on the page with its chart beside it."""

    kind: ClassVar[str] = "figure"
    title: str
    chart: Chart
    table: Table


@dataclass(frozen=True)
class Page:
    """Blocks on the page only (what a reader browses: charts, the tables linked to the answers)."""

    kind: ClassVar[str] = "page"
    blocks: Sequence[Block]


Block = Heading | Para | Items | Table | Figure | Chart | Page


def cells(row: Sequence[Cell | str]) -> list[Cell]:
    return [c if isinstance(c, Cell) else Cell(c) for c in row]


def where(source: str | None, line: int | None, several: bool) -> tuple[str | Code, ...]:
    """Return where a record stands: its line, and its file when there are several files."""
    if line is None:  # a results file: one prompt's answers, no line of their own
        return (Code(source or ""),)
    return (Code(source), f" line {line}") if several and source else (f"line {line}",)


def several_files(report: EvalReport) -> bool:
    """Return whether the records came from more than one file (then a line number needs its file)."""
    return len({r.source for r in report.rows} | {b.source for b in report.broken_lines}) > 1


def _prompt_table(report: EvalReport, values: dict[str, dict[str, str]], best: str | None = None) -> Table:
    """Return per prompt each system's value (prompt id -> system -> text), linked to its answer,
    the best of each row marked by metric ``best``."""
    names = [s.name for s in report.systems]
    table = Table(["prompt", *names])
    for prompt in report.prompts:
        marked = prompt.best.get(best, []) if best is not None else []
        row: list[Cell | str] = [prompt.prompt_id]
        for name in names:
            text = values[prompt.prompt_id].get(name)
            answer = prompt.answers.get(name) if text is not None else None
            row.append(Cell("—" if text is None else text, name in marked, answer))
        table.rows.append(row)
    return table


def _systems(report: EvalReport) -> Iterator[Block]:
    """Yield the side-by-side sections: systems, claims, each metric, stripped values, per prompt."""
    yield Heading(2, "Systems")
    yield Para(
        "Each metric's mean over a system's final answers, its rank among the systems in brackets "
        "(1 is best), the best in bold."
    )
    table = Table(["system", "scored", *(label(m) for m in METRICS)])
    for system in report.systems:
        ranks = [(system.metric(m).final.mean, system.ranks.get(m)) for m in METRICS]
        ranked = [Cell(number(mean) + (f" ({rank})" if rank else ""), rank == 1) for mean, rank in ranks]
        table.rows.append([system.name, str(system.counts["scored"]), *ranked])
    yield table
    yield Heading(2, "Claims by system")
    yield Para(
        "Claims over a system's final answers (cnaps_rag/scores.py): the supported share leaves general "
        "statements out; misattributed claims are among the unsupported."
    )
    table = Table(["system", "claims", "supported share", "unsupported", "misattributed", "general"])
    for system in report.systems:
        counts = Counter(system.claims)
        judged = counts["claims"] - counts["general"]
        share = (judged - counts["unsupported"]) / judged if judged > 0 else None
        kinds = ("unsupported", "misattributed", "general")
        table.rows.append(
            [system.name, str(counts["claims"]), number(share), *(str(counts[k]) for k in kinds)]
        )
    yield table
    yield Heading(2, "Each metric by system")
    for metric in METRICS:
        bars = [
            Bar(s.name, f"sys-{i % 8}", s.metric(metric).final, s.ranks.get(metric))
            for i, s in enumerate(report.systems)
        ]
        table = Table(["system", "mean", "min", "share perfect", "rank"])
        for name in report.ranking.get(metric, []):
            system = report.system(name)
            final = system.metric(metric).final
            figures = (final.mean, final.minimum, final.perfect)
            table.rows.append([name, *(number(v) for v in figures), str(system.ranks[metric])])
        chart = Chart(f"{label(metric)}: mean per system, minimum marked", bars)
        yield Figure(label(metric), chart, table)
    yield Heading(2, "What the validator strips from each system")
    yield Para("From the draft where a record has one, else from the answer as scored.")
    table = Table(["system", "stripped", "stripped most often (answers)"], left=3)
    for system in report.systems:
        which = system.violations["draft" if system.counts["with_draft"] else "final"]
        names = {"url": "URLs", "model": "model names"}
        sentence = ", ".join(f"{n} {names.get(kind, kind)}" for kind, n in which.items()) or "nothing"
        often: list[str | Code] = []
        for value in system.stripped:
            often += [*([", "] if often else []), Code(value.value), f" ({value.answers})"]
        table.rows.append([system.name, sentence, Cell(tuple(often) or "—")])
    yield table
    yield Heading(2, "Per prompt")
    yield Para(
        "Each system's score of its answer to the prompt; the best in bold where some system scored lower."
    )
    for metric in METRICS:
        values = {p.prompt_id: {n: number(s[metric]) for n, s in p.scores.items()} for p in report.prompts}
        yield Heading(3, label(metric))
        yield _prompt_table(report, values, best=metric)
    stripped = {p.prompt_id: {n: str(v) for n, v in p.stripped.items()} for p in report.prompts}
    page: list[Block] = [
        Heading(3, "Stripped by the validator (URLs and names)"),
        _prompt_table(report, stripped),
    ]
    if any(p.judge for p in report.prompts):
        overall = {p.prompt_id: {n: f"{v:.3f}" for n, v in p.judge.items()} for p in report.prompts}
        page += [Heading(3, "The judge's overall score (0 to 1)"), _prompt_table(report, overall)]
    yield Page(page)


def _judge(report: EvalReport) -> Iterator[Block]:
    judge = report.judge
    assert judge is not None
    yield Heading(2, ("Judge: ", Code(judge.model), ", rubric ", Code(judge.rubric_version)))
    yield Para(f"Judged {judge.judged} answers; the judge failed on {judge.failed}.")
    measures = ["judged", "failed", *CRITERIA, "supported_share", "does_what_was_asked"]
    table = Table(["system", *(label(m) for m in measures)])
    for system in report.systems:
        verdicts = system.judge
        if verdicts is not None:
            means = [verdicts.criteria.get(c) for c in CRITERIA]
            means += [verdicts.supported_share, verdicts.does_what_was_asked]
            table.rows.append([system.name, str(verdicts.judged), str(verdicts.failed), *map(number, means)])
    yield table
    answers = judge.agreement[0].answers if judge.agreement else 0
    yield Para(
        f"Agreement with the metrics: Spearman's rank correlation over the {answers} judged answers "
        "(n/a: too few answers, or one side constant)."
    )
    rho = {(a.judge, a.metric): a.rho for a in judge.agreement}
    table = Table(["judge", *(label(m) for m in METRICS)])
    for measure in dict.fromkeys(a.judge for a in judge.agreement):
        table.rows.append([label(measure), *(number(rho.get((measure, m)), "+.3f") for m in METRICS)])
    yield table
    failures = [r for r in report.rows if r.judge_error is not None]
    if failures:
        yield Para("Judge failures (the answers are scored all the same):")
        yield Items([(Code(r.id), " (", r.system, "): ", r.judge_error or "") for r in failures])


def _panel_sentences(panel: PanelReport) -> tuple[str, str]:
    how = {"recorded": "Recorded verdicts", "live": "Live verdicts"}.get(
        panel.source, "Recorded and live verdicts"
    )
    judged = max((record.judged for record in panel.judges), default=0)
    spots = ", ".join(f"{r.name} {r.blind_spots}" for r in [*panel.judges, panel.majority])
    return (
        f"{how} of {len(panel.panel)} judges ({', '.join(panel.panel)}) on up to {judged} prompts. "
        f"Pairwise agreement {number(panel.pairwise_agreement)} (the share of {panel.pairs} judge "
        f"pairs that picked the same answer); Fleiss' kappa {number(panel.fleiss_kappa)} over the "
        f"{panel.kappa_prompts} prompts every judge voted on (0 is chance, 1 full agreement). The majority "
        f"is the answer more than half the judges picked; no answer had that on {panel.no_majority} "
        f"prompt{'' if panel.no_majority == 1 else 's'}.",
        "Blind spots: prompts where a judge picked an answer that the validator strips URLs or model "
        "names from while another answer to the same prompt has fewer stripped, or an answer with more "
        f"unsupported or misattributed claims than another answer to the same prompt. {spots}.",
    )


def _panel(report: EvalReport) -> Iterator[Block]:
    panel = report.judges
    assert panel is not None
    first, spots = _panel_sentences(panel)
    yield Heading(2, "Judges as a panel")
    yield Para(first)
    records = [*panel.judges, panel.majority]
    systems = list(dict.fromkeys(s for record in records for s in record.picks))
    live = any(record.reordered for record in panel.judges)
    head = ["judge", "prompts judged", *(f"picked {s}" for s in systems), "blind spots"]
    table = Table([*head, "by stripped items", "by claims"])
    table.head += ["asked again, answers reordered", "pick changed"] if live else []
    for record in records:
        most = max(record.picks.values(), default=0)
        row: list[Cell | str] = [record.name, str(record.judged)]
        row += [Cell(str(record.picks.get(s, 0)), most > 0 and record.picks.get(s) == most) for s in systems]
        row += [str(record.blind_spots), str(record.stripped_spots), str(record.claim_spots)]
        if live:
            row += [str(record.reordered), str(record.changed)] if record is not panel.majority else ["", ""]
        table.rows.append(row)
    yield table
    scoring = [record for record in panel.judges if record.mean_scores]
    if scoring:
        yield Para("Each judge's mean score of each system's answers, on its own scale:")
        systems = list(dict.fromkeys(s for record in scoring for s in record.mean_scores))
        table = Table(["judge", "prompts scored", *systems])
        for record in scoring:
            values = {s: v for s, v in record.mean_scores.items() if v is not None}
            top = max(values.values(), default=None)
            means = [Cell(number(record.mean_scores.get(s), ".2f"), values.get(s) == top) for s in systems]
            table.rows.append([record.name, str(record.scored), *means])
        yield table
    if panel.failures:
        yield Para("Comparisons that gave no pick (the run went on):")
        yield Items(list(panel.failures))
    yield Heading(3, "Blind spots")
    yield Para(spots)
    if panel.blind_spots:
        yield _blind_spots(report, panel)


def _blind_spots(report: EvalReport, panel: PanelReport) -> Table:
    """Return each blind spot: prompt, judge, its pick and what counts against it, the answers with
    the fewest stripped items and flagged claims (on the page, linked to their sections)."""
    answers = {prompt.prompt_id: prompt.answers for prompt in report.prompts}
    head = ["prompt", "judge", "picked", "stripped from the pick", "cleanest answer (stripped)"]
    table = Table([*head, "claims flagged in the pick", "fewest flagged (answer)"], left=5)
    for spot in panel.blind_spots:
        counted = Counter((item.kind, item.value) for item in spot.stripped)
        stripped = ", ".join(f"{k} {v}" + (f" ×{n}" if n > 1 else "") for (k, v), n in counted.items())
        # As in the claims table: misattributed claims are among the unsupported.
        misattributed = sum(item.kind == "misattributed" for item in spot.claims)
        claims = f"{len(spot.claims)} unsupported" + (
            f" ({misattributed} misattributed)" if misattributed else ""
        )
        where = answers.get(spot.id, {})
        cleanest = Cell(f"{spot.cleanest} ({spot.cleanest_stripped})", answer=where.get(spot.cleanest))
        grounded = Cell(f"{spot.grounded} ({spot.grounded_claims})", answer=where.get(spot.grounded))
        pick = Cell(spot.picked, answer=where.get(spot.picked))
        table.rows.append([spot.id, spot.judge, pick, stripped or "—", cleanest, claims, grounded])
    return table


def report_sections(report: EvalReport) -> Iterator[Block]:
    """Yield the blocks of every section before the answers, in report order."""
    counts = report.counts
    yield Heading(1, ("cnaps-rag evaluation: ", Code(report.name)))
    yield Para(
        f"Records: {counts['records']}; scored: {counts['scored']}, with a draft: {counts['with_draft']}; "
        f"failed answers (not scored): {counts['failed']}; not scorable: {counts['unscorable']}; "
        f"broken lines: {counts['broken_lines']}."
    )
    if len(report.systems) > 1:
        yield from _systems(report)
        yield Heading(2, "All answers together")
    table = Table(["metric", "final mean", "final min", "final share perfect", "draft mean", "final − draft"])
    for row in report.metrics:
        figures = (row.final.mean, row.final.minimum, row.final.perfect, row.draft.mean)
        table.rows.append([label(row.metric), *map(number, figures), number(row.difference, "+.3f")])
    yield table
    final, draft = report.violations["final"], report.violations["draft"]
    text = f"The validator strips from the final answers {final['url']} URLs and {final['model']} model names"
    if counts["with_draft"]:
        text += f", from the drafts {draft['url']} URLs and {draft['model']} model names"
    yield Para(text + ".")
    charts = []
    if counts["with_draft"]:
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
        if counts.get(status):
            yield Heading(2, title)
            rows = (r for r in report.rows if r.status == status)
            yield Items(
                (Code(r.id), " (", *where(r.source, r.line, several), "): ", r.reason or "") for r in rows
            )
