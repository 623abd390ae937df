"""cnaps-rag: grounded answers to CNAPS-AI "AI scientist" prompts.

The data's path: :func:`parse_prompt` -> :class:`AllowList` -> draft -> :func:`validate`
-> render -> :func:`score`. Heavy parts (llama_cpp, openai) are imported only when a
backend is used, so validating and scoring stay quick to import.
"""

from __future__ import annotations

from .allowlist import AllowList
from .answer import Answer, answer
from .batch import BatchSummary, answer_batch
from .errors import BackendError, CnapsRagError, ConfigError, PromptError, TemplateError
from .parse import load_prompt_file, parse_prompt, parse_prompts
from .score import Scores, score
from .spec import PromptSpec, Source
from .validate import Validation, Violation, validate

__version__ = "0.1.0"

__all__ = [
    "AllowList",
    "Answer",
    "BackendError",
    "BatchSummary",
    "CnapsRagError",
    "ConfigError",
    "PromptError",
    "PromptSpec",
    "Scores",
    "Source",
    "TemplateError",
    "Validation",
    "Violation",
    "__version__",
    "answer",
    "answer_batch",
    "load_prompt_file",
    "parse_prompt",
    "parse_prompts",
    "score",
    "validate",
]
