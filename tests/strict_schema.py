"""OpenAI's strict structured-output rules, as a test oracle for every schema the package sends.

A strict schema's root is an object (not ``anyOf``); every object has ``additionalProperties:
false`` and lists each property in ``required``; only :data:`STRICT_KEYWORDS` are used; a
``$ref`` stands alone; objects nest at most :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

from typing import Any

STRICT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "description",
        "$ref",
        "$defs",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
    }
)
"""Every keyword a strict schema may use; anything else is reported by :func:`strict_problems`."""

MAX_DEPTH = 5
"""Nesting levels of objects OpenAI's strict mode allows (the guide's first, lowest limit)."""


def strict_problems(schema: dict[str, Any]) -> list[str]:
    """Return every breach of OpenAI's strict rules in ``schema`` (empty when it would be accepted).

    The root is an object (not ``anyOf``); every object has ``additionalProperties: false`` and
    lists each property in ``required``; only :data:`STRICT_KEYWORDS` are used; a ``$ref`` stands
    alone; objects nest at most :data:`MAX_DEPTH` levels.
    """
    problems: list[str] = []
    if schema.get("type") != "object":
        problems.append("$: the root must be an object")
    _walk(schema, "$", 1, problems)
    return problems


def _walk(node: Any, path: str, depth: int, problems: list[str]) -> None:
    if not isinstance(node, dict):
        problems.append(f"{path}: a schema must be an object, not {type(node).__name__}")
        return
    for key in node:
        if key not in STRICT_KEYWORDS:
            problems.append(f"{path}: keyword {key!r} is not accepted in strict mode")
    if "$ref" in node and len(node) > 1:
        problems.append(f"{path}: $ref must stand alone")
    if node.get("type") == "object" or "properties" in node:
        if depth > MAX_DEPTH:
            problems.append(f"{path}: objects nest deeper than {MAX_DEPTH} levels")
        if node.get("additionalProperties") is not False:
            problems.append(f"{path}: additionalProperties must be false")
        properties = node.get("properties", {})
        missing = [name for name in properties if name not in node.get("required", [])]
        if missing:
            problems.append(f"{path}: properties not in required: {', '.join(missing)}")
        unknown = [name for name in node.get("required", []) if name not in properties]
        if unknown:
            problems.append(f"{path}: required names no property: {', '.join(unknown)}")
        for name, sub in properties.items():
            _walk(sub, f"{path}.{name}", depth + 1, problems)
    if node.get("type") == "array" and "items" not in node:
        problems.append(f"{path}: an array must say its items")
    if isinstance(node.get("items"), dict):
        _walk(node["items"], f"{path}[]", depth, problems)
    for index, sub in enumerate(node.get("anyOf", [])):
        _walk(sub, f"{path}.anyOf[{index}]", depth, problems)
    for name, sub in node.get("$defs", {}).items():
        _walk(sub, f"{path}.$defs.{name}", depth, problems)
