"""Whether a model's reply is an answer at all, or repeats the prompt, the rules, or itself.

A base model, or a model prompted without its chat template, continues the text it is given:
its "answer" is the system rules, the question and the sources copied back, or one line over
and over. The validator would pass such a draft (it holds only sourced names), so the
``capable`` strategy checks each draft here, and the local backend runs the same check while
it generates, to stop early (:class:`RepetitionCheck`).

A reply is measured in runs of :data:`RUN_WORDS` words: the share of its words inside a run
that also stands in the system message, in the prompt (system and user turns; a re-ask's
earlier draft is the model's own), or earlier in the reply itself. Of the 115 real answers of
hosted models in ``../shared/real-answers``, the one most copied from its prompt has 0.46 of its
words in such runs (summaries and links quoted), the most self-repeated 0.08; an echoed prompt
has over 0.9. ``tests/test_repetition.py`` measures both and pins the limits between them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

RUN_WORDS = 8
"""Words in a run: long enough that a shared run is copied, not said alike by chance."""
MIN_WORDS = 30
"""A shorter reply is not judged here (a missing section says what is wrong with it)."""
RULES_SHARE = 0.5
"""A reply this much of whose words are in runs of the system message repeats the rules."""
PROMPT_SHARE = 0.7
"""A reply this much of whose words are in runs of the prompt repeats the prompt."""
LOOP_SHARE = 0.5
"""A reply this much of whose words are in runs it already wrote repeats itself."""
WATCH_MIN_WORDS = 120
"""While a reply is generated it is judged only from this many words on: an answer may open by
quoting the question, which alone is most of its first few lines."""

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


def _self_repeats(words: Sequence[str]) -> Iterable[bool]:
    seen: set[tuple[str, ...]] = set()
    for run in _runs(words):
        yield run in seen
        seen.add(run)


class RepetitionCheck:
    """Judges replies to one request: built once from its messages, called on each reply."""

    def __init__(self, messages: Sequence[Mapping[str, str]]):
        system = [m["content"] for m in messages if m.get("role") == "system"]
        prompt = [m["content"] for m in messages if m.get("role") in ("system", "user")]
        self.rules = {run for text in system for run in _runs(_words(text))}
        self.prompt = {run for text in prompt for run in _runs(_words(text))}

    def shares(self, reply: str) -> tuple[float, float, float]:
        """Return the shares of ``reply``'s words in runs of the rules, of the prompt, and of itself."""
        words = _words(reply)
        runs = list(_runs(words))
        return (
            _share(words, (run in self.rules for run in runs)),
            _share(words, (run in self.prompt for run in runs)),
            _share(words, _self_repeats(words)),
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
        """Return why the reply begun as ``partial`` is no answer, judged from :data:`WATCH_MIN_WORDS` on."""
        return self(partial) if len(_words(partial)) >= WATCH_MIN_WORDS else None


def not_an_answer(reply: str, messages: Sequence[Mapping[str, str]]) -> str | None:
    """Return why ``reply`` to ``messages`` is no answer, or None (see :class:`RepetitionCheck`)."""
    return RepetitionCheck(messages)(reply)
