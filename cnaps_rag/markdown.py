"""The block structure of markdown: each line classified (heading, list item, table row, fence,
code, text, blank), and an answer's numbered sections in every form real answers use
(``## 1. Task``, ``**1. Task**``, plain ``1. What task…`` lines); every heading pattern lives here.

Not markdown-it-py: it takes about 0.9 ms per 2 KB answer (the whole time budget of a validation);
this scanner a few microseconds, and ``tests/test_markdown.py`` checks that the two agree.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

HEADING = re.compile(r"^[ \t]*(#{1,6})[ \t]+", re.M)
"""A markdown heading's start; group 1 is its hashes."""
ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)])[ \t]+", re.M)
SECTION_HEADING = re.compile(r"^[ \t]*(#{1,6})[ \t]*\**[ \t]*\d+[.)]")
"""A heading that starts with a section number (``## 1.``, ``### **2)``); group 1 is its hashes."""
PROMPT_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*(.*?)[ \t]*:?[ \t]*$")
PROMPT_SECTION_HEADING = re.compile(r"^[ \t]*(#{2,3})[ \t]*(\d+|[A-Z])[.)][ \t]*(.+?)[ \t]*$")
"""A prompt's headings: no space needed after the hashes (the prompts' own form), one that opens
an instruction is ``##``/``###`` and numbered; group 2 is the number, group 3 the title."""
MD_LINK = re.compile(
    r"\[([^\[\]\n]*)\]\(\s*<?([^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*)>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
"""A markdown link ``[label](target "title")``; group 1 is the label, group 2 the target."""

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^`\s]*)")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_NUMBERED = re.compile(
    r"[ \t]*(?P<hashes>#{1,6}[ \t]*)?(?P<bold>\*\*|__)?[ \t]*(?:Part[ \t]+|Section[ \t]+)?"
    r"(?P<number>\d{1,2}|[A-H])(?P<dot>[.):])[ \t]*"
)
"""A numbered line's start; its title is the rest without :data:`_TITLE_END` (the first that can
be). Two patterns: one that ran on to the line's end tried a title end after every character."""
_NUMBERED_FIRST = frozenset("#*_0123456789ABCDEFGHPS")
"""What a :data:`_NUMBERED` match can open with, after spaces and tabs."""
_TITLE_END = re.compile(r"[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*")
_TITLE_END_CHARS = " \t*_:"


Kind = Literal["blank", "text", "heading", "item", "table", "fence", "code"]


class Line(NamedTuple):
    """One line: offsets (``end`` before the newline), kind, where its own text starts (after a
    marker and indentation), indentation, and for fence and code lines the fence's info string."""

    start: int
    end: int
    kind: Kind
    content: int
    indent: int
    fence: str | None = None


@dataclass(frozen=True)
class Part:
    """A numbered section (``1``) or lettered part (``A``) of an answer, opened at ``line`` (an index
    of :attr:`Layout.lines`); ``level`` 1-6 for a heading, 7 a bold line, 8 a plain numbered line."""

    line: int
    number: str
    title: str
    level: int
    empty: bool = False
    """Nothing but blank lines, unnumbered headings and filler lines follow it (:func:`answer_parts`)."""


class Layout:
    """The lines of a text (with LF newlines), each classified, with a lookup from an offset to its line."""

    def __init__(self, text: str):
        self.text = text
        self._headings: list[Part] | None = None
        self.lines: list[Line] = []
        add = self.lines.append
        fence: tuple[str, str] | None = None  # (marker, info) of the open fence
        offset = 0
        raw_lines = text.split("\n")
        for index, raw in enumerate(raw_lines):
            start = offset
            end = offset = start + len(raw)
            offset += 1
            stripped = raw.lstrip(" \t")
            indent = len(raw) - len(stripped)
            if fence is not None:
                marker = stripped.rstrip()
                # A closing fence is only the fence character, at least as many as opened it.
                if marker and marker == fence[0][0] * len(marker) and len(marker) >= len(fence[0]):
                    add(Line(start, end, "fence", start + indent, indent, fence[1]))
                    fence = None
                    continue
                add(Line(start, end, "code", start, indent, fence[1]))
                continue
            if not stripped:
                add(Line(start, end, "blank", end, indent, None))
                continue
            first = stripped[0]
            # Any indentation: answers nest fences in list items (``    ```json``).
            if first in "`~":
                match = _FENCE.match(raw)
                if match:
                    fence = (match.group(1), match.group(2).lower())
                    add(Line(start, end, "fence", start + indent, indent, fence[1]))
                    continue
            if first == "#":
                heading = HEADING.match(raw)
                if heading:
                    add(Line(start, end, "heading", start + heading.end(), indent, None))
                    continue
            # A table row: it or the next row is a delimiter row, or a table row comes before it.
            if "|" in raw and (
                any("-" in row and _TABLE_DELIMITER.match(row) for row in raw_lines[index : index + 2])
                or (self.lines and self.lines[-1].kind == "table")
            ):
                add(Line(start, end, "table", start + indent, indent, None))
                continue
            if first in "-*+•" or first.isdigit():
                item = ITEM.match(raw)
                if item:
                    add(Line(start, end, "item", start + item.end(), indent, None))
                    continue
            add(Line(start, end, "text", start + indent, indent, None))
        self._starts = [line.start for line in self.lines]

    def line_index(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self._starts, offset) - 1)

    def line_at(self, offset: int) -> Line:
        return self.lines[self.line_index(offset)]

    def in_code(self, offset: int) -> bool:
        return self.line_at(offset).kind in ("code", "fence")

    def item_block_end(self, index: int) -> int:
        """Return the index after the last line of the list item at ``index`` (its nested lines too)."""
        item = self.lines[index]
        following = index + 1
        while following < len(self.lines):
            line = self.lines[following]
            if line.kind == "blank":
                # A blank line ends the item unless an indented line of it follows.
                after = following + 1
                if (
                    after < len(self.lines)
                    and self.lines[after].indent > item.indent
                    and (self.lines[after].kind in ("item", "text"))
                ):
                    following = after
                    continue
                break
            if line.indent <= item.indent or line.kind not in ("item", "text", "code", "fence"):
                break
            following += 1
        return following

    def numbered_headings(self) -> list[Part]:
        """Return every line that may open a numbered section or part, in order: markdown headings,
        whole-line bold headings and plain numbered lines at the left margin (ambiguous with list
        items: :func:`answer_parts` keeps those that repeat an expected title)."""
        if self._headings is None:  # asked by the score's structure and its claim check alike
            self._headings = self._numbered_headings()
        return self._headings

    def _numbered_headings(self) -> list[Part]:
        found = []
        for index, line in enumerate(self.lines):
            if line.kind not in ("heading", "text", "item") or line.indent > 1:
                continue
            raw = self.text[line.start : line.end]
            # _NUMBERED opens with one of these after spaces (most lines are prose: no regex call).
            if raw.lstrip(" \t")[:1] not in _NUMBERED_FIRST:
                continue
            match = _NUMBERED.match(raw)
            if not match:
                continue
            if match.group("hashes"):
                level = len(match.group("hashes").strip())
            elif match.group("bold") and raw.rstrip().endswith(match.group("bold")):
                level = 7
            elif match.group("dot") in ".)" and (line.kind == "item") == match.group("number").isdigit():
                level = 8  # "1. Core Task" (a list item to markdown) or "A. High-Level Overview"
            else:
                continue
            title = _title(raw, match.end()).strip().strip("*_ ").rstrip(":").strip()
            found.append(Part(index, match.group("number"), title, level))
        return found


