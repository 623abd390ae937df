"""Which unit of an answer goes with an unsourced item, and removing it without breaking the markdown.

The unit is the smallest that makes the claim (see :mod:`cnaps_rag.validate`): a URL where it
stands, a name alone in a list of names, parentheses, a heading, a table cell or code, the list
item that opens with the name, else the sentence. Removing a unit leaves debris (empty brackets,
a dangling "at", an empty item); :func:`remove_units` tidies it on the lines it touched only, and
never inside code, tables or headings.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Literal

from .markdown import HEADING, MD_LINK, SECTION_HEADING, Layout
from .names import NameMention, find_model_names, is_function_word
from .text import sentence_spans

NOT_COVERED = "The provided sources do not cover this."

# The word that leads into a link ("at", "see", "Code:"): it goes with the link. A verb before
# it stays ("The weights are hosted."), so that what is left is still a sentence.
_CONNECTOR = re.compile(
    r"(?:\b(?:at|from|see|via|on|in|visit|here|under|link|url|code|repo|repository|paper)\s*:?\s*)$",
    re.I,
)


def connector_at_end(fragment: str) -> re.Match[str] | None:
    """Return ``_CONNECTOR.search(fragment)``, tried only where its word can start: it ends the
    fragment, so at most 10 characters ("repository") before the white space and colon after it."""
    end = len(fragment.rstrip().rstrip(":").rstrip())  # where the word ends, if a match exists
    return _CONNECTOR.search(fragment, max(0, end - 10))


_LIST_SEPARATOR = re.compile(r"^[\s*_`]*(?:,|/|;|&|\+|\band\b|\bor\b|\bvs\.?)[\s*_`]*$", re.I)
_ITEM_LEAD = re.compile(r"[\s*_`\[\"'“(]*")
_LABEL_ONLY = re.compile(r"^[\s*_`\[]*[\w][\w .-]{0,30}:[\s*_`]*$")

Kind = Literal["url", "model", "invisible"]
Action = Literal[
    "removed_url",
    "removed_link",
    "kept_link_text",
    "removed_sentence",
    "removed_item",
    "removed_name",
    "removed_character",
]


_LABEL = re.compile(
    r"[ \t]*(?:\*\*[^*\n]{1,80}?:[ \t]*\*\*|\*\*[^*\n]{1,80}?\*\*[ \t]*:"
    r"|[^\s:*][^:\n]{0,40}?:(?=[ \t]))[ \t]*"
)


def _sentence_bounds(text: str, start: int, end: int, position: int) -> tuple[int, int]:
    """Return the span of the sentence holding ``position`` within the line content ``start:end``.

    A label that opens the line (``**Input:**``, ``Model A:``) is a unit of its own, not part of
    the first sentence.
    """
    label = _LABEL.match(text, start, end)
    if label and label.end() <= position:
        start = label.end()
    for sentence_start, sentence_end in sentence_spans(text, start, end):
        if sentence_end > position:
            while sentence_start < sentence_end and text[sentence_start] in " \t":
                sentence_start += 1
            return sentence_start, sentence_end
    return start, end


def _enclosed_by_parentheses(text: str, start: int, end: int, line_start: int, line_end: int) -> bool:
    opening = text.rfind("(", line_start, start)
    if opening == -1 or text.find(")", opening, start) != -1:
        return False
    closing = text.find(")", end, line_end)
    return closing != -1 and text.find("(", end, closing) == -1


def _in_name_list(
    text: str, mention: NameMention, before: NameMention | None, after: NameMention | None
) -> bool:
    """Return whether ``mention`` stands in a list of names ("VGG, ResNet and MSSNet")."""
    if before is not None and _LIST_SEPARATOR.match(text[before.end : mention.start]):
        return True
    return after is not None and bool(_LIST_SEPARATOR.match(text[mention.end : after.start]))


def _item_is_about(text: str, content: int, position: int) -> bool:
    """Return whether a list item opens with the thing at ``position`` ("- **VGG**: …")."""
    lead = _ITEM_LEAD.match(text, content)
    return lead is not None and lead.end() == position


def name_unit(
    text: str, layout: Layout, mention: NameMention, before: NameMention | None, after: NameMention | None
) -> Action:
    """Return the smallest unit that goes with a disallowed name."""
    line = layout.line_at(mention.start)
    if line.kind in ("code", "fence", "heading", "table"):
        return "removed_name"
    if _enclosed_by_parentheses(text, mention.start, mention.end, line.start, line.end) or _in_name_list(
        text, mention, before, after
    ):
        return "removed_name"
    if line.kind == "item" and _item_is_about(text, line.content, mention.start):
        return "removed_item"
    sentence_start, sentence_end = _sentence_bounds(text, line.content, line.end, mention.start)
    whole_line = not text[line.content : sentence_start].strip() and not text[sentence_end : line.end].strip()
    return "removed_item" if whole_line and line.kind == "item" else "removed_sentence"


# ---------------------------------------------------------------------------- stripping


class _Edits:
    """Non-overlapping replacements on a text; a wider edit swallows the ones inside it."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int, str]] = []

    def add(self, start: int, end: int, replacement: str = "") -> None:
        kept = []
        for s, e, r in self.items:
            if s <= start and end <= e:
                return  # already inside a wider edit
            if not (start <= s and e <= end):
                if s < end and start < e:  # partial overlap: widen to cover both
                    start, end, replacement = min(s, start), max(e, end), ""
                    continue
                kept.append((s, e, r))
        kept.append((start, end, replacement))
        self.items = kept

    def apply(self, text: str) -> str:
        pieces = []
        last = 0
        for start, end, replacement in sorted(self.items):
            pieces.append(text[last:start])
            pieces.append(replacement)
            last = end
        pieces.append(text[last:])
        return "".join(pieces)


