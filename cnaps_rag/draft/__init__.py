"""Draft an answer with a model: the ``guided``, ``capable`` or ``free`` strategy, then render it.

Every strategy returns a :class:`Draft`; :func:`cnaps_rag.pipeline.answer` validates it.
``caller`` retries backend calls and counts their cost, ``fit`` says whether the
recommended model does what the question asks, and ``render`` writes the markdown with
each source's exact links. ``workflow`` is the guided scaffold of the second prompt format,
built from ``plan`` (which models serve the goal, in which order).
"""

from __future__ import annotations

from .caller import Caller
from .capable import draft_capable
from .free import draft_free
from .guided import draft_guided
from .render import HEADINGS
from .result import Draft
from .workflow import draft_workflow

__all__ = ["HEADINGS", "Caller", "Draft", "draft_capable", "draft_free", "draft_guided", "draft_workflow"]
