"""Cut an answer into units and tell the units that make a claim from those that make none.

A *unit* is what a careful reader judges on its own: a sentence of a paragraph or list item
(split by :func:`cnaps_rag.text.sentence_spans`), a table row, a heading. Lines inside a fence
(code, mermaid and box diagrams) are no units: a diagram restates the workflow the prose
around it describes. A unit makes *no claim* by its shape, whatever its words:

- ``heading``: a markdown heading;
- ``label``: a line that is bold as a whole (``**Sub-goals:**``);
- ``lead-in``: a short sentence that ends with a colon (at most :data:`LEAD_IN_WORDS` words: "The
  workflow has three steps:"); one that names a source ("NAFNet works as follows:") is checked as
  a claim all the same (:mod:`cnaps_rag.support`);
- ``diagram``: a line drawn with box-drawing characters, a boxed step (``[Input: photo]``), an
  arrow chain of short steps (``photo → model → sharp photo``), a lone ``|``, ``V`` or arrow;
- ``table header``: a table's first row (its delimiter row is no unit at all);
- ``rule``: a thematic break (``---``);
- ``question``: the user's question quoted back (the unit, without quotes, is part of it);
- ``transition``: a sentence about the answer itself ("Here is …", "Of course.", "In summary:");
- ``no words``: a unit with no letters once its links are left out (a number, a lone link).

Everything else is a claim. Among claims, :func:`is_general` tells a textbook statement by its
subject ("Transformers excel at …", "A single model must …"). The shapes are properties of markdown
and of how answers are written, not word lists taken from labelled answers: ``tests/test_claims.py``
pins each.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from .markdown import Layout
from .text import sentence_spans

Shape = Literal[
    "claim",
    "heading",
    "label",
    "lead-in",
    "diagram",
    "table header",
    "rule",
    "question",
    "transition",
    "no words",
]

LEAD_IN_WORDS = 8
"""A unit ending in a colon with at most this many words leads into what follows: no claim."""

_BOX = re.compile(r"[\u2500-\u257f\u2580-\u259f]")
"""Box-drawing and block characters: a drawn diagram."""
_ARROW = re.compile(r"\s*(?:→|⟶|⇒|➔|➜|↓|↑|←|⇐|-{1,2}>|={1,2}>|<-{1,2}|\|>|▼|▲|►|▶)\s*")
_ARROW_CHAR = re.compile("[>→⟶⇒➔➜↓↑←⇐▼▲►▶]")
"""Every :data:`_ARROW` holds one of these (most lines hold none and skip the split)."""
_BOXED = re.compile(r"^\W{0,3}[\[(\{](?!.*\]\().*[\])\}]\W{0,3}$")
_SYMBOLS_ONLY = re.compile(r"^[\W_vV]*$")
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_BOLD_LINE = re.compile(r"^\s*(?:[-*+•]\s+|\d+[.)]\s+)?(\*\*|__)(?:(?!\1).)+\1\s*:?\s*$")
_EMPHASIS = re.compile(r"\*\*|__|`")
_TRANSITION = re.compile(
    # "As an AI scientist, here is …": who the assistant plays, then the answer announced.
    r"^\W*(?:as an? [^,.:]{1,60},\s*(?=here))?"
    r"(?:here(?:'s| is| are)\b|below (?:is|are)\b|of course\b|sure\b|certainly\b|absolutely\b"
    r"|let(?:'s| us| me)\b|in (?:summary|conclusion|short)\b|to (?:summari[sz]e|conclude)\b"
    r"|the following\b|as follows\b|great question\b)",
    re.I,
)
"""Openers of a sentence about the answer itself, as any assistant writes them."""
_NUMBER = re.compile(r"\d")
_LETTERS = re.compile(r"[^\W\d_]")
_WORDS = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


class Unit(NamedTuple):
    """A unit of an answer: where it stands and what shape it has (a named tuple: answers have
    hundreds)."""

    start: int
    end: int
    """Span in the text, without surrounding white space and without a list marker."""
    line: int
    """Index of its line in :attr:`cnaps_rag.markdown.Layout.lines`."""
    shape: Shape

    @property
    def claim(self) -> bool:
        """Return whether the unit makes a claim (its shape says nothing else)."""
        return self.shape == "claim"


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    kept = piece.strip()
    if not kept:
        return start, start
    start += len(piece) - len(piece.lstrip())
    return start, start + len(kept)


def is_diagram_line(line: str) -> bool:
    """Return whether a line (outside a fence) is a drawn diagram rather than prose."""
    stripped = line.strip()
    if _BOX.search(stripped) or _SYMBOLS_ONLY.match(stripped):
        return True
    if _BOXED.match(stripped) and not stripped.startswith(("[S", "(S")):
        return True
    if not _ARROW_CHAR.search(stripped):
        return False
    steps = _ARROW.split(stripped)
    # An arrow chain: every step short (a box's label), at least two of them.
    return len(steps) >= 2 and all(len(_WORDS.findall(step)) <= 5 for step in steps)


def _words(text: str) -> list[str]:
    return _WORDS.findall(_EMPHASIS.sub("", text))


def _shape(piece: str, question: str) -> Shape:
    """Return the shape of one sentence of a prose line or list item."""
    if not _LETTERS.search(piece):
        return "no words"
    plain = _EMPHASIS.sub("", piece).strip()
    if plain.endswith(":") and len(_words(plain)) <= LEAD_IN_WORDS:
        return "lead-in"
    if _TRANSITION.match(plain):
        return "transition"
    quoted = plain.strip(" \"'“”‘’«»").lower()
    if len(quoted) >= 12 and quoted.rstrip(".?!") in question:
        return "question"
    return "claim"


_CLOSED_END = re.compile(r"[.!?](?:\*\*|__|[\"”’)\]])+(?=\s+\S)")
"""A sentence end inside closing emphasis or quotes ("**… task.** The …"), which
:func:`cnaps_rag.text.sentence_spans` does not split at."""


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Return the sentence spans of one line: :func:`~cnaps_rag.text.sentence_spans`, also split
    after a sentence end that closing emphasis or a quote follows."""
    if not _CLOSED_END.search(text, start, end):
        return list(sentence_spans(text, start, end))
    spans = []
    for first, last in sentence_spans(text, start, end):
        for match in _CLOSED_END.finditer(text, first, last):
            spans.append((first, match.end()))
            first = match.end()
        spans.append((first, last))
    return spans


