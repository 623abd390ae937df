"""The blocks a report is made of (headings, sentences, lists, tables, charts) and its tables.

Blocks hold plain text, with :class:`Code` for names and values shown as written;
:mod:`.report` renders them as Markdown, :mod:`.html_page` as HTML. :func:`markdown_table`
and :func:`html_table` escape a table for their format, mark the best cells (bold in Markdown,
``class="best"`` on the page) and, on the page, link a cell to its answer's section. The first
``left`` columns are left-aligned, the others right-aligned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..scores import METRICS
from .models import CRITERIA, EvalReport, MetricRow, MetricSummary, PanelReport, PromptRow
from .wording import (
    escape,
    format_number,
    format_score_value,
    format_signed,
    label,
    ranked,
)


@dataclass(frozen=True)
class Code:
    """A name, id or value as written: a code span in Markdown, ``<code>`` on the page."""

    text: str


Text = str | tuple[str | Code, ...]
"""Plain text, or pieces of plain text and :class:`Code`."""


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, whether it is the best of its row, which answer it links to."""

    text: Text
    best: bool = False
    answer: int | None = None
    """Position of the answer (``#answer-N`` on the page) the cell is about."""


@dataclass
class Table:
    """A header and rows of cells (plain strings for cells with nothing to mark)."""

    head: list[str]
    rows: list[list[Cell | str]] = field(default_factory=list)
    left: int = 1
    """How many columns, from the first, Markdown aligns left (the page aligns left only the first)."""


@dataclass(frozen=True)
class Heading:
    level: int
    text: Text


@dataclass(frozen=True)
class Para:
    text: Text


@dataclass(frozen=True)
class Items:
    """A bulleted list, one line each (an iterable: a long list is read as it is written)."""

    items: Iterable[Text]


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, its CSS class, the summary it shows, its rank (if any)."""

    label: str
    css: str
    summary: MetricSummary
    rank: int | None


@dataclass(frozen=True)
class Chart:
    """A bar chart (on the page only)."""

    title: str
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Figure:
    """A titled table; on the page with its chart beside it."""

    title: str
    chart: Chart
    table: Table


@dataclass(frozen=True)
class Page:
    """Blocks on the page only (what a reader browses: charts, the tables linked to the answers)."""

    blocks: Sequence[Block]


Block = Heading | Para | Items | Table | Figure | Chart | Page


def _cells(row: Sequence[Cell | str]) -> list[Cell]:
    return [c if isinstance(c, Cell) else Cell(c) for c in row]


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


def html_text(text: Text) -> str:
    """Return ``text`` as HTML: escaped, :class:`Code` in ``<code>``."""
    if isinstance(text, str):
        return escape(text)
    return "".join(f"<code>{escape(p.text)}</code>" if isinstance(p, Code) else escape(p) for p in text)


def markdown_row(row: Sequence[Cell | str]) -> str:
    """Return one table row as a Markdown line (for a table written a row at a time)."""
    cells = [(md_text(c.text), c.best) for c in _cells(row)]
    return "| " + " | ".join(f"**{text}**" if best else text for text, best in cells) + " |"


def markdown_table(table: Table) -> list[str]:
    """Return the table as Markdown lines: header, alignment row, a line per row."""
    lines = [
        "| " + " | ".join(md_cell(h) for h in table.head) + " |",
        "| " + " | ".join("---" if i < table.left else "---:" for i in range(len(table.head))) + " |",
    ]
    return lines + [markdown_row(row) for row in table.rows]


def _td(cell: Cell, left: bool) -> str:
    text = html_text(cell.text)
    if cell.answer is not None:
        text = f'<a href="#answer-{cell.answer}">{text}</a>'
    classes = " ".join(name for name, on in (("best", cell.best), ("text", left)) if on)
    return f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>"


def html_table(table: Table) -> list[str]:
    """Return the table as HTML: its opening with the header, a line per row, its closing."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.head)
    lines = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    lines += [
        "<tr>" + "".join(_td(c, 0 < i < table.left) for i, c in enumerate(_cells(row))) + "</tr>"
        for row in table.rows
    ]
    lines.append("</tbody></table>")
    return lines


# --------------------------------------------------------------------------- the report's tables


def summary_table(metrics: Sequence[MetricRow]) -> Table:
    """Return each metric's final mean, minimum and share perfect, the drafts' mean, final − draft."""
    head = ["metric", "final mean", "final min", "final share perfect", "draft mean", "final − draft"]
    rows: list[list[Cell | str]] = [
        [
            label(row.metric),
            format_number(row.final.mean),
            format_number(row.final.minimum),
            format_number(row.final.perfect),
            format_number(row.draft.mean),
            format_signed(row.difference),
        ]
        for row in metrics
    ]
    return Table(head, rows)


def systems_table(report: EvalReport) -> Table:
    """Return per system its scored answers and each metric's mean with its rank, the best marked."""
    table = Table(["system", "scored", *(label(m) for m in METRICS)])
    for system in report.systems:
        cells = [
            Cell(ranked(system.metric(m).final.mean, system.ranks.get(m)), best=system.ranks.get(m) == 1)
            for m in METRICS
        ]
        table.rows.append([system.name, str(system.counts["scored"]), *cells])
    return table


CLAIMS_NOTE = (
    "Claims over a system's final answers (cnaps_rag/scores.py): the supported share leaves general "
    "statements out; misattributed claims are among the unsupported."
)
"""What the claims table says, under its heading."""


