"""The ``capable`` strategy: a capable model writes the whole markdown answer, citing sources by ID.

The default for hosted and larger local models. The model gets the prompt's question, its
instructions, every source with its summary (in full where the context allows) and the rules
(``prompts/capable.txt``): the prompt's own section headings, citations only as ``[S1]``
markers, no URL typed, no model the sources do not name, and a plain word when the recommended
model does not fit the question. Its reply is rendered (:func:`render_markers`: each marker
becomes a markdown link to that source's exact link, and the sources cited are listed at the
end), then checked (:func:`check_draft`); where it breaks a rule the model can fix, the model is
asked once more with the problems listed (``prompts/capable_fix.txt``), the better of the two
drafts by the scorer is kept, and both are recorded (:class:`~cnaps_rag.draft.result.DraftAttempt`).
A draft that repeats the prompt, the rules or itself (:mod:`cnaps_rag.repetition`) is no answer:
it is asked for once more the same way, and is never kept; when no draft is an answer, the
prompt fails with :class:`~cnaps_rag.errors.NotAnAnswerError`.
The validator then runs on the kept draft, as for every answer.
"""

from __future__ import annotations

import re

from ..allowlist import AllowList
from ..backends import Request
from ..errors import BackendError, NotAnAnswerError
from ..markdown import Layout
from ..parse import SECTIONS3
from ..repetition import RepetitionCheck
from ..scores import METRICS, score
from ..spec import PromptSpec, Section
from ..templates import load_template
from ..text import CHARS_PER_TOKEN
from ..validation import Validation, validate
from .caller import Caller
from .fit import task_fit
from .render import source_line
from .result import Draft, DraftAttempt
from .sources import sources_text, summaries_budget

CAPABLE_MAX_TOKENS = 2000
"""Token budget of one capable generation when the caller gives none: a full 2-5 KB answer."""
PROMPT_TOKENS = 700
"""Tokens the capable prompt takes besides the summaries: rules, headings, instructions, question
(about 510 on the example prompts; the rest is room for the sources' name lines and the chat template)."""
FIX_TOKENS = 200
"""Tokens the re-ask adds besides the first draft: the problems and the request to fix them."""
MAX_PROBLEMS_LISTED = 20
"""The re-ask lists at most this many problems (a draft naming dozens of models needs no more)."""
MIN_FIX_TOKENS = 500
"""A re-ask needs at least this much room for its reply, or it is skipped (with a warning)."""
CITED_HEADING = "**Sources cited**"

MARKER = re.compile(r"\[(S\d+(?:[ \t]*[,;][ \t]*S\d+)*)\](?!\()")
"""A citation marker the model wrote: ``[S1]``, ``[S1, S3]``; not one that already opens a link."""
_MARKER_ID = re.compile(r"S\d+")
_WRAPPING_FENCE = re.compile(
    r"\A[ \t]*(`{3,}|~{3,})[ \t]*(?:markdown|md)?[ \t]*\n(.*)\n[ \t]*\1[ \t]*\Z", re.S
)


def sources_budget(n_ctx: int, max_tokens: int) -> int:
    """Return how many characters of summaries fit ``n_ctx`` beside the prompt and two drafts.

    Two drafts, because a re-ask sends the first draft back with the problems listed.
    """
    return summaries_budget(n_ctx, 2 * max_tokens + PROMPT_TOKENS + FIX_TOKENS)


def _sections(spec: PromptSpec) -> list[Section]:
    """Return the sections the answer must have: the prompt's (format 1's three by default)."""
    return spec.sections or list(SECTIONS3)


def expected_sections(spec: PromptSpec) -> list[str]:
    """Return the headings the answer must have (:func:`_sections`)."""
    return [section.heading for section in _sections(spec)]


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


def render_markers(text: str, spec: PromptSpec) -> tuple[str, list[str], list[str]]:
    """Return ``text`` with each ``[S#]`` marker made a link to that source's exact link.

    A marker becomes ``[S1](URL)``, URL being the source's ``Paper:`` link, else its ``GitHub:``
    link, exactly as the prompt gives it; a source without a link keeps its bare ``[S2]``.
    Markers inside code blocks (a diagram) stay as written. Returns the text, the IDs cited
    (in prompt order) and the IDs the model cited that are not sources (left as written).
    """
    by_id = {source.id: source for source in spec.sources}
    layout = Layout(text)
    cited: set[str] = set()
    unknown: list[str] = []

    def link(sid: str) -> str:
        source = by_id[sid]
        url = source.paper_url or source.github_url
        return f"[{sid}]({url})" if url else f"[{sid}]"

    def replace(match: re.Match[str]) -> str:
        if layout.in_code(match.start()):
            return match.group(0)
        ids = _MARKER_ID.findall(match.group(1))
        missing = [sid for sid in ids if sid not in by_id]
        if missing:
            unknown.extend(sid for sid in missing if sid not in unknown)
            return match.group(0)
        cited.update(ids)
        parts = re.split(r"(S\d+)", match.group(1))
        return "".join(link(part) if part in by_id else part for part in parts)

    rendered = MARKER.sub(replace, text)
    return rendered, [s.id for s in spec.sources if s.id in cited], unknown


