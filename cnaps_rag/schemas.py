"""JSON schemas built from pydantic models, and the subset OpenAI's strict structured outputs accept.

A draft's reply is described once, as a pydantic model (source IDs as a ``Literal`` of the
prompt's own IDs, lengths as ``Field(max_length=...)``); :func:`json_schema` turns it into a
self-contained schema: ``$ref`` inlined, titles and defaults dropped, and every object closed
(``additionalProperties: false``) with every property in ``required``, at every level, which
OpenAI's ``strict: true`` demands and llama.cpp's grammar honours.

OpenAI's strict mode also refuses some keywords. Which ones is not in one stable place: the
OpenAI guide has changed over time, and the openai SDK's own ``to_strict_json_schema`` does not
strip any. We follow pydantic-ai's OpenAI transformer (``profiles/openai.py``,
``_STRICT_INCOMPATIBLE_KEYS``), which tracks what the API refuses: ``minLength`` and
``maxLength`` are refused, ``minItems``, ``maxItems``, ``enum``, ``minimum`` and ``maximum``
are accepted. :func:`openai_strict` moves each refused keyword into the node's ``description``
(the model still reads the bound, and the pydantic model checks it on receipt), so the strict
request is accepted instead of falling back to plain JSON; llama.cpp's server keeps the full
schema, lengths included, since its grammar enforces them. The tests walk each schema the package
sends with an oracle of these rules (``tests/strict_schema.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

STRICT_REFUSED = (
    "minLength",
    "maxLength",
    "patternProperties",
    "unevaluatedProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
)
"""Keywords OpenAI's strict mode refuses (pydantic-ai's ``_STRICT_INCOMPATIBLE_KEYS``)."""


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return ``model``'s JSON schema, self-contained and closed at every level.

    ``$ref`` is inlined, ``title`` and ``default`` are dropped, ``const`` becomes a one-value
    ``enum``, and every object gets ``additionalProperties: false`` and all its properties in
    ``required``. Length constraints stay (see :func:`openai_strict` for OpenAI).
    """
    raw = model.model_json_schema()
    definitions = raw.pop("$defs", {})
    return _closed(raw, definitions)


def _closed(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        merged = {**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _closed(merged, definitions)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "default"):
            continue
        if key == "properties":
            out[key] = {name: _closed(sub, definitions) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            out[key] = _closed(value, definitions)
        elif key in ("anyOf", "allOf", "oneOf"):
            out["anyOf" if key == "oneOf" else key] = [_closed(sub, definitions) for sub in value]
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if out.get("type") == "object":
        out.setdefault("properties", {})
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    # "type" first, so that a schema quoted in a prompt reads from what it is.
    return dict(sorted(out.items(), key=lambda item: item[0] != "type"))


def openai_strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``schema`` that OpenAI's strict mode accepts.

    Objects are closed as by :func:`json_schema` (so a hand-written schema is accepted too), and
    each keyword of :data:`STRICT_REFUSED` is removed and said in the node's ``description``
    (``maxLength 400`` becomes "at most 400 characters").
    """
    result = copy.deepcopy(schema)
    definitions = result.pop("$defs", {})
    result = _closed(result, definitions)
    _move_refused(result)
    return result


def _move_refused(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _move_refused(item)
        return
    if not isinstance(node, dict):
        return
    notes = []
    for key in STRICT_REFUSED:
        if key in node:
            value = node.pop(key)
            if key == "maxLength":
                notes.append(f"at most {value} characters")
            elif key == "minLength":
                notes.append(f"at least {value} characters")
            else:
                notes.append(f"{key} {value}")
    if notes:
        described = node.get("description", "")
        node["description"] = (described + " " if described else "") + "(" + "; ".join(notes) + ")"
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for sub in value.values():
                _move_refused(sub)
        elif key in ("items", "anyOf", "allOf"):
            _move_refused(value)


def one_of(values: Sequence[str]) -> Any:
    """Return the type ``Literal[*values]``: its JSON schema is an ``enum`` of ``values``."""
    if not values:
        raise ValueError("one_of needs at least one value")
    return Literal.__getitem__(tuple(values))
