"""Draft an answer with a model: the ``guided``, ``capable`` or ``free`` strategy, then render it.

Each strategy is a module here with a ``draft_NAME`` function returning a
:class:`~cnaps_rag.draft.render.Draft`, imported on use so that the CLI can list the strategies
without loading them; :func:`cnaps_rag.pipeline.answer` validates the draft.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from ..spec import PromptSpec
    from .caller import Caller
    from .render import Draft

Strategy = Literal["guided", "capable", "free"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


def drafter(strategy: str) -> Callable[[PromptSpec, Caller, int | None], Draft]:
    """Return the strategy's ``draft_NAME(spec, call, max_tokens)``."""
    drafts: Callable[[PromptSpec, Caller, int | None], Draft]
    drafts = getattr(importlib.import_module(f".{strategy}", __name__), f"draft_{strategy}")
    return drafts
