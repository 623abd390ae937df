"""What an evaluation produces (``report.json``): a row per answer record, summaries per system,
the judges' verdicts. A panel's verdicts are recorded (a dataset team's results) or live (judge
models asked in this run); either way they are :class:`RecordedVerdicts` per prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, SkipValidation

from ..scores import Scores
from ..spec import PromptSpec
from ..text import shorten
from ..validation import Violation

REASON_CHARS = 200
MAJORITY = "majority"


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptIndex(dict[str, PromptSpec]):
    """Prompts by id, plus why the ones that could not be read are missing (id or ``file:line``)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, str] = {}


class BrokenLine(Closed):
    """A line of an answers file that is not an answer record, or a results file that breaks the layout."""

    line: int | None  # None for a results file: the reason says which item, if not the whole file
    reason: str
    source: str | None = None  # the file as the caller named it (None for records from Python)


# --------------------------------------------------------------------------- the judge's reply


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_CHARS else shorten(text, REASON_CHARS - 1, "…")


# A hosted model may ignore maxLength: the reason is kept, made one line and short.
Reason = Annotated[str, Field(json_schema_extra={"maxLength": REASON_CHARS}), AfterValidator(_one_line)]


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
    does_what_was_asked: bool
    asked_reason: Reason


CRITERIA = tuple(name for name, field in JudgeReply.model_fields.items() if field.annotation is Criterion)
"""The judge's rubric criteria, in report order (``prompts/judge_rubric.txt`` defines each)."""
MEASURES = (*CRITERIA, "supported_share", "does_what_was_asked")


class CompareReply(Closed):
    """A judge's reply when it compares answers: a one-line reason, then the best answer's letter."""

    reason: Reason
    best: str


class Judgment(Closed):
    model: str
    rubric_version: str
    scores: dict[str, int]  # criterion -> 1..5, in CRITERIA order
    reasons: dict[str, str]  # criterion (and does_what_was_asked) -> its one-line reason
    sentences: int  # sentences of the answer the judge was shown, numbered from 1
    unsupported_sentences: list[int]
    supported_share: float  # 1.0 when no sentence was shown
    does_what_was_asked: bool
    shortened: bool  # the prompt or the answer was cut to fit the judge's context window

    @property
    def overall(self) -> float:
        """Return the mean criterion score mapped to 0..1 (1 → 0, 5 → 1)."""
        return round((sum(self.scores.values()) / len(self.scores) - 1) / 4, 6)

    def measures(self) -> dict[str, float]:
        """Return what the report sums of a verdict: each criterion's score, the supported share and
        does-what-was-asked (0 or 1), in :data:`MEASURES` order."""
        asked = float(self.does_what_was_asked)
        return {**self.scores, "supported_share": self.supported_share, "does_what_was_asked": asked}


# --------------------------------------------------------------------------- rows and summaries


class Row(Closed):
    """One answer record: its scores, or why it has none. The answer's text is not kept."""

    id: str
    line: int | None  # the record's position when records came from Python
    status: Literal["scored", "failed", "unscorable"]
    reason: str | None = None
    system: str = "answers"
    source: str | None = None
    prompt_id: str | None = None
    final_scores: Scores | None = None
    draft_scores: Scores | None = None
    # First-pass spans are in the LF text.
    final_stripped: list[Violation] = []
    draft_stripped: list[Violation] = []
    judgment: Judgment | None = None  # the first judge's, when a panel judges
    judge_error: str | None = None
    judgments: dict[str, Judgment] = {}  # judge model -> its verdict, when several judge

    def written(self) -> tuple[Scores | None, list[Violation]]:
        """Return the scores and stripped items of what the system wrote: the draft where there is
        one (the final answer is already validated)."""
        if self.draft_scores is not None:
            return self.draft_scores, self.draft_stripped
        return self.final_scores, self.final_stripped


class MetricSummary(Closed):
    mean: float | None
    minimum: float | None
    perfect: float | None  # share of answers scoring 1.0
    answers: int


class MetricRow(Closed):
    metric: str
    final: MetricSummary
    draft: MetricSummary
    difference: float | None  # mean of final minus draft over the answers with a draft


class StrippedValue(Closed):
    kind: str
    value: str
    answers: int  # of the system's answers it was stripped from


class JudgeSummary(Closed):
    judged: int
    failed: int
    criteria: dict[str, float | None]  # criterion -> mean score (1 to 5)
    supported_share: float | None
    does_what_was_asked: float | None


class SystemSummary(Closed):
    name: str
    sources: list[str]
    counts: dict[str, int]
    metrics: list[MetricRow]
    ranks: dict[str, int]  # metric -> rank of its final mean (1 best; ties share a rank)
    violations: dict[str, dict[str, int]]
    stripped: list[StrippedValue]  # stripped from the most answers (the draft where there is one)
    judge: JudgeSummary | None = None
    # Over its final answers: claims, unsupported (misattributed included), misattributed, general.
    claims: dict[str, int] = {}

    def metric(self, name: str) -> MetricRow:
        return {row.metric: row for row in self.metrics}[name]


