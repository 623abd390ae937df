"""The ``fields`` strategy: one JSON-constrained generation gives the prose of the sections, citing by ID.

For servers that must be held to a schema; the renderer adds each source's exact links, and
the second format's diagram and module details come from the plan (:mod:`.workflow`).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, create_model

from ..backends import Request
from ..schemas import json_schema, one_of
from ..spec import PromptSpec
from ..templates import load_template
from .caller import Caller
from .plan import task_fit
from .render import Draft, clean_slot, render, source_line, sources_text, summaries_budget
from .workflow import render_workflow

PROMPT_TOKENS = 500
"""Tokens the fields prompt takes besides the summaries: instructions, schema and question (about 400
on the example prompts; the rest is room for the sources' name lines and the chat template)."""
TASK_CHARS, WORKFLOW_CHARS, NOTE_CHARS = 400, 900, 300

# The docstrings below are the schema's descriptions, which the model reads.


class SourceNote(BaseModel, extra="forbid"):
    """What one source contributes (``id`` is narrowed to the prompt's IDs by :func:`fields_draft_model`)."""

    id: str
    note: str = Field(max_length=NOTE_CHARS)


class FieldsDraft(BaseModel, extra="forbid"):
    """The model's reply: the prose of sections 1 and 2, and a note per source ID."""

    task: str = Field(max_length=TASK_CHARS)
    workflow: str = Field(max_length=WORKFLOW_CHARS)
    sources: list[SourceNote] = []


def fields_draft_model(spec: PromptSpec) -> type[FieldsDraft]:
    """Return :class:`FieldsDraft` narrowed to ``spec``: source IDs as an enum, at most one note each."""
    ids = [s.id for s in spec.sources]
    note = create_model("SourceNote", __base__=SourceNote, id=(one_of(ids), ...))
    return create_model(
        "FieldsDraft",
        __base__=FieldsDraft,
        sources=(list[note], Field(default=[], max_length=len(ids))),  # type: ignore[valid-type]
    )


def draft_fields(spec: PromptSpec, call: Caller, budget: int) -> Draft:
    model = fields_draft_model(spec)
    schema = json_schema(model)
    listed, warnings = sources_text(spec, summaries_budget(call.backend.n_ctx, budget + PROMPT_TOKENS))
    fit_note = (
        " Say plainly that the recommended model is built for another task."
        if task_fit(spec).fits is False
        else ""
    )
    template = load_template("fields")
    messages = template.messages(
        schema=json.dumps(schema), question=spec.question, sources=listed, fit_note=fit_note
    )
    reply = call.parsed(Request(messages=messages, max_tokens=budget, schema=schema), model)
    notes = {item.id: clean_slot(item.note) for item in reply.sources if item.note.strip()}  # no empty items
    if spec.format == "workflow":
        markdown = render_workflow(spec, prose={"task": reply.task, "overview": reply.workflow}, notes=notes)
    else:
        sources = []
        for source in spec.sources:
            sources += [source_line(source), *([f"  - {notes[source.id]}"] if notes.get(source.id) else [])]
        bodies = {"task": [reply.task.strip()], "workflow": [reply.workflow.strip()], "sources": sources}
        markdown = render(spec.sections, bodies)
    return Draft(markdown, [template.version], warnings=warnings)
