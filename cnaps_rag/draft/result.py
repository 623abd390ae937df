"""What a drafting strategy returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Draft:
    """A rendered draft and how it was made."""

    markdown: str
    template_versions: list[str]
    max_tokens: int
    """The token budget each generation had (the caller's, or the strategy's default)."""
    warnings: list[str] = field(default_factory=list)
    """What was shortened or left out to make the draft."""
