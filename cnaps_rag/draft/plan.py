"""Plan a workflow from the prompt alone: which recommended models serve the goal, in which order.

A model's task comes from the model (:func:`cnaps_rag.tasks.model_task`), the goal from the
question (:func:`cnaps_rag.tasks.tasks_in_question`). A model is used when its task is one the
question asks for (same family); when the question names no task the lexicon knows, every model
with a known task is used. The others are left out with a one-line reason; a model whose task
is unknown is never placed in the workflow.

Order follows from the tasks: models of one task are parallel variants, merged by a selection
or fusion step; ``transform`` tasks chain by stage (noise and weather out before deblurring,
before enhancement, before enlarging, before restyling); ``analyse`` tasks (segmentation,
pose, detection) branch off the chain's result and join the output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..spec import PromptSpec, Source
from ..tasks import Identifier, Task, model_task, parse_identifier, tasks_in_question
from ..text import sentences, shorten

CLAUSE_CHARS = 140
"""The longest stretch of the question quoted as what a module serves."""
# Punctuation only: a keyword may hold "and" ("indoor and outdoor").
_CLAUSE_BREAK = re.compile(r"\s*[,;:—–]\s*")


@dataclass(frozen=True)
class Module:
    """A recommended model placed in the workflow, with the task it was read to have."""

    source: Source
    ident: Identifier
    task: Task
    basis: str
    """Where the task was read: ``code``, ``title`` or ``summary``."""
    evidence: str | None = None
    """The task code, or the words of the title or summary that named the task."""


@dataclass(frozen=True)
class Step:
    """One stage: a single module, or parallel variants of one task merged by selection or fusion."""

    task: Task
    modules: tuple[Module, ...]

    @property
    def parallel(self) -> bool:
        """Return whether the step runs several variants side by side."""
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
        """Return every step, the chain's first, then the branches."""
        return self.chain + self.branches

    @property
    def modules(self) -> list[Module]:
        """Return the modules the workflow uses, in workflow order."""
        return [module for step in self.steps for module in step.modules]

    @property
    def input(self) -> str | None:
        """Return what flows in: the first step's input."""
        first = self.chain[0] if self.chain else (self.branches[0] if self.branches else None)
        return first.task.input if first else None

    @property
    def output(self) -> str | None:
        """Return what comes out of the chain (the branches add their own outputs)."""
        return self.chain[-1].task.output if self.chain else None


def _reason(task: Task | None, goal: tuple[Task, ...]) -> str:
    if task is None:
        return "the sources do not say which task this model performs, so it has no place in the workflow"
    asked = ", ".join(t.name for t in goal)
    return f"it does {task.name}, which the question does not ask for ({asked})"


def plan_workflow(spec: PromptSpec) -> Plan:
    """Return the workflow plan for ``spec``'s recommended models and question."""
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


def request_for(task: Task, goal: tuple[Task, ...] | list[Task]) -> str:
    """Return how a model's task meets the question's: "which the question asks for", or the
    question's own variant when they differ within a family (a low-light enhancer for a
    brightness request)."""
    if any(t.key == task.key for t in goal):
        return "which the question asks for"
    kin = [t.name for t in goal if t.family == task.family]
    return f"serving the question's request for {' and '.join(kin)}" if kin else "which the question asks for"
