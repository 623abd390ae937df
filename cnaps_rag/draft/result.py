"""What a drafting strategy returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict


class DraftAttempt(BaseModel):
    """One draft a model wrote for an answer (the ``capable`` strategy may ask twice), for the audit."""

    model_config = ConfigDict(extra="forbid")

    markdown: str
    """The draft as rendered (source markers as links), before validation."""
    problems: list[str]
    """The rules it breaks that the model can fix (a missing section, a typed URL, a model stripped)."""
    score: float
    """Mean of the scorer's metrics on the rendered draft (:data:`cnaps_rag.scores.METRICS`)."""
    kept: bool
    """True for the draft the answer was made from."""
    not_an_answer: str | None = None
    """Why the draft is no answer (it repeats the prompt, the rules or itself); None for an answer.
    Such a draft is never kept (:mod:`cnaps_rag.repetition`)."""


@dataclass
class Draft:
    """A rendered draft and how it was made."""

    markdown: str
    template_versions: list[str]
    max_tokens: int
    """The token budget each generation had (the caller's, or the strategy's default)."""
    warnings: list[str] = field(default_factory=list)
    """What was shortened or left out to make the draft."""
    attempts: list[DraftAttempt] = field(default_factory=list)
    """Every draft the model wrote, where the strategy checks them (``capable``); else empty."""
