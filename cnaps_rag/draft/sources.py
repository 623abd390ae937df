"""How a model is shown the prompt's sources: each one's role, and the summaries fitted to the context.

The ``capable`` and ``free`` strategies list the sources the same way (:func:`sources_text`): by
ID and name, never with their links (the renderer writes those), each summary whole where the
context allows and otherwise cut longest first (:func:`summary_caps`).
"""

from __future__ import annotations

from ..spec import PromptSpec, Source
from ..tasks import model_task
from ..text import CHARS_PER_TOKEN, shorten

MIN_SOURCES_CHARS = 800
"""The least room the summaries get, however small the context: below it they say nothing."""
MIN_SUMMARY_CHARS = 200
"""No summary is shortened below this, however many share the room."""


def role_label(source: Source) -> str:
    """Return how an answer and a prompt name a source's role: ``recommended model`` or ``related paper``."""
    return "recommended model" if source.role == "recommended" else "related paper"


def summaries_budget(n_ctx: int, reserved_tokens: int) -> int:
    """Return how many characters of summaries fit a context of ``n_ctx`` tokens beside ``reserved_tokens``.

    ``reserved_tokens`` is what the strategy needs besides the summaries: its prompt and its replies.
    """
    return max(MIN_SOURCES_CHARS, (n_ctx - reserved_tokens) * CHARS_PER_TOKEN)


def summary_caps(lengths: list[int], budget_chars: int) -> list[int]:
    """Return the most characters each summary may keep so that all fit ``budget_chars``.

    Summaries that fit keep their length; when they do not all fit, the longest are cut to one
    common cap (never below :data:`MIN_SUMMARY_CHARS`), so a short summary is never cut to make
    room for a long one.
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
    cap = max(MIN_SUMMARY_CHARS, cap)
    return [min(length, cap) for length in lengths]


def sources_text(spec: PromptSpec, budget_chars: int) -> tuple[str, list[str]]:
    """Return the sources as a prompt lists them (no links), and what was shortened to fit ``budget_chars``.

    A recommended model whose identifier has a task code is given that task, so that the model
    does not take the question's task for the model's (issue 11).
    """
    summaries = [" ".join((source.summary or "").split()) for source in spec.sources]
    caps = summary_caps([len(summary) for summary in summaries], budget_chars)
    blocks, warnings = [], []
    for source, summary, cap in zip(spec.sources, summaries, caps, strict=True):
        if len(summary) > cap:
            summary = shorten(summary, cap)
            warnings.append(f"{source.id} summary shortened to {len(summary)} characters to fit the context")
        links = [name for name, url in (("paper", source.paper_url), ("GitHub", source.github_url)) if url]
        has = f"has a {' and a '.join(links)} link" if links else "has no link"
        # A task code in the identifier is certain (tasks.model_task); a task read from a title or
        # summary is a guess, and the model reads those itself.
        found = model_task(source) if source.role == "recommended" else None
        task = (
            f"; task by its identifier: {found.task.name}"
            if found and found.task and found.basis == "code"
            else ""
        )
        block = f"[{source.id}] {source.name} ({role_label(source)}{task}; {has})"
        blocks.append(block + (f"\nSummary: {summary}" if summary else ""))
    return "\n\n".join(blocks), warnings
