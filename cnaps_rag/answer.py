"""Draft, validate and render a grounded three-section answer to one prompt.

parse -> allow-list -> draft (``guided`` or ``free``) -> render -> validate. The
model refers to sources by ID (S1, S2, ...) and never types a URL: the renderer
writes each source's exact links, so citations are right by construction.

``guided`` (the default for the embedded 135M model) builds the answer's scaffold
from the prompt: the task from the identifiers' task codes and the question, the
input -> model -> output pipeline from the task lexicon, the source list, and for
each related paper the summary sentence closest to the question. The model only
fills short slots, each a JSON-constrained generation. ``free`` (the default for
hosted and larger models) lets the model write the prose of all three sections.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_random_exponential

from .allowlist import AllowList
from .backends import Backend, Completion, LocalBackend, Request, resolve_backend
from .errors import CnapsRagError, DraftFormatError, PromptError
from .links import find_links
from .names import LEXICON_KEYS, is_not_model, name_key
from .parse import parse_prompt
from .spec import PromptSpec, Source
from .tasks import Identifier, Task, parse_identifier, tasks_in_question
from .templates import load_template
from .validate import Validation, validate

Strategy = Literal["guided", "free"]

HEADINGS = (
    "## 1. What the user is trying to do",
    "## 2. How the model works (input → model → output)",
    "## 3. Supporting papers and tools",
)


class AnswerMeta(BaseModel):
    """How an answer was made."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    model: str
    strategy: Strategy
    options: dict[str, Any] = {}
    template_version: str
    structured_mode: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    generations: int = 0
    retries: int = 0
    timings: dict[str, float] = {}
    """Seconds spent: draft, validate, total."""
    question_task: str | None = None
    model_tasks: list[str] = []
    fits: bool | None = None
    """Whether the recommended model's task is the question's task (None when either is unknown)."""
    warnings: list[str] = []