def units(text: str, layout: Layout, question: str = "") -> list[Unit]:
    """Return the units of ``text`` (whose :class:`Layout` is ``layout``), in order.

    ``question`` is the user's question, so that a unit quoting it back is no claim.
    """
    lowered_question = " ".join(question.lower().split())
    found: list[Unit] = []
    lines = layout.lines
    for index, line in enumerate(lines):
        kind = line.kind
        if kind in ("blank", "code", "fence"):
            continue
        raw = text[line.start : line.end]
        if kind == "heading":
            start, end = _trimmed(text, line.content, line.end)
            if end > start:
                found.append(Unit(start, end, index, "heading"))
            continue
        if kind == "table":
            following = lines[index + 1] if index + 1 < len(lines) else None
            if set(raw.strip()) <= set("|-: \t"):
                continue  # the delimiter row
            header = (
                following is not None
                and following.kind == "table"
                and set(text[following.start : following.end].strip()) <= set("|-: \t")
            )
            start, end = _trimmed(text, line.content, line.end)
            found.append(Unit(start, end, index, "table header" if header else "claim"))
            continue
        body_start = line.content
        if raw.lstrip()[:1] in ("-", "*", "_") and _RULE.match(raw):
            found.append(Unit(*_trimmed(text, line.start, line.end), index, "rule"))
            continue
        if is_diagram_line(text[body_start : line.end]):
            found.append(Unit(*_trimmed(text, body_start, line.end), index, "diagram"))
            continue
        if ("**" in raw or "__" in raw) and _BOLD_LINE.match(raw):
            found.append(Unit(*_trimmed(text, body_start, line.end), index, "label"))
            continue
        for start, end in _sentences(text, body_start, line.end):
            start, end = _trimmed(text, start, end)
            if end > start:
                piece = text[start:end]
                found.append(Unit(start, end, index, _shape(piece, lowered_question)))
    return found


_GENERIC_SUBJECT = re.compile(
    r"^\W*(?:(?:most|many|all|some|such|these|modern|deep|neural|generative|diffusion|transformer|"
    r"convolutional|learning|traditional|classical)\b[\w -]{0,40}?\b(?:models|networks|methods|"
    r"approaches|systems|techniques|architectures|algorithms|transformers|cnns|gans)\b"
    r"|[A-Za-z-]+s (?:are|can|tend|excel|work|require|need|help|allow|use)\b"
    r"|(?:a|an|any|every|each) (?:single |good |typical |standard )?"
    r"(?:model|network|method|system|approach)\b)",
    re.I,
)
"""A sentence whose subject is a kind of thing in general ("Transformers excel at …", "Most
denoising models …", "A single model must …"): a textbook statement, not one about a source."""


def is_general(blanked: str) -> bool:
    """Return whether an unsupported claim that credits no source (and names no model) is a general
    statement: its subject is a kind of thing, and it gives no number."""
    body = re.sub(r"^\W*(?:\*\*[^*]+\*\*:?|__[^_]+__:?)\s*", "", blanked.strip())
    return _GENERIC_SUBJECT.match(body) is not None and not _NUMBER.search(body)
