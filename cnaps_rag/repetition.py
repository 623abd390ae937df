"""Whether a model's reply is an answer at all, or repeats the prompt, the rules, or itself.

A base model, or one prompted without its chat template, continues its prompt. The validator
would pass such a draft, so ``capable`` checks each draft here and the local backend checks
while it generates. A reply is measured in runs of :data:`RUN_WORDS` words: the share of its
words inside a run that also stands in the system message, the prompt, or earlier in the reply.
Of the 115 real hosted answers, the most copied from its prompt has 0.46 (summaries and links
quoted), the most self-repeated 0.08; an echoed prompt over 0.9 (``tests/test_repetition.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

RUN_WORDS = 8
"""Long enough that a shared run is copied, not said alike by chance."""
MIN_WORDS = 30
"""A shorter reply is not judged here (a missing section says what is wrong with it)."""
RULES_SHARE, PROMPT_SHARE, LOOP_SHARE = 0.5, 0.7, 0.5
"""From these shares of its words in runs of the rules, the prompt, itself, a reply repeats them."""
WATCH_MIN_WORDS = 120
"""While generating, judge from this many words on: an answer may open by quoting the question."""

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(words: Sequence[str]) -> Iterable[tuple[str, ...]]:
    return (tuple(words[i : i + RUN_WORDS]) for i in range(len(words) - RUN_WORDS + 1))


def _share(words: Sequence[str], found: Iterable[bool]) -> float:
    """Return the share of ``words`` covered by a run that is ``found`` (one flag per run)."""
    covered = [False] * len(words)
    for start, hit in enumerate(found):
        if hit:
            covered[start : start + RUN_WORDS] = [True] * RUN_WORDS
    return sum(covered) / len(words) if words else 0.0


class RepetitionCheck:
    """Judges replies to one request: built once from its messages, called on each reply."""

    def __init__(self, messages: Sequence[Mapping[str, str]]):
        system = [m["content"] for m in messages if m.get("role") == "system"]
        prompt = [m["content"] for m in messages if m.get("role") in ("system", "user")]
        self.rules = {run for text in system for run in _runs(_words(text))}
        self.prompt = {run for text in prompt for run in _runs(_words(text))}

    def shares(self, reply: str) -> tuple[float, float, float]:
        """Return the shares of ``reply``'s words in runs of the rules, the prompt, and itself."""
        words = _words(reply)
        runs = list(_runs(words))
        first: dict[tuple[str, ...], int] = {}  # each run -> where it first stands
        return (
            _share(words, (run in self.rules for run in runs)),
            _share(words, (run in self.prompt for run in runs)),
            _share(words, (first.setdefault(run, index) != index for index, run in enumerate(runs))),
        )

    def __call__(self, reply: str) -> str | None:
        """Return why ``reply`` is no answer (what it repeats, and how much), or None for an answer."""
        if len(_words(reply)) < MIN_WORDS:
            return None
        rules, prompt, loop = self.shares(reply)
        if rules >= RULES_SHARE:
            return f"it repeats the system rules ({rules:.0%} of its words) instead of answering"
        if prompt >= PROMPT_SHARE:
            return f"it repeats the prompt ({prompt:.0%} of its words) instead of answering"
        if loop >= LOOP_SHARE:
            return f"it repeats itself ({loop:.0%} of its words are a line or passage it already wrote)"
        return None

    def while_generating(self, partial: str) -> str | None:
        return self(partial) if len(_words(partial)) >= WATCH_MIN_WORDS else None