def render_capable(reply: str, spec: PromptSpec) -> tuple[str, list[str], list[str]]:
    """Return the answer made from a model's reply: markers rendered, the sources cited listed.

    Returns the markdown, the IDs cited and the unknown IDs (see :func:`render_markers`).
    """
    text, cited, unknown = render_markers(unwrap(reply), spec)
    if cited:
        listed = [source_line(source) for source in spec.sources if source.id in cited]
        text = text.rstrip("\n") + "\n\n" + CITED_HEADING + "\n\n" + "\n".join(listed) + "\n"
    return text, cited, unknown


def missing_sections(text: str, spec: PromptSpec) -> list[str]:
    """Return the expected headings (:func:`expected_sections`) that ``text`` lacks, in order.

    A heading counts when a numbered heading with its number (``1``, ``A``) stands after the
    previous one found, as a markdown heading or a bold line; the title may be worded otherwise.
    """
    found = [h.number for h in Layout(text).numbered_headings() if h.level <= 7]
    missing, position = [], 0
    for section in _sections(spec):
        try:
            position = found.index(section.number, position) + 1
        except ValueError:
            missing.append(section.heading)
    return missing


def check_draft(
    reply: str,
    rendered: str,
    unknown: list[str],
    spec: PromptSpec,
    allow: AllowList,
    *,
    validation: Validation | None = None,
) -> list[str]:
    """Return the rules a rendered draft breaks that the model can fix, one line each.

    A missing section, a marker citing no source, a URL typed that the validator strips, a model
    name the validator strips (with the claim it makes). ``reply`` is the model's own text;
    ``validation`` is ``rendered``'s, where the caller has it already.
    """
    problems = [f"the section '{heading}' is missing" for heading in missing_sections(reply, spec)]
    ids = ", ".join(source.id for source in spec.sources)
    problems += [f"[{sid}] cites no source (the sources are {ids})" for sid in unknown]
    for violation in (validation or validate(rendered, allow)).violations:
        if violation.kind == "url":
            problems.append(f"a URL was typed: '{violation.value}' (cite the source's ID instead)")
        else:
            problems.append(f"'{violation.value}' is named, but no source names it (the claim was removed)")
    return problems


def _attempt(reply: str, spec: PromptSpec, allow: AllowList, repetition: RepetitionCheck) -> DraftAttempt:
    rendered, _cited, unknown = render_capable(reply, spec)
    # One validation serves the check and the scorer (each would run its own).
    validation = validate(rendered, allow)
    problems = check_draft(reply, rendered, unknown, spec, allow, validation=validation)
    repeats = repetition(reply)
    if repeats is not None:
        problems.insert(0, f"the reply is no answer: {repeats}")
    scores = score(rendered, spec, allow=allow, validation=validation)
    values = [float(getattr(scores, metric)) for metric in METRICS]
    return DraftAttempt(
        markdown=rendered,
        problems=problems,
        score=round(sum(values) / len(values), 4),
        kept=False,
        not_an_answer=repeats,
    )


def _chars(messages: list[dict[str, str]]) -> int:
    return sum(len(message["content"]) for message in messages)


def draft_capable(
    spec: PromptSpec, call: Caller, max_tokens: int | None = None, *, reask: bool = True
) -> Draft:
    """Return the capable draft of an answer to ``spec``: the model's whole answer, rendered and checked.

    ``max_tokens`` is each generation's budget (:data:`CAPABLE_MAX_TOKENS` by default). With
    ``reask``, a draft that breaks a fixable rule is asked for once more; the better of the two
    by the scorer is kept (the first on a tie) and both are in ``Draft.attempts``.
    """
    budget = max_tokens or CAPABLE_MAX_TOKENS
    allow = AllowList.for_spec(spec)
    listed, warnings = sources_text(spec, sources_budget(call.backend.n_ctx, budget))
    template = load_template("capable")
    messages = template.messages(
        headings="\n".join(expected_sections(spec)),
        question=spec.question,
        instructions="\n".join(f"- {line}" for line in spec.instructions) or "- (none given)",
        sources=listed,
        fit_note=_fit_note(spec),
    )
    room = call.backend.n_ctx - _chars(messages) // CHARS_PER_TOKEN
    first_budget = min(budget, max(MIN_FIX_TOKENS, room))
    if first_budget < budget:
        warnings.append(f"token budget cut from {budget} to {first_budget} to fit the context")
    reply = call.text(Request(messages=messages, max_tokens=first_budget))
    repetition = RepetitionCheck(messages)
    attempts = [_attempt(reply, spec, allow, repetition)]
    versions = [template.version]
    if reask and attempts[0].problems:
        fix = load_template("capable_fix")
        again = [
            *messages,
            {"role": "assistant", "content": reply},
            *fix.messages(
                problems="\n".join(f"- {problem}" for problem in attempts[0].problems[:MAX_PROBLEMS_LISTED])
            ),
        ]
        room = call.backend.n_ctx - _chars(again) // CHARS_PER_TOKEN
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
    return Draft(
        markdown=attempts[best].markdown,
        template_versions=versions,
        max_tokens=budget,
        warnings=warnings,
        attempts=attempts,
    )
