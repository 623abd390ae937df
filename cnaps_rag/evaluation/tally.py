"""Running sums over scored rows: each metric's mean, minimum and share perfect per system, and ranks.

A :class:`SystemTally` takes rows one at a time and keeps only sums, counts and the stripped
values' counter, so aggregation costs the same memory for ten answers as for a million.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..scores import METRICS, Scores
from .models import (
    CRITERIA,
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


def _value(scores: Scores, metric: str) -> float:
    return float(getattr(scores, metric))


class _Tally:
    """Running mean, minimum and perfect count of one series of scores."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum: float | None = None
        self.perfect = 0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.perfect += value >= 1.0

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def summary(self) -> MetricSummary:
        if not self.count:
            return MetricSummary(mean=None, minimum=None, perfect=None, answers=0)
        # Rounded so that float noise (0.30000000000000004) does not reach the report.
        return MetricSummary(
            mean=round(self.total / self.count, 6),
            minimum=round(self.minimum or 0.0, 6),
            perfect=round(self.perfect / self.count, 6),
            answers=self.count,
        )


class SystemTally:
    """Running sums of one system's rows (or of all rows)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sources: list[str] = []
        self.counts = Counter({"records": 0, "scored": 0, "failed": 0, "unscorable": 0, "with_draft": 0})
        self.final = {metric: _Tally() for metric in METRICS}
        self.draft = {metric: _Tally() for metric in METRICS}
        self.paired_final = {metric: 0.0 for metric in METRICS}
        self.violations: dict[str, Counter[str]] = {
            "final": Counter(url=0, model=0),
            "draft": Counter(url=0, model=0),
        }
        self.stripped: Counter[tuple[str, str]] = Counter()
        self.criteria = {criterion: _Tally() for criterion in CRITERIA}
        self.supported = _Tally()
        self.asked = _Tally()
        self.judge_failed = 0
        self.claims = Counter({"claims": 0, "unsupported": 0, "misattributed": 0, "general": 0})

    def add(self, row: Row) -> None:
        self.counts["records"] += 1
        self.counts[row.status] += 1
        if row.source is not None and row.source not in self.sources:
            self.sources.append(row.source)
        if row.final_scores is None:
            return
        for metric in METRICS:
            self.final[metric].add(_value(row.final_scores, metric))
        for kind, count in row.final_scores.violations.items():
            self.violations["final"][kind] += count
        final = row.final_scores
        self.claims.update(
            claims=final.claims,
            unsupported=len(final.unsupported),
            misattributed=len(final.misattributed),
            general=len(final.general),
        )
        if row.draft_scores is not None:
            self.counts["with_draft"] += 1
            for metric in METRICS:
                self.draft[metric].add(_value(row.draft_scores, metric))
                self.paired_final[metric] += _value(row.final_scores, metric)
            for kind, count in row.draft_scores.violations.items():
                self.violations["draft"][kind] += count
        # What the system wrote: the draft where there is one (the final is already validated).
        stripped = row.draft_stripped if row.draft_scores is not None else row.final_stripped
        self.stripped.update({(v.kind, v.value) for v in stripped})

    def add_verdict(self, row: Row) -> None:
        """Add the judge's verdict on ``row`` (or its failure), once the judge has given it."""
        if row.judgment is not None:
            for criterion in CRITERIA:
                self.criteria[criterion].add(row.judgment.scores[criterion])
            self.supported.add(row.judgment.supported_share)
            self.asked.add(float(row.judgment.does_what_was_asked))
        elif row.judge_error is not None:
            self.judge_failed += 1

    def metric_rows(self) -> list[MetricRow]:
        rows = []
        for metric in METRICS:
            draft = self.draft[metric]
            difference = (
                round((self.paired_final[metric] - draft.total) / draft.count, 6) if draft.count else None
            )
            rows.append(
                MetricRow(
                    metric=metric,
                    final=self.final[metric].summary(),
                    draft=draft.summary(),
                    difference=difference,
                )
            )
        return rows

    def judge_summary(self) -> JudgeSummary | None:
        judged = self.supported.count
        if not judged and not self.judge_failed:
            return None

        def mean(tally: _Tally) -> float | None:
            value = tally.mean()
            return None if value is None else round(value, 6)

        return JudgeSummary(
            judged=judged,
            failed=self.judge_failed,
            criteria={criterion: mean(tally) for criterion, tally in self.criteria.items()},
            supported_share=mean(self.supported),
            does_what_was_asked=mean(self.asked),
        )

    def summary(self, ranks: dict[str, int]) -> SystemSummary:
        most = sorted(self.stripped.items(), key=lambda item: (-item[1], item[0]))[:STRIPPED_SHOWN]
        return SystemSummary(
            name=self.name,
            sources=self.sources,
            counts=dict(self.counts),
            metrics=self.metric_rows(),
            ranks=ranks,
            violations={which: dict(counter) for which, counter in self.violations.items()},
            stripped=[StrippedValue(kind=kind, value=value, answers=n) for (kind, value), n in most],
            judge=self.judge_summary(),
            claims=dict(self.claims),
        )


def rank_systems(tallies: Sequence[SystemTally]) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Return per metric the systems best first, and each system's rank (ties share the better rank)."""
    ranking: dict[str, list[str]] = {}
    ranks: dict[str, dict[str, int]] = {t.name: {} for t in tallies}
    for metric in METRICS:
        means = {t.name: t.final[metric].summary().mean for t in tallies}
        ordered = sorted(
            (name for name in means if means[name] is not None), key=lambda n: -(means[n] or 0.0)
        )
        ranking[metric] = ordered
        for name in ordered:
            ranks[name][metric] = 1 + sum(
                1 for other in ordered if (means[other] or 0.0) > (means[name] or 0.0)
            )
    return ranking, ranks


class PromptTable:
    """Per prompt, each system's first scored answer: its scores, what was stripped, the judge's score.

    Rows come one at a time and only these few numbers per (prompt, system) are kept.
    """

    def __init__(self) -> None:
        # Prompt -> system -> (position from 1 of its row, scores by metric, stripped, judge's overall).
        self.first: dict[str, dict[str, tuple[int, dict[str, float], int, float | None]]] = {}

    def add(self, position: int, row: Row) -> None:
        """Take the row at ``position`` (from 1) among all rows."""
        if row.final_scores is None or row.prompt_id is None:
            return
        by_system = self.first.setdefault(row.prompt_id, {})
        if row.system in by_system:
            return
        stripped = len(row.draft_stripped if row.draft_scores is not None else row.final_stripped)
        scores = {metric: _value(row.final_scores, metric) for metric in METRICS}
        judge = row.judgment.overall if row.judgment is not None else None
        by_system[row.system] = (position, scores, stripped, judge)

    def rows(self, systems: Sequence[str]) -> list[PromptRow]:
        """Return per prompt (in order of first answer) each system's scores, with the best marked."""
        result = []
        for prompt_id, by_system in self.first.items():
            ordered = {name: by_system[name] for name in systems if name in by_system}
            scores = {name: entry[1] for name, entry in ordered.items()}
            best = {}
            for metric in METRICS:
                values = {name: s[metric] for name, s in scores.items()}
                top = max(values.values())
                if min(values.values()) < top:
                    best[metric] = [name for name, value in values.items() if value == top]
            result.append(
                PromptRow(
                    prompt_id=prompt_id,
                    scores=scores,
                    best=best,
                    stripped={name: entry[2] for name, entry in ordered.items()},
                    judge={name: entry[3] for name, entry in ordered.items() if entry[3] is not None},
                    answers={name: entry[0] for name, entry in ordered.items()},
                )
            )
        return result
