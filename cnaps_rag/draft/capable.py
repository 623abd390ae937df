"""The ``capable`` strategy: a capable model writes the whole markdown answer, citing sources by ID.

The default for hosted and larger local models. Each ``[S1]`` marker becomes a link to that
source's exact link and the sources cited are listed at the end; a draft that breaks a rule
the model can fix (:func:`check_draft`) is asked for once more with the problems listed, and the
better of the two by the scorer is kept. A draft that repeats the prompt, the rules or itself
(:mod:`cnaps_rag.repetition`) is never kept: with no answer, :class:`NotAnAnswerError`.
"""

from __future__ import annotations

import re

from ..allowlist import AllowList
from ..backends import Request
from ..errors import BackendError, NotAnAnswerError
from ..markdown import Layout, answer_parts
from ..repetition import RepetitionCheck
from ..scores import METRICS, score
from ..spec import PromptSpec
from ..templates import load_template
from ..text import CHARS_PER_TOKEN
from ..validation import Validation, validate
from .caller import Caller
from .plan import task_fit
from .render import Draft, DraftAttempt, source_line, sources_text, summaries_budget

PROMPT_TOKENS = 700
"""Tokens the capable prompt takes besides the summaries: rules, headings, instructions, question
(about 510 on the example prompts; the rest is room for the sources' name lines and the chat template)."""
FIX_TOKENS = 200
"""Tokens the re-ask adds besides the first draft: the problems and the request to fix them."""
MAX_PROBLEMS_LISTED = 20
MIN_FIX_TOKENS = 500
"""A re-ask needs at least this much room for its reply, or it is skipped (with a warning)."""
CITED_HEADING = "**Sources cited**"

MARKER = re.compile(r"\[(S\d+(?:[ \t]*[,;][ \t]*S\d+)*)\](?!\()")
"""A citation marker the model wrote: ``[S1]``, ``[S1, S3]``; not one that already opens a link."""
_WRAPPING_FENCE = re.compile(
    r"\A[ \t]*(`{3,}|~{3,})[ \t]*(?:markdown|md)?[ \t]*\n(.*)\n[ \t]*\1[ \t]*\Z", re.S
)


def _fit_note(spec: PromptSpec) -> str:
    fit = task_fit(spec)
    if fit.fits is not False or fit.question_task is None:
        return ""
    tasks = ", ".join(sorted({task.name for task in fit.model_tasks}))
    return (
        f"\nNote: the recommended model is built for {tasks}, while the question asks about "
        f"{fit.question_task.name}. Say so in the answer.\n"
    )


def unwrap(reply: str) -> str:
    """Return the model's reply without a code fence around the whole of it (```markdown ... ```)."""
    text = reply.strip()
    match = _WRAPPING_FENCE.match(text)
    if match and not any(line.kind == "fence" for line in Layout(match.group(2)).lines):
        text = match.group(2).strip()
    return text + "\n"


def render_capable(reply: str, spec: PromptSpec) -> tuple[str, list[str], list[str]]:
    """Return the answer made from a model's reply, the IDs it cites (in prompt order) and unknown IDs.

    A marker becomes ``[S1](URL)``, URL being the source's paper link, else its GitHub link; a
    source without a link keeps its bare ``[S2]``. Markers in code blocks (a diagram) and
    markers citing an ID that is no source stay as written. The sources cited are listed at the end.
    """
    text = unwrap(reply)
    by_id = {source.id: source for source in spec.sources}
    layout = Layout(text)
    cited: set[str] = set()
    unknown: list[str] = []

    def cite(sid: str) -> str:
        url = by_id[sid].paper_url or by_id[sid].github_url
        return f"[{sid}]({url})" if url else f"[{sid}]"

    def link(match: re.Match[str]) -> str:
        if layout.in_code(match.start()):
            return match.group(0)
        parts = re.split(r"(S\d+)", match.group(1))
        missing = [sid for sid in parts[1::2] if sid not in by_id]
        if missing:
            unknown.extend(sid for sid in missing if sid not in unknown)
            return match.group(0)
        cited.update(parts[1::2])
        return "".join(cite(part) if index % 2 else part for index, part in enumerate(parts))

    text = MARKER.sub(link, text)
    if cited:
        listed = [source_line(source) for source in spec.sources if source.id in cited]
        text = text.rstrip("\n") + "\n\n" + CITED_HEADING + "\n\n" + "\n".join(listed) + "\n"
    return text, [s.id for s in spec.sources if s.id in cited], unknown


def missing_sections(text: str, spec: PromptSpec) -> list[str]:
    """Return the headings of ``spec.sections`` that ``text`` lacks: each must follow the one before,
    as a markdown heading or a bold line with its number (``1``, ``A``); the title may differ."""
    found = [part.number for part in answer_parts(text)]
    missing, position = [], 0
    for section in spec.sections:
        try:
            position = found.index(section.number, position) + 1
        except ValueError:
            missing.append(section.heading)
    return missing


