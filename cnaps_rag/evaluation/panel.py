"""A panel of judges over the prompts: each judge's picks, the majority, agreement, blind spots.

Agreement is measured twice: the plain share of judge pairs that picked the same system
(over every judged prompt, counting the pairs of judges that both voted on it), and Fleiss'
kappa, which discounts what chance alone would agree on (over the prompts every judge voted
on, since kappa needs the same number of raters per prompt).

A *blind spot* is a prompt where a judge, or the majority, picked an answer from which the
validator strips items while another answer to the same prompt has fewer (or none): what a
judge scoring "use of provided models only" does not see and an allow-list does; or an answer
with more unsupported or misattributed claims than another answer to the same prompt.
:func:`answer_faults` is the one place that says what counts against an answer.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence

from ..text import shorten
from .models import MAJORITY, BlindSpot, JudgeRecord, PanelReport, RecordedVerdicts, Row, StrippedItem

Faults = Mapping[tuple[str, str], Sequence[StrippedItem]]
"""(prompt id, system) -> what counts against that system's scored answer to the prompt."""


CLAIM_KINDS = frozenset({"unsupported", "misattributed"})
"""The kinds of fault that are claims the score flags; the others are items the validator strips."""

CLAIM_CHARS = 80
"""A flagged claim's text is kept this short in a blind spot (the answer's page shows it whole)."""


def answer_faults(row: Row) -> list[StrippedItem]:
    """Return what counts against a scored answer, from what the system wrote (its draft where it has
    one): what the validator strips, then each claim the score flags, ``misattributed`` where it
    credits a source that does not say it, else ``unsupported``."""
    draft = row.draft_scores is not None
    stripped = row.draft_stripped if draft else row.final_stripped
    faults = [StrippedItem(kind=v.kind, value=v.value) for v in stripped]
    scores = row.draft_scores if draft else row.final_scores
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
