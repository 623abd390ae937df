"""How far the judge agrees with the deterministic metrics: Spearman's rank correlation per pair."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..scores import METRICS
from .models import CRITERIA, Agreement, Row

JUDGE_MEASURES: tuple[str, ...] = (*CRITERIA, "supported_share", "does_what_was_asked", "overall")
"""What the judge gives per answer, in report order."""


def ranks(values: Sequence[float]) -> list[float]:
    """Return the rank of each value (1 = smallest), ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Return Spearman's rho of two equally long series; None for fewer than 3 pairs or a constant side."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return round(sxy / math.sqrt(sxx * syy), 6)


def _judge_value(row: Row, measure: str) -> float:
    judgment = row.judgment
    assert judgment is not None
    if measure in CRITERIA:
        return float(judgment.scores[measure])
    if measure == "supported_share":
        return judgment.supported_share
    if measure == "does_what_was_asked":
        return float(judgment.does_what_was_asked)
    return judgment.overall


def agreement(rows: Sequence[Row]) -> list[Agreement]:
    """Return Spearman's rho between each judge measure and each metric, over the answers with both."""
    judged = [r for r in rows if r.judgment is not None and r.final_scores is not None]
    result = []
    for measure in JUDGE_MEASURES:
        judge_values = [_judge_value(r, measure) for r in judged]
        for metric in METRICS:
            metric_values = [float(getattr(r.final_scores, metric)) for r in judged]
            result.append(
                Agreement(
                    judge=measure,
                    metric=metric,
                    rho=spearman(judge_values, metric_values),
                    answers=len(judged),
                )
            )
    return result