_WORD = re.compile(r"[^\W_]{2,}")
_CLAUSE_GOES_ON = re.compile(r"[ \t]+(?:for|to|which|that|where|with|on|in|by|from)\b", re.I)


def url_unit(text: str, layout: Layout, start: int, end: int) -> Action:
    """Return what goes with a disallowed bare URL: the URL, or its sentence when the URL is its object.

    "For a build, see <URL> for phone binaries" loses the sentence: without the link, "see ...
    for" is a broken claim. A URL with nothing after it in its sentence ("Code is at <URL>.")
    goes alone with its connector, and so does any URL in code, a table or a heading.
    """
    line = layout.line_at(start)
    if line.kind not in ("text", "item"):
        return "removed_url"
    if not connector_at_end(text[line.start : start].rstrip(" \t<([")):
        return "removed_url"
    sentence_start, sentence_end = _sentence_bounds(text, line.content, line.end, start)
    # The clause goes on after the link ("see <URL> for ..."): without it, it is broken.
    if _CLAUSE_GOES_ON.match(text, end, sentence_end):
        return "removed_sentence"
    # Too little is left to say anything ("The code is available at <URL>." would read "The
    # code is."): fewer than three words that are not function words.
    connector = connector_at_end(text[sentence_start:start].rstrip(" \t<(["))
    left = text[sentence_start : sentence_start + (connector.start() if connector else 0)]
    words = [w for w in _WORD.findall(left + " " + text[end:sentence_end]) if not is_function_word(w)]
    if len(words) < 3:
        return "removed_sentence"
    return "removed_url"


def _url_removal(text: str, layout: Layout, start: int, end: int) -> tuple[int, int]:
    """Return the span to delete for a disallowed bare URL: with its brackets and a dangling connector."""
    line = layout.line_at(start)
    if line.kind in ("code", "fence"):
        return start, end
    if start > 0 and end < len(text) and text[start - 1] + text[end] in ("<>", "()", "[]"):
        start, end = start - 1, end + 1
    before = text[line.start : start]
    if (
        line.kind == "item"
        and _LABEL_ONLY.match(text[line.content : start])
        and not text[end : line.end].strip(" \t.,;")
    ):
        index = layout.line_index(start)
        block_end = layout.item_block_end(index)
        stop = layout.lines[block_end].start if block_end < len(layout.lines) else len(text)
        return line.start, stop  # the item was a label for this link
    connector = connector_at_end(before.rstrip(" \t"))
    if connector and line.kind != "table":
        start = start - len(before) + connector.start()
        while start > line.start and text[start - 1] in " \t":
            start -= 1
    return start, end


_SEPARATOR_AT_END = re.compile(r"[ \t]*(?:,|/|;|&|\+|\band|\bor)[ \t]*$")


def separator_at_end(fragment: str) -> re.Match[str] | None:
    """Return ``_SEPARATOR_AT_END.search(fragment)``, tried only from the spaces before the last
    three characters that are not spaces (it ends the fragment with a separator of one to three)."""
    end = len(fragment.rstrip(" \t"))
    return _SEPARATOR_AT_END.search(fragment, len(fragment[: max(0, end - 3)].rstrip(" \t")))


