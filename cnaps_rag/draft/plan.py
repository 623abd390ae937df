"""Which task the question asks about, which the recommended models do, and the workflow they make.

A model's task comes from the model (:func:`cnaps_rag.tasks.model_task`), never from the question.
A model is used when its task is one the question asks for (same family), or, when the question
names no task the lexicon knows, when its task is known; the others are left out with a reason.
Models of one task are parallel variants merged by a selection or fusion step; ``transform``
tasks chain by stage; ``analyse`` tasks (segmentation, pose, detection) branch off the chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from ..links import find_links
from ..spec import PromptSpec, Source
from ..tasks import Identifier, Task, TaskResult, model_task, parse_identifier, tasks_in_question
from ..text import sentences, shorten

CLAUSE_CHARS = 140
"""The longest stretch of the question quoted as what a module serves."""
FINDING_CHARS = (30, 400)
"""Shortest and longest summary sentence quoted as a finding: shorter are fragments, longer run-ons."""
# Punctuation only: a keyword may hold "and" ("indoor and outdoor").
_CLAUSE_BREAK = re.compile(r"\s*[,;:—–]\s*")


@dataclass(frozen=True)
class Module:
    """A recommended model placed in the workflow, with the task it was read to have."""

    source: Source
    ident: Identifier
    task: Task
    basis: str
    """Where the task was read: ``code``, ``title`` or ``summary``; ``evidence``: the code or words."""
    evidence: str | None = None


@dataclass(frozen=True)
class Step:
    """One stage: a single module, or parallel variants of one task merged by selection or fusion."""

    task: Task
    modules: tuple[Module, ...]

    @property
    def parallel(self) -> bool:
        return len(self.modules) > 1


@dataclass(frozen=True)
class LeftOut:
    """A recommended model the workflow does not use, and why."""

    source: Source
    task: Task | None
    reason: str


@dataclass(frozen=True)
class Plan:
    """The question's tasks, the chain, the side branches and the models left out."""

    goal: tuple[Task, ...]
    chain: tuple[Step, ...]
    branches: tuple[Step, ...]
    left_out: tuple[LeftOut, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.chain + self.branches

    @property
    def modules(self) -> list[Module]:
        return [module for step in self.steps for module in step.modules]

    @property
    def input(self) -> str | None:
        first = self.chain[0] if self.chain else (self.branches[0] if self.branches else None)
        return first.task.input if first else None

    @property
    def output(self) -> str | None:
        """What comes out of the chain (the branches add their own outputs)."""
        return self.chain[-1].task.output if self.chain else None


def _reason(task: Task | None, goal: tuple[Task, ...]) -> str:
    if task is None:
        return "the sources do not say which task this model performs, so it has no place in the workflow"
    asked = ", ".join(t.name for t in goal)
    return f"it does {task.name}, which the question does not ask for ({asked})"


def plan_workflow(spec: PromptSpec) -> Plan:
    goal = tuple(tasks_in_question(spec.question))
    families = {task.family for task in goal}
    used: list[Module] = []
    left_out: list[LeftOut] = []
    for source in spec.recommended:
        found = model_task(source)
        if found.task is not None and (not goal or found.task.family in families):
            ident = parse_identifier(source.name)
            used.append(Module(source, ident, found.task, found.basis, found.evidence))
        else:
            left_out.append(LeftOut(source, found.task, _reason(found.task, goal)))
    groups: dict[str, list[Module]] = {}
    for module in used:
        groups.setdefault(module.task.key, []).append(module)
    steps = [Step(modules[0].task, tuple(modules)) for modules in groups.values()]
    chain = sorted((s for s in steps if s.task.kind != "analyse"), key=lambda s: s.task.stage)
    branches = [s for s in steps if s.task.kind == "analyse"]
    if not chain:
        # Nothing to branch off: the analyses are the workflow's main path.
        chain, branches = branches, []
    return Plan(goal, tuple(chain), tuple(branches), tuple(left_out))


def served_clause(question: str, task: Task) -> str | None:
    """Return the stretch of the question that asks for ``task`` or its family, or None."""
    keywords = [k for t in tasks_in_question(question) if t.family == task.family for k in t.keywords]
    for sentence in sentences(question) or [question]:
        for clause in _CLAUSE_BREAK.split(sentence):
            lowered = clause.lower()
            if any(keyword in lowered for keyword in (*task.keywords, *keywords)):
                # Quotes inside the question would nest in the quoted clause: drop them.
                clause = re.sub(r"[\"“”]", "", clause).strip(" .?!'")
                # "and it created a smooth depth map": the joining word belongs to the sentence.
                clause = re.sub(r"^(?:and|but|so|then|or)\s+", "", clause, flags=re.I)
                return shorten(clause, CLAUSE_CHARS)
    return None


def best_finding(source: Source, question: str) -> str | None:
    """Return the summary sentence closest to the question (token-set similarity), or None."""
    shortest, longest = FINDING_CHARS
    # The summary's own links are untrusted: never quote a sentence that carries one.
    candidates = [
        s
        for s in sentences(" ".join((source.summary or "").split()))
        if shortest <= len(s) <= longest and not find_links(s)
    ]
    return max(candidates, key=lambda s: fuzz.token_set_ratio(question.lower(), s.lower()), default=None)


def serves(task: Task, question: str, goal: tuple[Task, ...] | list[Task]) -> str:
    """Return how a model's task meets the question's: "TASK, which the question asks for", or the
    question's own variant when they differ within a family (a low-light enhancer for a brightness
    request), and the stretch of the question it serves, quoted."""
    kin = [t.name for t in goal if t.family == task.family]
    if kin and not any(t.key == task.key for t in goal):
        meets = f"serving the question's request for {' and '.join(kin)}"
    else:
        meets = "which the question asks for"
    clause = served_clause(question, task)
    return f"{task.name}, {meets}" + (f" (“{clause}”)" if clause else "")


@dataclass(frozen=True)
class TaskFit:
    """The question's task, each recommended model with its identifier and own task, and whether they
    fit: a recommended model's task is the question's (None when either is unknown)."""

    question_task: Task | None
    models: list[tuple[Source, Identifier, TaskResult]]
    fits: bool | None

    @property
    def model_tasks(self) -> list[Task]:
        return [found.task for _, _, found in self.models if found.task]


def task_fit(spec: PromptSpec) -> TaskFit:
    asked = tasks_in_question(spec.question)
    models = [(s, parse_identifier(s.name), model_task(s)) for s in spec.recommended]
    tasks = [found.task for _, _, found in models if found.task]
    # A fitting model names the task as its own variant of it: video super-resolution, not SISR.
    kin = [t for t in tasks if t.family in {a.family for a in asked}]
    question_task = kin[0] if kin else next(iter(asked), None)
    return TaskFit(question_task, models, bool(kin) if asked and tasks else None)


def scale_phrase(ident: Identifier) -> str:
    if not ident.scale:
        return ""
    return (
        "at an arbitrary scale" if ident.scale.lower() in {"any", "arbitrary"} else f"at scale {ident.scale}"
    )
