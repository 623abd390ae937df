"""The scaffold of the second prompt format, built from the plan (:mod:`.plan`).

Core Task (the goal and its sub-goals), the workflow's overview, a text diagram whose boxes are
the models used (arrows, parallel branches and their merge), each module's task, input and output,
and a justification with each source's exact links: all written from the prompt and the task
lexicon, so no sentence claims what the sources do not say.
"""

from __future__ import annotations

from ..spec import PromptSpec
from ..tasks import Identifier
from .plan import (
    LeftOut,
    Module,
    Plan,
    Step,
    best_finding,
    plan_workflow,
    scale_phrase,
    serves,
)
from .render import render, source_line


def _label(module: Module) -> str:
    return f"{module.source.id} {module.source.name} · {module.task.name}"


def _basis(module: Module) -> str:
    if module.basis == "code":
        return f"its task code {module.evidence}"
    return f"its own {module.basis}" + (f" (“{module.evidence}”)" if module.evidence else "")


def describe_identifier(ident: Identifier) -> str:
    """Return what the parts of an identifier say besides the task ("" when nothing)."""
    parts = []
    if ident.host:
        by = f" by {ident.owner}" if ident.owner else ""
        parts.append(f"{ident.architecture or 'a model'}{by} on {ident.host}")
    elif ident.style:
        parts.append(f"a fine-tuned {ident.architecture} checkpoint, style {ident.style}")
    elif ident.architecture:
        parts.append(ident.architecture)
    if ident.scale:
        parts.append(scale_phrase(ident))
    if ident.training_data:
        parts.append(f"variant {ident.training_data}")
    return ", ".join(parts)


def _core_task(plan: Plan, goal_sentence: str) -> list[str]:
    lines = [goal_sentence] if goal_sentence else []
    if plan.goal:
        names = ", ".join(f"**{task.name}**" for task in plan.goal)
        lines.append(f"The question asks for {names}. Sub-goals:")
        lines.append("")
        lines += [f"- **{task.name}**: {task.describe}" for task in plan.goal]
    else:
        lines.append(
            "The question names no task the lexicon knows, so the workflow uses every recommended "
            "model whose task is known."
        )
    if plan.goal and not plan.modules:
        asked = ", ".join(task.name for task in plan.goal)
        lines += ["", f"Note: none of the recommended models is built for {asked}."]
    by_task: dict[str, list[LeftOut]] = {}
    for item in plan.left_out:
        by_task.setdefault(item.task.name if item.task else "", []).append(item)
    notes = []
    for task_name, items in by_task.items():
        names = " and ".join(f"{item.source.name} [{item.source.id}]" for item in items)
        if task_name:
            one = len(items) == 1
            notes.append(
                f"Note: {names} {'is' if one else 'are'} built for {task_name}, not for what the question "
                f"asks, so the workflow leaves {'it' if one else 'them'} out."
            )
        else:
            notes.append(f"Note: the sources do not say which task {names} performs; it is left out.")
    return lines + (["", *notes] if notes else [])


def _overview(plan: Plan) -> list[str]:
    if not plan.modules:
        return [
            "No workflow can be built from the provided models for this request: none of them does "
            "what the question asks. Section C lists what each one does instead."
        ]
    text = [f"In flows {plan.input}."]
    for number, step in enumerate(plan.chain):
        lead = "First" if number == 0 else "Then"
        if step.parallel:
            names = " and ".join(f"{m.source.name} [{m.source.id}]" for m in step.modules)
            text.append(
                f"{lead} it branches: {names} each run {step.task.name} on it in parallel, and a "
                f"selection or fusion step merges their results into one."
            )
        else:
            module = step.modules[0]
            text.append(
                f"{lead}, {module.source.name} [{module.source.id}] runs {step.task.name}: "
                f"it gives {step.task.output}."
            )
    for step in plan.branches:
        names = " and ".join(f"{m.source.name} [{m.source.id}]" for m in step.modules)
        text.append(
            f"Beside the chain, {names} reads the result for {step.task.name} and gives {step.task.output}."
        )
    outputs = [plan.output] if plan.output else []
    outputs += [step.task.output for step in plan.branches]
    text.append("Out comes " + "; and ".join(outputs) + ".")
    lines = [" ".join(text)]
    if plan.left_out:
        ids = ", ".join(f"{item.source.name} [{item.source.id}]" for item in plan.left_out)
        why = "the reason is" if len(plan.left_out) == 1 else "the reason for each is"
        lines += ["", f"Not used: {ids} ({why} in C)."]
    return lines


