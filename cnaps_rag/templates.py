"""Prompt templates: text files in prompts/, loaded as package data and substituted strictly.

A template's first line may be ``#version: NAME``, recorded with every answer. Chat turns open
with a line ``--- user``, ``--- assistant`` or ``--- system``. A ``$name`` the caller does not
supply is a :class:`TemplateError`, and so is one it supplies that the template does not use.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from .errors import TemplateError


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    body: str

    def render(self, **values: object) -> str:
        """Return the template with every variable substituted; raise TemplateError on a mismatch."""
        found = string.Template.pattern.finditer(self.body)
        variables = {m.group("named") or m.group("braced") for m in found} - {None}
        missing, unused = variables - values.keys(), values.keys() - variables
        problems = [
            f"{what} {sorted(names)}" for what, names in (("missing", missing), ("unused", unused)) if names
        ]
        if problems:
            raise TemplateError(f"template {self.name!r}: {', '.join(problems)}")
        return string.Template(self.body).substitute({k: str(v) for k, v in values.items()})

    def messages(self, **values: object) -> list[dict[str, str]]:
        """Return the rendered template as chat messages (one user message if it has no turns)."""
        text = self.render(**values)
        turns = re.split(r"^--- (user|assistant|system)[ \t]*$\n?", text, flags=re.M)
        if len(turns) == 1:
            return [{"role": "user", "content": text.strip()}]
        if turns[0].strip():
            raise TemplateError(f"template {self.name!r}: text before the first '--- role' line")
        return [
            {"role": role, "content": body.strip()}
            for role, body in zip(turns[1::2], turns[2::2], strict=True)
        ]


@cache
def load_template(name: str) -> Template:
    """Return the template ``prompts/{name}.txt``."""
    try:
        text = files("cnaps_rag.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise TemplateError(f"no prompt template named {name!r}") from None
    version = "unversioned"
    first, _, rest = text.partition("\n")
    if first.startswith("#version:"):
        version, text = first.split(":", 1)[1].strip(), rest
    return Template(name=name, version=version, body=text.rstrip("\n"))
