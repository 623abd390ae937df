"""The block structure of a markdown answer: headings, list items, tables, fences, with their lines.

One pass over the lines classifies each as blank, text, heading, list item, table row, fence
marker or code (a line inside a fence, with the fence's info string, so ``mermaid`` diagrams
are known). The validator uses it to remove the smallest unit that makes a claim and never
edit inside code; the scorer uses it to find an answer's numbered sections in every form real
answers use: ``## 1. Task``, ``### 1.``, ``**1. Task**`` and plain ``1. What task…`` lines.

Why not markdown-it-py: it parses a real answer in about 0.9 ms per 2 KB (measured on the dev
answers), the whole time budget of a validation; this scanner needs a few microseconds and
``tests/test_markdown.py`` checks that it agrees with markdown-it-py on fences, tables and headings.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.M)
"""A markdown heading's marker, at a line start."""
ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)])[ \t]+", re.M)
"""A list item's marker (bullet or number), at a line start."""
SECTION_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*\**[ \t]*(\d+)[.)]")
"""A heading that starts with a section number (``## 1.``, ``### **2)``); group 1 is the number."""
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
"""The characters a :data:`_NUMBERED` match can open with, after spaces and tabs."""
_TITLE_END = re.compile(r"[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*")
_TITLE_END_CHARS = " \t*_:"

Kind = Literal["blank", "text", "heading", "item", "table", "fence", "code"]


class Line(NamedTuple):
    """One line of an answer and what it is (a named tuple: an answer has hundreds, made fast)."""

    start: int
    end: int
    """Offsets in the text; ``end`` is before the newline."""
    kind: Kind
    content: int
    """Offset where the line's own text starts, after a heading or list marker and indentation."""
    indent: int
    fence: str | None = None
    """For ``fence`` and ``code`` lines: the fence's info string (``mermaid``, ``python``, or "")."""


@dataclass(frozen=True)
class NumberedHeading:
    """A line that opens a numbered part of an answer (``## 1. Task``, ``**B. Diagram**``)."""

    line: int
    """Index into :attr:`Layout.lines`."""
    number: str
    """``1``, ``2``, ... or ``A``, ``B``, ..."""
    title: str
    level: int
    """The heading level (1-6); 7 for a bold line, 8 for a plain numbered line."""


class Layout:
    """The lines of a text, each classified, with a fast lookup from an offset to its line."""

    def __init__(self, text: str):
        """Classify every line of ``text`` (which should have LF newlines)."""
        self.text = text
        self.lines: list[Line] = []
        add = self.lines.append
        fence: tuple[str, str] | None = None  # (marker, info) of the open fence
        offset = 0
        raw_lines = text.split("\n")
        count = len(raw_lines)
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
            if "|" in raw and self._is_table_row(raw, raw_lines, index, count):
                add(Line(start, end, "table", start + indent, indent, None))
                continue
            if first in "-*+•" or first.isdigit():
                item = ITEM.match(raw)
                if item:
                    add(Line(start, end, "item", start + item.end(), indent, None))
                    continue
            add(Line(start, end, "text", start + indent, indent, None))
        self._starts = [line.start for line in self.lines]

    def _is_table_row(self, raw: str, raw_lines: list[str], index: int, count: int) -> bool:
        if _TABLE_DELIMITER.match(raw) and "-" in raw:
            return True
        if index + 1 < count and _TABLE_DELIMITER.match(raw_lines[index + 1]) and "-" in raw_lines[index + 1]:
            return True  # a header row
        return bool(self.lines) and self.lines[-1].kind == "table"

    def line_index(self, offset: int) -> int:
        """Return the index of the line that holds ``offset``."""
        return max(0, bisect.bisect_right(self._starts, offset) - 1)

    def line_at(self, offset: int) -> Line:
        """Return the line that holds ``offset``."""
        return self.lines[self.line_index(offset)]

    def in_code(self, offset: int) -> bool:
        """Return whether ``offset`` is inside a fenced block (or on its fence lines)."""
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

    def numbered_headings(self) -> list[NumberedHeading]:
        """Return every line that may open a numbered section or part, in order.

        Markdown headings (``## 1. Task``, ``### B. Diagram``), lines that are bold as a whole
        (``**1. Task**``) and plain numbered lines at the left margin (``1. What task…``); the
        last are ambiguous with list items, so callers match their titles against what they expect.
        """
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
            found.append(NumberedHeading(index, match.group("number"), title, level))
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
    """Return whether ``line`` is a markdown heading."""
    return HEADING.match(line) is not None


@dataclass(frozen=True)
class Part:
    """A numbered section (``1``, ``2``) or lettered part (``A``, ``B``) of an answer."""

    number: str
    title: str
    empty: bool
    """True when nothing but blank lines, unnumbered headings and ``filler`` lines follow it."""


_TITLE_WORD = re.compile(r"[^\W\d_]{3,}")


def _title_words(text: str) -> set[str]:
    return {w.lower() for w in _TITLE_WORD.findall(text)}


def answer_parts(text: str, expected: dict[str, list[str]] | None = None, filler: str = "") -> list[Part]:
    """Return the answer's numbered sections and lettered parts, in order, in every heading form.

    Markdown headings and whole-line bold headings always count. A plain numbered line
    (``1. What task is the user trying to perform?``) counts only when it repeats one of the
    ``expected`` titles for its number (two thirds of its words, at least two), since any
    numbered list looks the same. A section runs to the next numbered section, a part to the
    next section or part; it is empty when it holds only blank lines, unnumbered headings or
    the ``filler`` line.
    """
    layout = Layout(text)
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
        section = heading.number.isdigit()
        stop = len(layout.lines)
        for following in heads[index + 1 :]:
            if following.number.isdigit() or not section:
                stop = following.line
                break
        empty = True
        for line in layout.lines[heading.line + 1 : stop]:
            content = text[line.start : line.end].strip()
            if line.kind == "heading" or not content or content == filler:
                continue
            empty = False
            break
        parts.append(Part(heading.number, heading.title, empty))
    return parts


def in_order(required: list[str], found: list[str]) -> int:
    """Return how many of ``required`` appear in ``found`` in the same order (longest common subsequence)."""
    previous = [0] * (len(found) + 1)
    for want in required:
        current = [0]
        for position, have in enumerate(found):
            best = previous[position] + 1 if want == have else max(previous[position + 1], current[-1])
            current.append(best)
        previous = current
    return previous[-1]
