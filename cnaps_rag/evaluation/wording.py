"""The words and numbers the evaluation reports share: labels, scores, summary sentences."""

from __future__ import annotations

import html

from ..scores import Scores
from .models import EvalReport, PanelReport

LABELS = {
    "url_precision": "URL precision",
    "source_recall": "source recall",
    "model_precision": "model-name precision",
    "structure": "structure",
    "grounding": "grounding",
    "clarity": "clarity",
    "correctness_completeness": "correctness and completeness",
    "workflow_design": "workflow design",
    "provided_models_only": "provided models only",
    "reasoning": "reasoning",
    "supported_share": "sentences supported",
    "does_what_was_asked": "does what was asked",
    "overall": "overall",
}
"""How the reports name each metric (``cnaps_rag.scores.METRICS``) and each judge criterion or measure."""


def label(name: str) -> str:
    """Return a metric's or a judge measure's name as the reports print it."""
    return LABELS.get(name, name)


def format_number(value: float | None) -> str:
    """Return a mean or share with three decimals, or n/a."""
    return "n/a" if value is None else f"{value:.3f}"


def format_score_value(value: float | None) -> str:
    """Return a judge's mean score on its own scale (out of 50, a share of 1) with two decimals, or n/a."""
    return "n/a" if value is None else f"{value:.2f}"


def format_signed(value: float | None) -> str:
    """Return a difference with its sign and three decimals, or n/a."""
    return "n/a" if value is None else f"{value:+.3f}"


def format_score(scores: Scores | None, metric: str) -> str:
    """Return one answer's score of ``metric`` with three decimals, or — when there are no scores."""
    return "—" if scores is None else format_number(getattr(scores, metric))


def counts_sentence(report: EvalReport) -> str:
    """Return the sentence that counts the records by status."""
    counts = report.counts
    return (
        f"Records: {counts['records']}; scored: {counts['scored']}, with a draft: {counts['with_draft']}; "
        f"failed answers (not scored): {counts['failed']}; not scorable: {counts['unscorable']}; "
        f"broken lines: {counts['broken_lines']}."
    )


def violations_sentence(report: EvalReport) -> str:
    """Return the sentence that says what the validator strips from finals and drafts."""
    final, draft = report.violations["final"], report.violations["draft"]
    text = f"The validator strips from the final answers {final['url']} URLs and {final['model']} model names"
    if report.counts["with_draft"]:
        text += f", from the drafts {draft['url']} URLs and {draft['model']} model names"
    return text + "."


def several_files(report: EvalReport) -> bool:
    """Return whether the records came from more than one file (then a line number needs its file)."""
    return len({r.source for r in report.rows} | {b.source for b in report.broken_lines}) > 1


def judged_sentence(report: EvalReport) -> str:
    """Return how many answers the judge judged and failed on."""
    assert report.judge is not None
    return f"Judged {report.judge.judged} answers; the judge failed on {report.judge.failed}."


def agreement_sentence(report: EvalReport) -> str:
    """Return the sentence that introduces the judge's agreement with the metrics."""
    assert report.judge is not None
    agreement = report.judge.agreement
    answers = agreement[0].answers if agreement else 0
    return (
        f"Agreement with the metrics: Spearman's rank correlation over the {answers} judged answers "
        "(n/a: too few answers, or one side constant)."
    )


def ranked(value: float | None, rank: int | None) -> str:
    """Return a mean with its rank among the systems: ``0.912 (1)``."""
    return format_number(value) + (f" ({rank})" if rank is not None else "")


def stripped_sentence(counts: dict[str, int]) -> str:
    """Return what was stripped, by kind: ``3 URLs, 2 model names``."""
    names = {"url": "URLs", "model": "model names"}
    return ", ".join(f"{n} {names.get(kind, kind)}" for kind, n in counts.items()) or "nothing"


def escape(text: object) -> str:
    """Return ``text`` as HTML text or attribute value (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def panel_sentences(panel: PanelReport) -> list[str]:
    """Return the sentences that introduce a panel of judges: who, how far they agree, the blind spots."""
    how = {"recorded": "Recorded verdicts", "live": "Live verdicts"}.get(
        panel.source, "Recorded and live verdicts"
    )
    judged = max((record.judged for record in panel.judges), default=0)
    kappa = f"Fleiss' kappa {format_number(panel.fleiss_kappa)} over the {panel.kappa_prompts} prompts "
    kappa += "every judge voted on"
    spots = ", ".join(f"{r.name} {r.blind_spots}" for r in [*panel.judges, panel.majority])
    return [
        f"{how} of {len(panel.panel)} judges ({', '.join(panel.panel)}) on up to {judged} prompts. "
        f"Pairwise agreement {format_number(panel.pairwise_agreement)} (the share of {panel.pairs} judge "
        f"pairs that picked the same answer); {kappa} (0 is chance, 1 full agreement). The majority is the "
        f"answer more than half the judges picked; no answer had that on {panel.no_majority} "
        f"prompt{'' if panel.no_majority == 1 else 's'}.",
        "Blind spots: prompts where a judge picked an answer that the validator strips URLs or model "
        "names from while another answer to the same prompt has fewer stripped, or an answer with more "
        f"unsupported or misattributed claims than another answer to the same prompt. {spots}.",
    ]
