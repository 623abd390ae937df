"""Score one answer: a pure function of the answer, its draft and its prompt, run wherever there is room.

:func:`score_answers` takes a chunk of :class:`ScoreJob` and returns a :class:`Scored` each, in
order. It reads no file and no global setting, so an evaluation may run it in this process, in
a pool of processes (``--jobs N``) or on any ``concurrent.futures.Executor`` it is given (a Dask
cluster's), and get the same report. Chunks, not single answers, cross to a worker: a prompt
shared by the chunk's answers is pickled once, and the per-task cost of a pool is paid once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..allowlist import AllowList
from ..errors import one_line
from ..scores import Scores, score
from ..spec import PromptSpec
from ..support import ClaimReader
from ..text import normalize_newlines
from ..validation import Violation, validate


@dataclass(frozen=True)
class ScoreJob:
    """One answer to score: its final text (LF newlines), its draft if any, its prompt."""

    final: str
    draft: str | None
    spec: PromptSpec
    untrusted_summaries: bool = False
    checker: ClaimReader | None = None
    """A model that reads flagged claims (:mod:`cnaps_rag.claim_check`): scored in this process then."""


class Scored(BaseModel):
    """What scoring one answer gives: scores and what the validator strips, or why it failed.

    It crosses to and from workers as JSON: pydantic's own (de)serialisation of a real answer's
    scores takes 38 µs against pickle's 69 µs, a tenth of what a second process saves per answer.
    """

    model_config = ConfigDict(extra="forbid")

    final_scores: Scores | None = None
    final_stripped: list[Violation] = []
    draft_scores: Scores | None = None
    draft_stripped: list[Violation] = []
    error: str | None = None
    """Why scoring failed: a bug to report; the answer's row says so and the run goes on."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _scored_from_json, (self.model_dump_json(),)


def _scored_from_json(data: str) -> Scored:
    return Scored.model_validate_json(data)


def _checked(
    text: str, spec: PromptSpec, allow: AllowList, checker: ClaimReader | None
) -> tuple[Scores, list[Violation]]:
    """Return the scores of ``text`` and what the validator strips from it, from one validation."""
    validation = validate(text, allow)
    return score(text, spec, allow=allow, validation=validation, checker=checker), validation.violations


def score_answer(job: ScoreJob) -> Scored:
    """Return the scores of one answer and its draft; a failure is returned, not raised."""
    allow = AllowList.for_spec(job.spec, untrusted_summaries=job.untrusted_summaries)
    result = Scored()
    try:
        result.final_scores, result.final_stripped = _checked(job.final, job.spec, allow, job.checker)
        if job.draft is not None:
            result.draft_scores, result.draft_stripped = _checked(
                normalize_newlines(job.draft), job.spec, allow, job.checker
            )
    except Exception as exc:
        # CNAPS_RAG_RAISE_ERRORS=1 shows the traceback (in this process; a worker's is sent back).
        if os.environ.get("CNAPS_RAG_RAISE_ERRORS"):
            raise
        return Scored(error=f"scoring failed: {one_line(exc)}")
    return result


def score_answers(jobs: list[ScoreJob]) -> list[Scored]:
    """Return :func:`score_answer` of each job, in order (the unit of work sent to a worker)."""
    return [score_answer(job) for job in jobs]
