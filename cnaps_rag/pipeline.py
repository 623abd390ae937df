"""Answer one prompt: parse -> allow-list -> draft -> validate, with everything needed to audit it.

The model refers to sources by ID and never types a URL: the renderer writes each source's exact
links, and the validator strips whatever else the draft names without a source.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator

from .allowlist import AllowList
from .backends import Backend, resolve_backend
from .draft import FORMER_NAMES, MAX_TOKENS, STRATEGIES, Strategy, drafter, strategy_named
from .draft.caller import Caller
from .draft.plan import task_fit
from .draft.render import DraftAttempt
from .errors import ConfigError
from .links import find_links
from .parse import parse_prompt
from .spec import PromptSpec
from .validation import Validation, validate

__all__ = ["STRATEGIES", "Answer", "AnswerMeta", "Strategy", "answer", "check_options"]


class AnswerMeta(BaseModel, extra="forbid"):
    backend: str
    model: str
    strategy: Annotated[Strategy, BeforeValidator(lambda name: FORMER_NAMES.get(name, name))]
    """Read under a former name (``guided``, ``free``) from older records, too."""
    options: dict[str, Any] = {}
    template_version: str
    structured_mode: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    generations: int = 0
    retries: int = 0
    timings: dict[str, float] = {}
    question_task: str | None = None
    model_tasks: list[str] = []
    fits: bool | None = None
    """Whether the recommended model's task is the question's task (None when either is unknown)."""
    warnings: list[str] = []
    drafts: list[DraftAttempt] = []
    """``capable``'s drafts (one, or two when it asked once more); the answer's has ``kept``."""


class Answer(BaseModel, extra="forbid"):
    id: str
    markdown: str
    """The final answer, after validation (``draft``: before)."""
    draft: str
    validation: Validation
    cited: list[str]
    """IDs of the sources whose links the final answer gives."""
    meta: AnswerMeta


def check_options(strategy: str | None, max_tokens: int | None) -> Strategy | None:
    """Return the strategy named ``strategy`` (None: the backend's default); raise ConfigError for
    an unknown strategy or a token budget below 1 (which llama.cpp reads as "until the context is full")."""
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(
            f"max_tokens must be 1 or more, not {max_tokens}", hint="pass --max-tokens N with N >= 1"
        )
    return None if strategy is None else strategy_named(strategy)


def answer(
    prompt: str | bytes | PromptSpec,
    *,
    backend: str | Backend = "local",
    model: str | None = None,
    base_url: str | None = None,
    strategy: str | None = None,
    max_tokens: int | None = None,
    attempts: int = 4,
    max_wait: float = 30.0,
) -> Answer:
    """Return a grounded answer to one prompt (its text or a parsed spec).

    ``backend`` is ``"local"`` (the embedded model, or the GGUF at ``model``), ``"openai"``
    (``model`` on ``base_url``) or a backend object. ``strategy`` defaults to ``scaffold`` for the
    embedded model and ``capable`` otherwise (the former names ``guided`` and ``free`` still name
    ``scaffold`` and ``fields``). Retryable errors are tried ``attempts`` times in all.
    """
    started = time.perf_counter()
    chosen_strategy = check_options(strategy, max_tokens)
    spec = prompt if isinstance(prompt, PromptSpec) else parse_prompt(prompt)
    chosen = resolve_backend(backend, model=model, base_url=base_url)
    if chosen_strategy is None:
        chosen_strategy = "scaffold" if chosen.is_embedded else "capable"
    call = Caller(chosen, attempts=attempts, max_wait=max_wait)
    budget = max_tokens or MAX_TOKENS[chosen_strategy]
    draft_started = time.perf_counter()
    draft = drafter(chosen_strategy)(spec, call, budget)
    draft_time = time.perf_counter() - draft_started
    allow = AllowList.for_spec(spec)
    validate_started = time.perf_counter()
    validation = validate(draft.markdown, allow)
    validate_time = time.perf_counter() - validate_started
    fit = task_fit(spec)
    meta = AnswerMeta(
        backend=chosen.name,
        model=chosen.model,
        strategy=chosen_strategy,
        # The budget each generation had, the strategy's default where the caller gave none.
        options={"max_tokens": budget, "attempts": attempts, "temperature": 0.0, "seed": 0},
        template_version="+".join(draft.template_versions),
        structured_mode=call.mode,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        generations=call.generations,
        retries=call.retries,
        timings={
            "draft": round(draft_time, 4),
            "validate": round(validate_time, 4),
            "total": round(time.perf_counter() - started, 4),
        },
        question_task=fit.question_task.key if fit.question_task else None,
        model_tasks=[task.key for task in fit.model_tasks],
        fits=fit.fits,
        warnings=[*spec.warnings, *draft.warnings],
        drafts=draft.attempts,
    )
    return Answer(
        id=spec.id,
        markdown=validation.text,
        draft=draft.markdown,
        validation=validation,
        cited=allow.cited_sources(spec, (link.key for link in find_links(validation.text))),
        meta=meta,
    )
