"""How far judges agree: with each other as a panel over the prompts, and with the metrics.

A panel's agreement is measured twice: the plain share of judge pairs that picked the same
system (over every judged prompt, the pairs of judges that both voted on it), and Fleiss' kappa,
which discounts what chance alone would agree on (over the prompts every judge voted on). A
*blind spot* is a prompt where a judge, or the majority, picked an answer from which the
validator strips more items, or with more unsupported or misattributed claims, than another
answer to the same prompt: what a judge scoring "use of provided models only" does not see and
an allow-list does. A single judge's agreement with the metrics is Spearman's rank correlation.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence

from ..scores import METRICS
from ..text import shorten
from .models import (
    MAJORITY,
    MEASURES,
    Agreement,
    BlindSpot,
    JudgeRecord,
    PanelReport,
    RecordedVerdicts,
    Row,
    StrippedItem,
)

Faults = Mapping[tuple[str, str], Sequence[StrippedItem]]
"""(prompt id, system) -> what counts against that system's scored answer to the prompt."""
CLAIM_KINDS = frozenset({"unsupported", "misattributed"})
CLAIM_CHARS = 80  # a flagged claim's text in a blind spot (the answer's page shows it whole)


def answer_faults(row: Row) -> list[StrippedItem]:
    """Return what counts against a scored answer (its draft where it has one): what the validator
    strips, then each claim the score flags."""
    scores, stripped = row.written()
    faults = [StrippedItem(kind=v.kind, value=v.value) for v in stripped]
    if scores is not None:
        misattributed = {claim.start for claim in scores.misattributed}
        faults += [
            StrippedItem(
                kind="misattributed" if claim.start in misattributed else "unsupported",
                value=shorten(" ".join(claim.text.split()), CLAIM_CHARS, "…"),
            )
            for claim in scores.unsupported
        ]
    return faults


def majority(votes: Mapping[str, str]) -> str | None:
    """Return the system more than half the votes name, or None."""
    if not votes:
        return None
    system, count = Counter(votes.values()).most_common(1)[0]
    return system if 2 * count > len(votes) else None


def pairwise_agreement(verdicts: Sequence[RecordedVerdicts]) -> tuple[float | None, int]:
    """Return the share of judge pairs that picked the same system, and how many pairs there were."""
    pairs = same = 0
    for verdict in verdicts:
        for a, b in itertools.combinations(verdict.votes.values(), 2):
            pairs += 1
            same += a == b
    return (round(same / pairs, 6) if pairs else None), pairs


def fleiss_kappa(verdicts: Sequence[RecordedVerdicts], panel: Sequence[str]) -> tuple[float | None, int]:
    """Return Fleiss' kappa over the prompts every judge of ``panel`` voted on, and how many those are."""
    rated = [v for v in verdicts if all(j in v.votes for j in panel)]
    raters = len(panel)
    if raters < 2 or len(rated) < 2:
        return None, len(rated)
    counts = [Counter(v.votes[j] for j in panel) for v in rated]
    categories = set().union(*counts)
    total = len(rated) * raters
    expected = sum((sum(c[k] for c in counts) / total) ** 2 for k in categories)
    # Per prompt, the share of rater pairs that agree; then its mean over the prompts.
    agreeing = [(sum(n * n for n in c.values()) - raters) / (raters * (raters - 1)) for c in counts]
    observed = sum(agreeing) / len(rated)
    if expected >= 1:
        return None, len(rated)
    return round((observed - expected) / (1 - expected), 6), len(rated)


def _record(
    name: str, picks: Mapping[str, str], scores: Mapping[str, Mapping[str, float]], systems: Sequence[str]
) -> JudgeRecord:
    """Return one judge's record from its pick per prompt and its scores per prompt."""
    counted = Counter(picks.values())
    sums: dict[str, list[float]] = {}
    for by_system in scores.values():
        for system, value in by_system.items():
            sums.setdefault(system, []).append(value)
    # The report's systems first, then any a judge named that gave no scored answer.
    names = [*systems, *sorted(set(counted) - set(systems)), *sorted(set(sums) - set(systems) - set(counted))]
    means = {s: round(sum(sums[s]) / len(sums[s]), 6) if s in sums else None for s in names}
    return JudgeRecord(
        name=name,
        judged=len(picks),
        picks={s: counted.get(s, 0) for s in names},
        mean_scores=means if sums else {},
        scored=len(scores),
    )


