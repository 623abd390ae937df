"""Decide whether a small model's slot fill is worth keeping.

A 135M model often echoes its few-shot examples, repeats a token, drifts off the facts it
was given, or answers another question. :func:`accept_slot` keeps a fill only when none of
that shows; the scaffold stands without a slot that fails.
"""

from __future__ import annotations

import json
import re

from rapidfuzz import fuzz

SLOT_WORDS = (5, 45)
"""Fewest and most words a kept fill has: shorter says nothing, longer has run on."""
SHOT_SIMILARITY = 75
"""A fill this similar (rapidfuzz ratio, 0-100) to a few-shot answer is a copy of it."""
CONTEXT_SHARE = 0.5
"""Share of a fill's content words that must occur in the slot's own context."""
STEM_CHARS = 5
"""Content words compare on their first this-many letters (``restoring`` meets ``restored``)."""

_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_TRIPLE_WORD = re.compile(r"\b(\w+)\b(?:\W+\1\b){2}", re.I)
# Words of the slots' own scaffolding: they say nothing about the sources.
_SCAFFOLD_STEMS = frozenset({"user", "wants", "shows", "which", "source", "helps", "model", "paper"})


def _stems(text: str) -> set[str]:
    return {w.lower()[:STEM_CHARS] for w in _WORD.findall(text)}


def _common_opening(word_lists: list[list[str]]) -> list[str]:
    """Return the words every list starts with."""
    opening: list[str] = []
    for words in zip(*word_lists, strict=False):
        if len(set(words)) != 1:
            break
        opening.append(words[0])
    return opening


def _shot_text(shot: str) -> str:
    """Return a few-shot answer's sentence (shots are JSON replies; a plain one is its own text)."""
    try:
        return str(json.loads(shot).get("sentence", shot))
    except (ValueError, AttributeError):
        return shot


def accept_slot(sentence: str, context: str, shots: list[str]) -> bool:
    """Return whether a small model's slot fill is worth keeping.

    A fill is kept when it opens with the words all few-shot answers open with ("The user
    wants to", "It"), has :data:`SLOT_WORDS` words, is not a near-copy of a few-shot answer
    (:data:`SHOT_SIMILARITY`), repeats no word three times running, and at least
    :data:`CONTEXT_SHARE` of its content words occur in the slot's own context.
    """
    opening = _common_opening([_shot_text(shot).lower().split() for shot in shots])
    if sentence.lower().split()[: len(opening)] != opening:
        return False
    fewest, most = SLOT_WORDS
    if not fewest <= len(sentence.split()) <= most:
        return False
    if any(fuzz.ratio(sentence.lower(), _shot_text(shot).lower()) >= SHOT_SIMILARITY for shot in shots):
        return False
    if _TRIPLE_WORD.search(sentence):
        return False
    content = _stems(sentence) - _SCAFFOLD_STEMS
    if not content:
        return False
    return len(content & _stems(context)) / len(content) >= CONTEXT_SHARE