def _box(text: str, width: int = 0) -> str:
    return f"[ {text.ljust(width)} ]"


def _parallel(step: Step, indent: str) -> list[str]:
    labels = [_label(m) for m in step.modules]
    width = max(len(label) for label in labels)
    rows = []
    for number, label in enumerate(labels):
        last = number == len(labels) - 1
        elbow = "└──▶ " if last else "├──▶ "
        join = "──┘" if last else ("──┐" if number == 0 else "──┤")
        rows.append(f"{indent}{elbow}{_box(label, width)}{join}")
    column = len(rows[0]) - 1
    rows.append(" " * column + "│")
    rows.append(f"{indent}┌{'─' * (column - len(indent) - 1)}┘")
    rows.append(f"{indent}▼")
    rows.append(_box(f"Select or fuse: one {step.task.name} result"))
    return rows


def _diagram(plan: Plan) -> list[str]:
    if not plan.modules:
        rows = ["[ Input: the user's request ]", "    │", "    ▼", "[ no provided model does this ]"]
        return ["```text", *rows, "```"]
    indent = "        "
    rows = [_box(f"Input: {plan.input}")]
    for step in plan.chain:
        rows.append(f"{indent}│")
        if step.parallel:
            rows += _parallel(step, indent)
        else:
            rows += [f"{indent}▼", _box(_label(step.modules[0]))]
    for step in plan.branches:
        rows.append(f"{indent}│")
        for module in step.modules:
            rows.append(f"{indent}├──▶ {_box(_label(module))} ──▶ ({step.task.output})")
    if plan.output:
        rows += [f"{indent}│", f"{indent}▼", _box(f"Output: {plan.output}")]
    return ["```text", *rows, "```"]


def _module_lines(module: Module) -> list[str]:
    task, what = module.task, describe_identifier(module.ident)
    return [
        f"**{module.source.name}** [{module.source.id}]",
        f"- **Task:** {task.name} (read from {_basis(module)}){': ' + what if what else ''}.",
        f"- **Input:** {task.input}.",
        f"- **Processing:** {'; '.join(task.steps)}.",
        f"- **Output:** {task.output}.",
    ]


def _module_details(plan: Plan) -> list[str]:
    lines: list[str] = []
    for step in plan.steps:
        for module in step.modules:
            lines += ["", *_module_lines(module)] if lines else _module_lines(module)
        if step.parallel:
            ids = ", ".join(m.source.id for m in step.modules)
            lines += [
                "",
                f"**Selection or fusion** (after {ids})",
                f"- **Input:** the {len(step.modules)} {step.task.name} results.",
                f"- **Output:** one {step.task.name} result, chosen among them or fused from them.",
            ]
    for item in plan.left_out:
        lines += [""] if lines else []
        lines.append(f"**{item.source.name}** [{item.source.id}] — not used: {item.reason}.")
    return lines


def _justification(spec: PromptSpec, plan: Plan, notes: dict[str, str]) -> list[str]:
    """Return each source with its links, a model's note on it, its use in the plan and its finding."""
    used = {module.source.id: module for module in plan.modules}
    left = {item.source.id: item for item in plan.left_out}
    lines = []
    for source in spec.sources:
        lines.append(source_line(source))
        if notes.get(source.id):
            lines.append(f"  - {notes[source.id]}")
        if source.id in used:
            lines.append(f"  - Used for {serves(used[source.id].task, spec.question, plan.goal)}.")
        elif source.id in left:
            lines.append("  - Not used in the workflow (the reason is in C).")
        finding = best_finding(source, spec.question)
        if finding:
            lines.append(f"  - Finding: {finding}")
    return lines


def render_workflow(
    spec: PromptSpec, goal: str = "", prose: dict[str, str] | None = None, notes: dict[str, str] | None = None
) -> str:
    """Return a second-format answer; a model's ``prose`` (``task``, ``overview``) replaces those
    sections' scaffold, and its ``notes`` (per source ID) go under the sources they are about."""
    plan = plan_workflow(spec)
    bodies = {
        "task": _core_task(plan, goal),
        "overview": _overview(plan),
        "diagram": _diagram(plan),
        "modules": _module_details(plan),
        "justification": _justification(spec, plan, notes or {}),
    }
    for key, text in (prose or {}).items():
        if text.strip():
            bodies[key] = [text.strip()]
    return render(spec.sections, bodies)