class PromptRow(Closed):
    prompt_id: str
    scores: dict[str, dict[str, float]]  # system -> metric -> score of its first scored answer
    best: dict[str, list[str]]  # metric -> the systems with the top score, where some scored lower
    stripped: dict[str, int]
    judge: dict[str, float] = {}  # system -> the judge's overall score
    answers: dict[str, int] = {}  # system -> position from 1 of its row (#answer-N on the page)


class Agreement(Closed):
    """Spearman's rho of a judge measure with a metric (None: under 3 answers, or a constant side)."""

    judge: str
    metric: str
    rho: float | None
    answers: int


class JudgeReport(Closed):
    model: str
    rubric_version: str
    judged: int
    failed: int
    agreement: list[Agreement]


# --------------------------------------------------------------------------- a panel of judges


class RecordedVerdicts(Closed):
    id: str
    votes: dict[str, str] = {}  # judge -> the system it picked
    scores: dict[str, dict[str, float]] = {}  # judge -> system -> score, on the judge's own scale
    rationales: dict[str, str] = {}
    reordered: dict[str, str] = {}  # live judges: the pick with the answers in another order


class StrippedItem(Closed):
    """What counts against an answer: ``url`` or ``model`` (the validator strips it), ``unsupported``
    or ``misattributed`` (a claim the score flags, its text shortened)."""

    kind: str
    value: str


class BlindSpot(Closed):
    """A prompt where a judge (or the majority) picked an answer that a cleaner one stands beside:
    one with fewer stripped items, or one with fewer unsupported or misattributed claims."""

    id: str
    judge: str
    picked: str
    stripped: list[StrippedItem]
    cleanest: str  # the first answer with the fewest stripped items
    cleanest_stripped: int
    claims: list[StrippedItem] = []
    grounded: str = ""  # the first answer with the fewest flagged claims
    grounded_claims: int = 0


class JudgeRecord(Closed):
    name: str
    judged: int
    picks: dict[str, int]
    mean_scores: dict[str, float | None] = {}
    scored: int = 0
    blind_spots: int = 0
    stripped_spots: int = 0
    claim_spots: int = 0
    reordered: int = 0  # live, comparing judges: prompts asked again with the answers reordered
    changed: int = 0  # of those, where its pick changed (position bias)


class PanelReport(Closed):
    source: str  # recorded, live, or recorded and live
    panel: list[str]
    judges: list[JudgeRecord]
    majority: JudgeRecord
    no_majority: int
    pairwise_agreement: float | None
    pairs: int
    fleiss_kappa: float | None  # over the prompts every judge voted on
    kappa_prompts: int
    blind_spots: list[BlindSpot]
    verdicts: list[RecordedVerdicts]
    failures: list[str] = []  # live panel: comparisons that gave no pick, and why


# --------------------------------------------------------------------------- the report


class RunInfo(Closed):
    """How the run went: speed and judge traffic. Not part of the report files (they must not vary)."""

    answers: int
    seconds: float
    judge_requests: int = 0
    judge_cache_hits: int = 0

    def line(self) -> str:
        rate = self.answers / self.seconds if self.seconds > 0 else 0.0
        text = f"scored {self.answers} answers in {self.seconds:.2f} s ({rate:.1f} answers/s)"
        if self.judge_requests or self.judge_cache_hits:
            text += f"; judge: {self.judge_requests} requests, {self.judge_cache_hits} cache hits"
        return text


class EvalReport(Closed):
    """The evaluation of one or more systems' answers: summaries, every answer's scores, every problem."""

    name: str
    counts: dict[str, int]  # records, scored, failed, unscorable, with_draft, broken_lines
    metrics: list[MetricRow]
    violations: dict[str, dict[str, int]]  # {"final": {"url": n, "model": m}, "draft": {...}}
    # A run keeps the rows on disk, with the texts (run.RowStore): a sequence, dumped as a list.
    rows: Annotated[SkipValidation[Sequence[Row]], PlainSerializer(list, return_type=list[Row])]
    broken_lines: list[BrokenLine]
    systems: list[SystemSummary] = []
    ranking: dict[str, list[str]] = {}  # metric -> the systems by final mean, best first
    prompts: list[PromptRow] = []
    judge: JudgeReport | None = None
    judges: PanelReport | None = None
    run: RunInfo | None = Field(default=None, exclude=True)

    def metric(self, name: str) -> MetricRow:
        return {row.metric: row for row in self.metrics}[name]

    def system(self, name: str) -> SystemSummary:
        return {summary.name: summary for summary in self.systems}[name]
