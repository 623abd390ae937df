"""Which task the question asks about, which the recommended models do, and whether they fit."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import PromptSpec, Source
from ..tasks import Identifier, Task, TaskResult, model_task, parse_identifier, tasks_in_question


@dataclass(frozen=True)
class TaskFit:
    """The question's task, the recommended sources with their parsed identifiers, and whether they fit."""

    question_task: Task | None
    recommended: list[tuple[Source, Identifier]]
    fits: bool | None
    """Whether a recommended model's task is the question's (None when either is unknown)."""
    found: list[TaskResult]
    """Each recommended model's own task (:func:`cnaps_rag.tasks.model_task`), in prompt order."""

    @property
    def model_tasks(self) -> list[Task]:
        """Return the tasks of the recommended models whose task is known (never the question's)."""
        return [result.task for result in self.found if result.task]


def task_fit(spec: PromptSpec) -> TaskFit:
    """Return what the question asks about and whether the recommended models do that."""
    asked = tasks_in_question(spec.question)
    question_task = asked[0] if asked else None
    recommended = [(s, parse_identifier(s.name)) for s in spec.recommended]
    found = [model_task(s) for s in spec.recommended]
    model_tasks = [result.task for result in found if result.task]
    if not asked or not model_tasks:
        fits = None
    else:
        families = {t.family for t in asked}
        fits = any(t.family in families for t in model_tasks)
        if fits:
            # Name the task as the model's own variant of it: video super-resolution, not SISR.
            question_task = next(t for t in model_tasks if t.family in families)
    return TaskFit(question_task, recommended, fits, found)