def blind_spot(
    prompt_id: str, judge: str, picked: str, faults: Faults, systems: Sequence[str]
) -> BlindSpot | None:
    """Return the blind spot of ``judge`` picking ``picked`` on the prompt, or None where there is none.

    It is one where another scored answer to the prompt has fewer stripped items, or fewer flagged
    claims, than the pick (each counted on its own: a claim and a URL are not worth the same).
    """
    if (prompt_id, picked) not in faults:
        return None  # the picked answer was not scored: nothing to set it against
    others = [s for s in systems if s != picked and (prompt_id, s) in faults]
    if not others:
        return None

    def count(system: str, claims: bool) -> int:
        return sum((item.kind in CLAIM_KINDS) == claims for item in faults[(prompt_id, system)])

    stripped = [item for item in faults[(prompt_id, picked)] if item.kind not in CLAIM_KINDS]
    claims = [item for item in faults[(prompt_id, picked)] if item.kind in CLAIM_KINDS]
    cleanest = min(others, key=lambda system: count(system, False))
    grounded = min(others, key=lambda system: count(system, True))
    if count(cleanest, False) >= len(stripped) and count(grounded, True) >= len(claims):
        return None
    return BlindSpot(
        id=prompt_id,
        judge=judge,
        picked=picked,
        stripped=stripped,
        cleanest=cleanest,
        cleanest_stripped=count(cleanest, False),
        claims=claims,
        grounded=grounded,
        grounded_claims=count(grounded, True),
    )


def judge_panel(
    verdicts: Sequence[RecordedVerdicts], faults: Faults, systems: Sequence[str], source: str = "recorded"
) -> PanelReport:
    """Return the panel's report over the prompts' verdicts (``systems`` in report order)."""
    panel = list(dict.fromkeys(j for v in verdicts for j in [*v.votes, *v.scores]))
    picks: dict[str, dict[str, str]] = {j: {} for j in [*panel, MAJORITY]}
    scores: dict[str, dict[str, Mapping[str, float]]] = {j: {} for j in panel}
    spots: list[BlindSpot] = []
    judged = [v for v in verdicts if v.votes]
    no_majority = 0
    for verdict in verdicts:
        for judge, by_system in verdict.scores.items():
            scores[judge][verdict.id] = by_system
        chosen = {**verdict.votes}
        if verdict.votes:
            top = majority(verdict.votes)
            if top is None:
                no_majority += 1
            else:
                chosen[MAJORITY] = top
        for judge, system in chosen.items():
            picks[judge][verdict.id] = system
            spot = blind_spot(verdict.id, judge, system, faults, systems)
            if spot is not None:
                spots.append(spot)
    records = {j: _record(j, picks[j], scores.get(j, {}), systems) for j in [*panel, MAJORITY]}
    for spot in spots:
        records[spot.judge].blind_spots += 1
        records[spot.judge].stripped_spots += len(spot.stripped) > spot.cleanest_stripped
        records[spot.judge].claim_spots += len(spot.claims) > spot.grounded_claims
    for verdict in verdicts:
        for judge, again in verdict.reordered.items():
            records[judge].reordered += 1
            records[judge].changed += again != verdict.votes.get(judge)
    agreement, pairs = pairwise_agreement(judged)
    kappa, kappa_prompts = fleiss_kappa(judged, panel)
    return PanelReport(
        source=source,
        panel=panel,
        judges=[records[j] for j in panel],
        majority=records[MAJORITY],
        no_majority=no_majority,
        pairwise_agreement=agreement,
        pairs=pairs,
        fleiss_kappa=kappa,
        kappa_prompts=kappa_prompts,
        blind_spots=spots,
        verdicts=list(verdicts),
    )


# --------------------------------------------------------------------------- a judge and the metrics


def ranks(values: Sequence[float]) -> list[float]:
    """Return the rank of each value (1 = smallest), ties given the mean of the ranks they span."""
    ordered = sorted(values)
    # A value's ties span positions bisect_left to bisect_right - 1 of the sorted values.
    return [(bisect_left(ordered, v) + bisect_right(ordered, v) - 1) / 2 + 1 for v in values]


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


def agreement(rows: Sequence[Row]) -> list[Agreement]:
    """Return Spearman's rho between each judge measure and each metric, over the answers with both."""
    judged = [r for r in rows if r.judgment is not None and r.final_scores is not None]
    measures: dict[str, list[float]] = {measure: [] for measure in [*MEASURES, "overall"]}
    for row in judged:
        assert row.judgment is not None
        for measure, value in {**row.judgment.measures(), "overall": row.judgment.overall}.items():
            measures[measure].append(value)
    return [
        Agreement(
            judge=measure,
            metric=metric,
            rho=spearman(values, [float(getattr(r.final_scores, metric)) for r in judged]),
            answers=len(judged),
        )
        for measure, values in measures.items()
        for metric in METRICS
    ]
