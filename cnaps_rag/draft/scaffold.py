"""The ``scaffold`` strategy, for the embedded 135M model: a scaffold built from the prompt, one slot.

Each model's task comes from the model (its task code, else its own title or summary), never
from the question; a mismatch is said plainly. The pipeline comes from the task lexicon, and the
sources section lists each source's exact links, the summary sentence closest to the question
and what its task does for the question. The model only chooses which of the question's own
sentences says what the user wants (:func:`goal_sentence`). The second format's scaffold is
:mod:`.workflow`.
"""

from __future__ import annotations

import json

from pydantic import create_model

from ..backends import Request
from ..errors import DraftFormatError
from ..names import in_lexicon, is_not_model
from ..schemas import json_schema, one_of
from ..spec import PromptSpec, Source
from ..tasks import Identifier, Task, TaskResult, tasks_in_question
from ..templates import load_template
from ..text import CHARS_PER_TOKEN, sentences, shorten
from .caller import Caller
from .plan import TaskFit, best_finding, scale_phrase, serves, task_fit
from .render import Draft, render, source_line
from .workflow import render_workflow

QUESTION_CHARS = 600
"""The longest question a scaffold slot quotes; longer ones are cut (and the cut recorded)."""
GOAL_TEMPLATE = "scaffold_goal"
GOAL_JSON_TOKENS = 16
"""Tokens of the JSON around the chosen sentence (``{"sentence": "..."}``)."""


def _model_lines(source: Source, ident: Identifier, found: TaskResult) -> list[str]:
    # The model's own task (code, title or summary), never the question's: see tasks.model_task.
    task = found.task
    if task is None:
        return [
            f"**{source.name}** [{source.id}]",
            "- The sources do not say which task this model performs.",
        ]
    detail = task.name + (f" {scale_phrase(ident)}" if ident.scale else "")
    part = ident.training_data
    if part and is_not_model(part):
        detail += f", trained on {part}"
    elif part:
        detail += f", with {part} as its backbone" if in_lexicon(part) else f", variant {part}"
    if found.basis != "code":
        detail += f", as its {found.basis} says"
    return [
        f"**{source.name}** [{source.id}]",
        f"- **Input:** {task.input}.",
        f"- **Model:** {ident.architecture or source.name} ({detail}): {'; '.join(task.steps)}.",
        f"- **Output:** {task.output}.",
    ]


def goal_sentence(call: Caller, question: str, max_tokens: int) -> str:
    """Return the question's own sentence that says what the user wants done.

    A 135M model's paraphrase of the goal read fluently and was often wrong (about one in
    five on the dev questions: "wants to read the weather forecast" for a text-to-speech
    request). So the model only chooses: the schema's ``enum`` holds the question's
    sentences, and the grammar lets it write nothing else. A one-sentence question needs
    no choice; a failed choice quotes the whole question.
    """
    options = tuple(dict.fromkeys(sentence.strip() for sentence in sentences(question) if sentence.strip()))
    if len(options) <= 1:
        return question
    choice = create_model("GoalChoice", sentence=(one_of(options), ...))
    listed = "\n".join(f"- {json.dumps(option, ensure_ascii=False)}" for option in options)
    budget = max(max_tokens, max(len(option) for option in options) // CHARS_PER_TOKEN + GOAL_JSON_TOKENS)
    request = Request(
        messages=load_template(GOAL_TEMPLATE).messages(sentences=listed),
        max_tokens=budget,
        schema=json_schema(choice),
    )
    try:
        return str(call.parsed(request, choice).sentence)  # type: ignore[attr-defined]
    except DraftFormatError:
        return question


def _task_section(fit: TaskFit, goal: str) -> list[str]:
    lines = [goal]
    first_task = next(iter(fit.model_tasks), None)
    if fit.question_task:
        lines.append(f"The question is about **{fit.question_task.name}**. {fit.question_task.describe}")
    elif first_task:
        lines.append(f"The recommended model addresses **{first_task.name}**. {first_task.describe}")
    if fit.fits is False and fit.question_task:
        names = ", ".join(source.name for source, _, found in fit.models if found.task)
        tasks = ", ".join(sorted({task.name for task in fit.model_tasks}))
        lines.append(
            f"Note: the recommended model ({names}) is built for {tasks}, not {fit.question_task.name}, "
            "so it does not directly answer this question; the workflow below shows what it does."
        )
    return lines


def _relevance(task: Task, question: str, asked: list[Task]) -> str:
    """Return what a recommended model of ``task`` does for the question, from its task alone: a
    generated "how this source helps" sentence was wrong in half the labelled dev answers."""
    if not asked:
        return f"it does {task.name}."
    if task.family not in {t.family for t in asked}:
        return f"it does {task.name}, not {' or '.join(t.name for t in asked)} (see the note in section 1)."
    return f"it does {serves(task, question, asked)}."


def _sources_section(spec: PromptSpec, fit: TaskFit) -> list[str]:
    asked = tasks_in_question(spec.question)
    model_tasks = {source.id: found.task for source, _, found in fit.models}
    lines = []
    for source in spec.sources:
        lines.append(source_line(source))
        finding = best_finding(source, spec.question)
        if finding:
            lines.append(f"  - Finding: {finding}")
        task = model_tasks.get(source.id)
        if task:
            lines.append(f"  - Relevance: {_relevance(task, spec.question, asked)}")
    return lines


def draft_scaffold(spec: PromptSpec, call: Caller, budget: int) -> Draft:
    """Return the scaffold draft of an answer to ``spec``; ``budget`` is the slot's."""
    warnings = []
    question = shorten(spec.question, QUESTION_CHARS)
    if question != spec.question:
        warnings.append(
            f"question shortened from {len(spec.question)} to {QUESTION_CHARS} characters for the model"
        )
    goal = f"In the user's words: “{goal_sentence(call, question, budget)}”"
    if spec.format == "workflow":
        markdown = render_workflow(spec, goal)
    else:
        fit = task_fit(spec)
        workflow: list[str] = []
        for model in fit.models:
            workflow += ["", *_model_lines(*model)] if workflow else _model_lines(*model)
        sources = _sources_section(spec, fit)
        no_model = ["The prompt recommends no model."]
        bodies = {"task": _task_section(fit, goal), "workflow": workflow or no_model, "sources": sources}
        markdown = render(spec.sections, bodies)
    versions = [load_template(GOAL_TEMPLATE).version]
    return Draft(markdown=markdown, template_versions=versions, warnings=warnings)
