"""Data read from a dataset prompt: the question, the sources it allows, the sections it asks for."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Source(BaseModel):
    """One provided model or paper, as the prompt lists it (frozen: an allow-list is cached by it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
        return [u for u in (self.paper_url, self.github_url) if u]


PromptFormat = Literal["sections3", "workflow"]
"""``sections3``: "A user has asked the following question:", three numbered instructions and
``Model:`` blocks. ``workflow``: "A user asks:", the instructions as markdown headings
(``## 1. Core Task``, ``## 2. CNAPS-style Workflow`` with parts A/B/C) and ``- **NAME**`` bullets."""


class Section(BaseModel, extra="forbid"):
    """One section the prompt asks the answer to have (``level`` 3: a part of the section before)."""

    key: str
    """What the section is for: ``task``, ``workflow``, ``sources`` (first format); ``task``,
    ``workflow``, ``overview``, ``diagram``, ``modules``, ``justification`` (second format)."""
    number: str
    title: str
    level: int

    @property
    def heading(self) -> str:
        return f"{'#' * self.level} {self.number}. {self.title}"


SECTIONS3 = (
    Section(key="task", number="1", title="What the user is trying to do", level=2),
    Section(key="workflow", number="2", title="How the model works (input → model → output)", level=2),
    Section(key="sources", number="3", title="Supporting papers and tools", level=2),
)
"""The first format's sections."""

# The second format's prompts are cut short after part B (their commented-out older copy holds
# the third instruction), so the layout is known; the prompt's headings only rename sections.
WORKFLOW_SECTIONS = (
    Section(key="task", number="1", title="Core Task", level=2),
    Section(key="workflow", number="2", title="CNAPS-style Workflow", level=2),
    Section(key="overview", number="A", title="High-Level Overview", level=3),
    Section(key="diagram", number="B", title="Visual Flow Diagram", level=3),
    Section(key="modules", number="C", title="Module Details", level=3),
    Section(key="justification", number="3", title="Justification", level=2),
)


class PromptSpec(BaseModel, extra="forbid"):
    """A parsed prompt: the user's question, the instructions and the allowed sources."""

    id: str
    question: str
    instructions: list[str]
    sources: list[Source]
    raw: str
    warnings: list[str] = []
    format: PromptFormat = "sections3"
    sections: list[Section] = Field(default_factory=lambda: list(SECTIONS3))
    """The sections the prompt asks for, in order (parts follow their section)."""

    @property
    def recommended(self) -> list[Source]:
        return [s for s in self.sources if s.role == "recommended"]

    @property
    def related(self) -> list[Source]:
        return [s for s in self.sources if s.role == "related"]
