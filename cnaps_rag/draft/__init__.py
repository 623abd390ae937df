"""Draft an answer with a model: the ``scaffold``, ``capable`` or ``fields`` strategy, then render it.

Each strategy is a module here with a ``draft_NAME`` function returning a
:class:`~cnaps_rag.draft.render.Draft`, imported on use so that the CLI can list the strategies
without loading them; :func:`cnaps_rag.pipeline.answer` validates the draft.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, cast, get_args

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..spec import PromptSpec
    from .caller import Caller
    from .render import Draft

Strategy = Literal["scaffold", "capable", "fields"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
FORMER_NAMES: dict[str, Strategy] = {"guided": "scaffold", "free": "fields"}
"""The names two strategies had first: still accepted, recorded under today's name."""
MAX_TOKENS: dict[Strategy, int] = {
    "capable": 2000,  # a full 2-5 KB answer
    "fields": 700,  # three short sections in one generation
    "scaffold": 64,  # a slot is one short sentence
}
"""Each strategy's token budget per generation when the caller gives none."""


def strategy_named(name: str) -> Strategy:
    """Return the strategy called ``name`` (today's name or a former one); ConfigError if none is."""
    if name in FORMER_NAMES:
        return FORMER_NAMES[name]
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}", hint=f"use one of {', '.join(STRATEGIES)}")
    return cast(Strategy, name)


def drafter(strategy: str) -> Callable[[PromptSpec, Caller, int], Draft]:
    """Return the strategy's ``draft_NAME(spec, call, budget)``, ``budget`` being tokens per generation."""
    drafts: Callable[[PromptSpec, Caller, int], Draft]
    drafts = getattr(importlib.import_module(f".{strategy}", __name__), f"draft_{strategy}")
    return drafts