_HYPHENATED_TAIL = re.compile(r"(?:-[A-Za-z0-9_]+)+")


def _name_removal(text: str, layout: Layout, start: int, end: int) -> tuple[int, int]:
    """Return the span to delete for a name that goes alone: with its emphasis and one list separator.

    In parentheses that hold no other name (``(using CLIP)``) the parenthetical goes whole. The
    parts hyphenated to the name go with it (``DeepLabV3-resnet101``, not ``-resnet101`` left).
    """
    line = layout.line_at(start)
    tail = _HYPHENATED_TAIL.match(text, end, line.end)
    if tail:
        end = tail.end()
    if line.kind in ("code", "fence"):
        return start, end
    if _enclosed_by_parentheses(text, start, end, line.start, line.end):
        opening = text.rfind("(", line.start, start)
        closing = text.find(")", end, line.end)
        rest = text[opening + 1 : start] + " " + text[end:closing]
        if not _LIST_SEPARATOR.search(rest) and not find_model_names(rest):
            while opening > line.content and text[opening - 1] in " \t":
                opening -= 1
            return opening, closing + 1
    while start > line.start and end < line.end and text[start - 1] == text[end] and text[end] in "*_`":
        start, end = start - 1, end + 1
    # "A, VGG and B" -> "A and B": the separator before the name goes with it; for the first
    # name of a list ("VGG, A and B"), the one after it.
    before = separator_at_end(text[line.content : start])
    if before:
        return start - len(before.group(0)), end
    after = re.match(r"[ \t]*(?:,|/|;|&|\+|and\b|or\b)[ \t]*", text[end : line.end])
    if after and end + after.end() < line.end and text[end + after.end()] not in ")]":
        return start, end + after.end()
    return start, end


def _edit_for(text: str, layout: Layout, action: Action, start: int, end: int, edits: _Edits) -> None:
    """Add to ``edits`` the removal ``action`` names for the item at ``start:end``."""
    if action in ("kept_link_text", "removed_link"):
        line = layout.line_at(start)
        for match in MD_LINK.finditer(text, line.start, line.end):
            # The violation is the link's target, or a name in its label that takes the link along.
            if match.start() < start < match.end():
                if action == "kept_link_text":
                    edits.add(match.start(), match.end(), match.group(1))
                else:
                    edits.add(*_url_removal(text, layout, match.start(), match.end()))
                return
        edits.add(start, end)
        return
    if action == "removed_url":
        edits.add(*_url_removal(text, layout, start, end))
        return
    if action == "removed_name":
        edits.add(*_name_removal(text, layout, start, end))
        return
    index = layout.line_index(start)
    line = layout.lines[index]
    if action == "removed_item" and line.kind == "item":
        sentence_start, sentence_end = _sentence_bounds(text, line.content, line.end, start)
        about = _item_is_about(text, line.content, start)
        whole = not text[line.content : sentence_start].strip() and not text[sentence_end : line.end].strip()
        if about or whole:
            block_end = layout.item_block_end(index)
            stop = layout.lines[block_end].start if block_end < len(layout.lines) else len(text)
            edits.add(line.start, stop)
            return
    sentence_start, sentence_end = _sentence_bounds(text, line.content, line.end, start)
    if not text[line.content : sentence_start].strip() and not text[sentence_end : line.end].strip():
        edits.add(line.start, min(line.end + 1, len(text)))
        return
    # Take the space between sentences with it, so no line starts or ends with a stray space.
    while sentence_end < line.end and text[sentence_end] in " \t":
        sentence_end += 1
    if sentence_end == line.end:
        while sentence_start > line.content and text[sentence_start - 1] in " \t":
            sentence_start -= 1
    edits.add(sentence_start, sentence_end)


_EMPTY_ITEM = re.compile(
    r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]*(?:[*_]*[\w][\w ()/&'+-]{0,40}(?::[*_]*|[*_]*[ \t]*:))?"
    r"[ \t]*[.,;:]*[ \t]*$"
)
# Brackets a removal left empty, or holding only the words that led into a name ("(like )").
_EMPTY_BRACKETS = re.compile(
    r"[ \t]*(?:\((?:[ \t]*(?:like|e\.g\.|i\.e\.|such as|including|using|via|see|cf\.))?[\s,;:.]*\)"
    r"|\[[\s,;:.]*\]|<\s*>)",
    re.I,
)
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\S)[ \t]+(?=[.,;:!?](?:\s|$))")
_DOUBLE_PUNCT = re.compile(r"([,;:])[ \t]*(?=[.,;:])|(?<=\.)\.(?!\.)")
_MULTI_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_ORPHAN_CONNECTOR = re.compile(r"[ \t,]+(?:and|or|at|from|via|see)[ \t]*(?=[.!?]?$)", re.M | re.I)


