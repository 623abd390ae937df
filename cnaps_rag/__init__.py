"""cnaps-rag: grounded answers to CNAPS-AI "AI scientist" prompts.

The data's path: :func:`parse_prompt` -> :class:`AllowList` -> draft -> :func:`validate`
-> render -> :func:`score`. Each public name is imported on first use (PEP 562), so
``import cnaps_rag`` and a ``cnaps-rag`` command load only what they use; llama_cpp and
openai are imported only when a backend is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import BackendError, CnapsRagError, ConfigError, PromptError, TemplateError

if TYPE_CHECKING:  # what the lazy names are, for type checkers and readers
    from .allowlist import AllowList as AllowList
    from .batch import BatchSummary as BatchSummary
    from .batch import answer_batch as answer_batch
    from .evaluation import evaluate as evaluate
    from .parse import load_prompt_file as load_prompt_file
    from .parse import parse_prompt as parse_prompt
    from .parse import parse_prompts as parse_prompts
    from .pipeline import Answer as Answer
    from .pipeline import answer as answer
    from .scores import Scores as Scores
    from .scores import score as score
    from .spec import PromptSpec as PromptSpec
    from .spec import Source as Source
    from .validation import Validation as Validation
    from .validation import Violation as Violation
    from .validation import validate as validate

__version__ = "0.1.0"

_MODULES = {
    "allowlist": ["AllowList"],
    "batch": ["BatchSummary", "answer_batch"],
    "evaluation": ["evaluate"],
    "parse": ["load_prompt_file", "parse_prompt", "parse_prompts"],
    "pipeline": ["Answer", "answer"],
    "scores": ["Scores", "score"],
    "spec": ["PromptSpec", "Source"],
    "validation": ["Validation", "Violation", "validate"],
}
"""The module (in this package) that defines each lazily imported public name."""
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BackendError",
    "CnapsRagError",
    "ConfigError",
    "PromptError",
    "TemplateError",
    "__version__",
    *_EXPORTS,
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