class Answer(BaseModel):
    """A grounded answer and everything needed to audit it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    markdown: str
    """The final answer, after validation."""
    draft: str
    """The rendered answer before validation."""
    validation: Validation
    cited: list[str]
    """IDs of the sources whose links the final answer gives."""
    meta: AnswerMeta


# --------------------------------------------------------------------------- slots


class Slot(BaseModel):
    """One short slot of a guided answer."""

    sentence: str = Field(max_length=160)


def _free_schema(spec: PromptSpec) -> dict[str, Any]:
    ids = [s.id for s in spec.sources]
    return {
        "type": "object",
        "properties": {
            "task": {"type": "string", "maxLength": 400},
            "workflow": {"type": "string", "maxLength": 900},
            "sources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "enum": ids},
                        "note": {"type": "string", "maxLength": 300},
                    },
                    "required": ["id", "note"],
                },
                "maxItems": len(ids),
            },
        },
        "required": ["task", "workflow", "sources"],
    }


class FreeDraft(BaseModel):
    task: str
    workflow: str
    sources: list[dict[str, str]] = []


def _slot_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema


def _parse_json(text: str, model: type[BaseModel]) -> BaseModel:
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[-1].rsplit("```", 1)[0]
    start, end = body.find("{"), body.rfind("}")
    if start == -1 or end <= start:
        raise DraftFormatError("the model's reply holds no JSON object")
    try:
        return model.model_validate(json.loads(body[start : end + 1]))
    except (ValueError, ValidationError) as exc:
        raise DraftFormatError(
            f"the model's JSON does not match the draft schema: {_first_line(exc)}"
        ) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:160]


# --------------------------------------------------------------------------- calls


class _Caller:
    """Calls a backend with tenacity retries, and adds up what the calls cost."""

    def __init__(self, backend: Backend, attempts: int, max_wait: float):
        self.backend = backend
        self.attempts = attempts
        self.max_wait = max_wait
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.generations = 0
        self.retries = 0
        self.mode: str | None = None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        # Exponential backoff with full jitter; a server's Retry-After wins when it asks for longer.
        backoff = wait_random_exponential(multiplier=0.5, max=self.max_wait)(state)
        return min(self.max_wait, max(float(retry_after), backoff)) if retry_after is not None else backoff

    def _should_retry(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, DraftFormatError):
            # A reply that breaks the schema is asked for again once, where asking again can differ.
            return not getattr(self.backend, "deterministic", False) and state.attempt_number < 2
        return isinstance(exc, CnapsRagError) and exc.retryable

    def __call__(self, request: Request, parse_as: type[BaseModel] | None = None) -> tuple[Completion, Any]:
        def once() -> tuple[Completion, Any]:
            self.generations += 1
            completion = self.backend.complete(request)
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            self.mode = completion.mode
            return completion, (_parse_json(completion.text, parse_as) if parse_as else completion.text)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=self._should_retry,
            reraise=True,
            before_sleep=lambda _state: setattr(self, "retries", self.retries + 1),
        )
        return retrying(once)


# --------------------------------------------------------------------------- guided


def _sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    return [p.strip() for p in parts if 30 <= len(p.strip()) <= 400]


def best_finding(source: Source, question: str) -> str | None:
    """Return the summary sentence closest to the question (token-set similarity), or None."""
    if not source.summary:
        return None
    sentences = _sentences(source.summary)
    if not sentences:
        return None
    # The summary's own links are untrusted: never quote a sentence that carries one.
    sentences = [s for s in sentences if not find_links(s)] or []
    if not sentences:
        return None
    return max(sentences, key=lambda s: fuzz.token_set_ratio(question.lower(), s.lower()))


def _clean_slot(text: str) -> str:
    text = " ".join(text.split()).strip().strip('"')
    if text and text[-1] not in ".!?":
        text = text.rsplit(" ", 1)[0] + "." if len(text) > 190 else text + "."
    return text


def _source_line(source: Source) -> str:
    role = "recommended model" if source.role == "recommended" else "related paper"
    links = []
    if source.paper_url:
        links.append(f"Paper: {source.paper_url}")
    if source.github_url:
        links.append(f"GitHub: {source.github_url}")
    tail = " — " + " · ".join(links) if links else " — no link provided"
    return f"- **[{source.id}] {source.name}** ({role}){tail}"


def _analyse(spec: PromptSpec) -> tuple[Task | None, list[tuple[Source, Any]], bool | None]:
    asked = tasks_in_question(spec.question)
    question_task = asked[0] if asked else None
    recommended = [(s, parse_identifier(s.name)) for s in spec.recommended]
    model_tasks = [ident.task for _, ident in recommended if ident.task]
    if not asked or not model_tasks:
        fits = None
    else:
        families = {t.family for t in asked}
        fits = any(t.family in families for t in model_tasks)
        if fits:
            # Name the task as the model's own variant of it: video super-resolution, not SISR.
            question_task = next(t for t in model_tasks if t.family in families)
    return question_task, recommended, fits


_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)


def _stems(text: str) -> set[str]:
    return {w.lower()[:5] for w in _WORD.findall(text)}


def accept_slot(sentence: str, context: str, shots: list[str]) -> bool:
    """Return whether a small model's slot fill is worth keeping.

    A 135M model often echoes its few-shot examples, repeats a token, drifts off the
    facts it was given, or answers another question. A fill is kept when it opens
    with the words all few-shot answers open with ("The user wants to", "It"), has 5
    to 45 words, is not a near-copy of a few-shot answer, repeats no word three times
    running, and at least half of its content words occur in the slot's own context.
    """
    opening = _common_opening([_shot_text(shot).lower().split() for shot in shots])
    if sentence.lower().split()[: len(opening)] != opening:
        return False
    words = sentence.split()
    if not 5 <= len(words) <= 45:
        return False
    if any(fuzz.ratio(sentence.lower(), _shot_text(shot).lower()) >= 75 for shot in shots):
        return False
    if re.search(r"\b(\w+)\b(?:\W+\1\b){2}", sentence, re.I):
        return False
    content = _stems(sentence) - {"user", "wants", "shows", "which", "source", "helps", "model", "paper"}
    if not content:
        return False
    return len(content & _stems(context)) / len(content) >= 0.5


def _common_opening(word_lists: list[list[str]]) -> list[str]:
    """Return the words every list starts with."""
    opening: list[str] = []
    for words in zip(*word_lists, strict=False):
        if len(set(words)) != 1:
            break
        opening.append(words[0])
    return opening


def _shot_text(shot: str) -> str:
    try:
        return str(json.loads(shot).get("sentence", shot))
    except (ValueError, AttributeError):
        return shot


def _describe_training(part: str | None) -> str:
    if not part:
        return ""
    if is_not_model(part):
        return f", trained on {part}"
    if name_key(part) in LEXICON_KEYS:
        return f", with {part} as its backbone"
    return f", variant {part}"


def _workflow_lines(source: Source, ident: Identifier, fallback: Task | None) -> list[str]:
    task: Task | None = ident.task or fallback
    lines = [f"**{source.name}** [{source.id}]"]
    if task is None:
        lines.append("- The sources do not say which task this model performs.")
        return lines
    architecture = ident.architecture or source.name
    scale = ""
    if ident.scale:
        arbitrary = ident.scale.lower() in {"any", "arbitrary"}
        scale = " at an arbitrary scale" if arbitrary else f" at scale {ident.scale}"
    steps = "; ".join(task.steps)
    detail = f"{task.name}{scale}{_describe_training(ident.training_data)}"
    lines.append(f"- **Input:** {task.input}.")
    lines.append(f"- **Model:** {architecture} ({detail}): {steps}.")
    lines.append(f"- **Output:** {task.output}.")
    return lines


def _slot(call: _Caller, template: str, max_tokens: int, **values: Any) -> str:
    """Return one short constrained generation, or "" when it does not pass :func:`accept_slot`."""
    loaded = load_template(template)
    messages = loaded.messages(**values)
    request = Request(messages=messages, max_tokens=max_tokens, schema=_slot_schema(Slot))
    try:
        _, parsed = call(request, Slot)
    except DraftFormatError:
        return ""  # the scaffold stands without this slot
    sentence = _clean_slot(parsed.sentence)
    context = " ".join(str(v) for v in values.values())
    return sentence if accept_slot(sentence, context, loaded.shots()) else ""


QUESTION_CHARS = 600
"""The longest question a guided slot quotes; longer ones are cut (and the cut recorded)."""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _guided(spec: PromptSpec, call: _Caller, max_tokens: int, warnings: list[str]) -> tuple[str, list[str]]:
    question = _shorten(spec.question, QUESTION_CHARS)
    if question != spec.question:
        warnings.append(
            f"question shortened from {len(spec.question)} to {QUESTION_CHARS} characters for the model"
        )
    question_task, recommended, fits = _analyse(spec)
    first_task = next((ident.task for _, ident in recommended if ident.task), None)

    lines = [HEADINGS[0], ""]
    user_goal = _slot(call, "guided_task", max_tokens, question=question)
    if user_goal:
        lines.append(user_goal)
    if question_task:
        lines.append(f"The question is about **{question_task.name}**. {question_task.describe}")
    elif first_task:
        lines.append(f"The recommended model addresses **{first_task.name}**. {first_task.describe}")
    if fits is False and question_task:
        names = ", ".join(s.name for s, ident in recommended if ident.task)
        tasks = ", ".join(sorted({ident.task.name for _, ident in recommended if ident.task}))
        lines.append(
            f"Note: the recommended model ({names}) is built for {tasks}, not {question_task.name}, "
            "so it does not directly answer this question; the workflow below shows what it does."
        )

    lines += ["", HEADINGS[1], ""]
    for source, ident in recommended:
        lines += _workflow_lines(source, ident, question_task)
        lines.append("")
    if not recommended:
        lines += ["The prompt recommends no model.", ""]

    lines += [HEADINGS[2], ""]
    for source in spec.sources:
        lines.append(_source_line(source))
        finding = best_finding(source, spec.question)
        ident = parse_identifier(source.name)
        kind = (
            f"a {ident.task.name} model"
            if ident.task
            else f"a {source.role} {('model' if source.role == 'recommended' else 'paper')}"
        )
        note = _slot(
            call,
            "guided_source",
            max_tokens,
            question=question,
            source=f"{source.name}, {kind}.",
            finding=f"Finding: {finding}" if finding else "",
        )
        if finding:
            lines.append(f"  - Finding: {finding}")
        if note:
            lines.append(f"  - Relevance: {note}")
    versions = [load_template(t).version for t in ("guided_task", "guided_source")]
    return "\n".join(lines).rstrip() + "\n", versions


# --------------------------------------------------------------------------- free


def _fit_summaries(spec: PromptSpec, budget_chars: int) -> tuple[str, list[str]]:
    """Return the source list for the free prompt, summaries shortened to fit ``budget_chars``."""
    warnings = []
    blocks = []
    per_summary = max(200, budget_chars // max(1, len(spec.sources)))
    for source in spec.sources:
        role = "recommended model" if source.role == "recommended" else "related paper"
        summary = source.summary or ""
        if len(summary) > per_summary:
            summary = summary[:per_summary].rsplit(" ", 1)[0] + " …"
            warnings.append(f"{source.id} summary shortened to {len(summary)} characters to fit the context")
        blocks.append(f"[{source.id}] {source.name} ({role})" + (f"\nSummary: {summary}" if summary else ""))
    return "\n\n".join(blocks), warnings


def _free(
    spec: PromptSpec, call: _Caller, max_tokens: int, context_chars: int
) -> tuple[str, list[str], list[str]]:
    _, _, fits = _analyse(spec)
    schema = _free_schema(spec)
    sources_text, warnings = _fit_summaries(spec, context_chars)
    fit_note = ""
    if fits is False:
        fit_note = " Say plainly that the recommended model is built for another task."
    messages = load_template("free").messages(
        schema=json.dumps(schema), question=spec.question, sources=sources_text, fit_note=fit_note
    )
    request = Request(messages=messages, max_tokens=max_tokens, schema=schema)
    _, draft = call(request, FreeDraft)
    notes = {item.get("id"): item.get("note", "") for item in draft.sources if isinstance(item, dict)}
    lines = [
        HEADINGS[0],
        "",
        draft.task.strip(),
        "",
        HEADINGS[1],
        "",
        draft.workflow.strip(),
        "",
        HEADINGS[2],
        "",
    ]
    for source in spec.sources:
        lines.append(_source_line(source))
        if notes.get(source.id):
            lines.append(f"  - {_clean_slot(notes[source.id])}")
    versions = [load_template("free").version]
    return "\n".join(lines).rstrip() + "\n", versions, warnings


# --------------------------------------------------------------------------- API


def cited_sources(markdown: str, spec: PromptSpec, allow: AllowList | None = None) -> list[str]:
    """Return the IDs of the sources at least one of whose links the text gives, in prompt order."""
    allow = allow or AllowList.for_spec(spec)
    keys = {link.key for link in find_links(markdown)}
    ids = {sid for key in keys for sid in allow.url_sources.get(key, [])}
    return [s.id for s in spec.sources if s.id in ids]


def answer(
    prompt: str | bytes | PromptSpec,
    *,
    backend: str | Backend = "local",
    model: str | None = None,
    base_url: str | None = None,
    strategy: Strategy | None = None,
    max_tokens: int | None = None,
    attempts: int = 4,
    max_wait: float = 30.0,
) -> Answer:
    """Return a grounded answer to one prompt.

    ``prompt`` is the prompt text or a parsed spec. ``backend`` is ``"local"`` (the
    embedded model, or the GGUF at ``model``), ``"openai"`` (``model`` on ``base_url``)
    or a backend object. ``strategy`` defaults to ``guided`` for the embedded model and
    ``free`` otherwise. Retryable backend errors are retried ``attempts`` times in all.
    """
    started = time.perf_counter()
    spec = prompt if isinstance(prompt, PromptSpec) else parse_prompt(prompt)
    chosen = resolve_backend(backend, model=model, base_url=base_url)
    if strategy is None:
        strategy = "guided" if isinstance(chosen, LocalBackend) and chosen.is_embedded else "free"
    if strategy not in ("guided", "free"):
        raise PromptError(f"unknown strategy {strategy!r}", hint="use guided or free")
    call = _Caller(chosen, attempts=attempts, max_wait=max_wait)
    warnings = list(spec.warnings)
    draft_started = time.perf_counter()
    if strategy == "guided":
        draft, versions = _guided(spec, call, max_tokens or 64, warnings)
    else:
        n_ctx = getattr(chosen, "n_ctx", 8192)
        budget = max(800, (n_ctx - (max_tokens or 700) - 500) * 3)
        draft, versions, shortened = _free(spec, call, max_tokens or 700, budget)
        warnings += shortened
    draft_time = time.perf_counter() - draft_started
    allow = AllowList.for_spec(spec)
    validate_started = time.perf_counter()
    validation = validate(draft, allow)
    validate_time = time.perf_counter() - validate_started
    question_task, recommended, fits = _analyse(spec)
    meta = AnswerMeta(
        backend=chosen.name,
        model=chosen.model,
        strategy=strategy,
        options={"max_tokens": max_tokens, "attempts": attempts, "temperature": 0.0, "seed": 0},
        template_version="+".join(versions),
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
        question_task=question_task.key if question_task else None,
        model_tasks=[ident.task.key for _, ident in recommended if ident.task],
        fits=fits,
        warnings=warnings,
    )
    return Answer(
        id=spec.id,
        markdown=validation.text,
        draft=draft,
        validation=validation,
        cited=cited_sources(validation.text, spec, allow),
        meta=meta,
    )
