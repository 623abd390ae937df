"""Image and video tasks: find the task of a model identifier or a question, from data/tasks.json.

The dataset's identifiers read ``<Task>-[<Scale>-]<Architecture>-<TrainingData>``
(``Deblur-MSSNet-GoPro``, ``SISR-Any-LIIF-EDSR``): the first part is a task code.
A question is matched on keywords, tasks in file order (specific before general).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files

_SCALE = re.compile(r"^(?:x\d+(?:\.\d+)?|\d+(?:\.\d+)?x|any|arbitrary|multi)$", re.I)


@dataclass(frozen=True)
class Task:
    """One task of the lexicon: what it is, what a model for it takes and gives."""

    key: str
    name: str
    codes: tuple[str, ...]
    keywords: tuple[str, ...]
    media: str
    input: str
    output: str
    steps: tuple[str, ...]
    describe: str

    @property
    def family(self) -> str:
        """Return the kind of task, with image/video and synthetic/real variants as one."""
        return _FAMILIES.get(self.key, self.key)


# Variants of one task: a video SR model answers an upscaling question.
_FAMILIES = {
    "sisr": "super_resolution",
    "video_sr": "super_resolution",
    "real_sr": "super_resolution",
    "face_restoration": "face_restoration",
    "video_deblur": "deblurring",
    "real_denoising": "denoising",
}


@dataclass(frozen=True)
class Identifier:
    """A dataset model identifier split into its parts."""

    text: str
    task: Task | None
    scale: str | None
    architecture: str | None
    training_data: str | None


def _load() -> tuple[Task, ...]:
    data = json.loads(files("cnaps_rag").joinpath("data", "tasks.json").read_text(encoding="utf-8"))
    return tuple(
        Task(
            key=t["key"],
            name=t["name"],
            codes=tuple(t["codes"]),
            keywords=tuple(t["keywords"]),
            media=t["media"],
            input=t["input"],
            output=t["output"],
            steps=tuple(t["steps"]),
            describe=t["describe"],
        )
        for t in data["tasks"]
    )


TASKS: tuple[Task, ...] = _load()
_BY_CODE = {code.lower(): task for task in TASKS for code in task.codes}


def task_by_code(code: str) -> Task | None:
    """Return the task an identifier's task code stands for, or None."""
    return _BY_CODE.get(code.lower())


def parse_identifier(name: str) -> Identifier:
    """Return the parts of a model identifier; parts it lacks are None."""
    parts = [p for p in name.strip().split("-") if p]
    if " " in name.strip() or len(parts) < 2:
        return Identifier(name, None, None, None, None)
    task = task_by_code(parts[0])
    rest = parts[1:] if task else parts
    scale = rest[0] if len(rest) > 1 and _SCALE.match(rest[0]) else None
    if scale:
        rest = rest[1:]
    # The last part is the training data (GoPro) or, as in LIIF-EDSR, a backbone;
    # the rest is the architecture.
    architecture = "-".join(rest[:-1]) if len(rest) > 1 else (rest[0] if rest else None)
    training = rest[-1] if len(rest) > 1 else None
    return Identifier(name, task, scale, architecture, training)


def tasks_in_question(question: str) -> list[Task]:
    """Return every task whose keywords occur in the question, most specific first."""
    text = question.lower()
    return [task for task in TASKS if any(keyword in text for keyword in task.keywords)]


def task_from_question(question: str) -> Task | None:
    """Return the first task whose keywords occur in the question, or None."""
    found = tasks_in_question(question)
    return found[0] if found else None
