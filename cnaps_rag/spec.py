"""Data read from a dataset prompt: the question and the sources it allows."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Source(BaseModel):
    """One provided model or paper, as the prompt lists it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Citation key, ``S1``, ``S2``, ... in prompt order."""
    role: Literal["recommended", "related"]
    name: str
    """The ``Model:`` value: a model identifier or a paper title."""
    paper_url: str | None = None
    github_url: str | None = None
    summary: str | None = None

    @property
    def urls(self) -> list[str]:
        """Return the source's own links (Paper, then GitHub)."""
        return [u for u in (self.paper_url, self.github_url) if u]


PromptFormat = Literal["sections3", "workflow"]
"""``sections3``: "A user has asked the following question:", three numbered instructions and
``Model:`` blocks. ``workflow``: "A user asks:", the instructions as markdown headings
(``## 1. Core Task``, ``## 2. CNAPS-style Workflow`` with parts A/B/C) and ``- **NAME**`` bullets."""


class Section(BaseModel):
    """One section the prompt asks the answer to have."""

    model_config = ConfigDict(extra="forbid")

    key: str
    """What the section is for: ``task``, ``workflow``, ``sources`` (first format); ``task``,
    ``workflow``, ``overview``, ``diagram``, ``modules``, ``justification`` (second format)."""
    number: str
    """``1``, ``2``, ``3`` for a section, ``A``, ``B``, ``C`` for a part of one."""
    title: str
    level: int
    """2 for a section, 3 for a part of the section before it."""

    @property
    def heading(self) -> str:
        """Return the markdown heading an answer gives this section (``## 1. Core Task``)."""
        return f"{'#' * self.level} {self.number}. {self.title}"


class PromptSpec(BaseModel):
    """A parsed prompt: the user's question, the instructions and the allowed sources."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    instructions: list[str]
    sources: list[Source]
    raw: str
    warnings: list[str] = []
    format: PromptFormat = "sections3"
    sections: list[Section] = []
    """The sections the prompt asks for, in order (parts follow their section)."""

    @property
    def recommended(self) -> list[Source]:
        """Return the recommended models, in prompt order."""
        return [s for s in self.sources if s.role == "recommended"]

    @property
    def related(self) -> list[Source]:
        """Return the related papers, in prompt order."""
        return [s for s in self.sources if s.role == "related"]