def _may_end_with_connector(body: str) -> bool:
    """Return False only when :data:`_ORPHAN_CONNECTOR` cannot match ``body`` (one line): each
    sub in :func:`_tidy` runs only where the characters it needs stand (each tried every position)."""
    if not body.isascii():
        return True  # case-insensitive matching folds a few other letters to ASCII ones
    tail = body[:-1] if body[-1:] in ".!?" else body
    return tail.rstrip(" \t").lower().endswith(("and", "or", "at", "from", "via", "see"))


def _tidy(text: str, touched: set[int]) -> str:
    """Return ``text`` without the debris removals left on the ``touched`` lines.

    Empty brackets and items, stray spaces and connectors; code, tables and headings are left as
    they are, and so is every line no removal touched.
    """
    layout = Layout(text)
    lines: list[str] = []
    for index, line in enumerate(layout.lines):
        raw = text[line.start : line.end]
        if index in touched and line.kind in ("text", "item"):
            # The marker and indentation stay as they are; only the line's own text is tidied.
            prefix, body = text[line.start : line.content], text[line.content : line.end]
            if "(" in body or "[" in body or "<" in body:
                body = _EMPTY_BRACKETS.sub("", body)
            children = index + 1 < len(layout.lines) and layout.lines[index + 1].indent > line.indent
            if line.kind == "item" and _EMPTY_ITEM.match(prefix + body) and not children:
                continue  # only a marker or a label is left, and no nested lines it labels
            if "  " in body or "\t" in body:
                body = _MULTI_SPACE.sub(" ", body)
            if "\t" in body or any(" " + mark in body for mark in ".,;:!?"):
                body = _SPACE_BEFORE_PUNCT.sub("", body)
            if ".." in body or "," in body or ";" in body or ":" in body:
                body = _DOUBLE_PUNCT.sub(lambda m: m.group(1) or "", body)
            if _may_end_with_connector(body):
                body = _ORPHAN_CONNECTOR.sub("", body)
            raw = prefix + body if body.strip() else ""
            if not raw.endswith("  "):  # two spaces end a line with a hard break: they stay
                raw = raw.rstrip()
        # No more than one blank line in a row where a removal left them (never inside code).
        if not raw and len(lines) >= 2 and not lines[-1] and not lines[-2] and line.kind == "blank":
            continue
        lines.append(raw)
    return _fill_empty_sections("\n".join(lines))


def _heading_level(line: str) -> int:
    return len(line.lstrip(" \t")) - len(line.lstrip(" \t").lstrip("#"))


def _fill_empty_sections(text: str) -> str:
    """Return ``text`` with a note under each numbered section a removal left empty.

    A section runs to the next heading of its level or higher, so a section whose text is in
    its lettered parts (``## 2. Workflow`` then ``### A. Overview``) is not empty.
    """
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        out.append(line)
        if "#" not in line[:8] or not SECTION_HEADING.match(line):
            continue
        level = _heading_level(line)
        empty = True
        for following in itertools.islice(lines, index + 1, None):
            if HEADING.match(following) and _heading_level(following) <= level:
                break  # the section ends
            if following.strip():
                empty = False  # its first line with text is enough
                break
        if empty:
            out.extend(["", NOT_COVERED])
    return "\n".join(out)


def remove_units(text: str, units: Iterable[tuple[Action, int, int]], *, layout: Layout | None = None) -> str:
    """Return ``text`` with each (action, start, end) unit removed and the debris tidied.

    ``layout`` is ``Layout(text)`` when the caller has already built it (finding the units did).
    """
    layout = layout or Layout(text)
    edits = _Edits()
    for action, start, end in units:
        _edit_for(text, layout, action, start, end, edits)
    cleaned = edits.apply(text)
    # The lines an edit touched, in the cleaned text: only those are tidied.
    touched: set[int] = set()
    shift = 0
    for start, end, replacement in sorted(edits.items):
        first = text.count("\n", 0, start) - shift
        touched.update(range(max(0, first - 1), first + replacement.count("\n") + 2))
        shift += text.count("\n", start, end) - replacement.count("\n")
    return _tidy(cleaned, touched)
