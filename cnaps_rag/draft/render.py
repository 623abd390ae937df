"""How sources are shown: listed for the model (summaries fitted to its context), and written into
the answer with their exact links (the model cites by ID and never types a URL); and the answer's
markdown, one section after another, with the :class:`Draft` that carries it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from ..spec import PromptSpec, Section, Source
from ..tasks import model_task
from ..text import CHARS_PER_TOKEN, shorten

CUT_OFF_CHARS = 190
"""A model's sentence this long without a final stop was cut by the token budget: its last word goes."""
MIN_SOURCES_CHARS = 800
"""The least room the summaries get, however small the context: below it they say nothing."""
MIN_SUMMARY_CHARS = 200
"""No summary is shortened below this, however many share the room."""


class DraftAttempt(BaseModel, extra="forbid"):
    """One draft a model wrote (``capable`` may ask twice), rendered, with what is wrong with it."""

    markdown: str
    problems: list[str]
    """The rules it breaks that the model can fix (a missing section, a typed URL, a model stripped)."""
    score: float
    """Mean of the scorer's metrics on the rendered draft (:data:`cnaps_rag.scores.METRICS`)."""
    kept: bool
    not_an_answer: str | None = None
    """Why the draft is no answer (it repeats the prompt, the rules or itself): never kept."""


@dataclass
class Draft:
    """A rendered draft and how it was made."""

    markdown: str
    template_versions: list[str]
    warnings: list[str] = field(default_factory=list)
    attempts: list[DraftAttempt] = field(default_factory=list)


def render(sections: list[Section], bodies: dict[str, list[str]]) -> str:
    """Return the markdown answer: each section's heading, a blank line, its body's lines."""
    lines: list[str] = []
    for section in sections:
        body = bodies.get(section.key, [])
        lines += [section.heading, "", *body, *([""] if body else [])]
    return "\n".join(lines).rstrip() + "\n"


def role_label(source: Source) -> str:
    return "recommended model" if source.role == "recommended" else "related paper"


def source_line(source: Source) -> str:
    """Return the list item that names a source, its role and its exact links."""
    pairs = (("Paper", source.paper_url), ("GitHub", source.github_url))
    links = [f"{name}: {url}" for name, url in pairs if url]
    tail = " — " + " · ".join(links) if links else " — no link provided"
    return f"- **[{source.id}] {source.name}** ({role_label(source)}){tail}"


def clean_slot(text: str) -> str:
    """Return a model's sentence on one line, unquoted, ending with a full stop."""
    text = " ".join(text.split()).strip().strip('"')
    if text and text[-1] not in ".!?":
        text = text.rsplit(" ", 1)[0] + "." if len(text) > CUT_OFF_CHARS else text + "."
    return text


def summaries_budget(n_ctx: int, reserved_tokens: int) -> int:
    """Return how many characters of summaries fit ``n_ctx`` beside the strategy's prompt and replies."""
    return max(MIN_SOURCES_CHARS, (n_ctx - reserved_tokens) * CHARS_PER_TOKEN)


def summary_caps(lengths: list[int], budget_chars: int) -> list[int]:
    """Return the most characters each summary may keep so that all fit ``budget_chars``.

    When they do not all fit, the longest are cut to one common cap (never below
    :data:`MIN_SUMMARY_CHARS`), so a short summary is never cut to make room for a long one.
    """
    if sum(lengths) <= budget_chars:
        return list(lengths)
    remaining, cap = budget_chars, 0
    pending = sorted(lengths)
    while pending:
        share = remaining // len(pending)
        if pending[0] > share:
            cap = share
            break
        remaining -= pending.pop(0)
    return [min(length, max(MIN_SUMMARY_CHARS, cap)) for length in lengths]


def sources_text(spec: PromptSpec, budget_chars: int) -> tuple[str, list[str]]:
    """Return the sources as a prompt lists them (no links), and what was shortened to fit."""
    summaries = [" ".join((source.summary or "").split()) for source in spec.sources]
    caps = summary_caps([len(summary) for summary in summaries], budget_chars)
    blocks, warnings = [], []
    for source, summary, cap in zip(spec.sources, summaries, caps, strict=True):
        if len(summary) > cap:
            summary = shorten(summary, cap)
            warnings.append(f"{source.id} summary shortened to {len(summary)} characters to fit the context")
        links = [name for name, url in (("paper", source.paper_url), ("GitHub", source.github_url)) if url]
        has = f"has a {' and a '.join(links)} link" if links else "has no link"
        # A task code in the identifier is certain, so the model is told it (and does not take the
        # question's task for the model's, issue 11); a task read from a title or summary is a guess.
        found = model_task(source) if source.role == "recommended" else None
        known = found.task if found and found.basis == "code" else None
        task = f"; task by its identifier: {known.name}" if known else ""
        block = f"[{source.id}] {source.name} ({role_label(source)}{task}; {has})"
        blocks.append(block + (f"\nSummary: {summary}" if summary else ""))
    return "\n\n".join(blocks), warnings
