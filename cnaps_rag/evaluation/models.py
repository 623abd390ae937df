"""What an evaluation produces: a row per answer record, summaries per system, the judges' verdicts.

A panel's verdicts are recorded (a dataset team's own results, :mod:`.results`) or live (each
judge model's rubric scores, :mod:`.judge`); either way they are :class:`RecordedVerdicts` per
prompt, and :mod:`.panel` turns them into the :class:`PanelReport` kept under ``report.json``'s
``judges`` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializationInfo,
    SkipValidation,
    field_serializer,
)

from ..scores import Scores
from ..spec import PromptSpec
from ..text import shorten
from ..validation import Violation

Status = Literal["scored", "failed", "unscorable"]


class Closed(BaseModel):
    """A model of the report: a field it does not name is an error (read back or written)."""

    model_config = ConfigDict(extra="forbid")


CRITERIA: tuple[str, ...] = (
    "clarity",
    "correctness_completeness",
    "workflow_design",
    "provided_models_only",
    "reasoning",
)
"""The judge's rubric criteria, in report order (``prompts/judge_rubric.txt`` defines each)."""

REASON_CHARS = 200
"""The longest one-line reason the judge may give."""


class PromptIndex(dict[str, PromptSpec]):
    """Prompts by id, plus why the ones that could not be read are missing."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, str] = {}
        """Prompt id (or ``file:line``) -> why it is not in the index."""


class BrokenLine(Closed):
    """A line of an answers file that is not an answer record, or a results file that breaks the layout."""

    line: int | None
    """None for a results file (:mod:`.results`): the reason says which item, if not the whole file."""
    reason: str
    source: str | None = None
    """The answers file as the caller named it (None for records given from Python)."""


# --------------------------------------------------------------------------- the judge's reply


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_CHARS else shorten(text, REASON_CHARS - 1, "…")


Reason = Annotated[str, Field(json_schema_extra={"maxLength": REASON_CHARS}), AfterValidator(_one_line)]
"""A judge's one-line reason: a hosted model may ignore maxLength, so it is kept, made one line and short."""


class Criterion(Closed):
    """One rubric criterion: a one-line reason, then a score from 1 (poor) to 5 (excellent)."""

    reason: Reason
    score: Literal[1, 2, 3, 4, 5]


class JudgeReply(Closed):
    """The judge's reply, as its JSON schema asks for it (the rubric in ``prompts/`` explains each field)."""

    clarity: Criterion
    correctness_completeness: Criterion
    workflow_design: Criterion
    provided_models_only: Criterion
    reasoning: Criterion
    unsupported_sentences: list[int]
    """Numbers of the answer's sentences that the prompt's sources do not support."""
    does_what_was_asked: bool
    asked_reason: Reason


class CompareReply(Closed):
    """A judge's reply when it compares answers: a one-line reason, then the best answer's letter."""

    reason: Reason
    best: str
    """The letter of the best answer (its schema lists the letters shown)."""


class Judgment(Closed):
    """The judge's verdict on one answer, with what it was shown and who judged."""

    model: str
    rubric_version: str
    scores: dict[str, int]
    """Criterion -> score from 1 to 5, in :data:`CRITERIA` order."""
    reasons: dict[str, str]
    """Criterion -> its one-line reason; ``does_what_was_asked`` -> the reason for that verdict."""
    sentences: int
    """Sentences of the answer the judge was shown, numbered from 1."""
    unsupported_sentences: list[int]
    """The shown sentences the judge found unsupported by the sources (numbers out of range dropped)."""
    supported_share: float
    """Shown sentences the judge found supported / shown sentences (1.0 when none was shown)."""
    does_what_was_asked: bool
    shortened: bool
    """True when the prompt or the answer was cut to fit the judge's context window."""

    @property
    def overall(self) -> float:
        """Return the mean criterion score mapped to 0..1 (1 → 0, 5 → 1)."""
        return round((sum(self.scores.values()) / len(self.scores) - 1) / 4, 6)


# --------------------------------------------------------------------------- rows and summaries


