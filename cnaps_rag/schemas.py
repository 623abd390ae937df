"""JSON schemas from pydantic models: closed at every level, and the subset OpenAI's strict mode accepts.

Which keywords strict mode refuses follows pydantic-ai's OpenAI transformer
(``_STRICT_INCOMPATIBLE_KEYS``); tests walk every schema the package sends through an oracle
of those rules (``tests/strict_schema.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

STRICT_REFUSED = (
    *("minLength", "maxLength", "patternProperties", "unevaluatedProperties", "propertyNames"),
    *("minProperties", "maxProperties", "unevaluatedItems", "contains", "minContains", "maxContains"),
    "uniqueItems",
)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return ``model``'s JSON schema, self-contained and closed at every level (OpenAI's ``strict:
    true`` demands it; llama.cpp's grammar honours it): every object allows no other properties and
    requires all its own."""
    raw = model.model_json_schema()
    return _closed(raw, raw.pop("$defs", {}))


def _closed(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _closed({**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}, definitions)
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
    """Return a closed copy of ``schema`` with each keyword strict mode refuses moved into the node's
    ``description`` ("at most 400 characters"): the model still reads the bound, pydantic checks it."""
    result = copy.deepcopy(schema)
    result = _closed(result, result.pop("$defs", {}))
    _move_refused(result)
    return result


def _move_refused(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _move_refused(item)
    if not isinstance(node, dict):
        return
    said = {"maxLength": "at most {} characters", "minLength": "at least {} characters"}
    notes = [said.get(key, key + " {}").format(node.pop(key)) for key in STRICT_REFUSED if key in node]
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
