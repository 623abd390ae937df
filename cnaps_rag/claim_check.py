"""An optional second reader: a model checks a claim against the sources it credits.

Off by default: ``score(markdown, spec, checker=ClaimChecker(backend))`` (and ``cnaps-rag eval
--claim-model NAME --claim-base-url URL``) asks a model, through any backend (an
:class:`~cnaps_rag.backends.OpenAIBackend` for any OpenAI-compatible server), about each claim the
deterministic check flags (``which="flagged"``, the default: the model can only clear a flag) or
about every claim (``which="all"``: it can also flag). The model is shown the user's question, the
sources the claim credits as the prompt gives them (identifier or title, links, summary; every
source when the claim credits none) and the claim, on ``prompts/claim_check.txt``, and replies with a
one-line reason and ``supported`` (structured output, :class:`ClaimReply`).

Verdicts are cached like the rubric judge's (:class:`cnaps_rag.cache.AskedModel`), the key a hash
of (question, sources shown, claim, model, prompt version): a change to the prompt or to what the
model is shown bumps the prompt's ``#version:`` line. A failure leaves the deterministic verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from .backends import Backend, Request
from .cache import AskedModel, cache_key
from .errors import ConfigError
from .schemas import json_schema
from .spec import PromptSpec, Source
from .templates import load_template
from .text import shorten

DEFAULT_CACHE_DIR = Path(".cnaps-rag-cache") / "claims"
"""Where verdicts are cached when the caller names no folder (relative to the working folder)."""
MAX_TOKENS = 160
"""Token budget of one verdict: a one-line reason and a boolean."""
REASON_CHARS = 200
SUMMARY_CHARS = 1500
"""The most of one source's summary shown (a claim credits one or two sources)."""


class ClaimReply(BaseModel, extra="forbid"):
    """The model's reply: a one-line reason, then whether the sources say what the claim says."""

    reason: str = Field(json_schema_extra={"maxLength": REASON_CHARS})
    supported: bool

    @field_validator("reason")
    @classmethod
    def _short_reason(cls, value: str) -> str:
        # A hosted model may ignore maxLength: the reason is kept, made one line and short.
        return shorten(" ".join(value.split()), REASON_CHARS, "…")


def _shown(sources: Sequence[Source]) -> str:
    """Return the sources as the model is shown them: as the prompt lists them."""
    blocks = []
    for source in sources:
        lines = [f"[{source.id}] {source.name}"]
        lines += [f"Paper: {source.paper_url}"] if source.paper_url else []
        lines += [f"GitHub: {source.github_url}"] if source.github_url else []
        lines += [f"Summary: {shorten(source.summary, SUMMARY_CHARS)}"] if source.summary else []
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) or "(none)"


class ClaimChecker(AskedModel):
    """Asks a model whether the sources a claim credits say it, caching every verdict on disk.

    ``which`` says which claims :func:`cnaps_rag.scores` asks about: ``"flagged"`` (those the
    deterministic check flags) or ``"all"``. ``cache_dir`` None caches nothing. Retryable backend
    errors are retried ``attempts`` times in all.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        which: Literal["flagged", "all"] = "flagged",
        cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
        attempts: int = 2,
        max_wait: float = 20.0,
    ):
        if which not in ("flagged", "all"):
            raise ConfigError(f"claims to check: {which!r}", hint="choose flagged or all")
        super().__init__(backend, cache_dir, attempts, max_wait)
        self.which = which
        self.template = load_template("claim_check")
        self.schema = json_schema(ClaimReply)

    @property
    def version(self) -> str:
        return self.template.version

    def line(self) -> str:
        """Return one line on what the checker did in this run."""
        failed = f", {self.failures} failed ({self.last_error})" if self.failures else ""
        return f"claim check ({self.model}): {self.requests} requests, {self.cache_hits} cache hits{failed}"

    def verdict(self, claim: str, spec: PromptSpec, credited: Sequence[str]) -> tuple[bool, str] | None:
        """Return whether the sources ``credited`` (IDs; none: all) say ``claim`` and why, from the
        cache where it is; None when the model could not be asked."""
        wanted = set(credited)
        sources = [s for s in spec.sources if s.id in wanted] or list(spec.sources)
        values = {"question": spec.question.strip(), "sources": _shown(sources), "claim": claim.strip()}
        key = cache_key(*values.values(), self.model, self.version)
        cached = self.cached(key, lambda data: (bool(data["supported"]), str(data["reason"])))
        if cached is not None or self.given_up():
            return cached
        messages = self.template.messages(schema=json.dumps(self.schema), **values)
        request = Request(messages=messages, max_tokens=MAX_TOKENS, schema=self.schema)
        reply, _ = self.ask(request, ClaimReply)
        if reply is None:
            return None
        self.store(key, {"key": key, "model": self.model, "version": self.version, **reply.model_dump()})
        return reply.supported, reply.reason