def _title(raw: str, start: int) -> str:
    """Return the title of a numbered line whose title starts at ``start``: up to the first place
    from which only :data:`_TITLE_END` is left (it is made of :data:`_TITLE_END_CHARS` only)."""
    end = len(raw.rstrip(_TITLE_END_CHARS))
    end = max(end, start)
    while not _TITLE_END.fullmatch(raw, end):
        end += 1
    return raw[start:end]


def is_heading(line: str) -> bool:
    return HEADING.match(line) is not None


_TITLE_WORD = re.compile(r"[^\W\d_]{3,}")


def _title_words(text: str) -> set[str]:
    return {w.lower() for w in _TITLE_WORD.findall(text)}


def answer_parts(
    text: str, expected: dict[str, list[str]] | None = None, filler: str = "", layout: Layout | None = None
) -> list[Part]:
    """Return the answer's numbered sections and lettered parts, in order, in every heading form
    (``layout``: the text's, when the caller has it).

    A plain numbered line counts only when it repeats one of the ``expected`` titles for its
    number (two thirds of its words, at least two), since any numbered list looks the same. A
    section runs to the next section, a part to the next section or part.
    """
    layout = layout or Layout(text)
    expected = expected or {}
    heads = []
    for heading in layout.numbered_headings():
        if heading.level == 8:
            words = _title_words(heading.title)
            wanted = [_title_words(title) for title in expected.get(heading.number, [])]
            if len(words) < 2 or not any(len(words & w) >= max(2, 2 * len(words) / 3) for w in wanted):
                continue
        heads.append(heading)
    parts = []
    for index, heading in enumerate(heads):
        ends = [h.line for h in heads[index + 1 :] if h.number.isdigit() or not heading.number.isdigit()]
        empty = all(
            line.kind == "heading" or text[line.start : line.end].strip() in ("", filler)
            for line in layout.lines[heading.line + 1 : min(ends, default=len(layout.lines))]
        )
        parts.append(replace(heading, empty=empty))
    return parts


def in_order(required: list[str], found: list[str]) -> int:
    """Return how many of ``required`` appear in ``found`` in order (longest common subsequence)."""
    previous = [0] * (len(found) + 1)
    for want in required:
        current = [0]
        for position, have in enumerate(found):
            best = previous[position] + 1 if want == have else max(previous[position + 1], current[-1])
            current.append(best)
        previous = current
    return previous[-1]
