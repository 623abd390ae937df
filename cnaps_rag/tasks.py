"""Image, video, text and audio tasks, from data/tasks.json: a model's task and a question's tasks.

The dataset's identifiers read ``<Task>-[<Scale>-]<Architecture>-<TrainingData>``
(``Deblur-MSSNet-GoPro``, ``SISR-Any-LIIF-EDSR``, ``SISR-IMDN-4x``): the first part is a task
code. Some name a hub and an owner (``Classification-HuggingFace-<owner>-<model>``), some are
fine-tuned checkpoints of a base model with a style name (``Txt2Img-StableDiffusionV1-<style>``,
``NST-fast-neural-style-<style>``), and some recommended "models" are paper titles.

A model's task comes from the model only (:func:`model_task`): its task code, else its own
title, else its own summary, else it is unknown. The question's tasks are found separately
(:func:`tasks_in_question`), on keywords, tasks in file order (specific before general).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from .spec import Source

_SCALE = re.compile(r"^(?:x\d+(?:\.\d+)?|\d+(?:\.\d+)?x|any|arbitrary|multi)$", re.I)

Basis = Literal["code", "title", "summary", "unknown"]


@dataclass(frozen=True)
class Task:
    """One task of the lexicon (data/tasks.json): what it is, what a model for it takes and gives."""

    key: str
    name: str
    family: str
    """The kind of task, with image/video and synthetic/real variants as one (a video SR model
    answers an upscaling question)."""
    kind: Literal["transform", "generate", "analyse"]
    """How the task joins a workflow: ``transform`` (same medium in and out, chained by stage),
    ``generate`` (makes the medium from another: text to image) or ``analyse`` (reads the medium
    and gives masks, keypoints or labels beside it: a side branch)."""
    stage: int
    """Where a ``transform`` runs in a chain: noise and weather out before deblurring, before
    enhancement, before enlarging, before restyling."""
    codes: tuple[str, ...]
    keywords: tuple[str, ...]
    """Lower-case word starts that show a question asks for this task."""
    title_terms: tuple[str, ...]
    """Lower-case word starts that show a model's own title or summary is about this task."""
    refine: tuple[tuple[str, str], ...]
    """(part of an identifier after the code, key of the more specific task it names)."""
    bases: tuple[str, ...]
    """Base models whose fine-tuned checkpoints add a style name after them."""
    input: str
    output: str
    steps: tuple[str, ...]
    describe: str


@dataclass(frozen=True)
class Identifier:
    """A dataset model identifier split into its parts; parts it lacks are None."""

    text: str
    task: Task | None
    scale: str | None
    architecture: str | None
    training_data: str | None
    host: str | None = None
    """A model hub the identifier names (``HuggingFace``), and the account that published it."""
    owner: str | None = None
    style: str | None = None
    """The style name of a fine-tuned checkpoint (``Realisian``, ``candy``): not a task."""


@dataclass(frozen=True)
class TaskResult:
    task: Task | None
    basis: Basis
    evidence: str | None = None
    """The task code, or the title/summary words that named the task."""


def _task(row: dict[str, Any]) -> Task:
    lists = {k: tuple(v) for k, v in row.items() if isinstance(v, list)}
    return Task(**{**row, **lists, "refine": tuple(row["refine"].items())})


_DATA = json.loads(files("cnaps_rag").joinpath("data", "tasks.json").read_text(encoding="utf-8"))
TASKS = tuple(_task(row) for row in _DATA["tasks"])
_OWNERS: tuple[str, ...] = tuple(_DATA["owners"])
_BY_CODE = {code.lower(): task for task in TASKS for code in task.codes}
_BY_KEY = {task.key: task for task in TASKS}
_HOST_KEYS = {host.lower() for host in _DATA["hosts"]}


def task_by_code(code: str) -> Task | None:
    return _BY_CODE.get(code.lower())


def _refined(task: Task, rest: list[str]) -> tuple[Task, str | None]:
    """Return the more specific task a part of the identifier names (``DeHaze``), and that part."""
    joined = "-".join(rest).lower()
    for part, key in task.refine:
        # Restoration-SwinIR-Jpeg10: a part may carry a number after the word.
        if any(p.lower().startswith(part) for p in rest) or ("-" in part and part in joined):
            return _BY_KEY[key], part
    return task, None