def check_draft(reply: str, unknown: list[str], spec: PromptSpec, validation: Validation) -> list[str]:
    """Return the rules a draft breaks that the model can fix, one line each: ``reply`` is the
    model's own text, ``unknown`` the IDs it cites that are no source, ``validation`` its rendering's."""
    problems = [f"the section '{heading}' is missing" for heading in missing_sections(reply, spec)]
    ids = ", ".join(source.id for source in spec.sources)
    problems += [f"[{sid}] cites no source (the sources are {ids})" for sid in unknown]
    for violation in validation.violations:
        if violation.kind == "url":
            problems.append(f"a URL was typed: '{violation.value}' (cite the source's ID instead)")
        else:
            problems.append(f"'{violation.value}' is named, but no source names it (the claim was removed)")
    return problems


def _attempt(reply: str, spec: PromptSpec, allow: AllowList, repetition: RepetitionCheck) -> DraftAttempt:
    rendered, _cited, unknown = render_capable(reply, spec)
    validation = validate(rendered, allow)  # one validation serves the check and the scorer
    problems = check_draft(reply, unknown, spec, validation)
    repeats = repetition(reply)
    if repeats is not None:
        problems.insert(0, f"the reply is no answer: {repeats}")
    scores = score(rendered, spec, allow=allow, validation=validation)
    values = [float(getattr(scores, metric)) for metric in METRICS]
    mean = round(sum(values) / len(values), 4)
    return DraftAttempt(markdown=rendered, problems=problems, score=mean, kept=False, not_an_answer=repeats)


def _room(call: Caller, messages: list[dict[str, str]]) -> int:
    return call.backend.n_ctx - sum(len(message["content"]) for message in messages) // CHARS_PER_TOKEN


def draft_capable(spec: PromptSpec, call: Caller, budget: int) -> Draft:
    """Return the capable draft of an answer to ``spec``."""
    allow = AllowList.for_spec(spec)
    # Room for two drafts: a re-ask sends the first draft back with the problems listed.
    room_chars = summaries_budget(call.backend.n_ctx, 2 * budget + PROMPT_TOKENS + FIX_TOKENS)
    listed, warnings = sources_text(spec, room_chars)
    template = load_template("capable")
    messages = template.messages(
        headings="\n".join(section.heading for section in spec.sections),
        question=spec.question,
        instructions="\n".join(f"- {line}" for line in spec.instructions) or "- (none given)",
        sources=listed,
        fit_note=_fit_note(spec),
    )
    first_budget = min(budget, max(MIN_FIX_TOKENS, _room(call, messages)))
    if first_budget < budget:
        warnings.append(f"token budget cut from {budget} to {first_budget} to fit the context")
    reply = call.text(Request(messages=messages, max_tokens=first_budget))
    repetition = RepetitionCheck(messages)
    attempts = [_attempt(reply, spec, allow, repetition)]
    versions = [template.version]
    if attempts[0].problems:
        fix = load_template("capable_fix")
        problems = "\n".join(f"- {problem}" for problem in attempts[0].problems[:MAX_PROBLEMS_LISTED])
        again = [*messages, {"role": "assistant", "content": reply}, *fix.messages(problems=problems)]
        room = _room(call, again)
        if room < MIN_FIX_TOKENS:
            warnings.append("the draft breaks rules, but the context holds no room to ask once more")
        else:
            versions.append(fix.version)
            try:
                second = call.text(Request(messages=again, max_tokens=min(budget, room)))
            except BackendError as exc:
                warnings.append(f"asking once more failed: {exc.one_line()}")
            else:
                attempts.append(_attempt(second, spec, allow, repetition))
    best = max(
        range(len(attempts)),
        key=lambda i: (attempts[i].not_an_answer is None, attempts[i].score, -len(attempts[i].problems), -i),
    )
    if attempts[best].not_an_answer is not None:
        reasons = [str(attempt.not_an_answer) for attempt in attempts]
        raise NotAnAnswerError(
            f"the model wrote no answer in {len(attempts)} draft(s): {'; then '.join(reasons)}",
            reasons=reasons,
            hint="a base model, or a GGUF prompted in the wrong chat format, continues the prompt "
            "instead of answering it: run cnaps-rag doctor --model PATH",
        )
    attempts[best].kept = True
    if attempts[best].problems:
        warnings.append(f"the kept draft breaks {len(attempts[best].problems)} rule(s); see meta.drafts")
    markdown = attempts[best].markdown
    return Draft(markdown, versions, warnings=warnings, attempts=attempts)
