"""Running sums over finished rows: each metric's mean, minimum and share perfect per system, ranks,
and each prompt's answers side by side. Only sums and counts are kept, so aggregation costs the same
memory for ten answers as for a million."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..scores import METRICS
from .models import (
    CRITERIA,
    MEASURES,
    JudgeSummary,
    MetricRow,
    MetricSummary,
    PromptRow,
    Row,
    StrippedValue,
    SystemSummary,
)

STRIPPED_SHOWN = 10
"""How many of a system's most often stripped values the report lists."""


class _Tally:
    """Running mean, minimum and perfect count of one series of scores."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum = 1.0
        self.perfect = 0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value) if self.count > 1 else value
        self.perfect += value >= 1.0

    def mean(self) -> float | None:
        # Rounded so that float noise (0.30000000000000004) does not reach the report.
        return round(self.total / self.count, 6) if self.count else None

    def summary(self) -> MetricSummary:
        if not self.count:
            return MetricSummary(mean=None, minimum=None, perfect=None, answers=0)
        perfect = round(self.perfect / self.count, 6)
        return MetricSummary(
            mean=self.mean(), minimum=round(self.minimum, 6), perfect=perfect, answers=self.count
        )


class SystemTally:
    """Running sums of one system's rows (or of all rows)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sources: list[str] = []
        self.counts = Counter({"records": 0, "scored": 0, "failed": 0, "unscorable": 0, "with_draft": 0})
        self.final = {metric: _Tally() for metric in METRICS}
        self.draft = {metric: _Tally() for metric in METRICS}
        self.paired_final = dict.fromkeys(METRICS, 0.0)  # final scores of the answers with a draft
        self.violations = {"final": Counter(url=0, model=0), "draft": Counter(url=0, model=0)}
        self.stripped: Counter[tuple[str, str]] = Counter()
        self.judge = {measure: _Tally() for measure in MEASURES}
        self.judge_failed = 0
        self.claims = Counter({"claims": 0, "unsupported": 0, "misattributed": 0, "general": 0})

    def add(self, row: Row) -> None:
        """Add a finished row: its scores, and the judge's verdict on it (or its failure)."""
        self.counts["records"] += 1
        self.counts[row.status] += 1
        if row.source is not None and row.source not in self.sources:
            self.sources.append(row.source)
        if row.judgment is not None:
            for measure, value in row.judgment.measures().items():
                self.judge[measure].add(value)
        elif row.judge_error is not None:
            self.judge_failed += 1
        final, draft = row.final_scores, row.draft_scores
        if final is None:
            return
        for metric in METRICS:
            self.final[metric].add(getattr(final, metric))
        self.violations["final"].update(final.violations)
        self.claims.update(
            claims=final.claims,
            unsupported=len(final.unsupported),
            misattributed=len(final.misattributed),
            general=len(final.general),
        )
        if draft is not None:
            self.counts["with_draft"] += 1
            for metric in METRICS:
                self.draft[metric].add(getattr(draft, metric))
                self.paired_final[metric] += getattr(final, metric)
            self.violations["draft"].update(draft.violations)
        self.stripped.update({(v.kind, v.value) for v in row.written()[1]})

    def metric_rows(self) -> list[MetricRow]:
        rows = []
        for metric in METRICS:
            draft = self.draft[metric]
            paired = (
                round((self.paired_final[metric] - draft.total) / draft.count, 6) if draft.count else None
            )
            rows.append(
                MetricRow(
                    metric=metric,
                    final=self.final[metric].summary(),
                    draft=draft.summary(),
                    difference=paired,
                )
            )
        return rows

    def summary(self, ranks: dict[str, int]) -> SystemSummary:
        most = sorted(self.stripped.items(), key=lambda item: (-item[1], item[0]))[:STRIPPED_SHOWN]
        judged = self.judge["supported_share"].count
        verdicts = None
        if judged or self.judge_failed:
            verdicts = JudgeSummary(
                judged=judged,
                failed=self.judge_failed,
                criteria={criterion: self.judge[criterion].mean() for criterion in CRITERIA},
                supported_share=self.judge["supported_share"].mean(),
                does_what_was_asked=self.judge["does_what_was_asked"].mean(),
            )
        return SystemSummary(
            name=self.name,
            sources=self.sources,
            counts=dict(self.counts),
            metrics=self.metric_rows(),
            ranks=ranks,
            violations={which: dict(counter) for which, counter in self.violations.items()},
            stripped=[StrippedValue(kind=kind, value=value, answers=n) for (kind, value), n in most],
            judge=verdicts,
            claims=dict(self.claims),
        )


def rank_systems(tallies: Sequence[SystemTally]) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Return per metric the systems best first, and each system's rank (ties share the better rank)."""
    ranking: dict[str, list[str]] = {}
    ranks: dict[str, dict[str, int]] = {t.name: {} for t in tallies}
    for metric in METRICS:
        means = {t.name: mean for t in tallies if (mean := t.final[metric].mean()) is not None}
        ranking[metric] = sorted(means, key=lambda name: -means[name])
        for name in ranking[metric]:
            ranks[name][metric] = 1 + sum(1 for other in means.values() if other > means[name])
    return ranking, ranks


class PromptTable:
    """Per prompt, each system's first scored answer: its scores, what was stripped, the judge's score."""

    def __init__(self) -> None:
        self.prompts: dict[str, PromptRow] = {}

    def add(self, position: int, row: Row) -> None:
        """Take the row at ``position`` (from 1) among all rows."""
        if row.final_scores is None or row.prompt_id is None:
            return
        prompt = self.prompts.setdefault(
            row.prompt_id, PromptRow(prompt_id=row.prompt_id, scores={}, best={}, stripped={})
        )
        if row.system not in prompt.answers:
            prompt.answers[row.system] = position
            prompt.scores[row.system] = {
                metric: float(getattr(row.final_scores, metric)) for metric in METRICS
            }
            prompt.stripped[row.system] = len(row.written()[1])
            if row.judgment is not None:
                prompt.judge[row.system] = row.judgment.overall

    def rows(self, systems: Sequence[str]) -> list[PromptRow]:
        """Return per prompt (in order of first answer) each system's scores, the best marked where
        some system scored lower (listed in the order of ``systems``)."""
        for prompt in self.prompts.values():
            for metric in METRICS:
                values = {name: prompt.scores[name][metric] for name in systems if name in prompt.scores}
                top = max(values.values())
                if min(values.values()) < top:
                    prompt.best[metric] = [name for name, value in values.items() if value == top]
        return list(self.prompts.values())