class Row(Closed):
    """One answer record: its scores, or why it has none. The answer's text is not kept."""

    id: str
    line: int | None
    """Line in the answers file (the record's position when records came from Python)."""
    status: Status
    reason: str | None = None
    """For a failed answer, its error; for an unscorable one, why it could not be scored."""
    system: str = "answers"
    """The system that wrote the answer: the record's ``system`` field, else its file's name."""
    source: str | None = None
    """The answers file as the caller named it (None for records given from Python)."""
    prompt_id: str | None = None
    final_scores: Scores | None = None
    draft_scores: Scores | None = None
    final_stripped: list[Violation] = []
    """What the validator strips from the final answer (first-pass spans are in its LF text)."""
    draft_stripped: list[Violation] = []
    """What the validator strips from the draft (first-pass spans are in its LF text)."""
    judgment: Judgment | None = None
    """The judge's verdict (the first judge's, when a panel judges)."""
    judge_error: str | None = None
    """Why the judge gave no verdict on this answer (the run went on)."""
    judgments: dict[str, Judgment] = {}
    """Judge model -> its verdict, when a panel of several judges judges (``--judge-model`` twice)."""


class MetricSummary(Closed):
    """One metric over the scored answers: mean, minimum, share of answers with a perfect score."""

    mean: float | None
    minimum: float | None
    perfect: float | None
    """Share of answers scoring 1.0."""
    answers: int


class MetricRow(Closed):
    """One metric of the summary table: the final answers, the drafts and the difference."""

    metric: str
    final: MetricSummary
    draft: MetricSummary
    difference: float | None
    """Mean of final minus mean of draft, over the answers that have a draft (None if none has)."""


class StrippedValue(Closed):
    """A URL or name the validator strips, and how many of a system's answers it was stripped from."""

    kind: str
    value: str
    answers: int


class JudgeSummary(Closed):
    """The judge's verdicts over one system's answers."""

    judged: int
    failed: int
    criteria: dict[str, float | None]
    """Criterion -> mean score (1 to 5)."""
    supported_share: float | None
    does_what_was_asked: float | None
    """Share of judged answers that do what the prompt asked."""


class SystemSummary(Closed):
    """One system's answers: counts, each metric's summary and rank, what the validator strips."""

    name: str
    sources: list[str]
    """The answers files its records came from."""
    counts: dict[str, int]
    metrics: list[MetricRow]
    ranks: dict[str, int]
    """Metric -> rank of this system's final mean among the systems (1 best; ties share a rank)."""
    violations: dict[str, dict[str, int]]
    stripped: list[StrippedValue]
    """The values stripped from the most answers (from the draft where there is one), most first."""
    judge: JudgeSummary | None = None
    claims: dict[str, int] = {}
    """Over its final answers: ``claims``, and how many of them are ``unsupported`` (misattributed
    ones included), ``misattributed`` and ``general`` (see :func:`cnaps_rag.scores.score`)."""

    def metric(self, name: str) -> MetricRow:
        """Return the summary row of metric ``name``; raise KeyError if there is none."""
        for row in self.metrics:
            if row.metric == name:
                return row
        raise KeyError(name)


class PromptRow(Closed):
    """One prompt: each system's final score per metric, and which systems did best."""

    prompt_id: str
    scores: dict[str, dict[str, float]]
    """System -> metric -> score (a system's first scored answer to this prompt)."""
    best: dict[str, list[str]]
    """Metric -> the systems with the highest score, where some system scored lower."""
    stripped: dict[str, int]
    """System -> URLs and names stripped from its answer (its draft where there is one)."""
    judge: dict[str, float] = {}
    """System -> the judge's overall score (0..1) of its answer, where it judged it."""
    answers: dict[str, int] = {}
    """System -> the position (from 1) of its answer's row in ``rows`` (``#answer-N`` on the page)."""


class Agreement(Closed):
    """How the judge's ranking of answers agrees with a deterministic metric's (Spearman's rho)."""

    judge: str
    """A criterion, ``supported_share``, ``does_what_was_asked`` or ``overall``."""
    metric: str
    rho: float | None
    """Spearman's rank correlation; None with fewer than 3 answers or when either side is constant."""
    answers: int


class JudgeReport(Closed):
    """Who judged, with which rubric, and how the judge agrees with the metrics."""

    model: str
    rubric_version: str
    judged: int
    failed: int
    agreement: list[Agreement]


# --------------------------------------------------------------------------- a panel of judges


MAJORITY = "majority"
"""The panel's majority, where the report lists it beside the judges."""


class RecordedVerdicts(Closed):
    """One prompt's verdicts: which system each judge picked, its scores, its reasons."""

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