def claims_table(report: EvalReport) -> Table:
    """Return per system its claims, the share supported, and the unsupported, misattributed and
    general ones (over its final answers)."""
    table = Table(["system", "claims", "supported share", "unsupported", "misattributed", "general"])
    for system in report.systems:
        counts = system.claims
        judged = counts.get("claims", 0) - counts.get("general", 0)
        share = (judged - counts.get("unsupported", 0)) / judged if judged > 0 else None
        table.rows.append(
            [
                system.name,
                str(counts.get("claims", 0)),
                format_number(share),
                *(str(counts.get(key, 0)) for key in ("unsupported", "misattributed", "general")),
            ]
        )
    return table


def metric_table(report: EvalReport, metric: str) -> Table:
    """Return one metric's mean, minimum, share perfect and rank per system, best first."""
    table = Table(["system", "mean", "min", "share perfect", "rank"])
    for name in report.ranking.get(metric, []):
        system = report.system(name)
        summary = system.metric(metric).final
        table.rows.append(
            [
                name,
                format_number(summary.mean),
                format_number(summary.minimum),
                format_number(summary.perfect),
                str(system.ranks[metric]),
            ]
        )
    return table


def prompt_table(report: EvalReport, values: dict[str, dict[str, str]], best: str | None = None) -> Table:
    """Return per prompt each system's value (``values``: prompt id -> system -> text), linked to
    its answer; with ``best`` (a metric) the best of each row are marked."""
    names = [s.name for s in report.systems]
    table = Table(["prompt", *names])
    for prompt in report.prompts:
        marked = prompt.best.get(best, []) if best is not None else []
        cells: list[Cell | str] = [prompt.prompt_id]
        for name in names:
            text = values[prompt.prompt_id].get(name)
            answer = prompt.answers.get(name) if text is not None else None
            cells.append(Cell("—" if text is None else text, name in marked, answer))
        table.rows.append(cells)
    return table


def metric_by_prompt(prompts: Sequence[PromptRow], metric: str) -> dict[str, dict[str, str]]:
    """Return prompt id -> system -> that system's score of ``metric``, as the tables print it."""
    return {
        p.prompt_id: {name: format_number(s[metric]) for name, s in p.scores.items() if metric in s}
        for p in prompts
    }


def judge_table(report: EvalReport) -> Table:
    """Return per judged system its verdicts: how many, each criterion's mean, support, asked."""
    table = Table(
        [
            "system",
            "judged",
            "failed",
            *(label(c) for c in CRITERIA),
            "sentences supported",
            "does what was asked",
        ]
    )
    for system in report.systems:
        verdicts = system.judge
        if verdicts is None:
            continue
        table.rows.append(
            [
                system.name,
                str(verdicts.judged),
                str(verdicts.failed),
                *(format_number(verdicts.criteria.get(c)) for c in CRITERIA),
                format_number(verdicts.supported_share),
                format_number(verdicts.does_what_was_asked),
            ]
        )
    return table


def agreement_table(report: EvalReport) -> Table:
    """Return Spearman's rho of each judge measure (a row) with each metric (a column)."""
    assert report.judge is not None
    agreement = report.judge.agreement
    rho = {(a.judge, a.metric): a.rho for a in agreement}
    table = Table(["judge", *(label(m) for m in METRICS)])
    for measure in dict.fromkeys(a.judge for a in agreement):
        table.rows.append([label(measure), *(format_signed(rho.get((measure, m))) for m in METRICS)])
    return table


# --------------------------------------------------------------------------- a panel of judges


def panel_table(panel: PanelReport) -> Table:
    """Return per judge, then the majority, the prompts it judged, its picks per system, its blind spots."""
    systems = list(dict.fromkeys(s for record in [*panel.judges, panel.majority] for s in record.picks))
    live = any(record.reordered for record in panel.judges)
    head = ["judge", "prompts judged", *(f"picked {s}" for s in systems), "blind spots"]
    head += ["by stripped items", "by claims"]
    table = Table(head + (["asked again, answers reordered", "pick changed"] if live else []))
    for record in [*panel.judges, panel.majority]:
        most = max(record.picks.values(), default=0)
        cells: list[Cell | str] = [record.name, str(record.judged)]
        cells += [
            Cell(str(record.picks.get(s, 0)), best=most > 0 and record.picks.get(s) == most) for s in systems
        ]
        cells += [str(record.blind_spots), str(record.stripped_spots), str(record.claim_spots)]
        if live:
            cells += (
                [str(record.reordered), str(record.changed)] if record is not panel.majority else ["", ""]
            )
        table.rows.append(cells)
    return table


def panel_scores_table(panel: PanelReport) -> Table | None:
    """Return per judge its mean score of each system's answers (None when no judge gave scores)."""
    scoring = [record for record in panel.judges if record.mean_scores]
    if not scoring:
        return None
    systems = list(dict.fromkeys(s for record in scoring for s in record.mean_scores))
    table = Table(["judge", "prompts scored", *systems])
    for record in scoring:
        values = {s: v for s, v in record.mean_scores.items() if v is not None}
        top = max(values.values(), default=None)
        table.rows.append(
            [
                record.name,
                str(record.scored),
                *(
                    Cell(format_score_value(record.mean_scores.get(s)), best=values.get(s) == top)
                    for s in systems
                ),
            ]
        )
    return table


def blind_spot_table(report: EvalReport) -> Table:
    """Return each blind spot: prompt, judge, its pick, what is stripped from it and its flagged claims,
    and the answers with the fewest of each.

    On the page the pick and the cleanest answers link to their answers' sections.
    """
    panel = report.judges
    assert panel is not None
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
