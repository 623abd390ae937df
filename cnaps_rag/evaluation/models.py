"""What an evaluation produces: a row per answer record, metric summaries, a comparison, the report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..records import BrokenLine
from ..score import Scores
from ..spec import PromptSpec
from ..validate import Violation

Status = Literal["scored", "failed", "unscorable"]


class PromptIndex(dict[str, PromptSpec]):
    """Prompts by id, plus why the ones that could not be read are missing."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, str] = {}
        """Prompt id (or ``file:line``) -> why it is not in the index."""


class Row(BaseModel):
    """One answer record: its scores, or why it has none."""

    model_config = ConfigDict(extra="forbid")

    id: str
    line: int | None
    """Line in the answers file (the record's position when records came from Python)."""
    status: Status
    reason: str | None = None
    """For a failed answer, its error; for an unscorable one, why it could not be scored."""
    prompt_id: str | None = None
    markdown: str | None = None
    """The final answer, with CRLF made LF (spans refer to this text)."""
    draft: str | None = None
    final_scores: Scores | None = None
    draft_scores: Scores | None = None
    final_stripped: list[Violation] = []
    """What the validator strips from the final answer, spans in ``markdown``."""
    draft_stripped: list[Violation] = []
    """What the validator strips from the draft, spans in ``draft``."""


class MetricSummary(BaseModel):
    """One metric over the scored answers: mean, minimum, share of answers with a perfect score."""

    model_config = ConfigDict(extra="forbid")

    mean: float | None
    minimum: float | None
    perfect: float | None
    """Share of answers scoring 1.0 (True for ``structure``)."""
    answers: int


class MetricRow(BaseModel):
    """One metric of the summary table: the final answers, the drafts and the difference."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    final: MetricSummary
    draft: MetricSummary
    difference: float | None
    """Mean of final minus mean of draft, over the answers that have a draft (None if none has)."""


class MetricComparison(BaseModel):
    """One metric's final mean in two reports and the difference (this minus other)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    this: float | None
    other: float | None
    difference: float | None


class Comparison(BaseModel):
    """Two evaluations side by side, metric by metric."""

    model_config = ConfigDict(extra="forbid")

    this: str
    other: str
    this_scored: int
    other_scored: int
    common_ids: int
    """Answers (by id) scored in both."""
    metrics: list[MetricComparison]


class EvalReport(BaseModel):
    """The evaluation of one answers file: the summary, every answer and every problem."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """The answers file as the caller named it."""
    counts: dict[str, int]
    """records, scored, failed, unscorable, with_draft, broken_lines."""
    metrics: list[MetricRow]
    violations: dict[str, dict[str, int]]
    """What the validator strips, summed: ``{"final": {"url": n, "model": m}, "draft": {...}}``."""
    rows: list[Row]
    broken_lines: list[BrokenLine]
    comparison: Comparison | None = None

    def metric(self, name: str) -> MetricRow:
        """Return the summary row of metric ``name``; raise KeyError if there is none."""
        for row in self.metrics:
            if row.metric == name:
                return row
        raise KeyError(name)
