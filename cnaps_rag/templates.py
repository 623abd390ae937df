"""Prompt templates: text files in prompts/, loaded as package data and substituted strictly.

A template's first line may be ``#version: NAME``; that version is recorded with
every answer. A template may hold chat turns, each opened by a line ``--- user``,
``--- assistant`` or ``--- system`` (few-shot examples are turns). Variables are
``$name``; a variable the caller does not supply is a
:class:`TemplateError`, and so is one it supplies that the template does not use.
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
    """A prompt template and its version."""

    name: str
    version: str
    body: str

    @property
    def variables(self) -> set[str]:
        """Return the names of the variables the template uses."""
        return {
            m.group("named") or m.group("braced")
            for m in string.Template.pattern.finditer(self.body)
            if m.group("named") or m.group("braced")
        }

    def render(self, **values: object) -> str:
        """Return the template with every variable substituted; raise TemplateError on a mismatch."""
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {sorted(missing)}")
            if extra:
                parts.append(f"unused {sorted(extra)}")
            raise TemplateError(f"template {self.name!r}: {', '.join(parts)}")
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
            {"role": role, "content": content.strip()}
            for role, content in zip(turns[1::2], turns[2::2], strict=True)
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
