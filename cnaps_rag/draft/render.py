"""Write the answer's markdown: the three section headings, source lines with their exact links.

The model refers to sources by ID (S1, S2, ...) and never types a URL: :func:`source_line`
writes each source's links as the prompt gives them, so citations are right by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..parse import SECTIONS3
from ..spec import Source
from .sources import role_label

HEADINGS = tuple(section.heading for section in SECTIONS3)
"""The first format's section headings, as the parser names its sections."""

CUT_OFF_CHARS = 190
"""A model's sentence this long without a final stop was cut by the token budget: its last word goes."""


def render(bodies: Sequence[Sequence[str]]) -> str:
    """Return the markdown answer: each heading of :data:`HEADINGS`, a blank line, its body's lines."""
    lines: list[str] = []
    for heading, body in zip(HEADINGS, bodies, strict=True):
        lines += [heading, "", *body, ""]
    return "\n".join(lines).rstrip() + "\n"


def source_line(source: Source) -> str:
    """Return the list item that names a source, its role and its exact links."""
    links = []
    if source.paper_url:
        links.append(f"Paper: {source.paper_url}")
    if source.github_url:
        links.append(f"GitHub: {source.github_url}")
    tail = " — " + " · ".join(links) if links else " — no link provided"
    return f"- **[{source.id}] {source.name}** ({role_label(source)}){tail}"


def clean_slot(text: str) -> str:
    """Return a model's sentence on one line, unquoted, ending with a full stop."""
    text = " ".join(text.split()).strip().strip('"')
    if text and text[-1] not in ".!?":
        text = text.rsplit(" ", 1)[0] + "." if len(text) > CUT_OFF_CHARS else text + "."
    return text