def _hub_parts(rest: list[str]) -> tuple[str, str | None, str | None]:
    """Return (host, owner, model) of the parts after the task code of a hub identifier."""
    host, after = rest[0], rest[1:]
    joined = "-".join(after)
    for owner in _OWNERS:
        if joined.lower().startswith(owner.lower() + "-"):
            return host, joined[: len(owner)], joined[len(owner) + 1 :] or None
    if len(after) < 2:
        return host, None, joined or None
    return host, after[0], "-".join(after[1:])


def parse_identifier(name: str) -> Identifier:
    parts = [p for p in name.strip().split("-") if p]
    if " " in name.strip() or len(parts) < 2:
        return Identifier(name, None, None, None, None)
    task = task_by_code(parts[0])
    rest = parts[1:] if task else parts
    if task is None:
        return _plain_identifier(name, None, rest)
    task, variant = _refined(task, rest)
    if len(rest) >= 2 and rest[0].lower() in _HOST_KEYS:
        host, owner, model = _hub_parts(rest)
        return Identifier(name, task, None, model, None, host=host, owner=owner)
    lowered = "-".join(rest).lower()
    for base in task.bases:
        if lowered.startswith(base.lower() + "-"):
            style = "-".join(rest)[len(base) + 1 :]
            return Identifier(name, task, None, "-".join(rest)[: len(base)], None, style=style)
    if variant and rest[-1].lower() == variant and len(rest) > 1:
        # WeatherRemoval-CLAIO-DeHaze: the last part named the task; it is not training data.
        return Identifier(name, task, None, "-".join(rest[:-1]), None)
    if variant and "-" in variant:
        # Enhancement-low-light-img-enhancer: a name in words, not architecture plus training data.
        return Identifier(name, task, None, "-".join(rest), None)
    return _plain_identifier(name, task, rest)


def _plain_identifier(name: str, task: Task | None, rest: list[str]) -> Identifier:
    if len(rest) > 1 and _SCALE.match(rest[-1]) and not _SCALE.match(rest[0]):
        # SISR-IMDN-4x: a scale at the end follows the whole architecture name.
        return Identifier(name, task, rest[-1], "-".join(rest[:-1]), None)
    scale = rest[0] if len(rest) > 1 and _SCALE.match(rest[0]) else None
    if scale:
        rest = rest[1:]
    # The last part is the training data (GoPro) or, as in LIIF-EDSR, a backbone;
    # the rest is the architecture.
    architecture = "-".join(rest[:-1]) if len(rest) > 1 else (rest[0] if rest else None)
    training = rest[-1] if len(rest) > 1 else None
    return Identifier(name, task, scale, architecture, training)


@cache
def _term_pattern(term: str) -> re.Pattern[str]:
    # Word starts only: "rains" must not match "trains", "rainy" must not match "grainy". A term
    # that opens with a space or a digit-free symbol (" pose ") sets its own boundary.
    return re.compile((r"(?<![^\W_])" if term[:1].isalnum() else "") + re.escape(term), re.I)


def _tasks_named(text: str) -> list[tuple[Task, str]]:
    """Return each task whose title terms start a word of ``text``, in lexicon order, with the term."""
    found = []
    for task in TASKS:
        term = next((t for t in task.title_terms if _term_pattern(t).search(text)), None)
        if term:
            found.append((task, term))
    return found


def model_task(source: Source | str) -> TaskResult:
    """Return a model's task, read from the model alone, never from the question.

    From its identifier's task code; else from its own title (a recommended "model" that
    is a paper title); else from its own summary, when the summary names exactly one kind
    of task; else the task is unknown.
    """
    name = source if isinstance(source, str) else source.name
    summary = None if isinstance(source, str) else source.summary
    ident = parse_identifier(name)
    if ident.task is not None:
        return TaskResult(ident.task, "code", name.split("-", 1)[0])
    if " " in name.strip():
        named = _tasks_named(name)
        if named:
            return TaskResult(named[0][0], "title", named[0][1])
    if summary:
        named = _tasks_named(summary)
        if named and len({task.family for task, _ in named}) == 1:
            return TaskResult(named[0][0], "summary", named[0][1])
    return TaskResult(None, "unknown")


def tasks_in_question(question: str) -> list[Task]:
    """Return every task whose keywords occur in the question, most specific first (file order)."""
    return [task for task in TASKS if any(_term_pattern(k).search(question) for k in task.keywords)]
