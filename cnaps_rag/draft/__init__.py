"""Draft an answer with a model: the ``guided``, ``capable`` or ``free`` strategy, then render it.

Every strategy returns a :class:`Draft`; :func:`cnaps_rag.pipeline.answer` validates it.
"""

from __future__ import annotations

from .caller import Caller
from .capable import draft_capable
from .free import draft_free
from .guided import draft_guided
from .render import Draft

__all__ = ["Caller", "Draft", "draft_capable", "draft_free", "draft_guided"]