class StrippedItem(Closed):
    """Something the checks find wrong in an answer: a URL or name the validator strips, or a claim
    the score flags (:func:`.panel.answer_faults`)."""

    kind: str
    """``url`` or ``model`` (what the validator strips), ``unsupported`` or ``misattributed`` (a claim
    the prompt does not support, or one credited to a source that does not say it)."""
    value: str
    """The URL or name as written, or the claim's text (shortened)."""


class BlindSpot(Closed):
    """A prompt where a judge (or the majority) picked an answer that a cleaner one stands beside:
    one with fewer stripped items, or one with fewer unsupported or misattributed claims."""

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
    claims: list[StrippedItem] = []
    """The picked answer's unsupported and misattributed claims."""
    grounded: str = ""
    """The system whose answer to the prompt has the fewest such claims (the first such)."""
    grounded_claims: int = 0
    """How many such claims that answer has."""


class JudgeRecord(Closed):
    """One judge's (or the majority's) verdicts over the prompts: picks and mean scores per system."""

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
    """Prompts where its pick is a blind spot (:class:`BlindSpot`)."""
    stripped_spots: int = 0
    """Of its blind spots, those where another answer has fewer stripped items."""
    claim_spots: int = 0
    """Of its blind spots, those where another answer has fewer flagged claims (a spot may be both)."""
    reordered: int = 0
    """Live, comparing judges: prompts asked again with the answers in another order."""
    changed: int = 0
    """Of those, the prompts where its pick changed with the order (position bias)."""


class PanelReport(Closed):
    """The judges as a panel: each one's verdicts, the majority's, their agreement and blind spots."""

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


# --------------------------------------------------------------------------- the report


class RunInfo(Closed):
    """How the run went: speed and judge traffic. Not part of the report files (they must not vary)."""

    answers: int
    """Records read (every status)."""
    seconds: float
    judge_requests: int = 0
    judge_cache_hits: int = 0

    @property
    def answers_per_second(self) -> float:
        """Return records per second of wall time."""
        return self.answers / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """Return the run as one line: answers, time, rate, and the judge's requests and cache hits."""
        text = (
            f"scored {self.answers} answers in {self.seconds:.2f} s ({self.answers_per_second:.1f} answers/s)"
        )
        if self.judge_requests or self.judge_cache_hits:
            text += f"; judge: {self.judge_requests} requests, {self.judge_cache_hits} cache hits"
        return text


class EvalReport(Closed):
    """The evaluation of one or more systems' answers: summaries, every answer's scores, every problem."""

    name: str
    """The answers files as the caller named them."""
    counts: dict[str, int]
    """records, scored, failed, unscorable, with_draft, broken_lines (all systems together)."""
    metrics: list[MetricRow]
    """Each metric over all systems' answers together."""
    violations: dict[str, dict[str, int]]
    """What the validator strips, summed: ``{"final": {"url": n, "model": m}, "draft": {...}}``."""
    rows: SkipValidation[Sequence[Row]]
    """Every answer's row, in input order (a run keeps them on disk: :class:`.rowstore.RowStore`)."""
    broken_lines: list[BrokenLine]
    systems: list[SystemSummary] = []
    ranking: dict[str, list[str]] = {}
    """Metric -> the systems by final mean, best first."""
    prompts: list[PromptRow] = []
    judge: JudgeReport | None = None
    judges: PanelReport | None = None
    """A panel of judges: recorded verdicts read with the answers, or several live judges."""
    run: RunInfo | None = Field(default=None, exclude=True)
    """Speed and judge traffic of the run that made the report (kept out of the files)."""
    _texts: Any = PrivateAttr(default=None)
    """Where the answers' texts are read back for the page (see ``evaluate.AnswerTexts``)."""

    @field_serializer("rows")
    def _dump_rows(self, rows: Sequence[Row], info: SerializationInfo) -> list[Any]:
        # The rows are a sequence read back from disk, not a list: dumped one by one.
        return [row.model_dump(mode=info.mode) for row in rows]

    def metric(self, name: str) -> MetricRow:
        """Return the summary row of metric ``name``; raise KeyError if there is none."""
        for row in self.metrics:
            if row.metric == name:
                return row
        raise KeyError(name)

    def system(self, name: str) -> SystemSummary:
        """Return the summary of system ``name``; raise KeyError if there is none."""
        for summary in self.systems:
            if summary.name == name:
                return summary
        raise KeyError(name)
