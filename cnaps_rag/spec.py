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


class PromptSpec(BaseModel):
    """A parsed prompt: the user's question, the instructions and the allowed sources."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    instructions: list[str]
    sources: list[Source]
    raw: str
    warnings: list[str] = []

    def source(self, source_id: str) -> Source:
        """Return the source with this citation key; raise KeyError if there is none."""
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    @property
    def recommended(self) -> list[Source]:
        """Return the recommended models, in prompt order."""
        return [s for s in self.sources if s.role == "recommended"]

    @property
    def related(self) -> list[Source]:
        """Return the related papers, in prompt order."""
        return [s for s in self.sources if s.role == "related"]
