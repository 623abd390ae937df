"""What a panel of judges said, and what the report makes of it: picks, agreement, blind spots.

A panel's verdicts are recorded (a dataset team's own results, :mod:`.results`) or live (each
judge model's rubric scores, :mod:`.judge`); either way they are :class:`RecordedVerdicts`
per prompt, and :mod:`.panel` turns them into the :class:`PanelReport` kept under
``report.json``'s ``judges`` key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

MAJORITY = "majority"
"""The panel's majority, where the report lists it beside the judges."""


class RecordedVerdicts(BaseModel):
    """One prompt's verdicts: which system each judge picked, its scores, its reasons."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """The prompt's id (the id of its answers' rows)."""
    votes: dict[str, str] = {}
    """Judge -> the system whose answer it picked."""
    scores: dict[str, dict[str, float]] = {}
    """Judge -> system -> its score of that system's answer (on the judge's own scale)."""
    rationales: dict[str, str] = {}
    """Judge -> why it picked what it picked (as recorded)."""
    reordered: dict[str, str] = {}
    """Live judges that compare answers: judge -> its pick with the answers in another order."""


class StrippedItem(BaseModel):
    """Something the checks find wrong in an answer: a URL or name the validator strips."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    """``url`` or ``model`` (what the validator strips); later kinds of faults add their own."""
    value: str


class BlindSpot(BaseModel):
    """A prompt where a judge (or the majority) picked an answer that a cleaner one stands beside."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """The prompt's id."""
    judge: str
    """The judge's name, or ``majority``."""
    picked: str
    """The system it picked."""
    stripped: list[StrippedItem]
    """What the validator strips from the picked answer."""
    cleanest: str
    """The system whose answer to the prompt has the fewest stripped items (the first such)."""
    cleanest_stripped: int
    """How many items the validator strips from that answer."""


class JudgeRecord(BaseModel):
    """One judge's (or the majority's) verdicts over the prompts: picks and mean scores per system."""

    model_config = ConfigDict(extra="forbid")

    name: str
    judged: int
    """Prompts it picked an answer for."""
    picks: dict[str, int]
    """System -> prompts where it picked that system's answer."""
    mean_scores: dict[str, float | None] = {}
    """System -> its mean score of that system's answers (None: it scored none)."""
    scored: int = 0
    """Prompts it gave scores for."""
    blind_spots: int = 0
    reordered: int = 0
    """Live, comparing judges: prompts asked again with the answers in another order."""
    changed: int = 0
    """Of those, the prompts where its pick changed with the order (position bias)."""


class PanelReport(BaseModel):
    """The judges as a panel: each one's verdicts, the majority's, their agreement and blind spots."""

    model_config = ConfigDict(extra="forbid")

    source: str
    """``recorded`` (verdicts read from the results), ``live`` (judge models asked in this run), or
    ``recorded and live``."""
    panel: list[str]
    """The judges' names, in the order they first appear."""
    judges: list[JudgeRecord]
    majority: JudgeRecord
    """The system more than half the judges that voted on a prompt picked (prompts with none left out)."""
    no_majority: int
    """Judged prompts where no system had more than half the votes."""
    pairwise_agreement: float | None
    """Share of judge pairs, over the judged prompts, that picked the same system (None: no pair)."""
    pairs: int
    fleiss_kappa: float | None
    """Fleiss' kappa over the prompts every judge voted on (None: fewer than two judges or prompts,
    or one system picked throughout)."""
    kappa_prompts: int
    blind_spots: list[BlindSpot]
    verdicts: list[RecordedVerdicts]
    """Every prompt's verdicts, as recorded or asked."""
    failures: list[str] = []
    """Live panel: the comparisons a judge gave no pick for, and why (the run went on)."""
