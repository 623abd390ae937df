"""Strip every URL and model name that a prompt's sources do not contain, and report each removal.

``validate`` never raises on any string and is idempotent. It removes the smallest unit that
makes the claim: a disallowed URL where it stands (a markdown link keeps its text when that text
is allowed); a disallowed name alone in a list of names, in parentheses, a heading, a table cell
or code (a fence or a mermaid diagram is never edited otherwise), else the list item that opens
with it, else its sentence. Debris (empty brackets, a dangling "at", an empty item) is tidied on
the lines a removal touched only, and a numbered section left empty says the sources do not
cover it. Chat-interface citation marks (``[cite_start]``, ``[cite: 27]``) are removed and counted.

What is checked is what is shown: Unicode's format characters (zero-width spaces and joiners,
the soft hyphen, bidi controls, tag characters) are removed first, each an ``invisible``
violation, so that a zero-width space inside ``SwinIR`` hides nothing and U+202E cannot make a
reader see another text. A zero-width (non-)joiner between two non-ASCII characters stays: it
shapes Persian, Indic scripts and emoji there, and can hide no link or listed name.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, PrivateAttr

from .allowlist import AllowList, nearest
from .links import Link, find_links, url_key
from .markdown import HEADING, MD_LINK, SECTION_HEADING, Layout, Line
from .names import NameMention, find_model_names, is_function_word, name_key
from .spec import PromptSpec
from .tasks import task_by_code
from .text import normalize_newlines, sentence_spans

NOT_COVERED = "The provided sources do not cover this."

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

# ---------------------------------------------------------------------------- units

# The word that leads into a link ("at", "see", "Code:"): it goes with the link. A verb before
# it stays ("The weights are hosted."), so that what is left is still a sentence.
_CONNECTOR = re.compile(
    r"(?:\b(?:at|from|see|via|on|in|visit|here|under|link|url|code|repo|repository|paper)\s*:?\s*)$",
    re.I,
)
_SEPARATOR = r"(?:,|/|;|&|\+|\band\b|\bor\b)"
_LIST_SEPARATOR = re.compile(rf"^[\s*_`]*(?:{_SEPARATOR}|\bvs\.?)[\s*_`]*$", re.I)
_SEPARATOR_BEFORE = re.compile(rf"[ \t]*{_SEPARATOR}[ \t]*$")
_SEPARATOR_AFTER = re.compile(rf"[ \t]*{_SEPARATOR}[ \t]*")
_ITEM_LEAD = re.compile(r"[\s*_`\[\"'“(]*")
_LABEL_ONLY = re.compile(r"^[\s*_`\[]*[\w][\w .-]{0,30}:[\s*_`]*$")
# A label that opens a line (``**Input:**``, ``Model A:``) is a unit of its own, not part of
# the first sentence.
_LABEL = re.compile(
    r"[ \t]*(?:\*\*[^*\n]{1,80}?:[ \t]*\*\*|\*\*[^*\n]{1,80}?\*\*[ \t]*:"
    r"|[^\s:*][^:\n]{0,40}?:(?=[ \t]))[ \t]*"
)
_WORD = re.compile(r"[^\W_]{2,}")
_CLAUSE_GOES_ON = re.compile(r"[ \t]+(?:for|to|which|that|where|with|on|in|by|from)\b", re.I)


def _sentence(text: str, line: Line, position: int) -> tuple[int, int, bool]:
    """Return the span of the sentence holding ``position`` on ``line``, and whether it is all
    the line says."""
    start, end = line.content, line.end
    label = _LABEL.match(text, start, end)
    if label and label.end() <= position:
        start = label.end()
    for sentence_start, sentence_end in sentence_spans(text, start, end):
        if sentence_end > position:
            start, end = sentence_end - len(text[sentence_start:sentence_end].lstrip(" \t")), sentence_end
            break
    return start, end, not text[line.content : start].strip() and not text[end : line.end].strip()


def _parentheses(text: str, start: int, end: int, line: Line) -> tuple[int, int] | None:
    opening = text.rfind("(", line.start, start)
    if opening == -1 or text.find(")", opening, start) != -1:
        return None
    closing = text.find(")", end, line.end)
    return None if closing == -1 or text.find("(", end, closing) != -1 else (opening, closing)


def _item_span(text: str, layout: Layout, index: int) -> tuple[int, int]:
    """Return the span of the list item at line ``index``, nested lines included."""
    block_end = layout.item_block_end(index)
    end = layout.lines[block_end].start if block_end < len(layout.lines) else len(text)
    return layout.lines[index].start, end


def _name_unit(
    text: str, layout: Layout, mention: NameMention, before: NameMention | None, after: NameMention | None
) -> Action:
    """Return the smallest unit that goes with a disallowed name."""
    line = layout.line_at(mention.start)
    in_list = (before is not None and _LIST_SEPARATOR.match(text[before.end : mention.start])) or (
        after is not None and _LIST_SEPARATOR.match(text[mention.end : after.start])
    )
    if line.kind in ("code", "fence", "heading", "table") or in_list:
        return "removed_name"
    if _parentheses(text, mention.start, mention.end, line):
        return "removed_name"
    if line.kind == "item":
        lead = _ITEM_LEAD.match(text, line.content)
        if (lead and lead.end() == mention.start) or _sentence(text, line, mention.start)[2]:
            return "removed_item"  # the item opens with the name, or is the name's sentence
    return "removed_sentence"


def _url_unit(text: str, layout: Layout, start: int, end: int) -> Action:
    """Return what goes with a disallowed bare URL: the URL, or its sentence when the URL is its object.

    "For a build, see <URL> for phone binaries" loses the sentence: without the link, "see ...
    for" is a broken claim. A URL with nothing after it in its sentence ("Code is at <URL>.")
    goes alone with its connector, and so does any URL in code, a table or a heading.
    """
    line = layout.line_at(start)
    if line.kind not in ("text", "item") or not _CONNECTOR.search(text[line.start : start].rstrip(" \t<([")):
        return "removed_url"
    sentence_start, sentence_end, _ = _sentence(text, line, start)
    if _CLAUSE_GOES_ON.match(text, end, sentence_end):
        return "removed_sentence"
    # Too little is left to say anything ("The code is available at <URL>." would read "The
    # code is."): fewer than three words that are not function words.
    connector = _CONNECTOR.search(text[sentence_start:start].rstrip(" \t<(["))
    left = text[sentence_start : sentence_start + (connector.start() if connector else 0)]
    words = [w for w in _WORD.findall(left + " " + text[end:sentence_end]) if not is_function_word(w)]
    return "removed_sentence" if len(words) < 3 else "removed_url"


# ---------------------------------------------------------------------------- stripping


def _url_removal(text: str, layout: Layout, start: int, end: int) -> tuple[int, int]:
    """Return the span to delete for a disallowed bare URL: with its brackets and a dangling connector."""
    line = layout.line_at(start)
    if line.kind in ("code", "fence"):
        return start, end
    if start > 0 and end < len(text) and text[start - 1] + text[end] in ("<>", "()", "[]"):
        start, end = start - 1, end + 1
    if (
        line.kind == "item"
        and _LABEL_ONLY.match(text[line.content : start])
        and not text[end : line.end].strip(" \t.,;")
    ):
        return _item_span(text, layout, layout.line_index(start))  # the item was a label for this link
    connector = _CONNECTOR.search(text[line.start : start].rstrip(" \t"))
    if connector and line.kind != "table":
        start = line.start + len(text[line.start : line.start + connector.start()].rstrip(" \t"))
    return start, end


def _name_removal(text: str, layout: Layout, start: int, end: int) -> tuple[int, int]:
    """Return the span to delete for a name that goes alone: with its emphasis and one list separator.

    In parentheses that hold no other name (``(using CLIP)``) the parenthetical goes whole. The
    parts hyphenated to the name go with it (``DeepLabV3-resnet101``, not ``-resnet101`` left).
    """
    line = layout.line_at(start)
    tail = re.compile(r"(?:-[A-Za-z0-9_]+)+").match(text, end, line.end)
    end = tail.end() if tail else end
    if line.kind in ("code", "fence"):
        return start, end
    around = _parentheses(text, start, end, line)
    if around:
        opening, closing = around
        rest = text[opening + 1 : start] + " " + text[end:closing]
        if not _LIST_SEPARATOR.search(rest) and not find_model_names(rest):
            opening = line.content + len(text[line.content : opening].rstrip(" \t"))
            return opening, closing + 1
    while start > line.start and end < line.end and text[start - 1] == text[end] and text[end] in "*_`":
        start, end = start - 1, end + 1
    # "A, VGG and B" -> "A and B": the separator before the name goes with it; for the first
    # name of a list ("VGG, A and B"), the one after it.
    before = _SEPARATOR_BEFORE.search(text[line.content : start])
    if before:
        return start - len(before.group(0)), end
    rest = text[end : line.end]  # a slice: a name ending in a letter may run into "and" ("x.5and")
    after = _SEPARATOR_AFTER.match(rest)
    if after and after.end() < len(rest) and rest[after.end()] not in ")]":
        return start, end + after.end()
    return start, end


def _edit_for(text: str, layout: Layout, action: Action, start: int, end: int) -> tuple[int, int, str]:
    """Return the span that goes with a violation's unit, and what replaces it."""
    if action in ("kept_link_text", "removed_link"):
        line = layout.line_at(start)
        for match in MD_LINK.finditer(text, line.start, line.end):
            # The violation is the link's target, or a name in its label that takes the link along.
            if match.start() < start < match.end():
                if action == "kept_link_text":
                    return match.start(), match.end(), match.group(1)
                return *_url_removal(text, layout, match.start(), match.end()), ""
        return start, end, ""
    if action == "removed_url":
        return *_url_removal(text, layout, start, end), ""
    if action == "removed_name":
        return *_name_removal(text, layout, start, end), ""
    if action == "removed_item":
        return *_item_span(text, layout, layout.line_index(start)), ""
    line = layout.line_at(start)
    sentence_start, sentence_end, whole = _sentence(text, line, start)
    if whole:
        return line.start, min(line.end + 1, len(text)), ""
    # Take the space between sentences with it, so no line starts or ends with a stray space.
    sentence_end = line.end - len(text[sentence_end : line.end].lstrip(" \t"))
    if sentence_end == line.end:
        sentence_start = line.content + len(text[line.content : sentence_start].rstrip(" \t"))
    return sentence_start, sentence_end, ""


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


def _tidy(text: str, touched: set[int]) -> str:
    """Return ``text`` without the debris removals left on the ``touched`` text and item lines."""
    layout = Layout(text)
    lines: list[str] = []
    for index, line in enumerate(layout.lines):
        raw = text[line.start : line.end]
        if index in touched and line.kind in ("text", "item"):
            # The marker and indentation stay as they are; only the line's own text is tidied.
            prefix = text[line.start : line.content]
            body = _EMPTY_BRACKETS.sub("", text[line.content : line.end])
            children = index + 1 < len(layout.lines) and layout.lines[index + 1].indent > line.indent
            if line.kind == "item" and _EMPTY_ITEM.match(prefix + body) and not children:
                continue  # only a marker or a label is left, and no nested lines it labels
            body = _SPACE_BEFORE_PUNCT.sub("", _MULTI_SPACE.sub(" ", body))
            body = _ORPHAN_CONNECTOR.sub("", _DOUBLE_PUNCT.sub(lambda m: m.group(1) or "", body))
            raw = prefix + body if body.strip() else ""
            if not raw.endswith("  "):  # two spaces end a line with a hard break: they stay
                raw = raw.rstrip()
        # No more than one blank line in a row where a removal left them (never inside code).
        if not raw and len(lines) >= 2 and not lines[-1] and not lines[-2] and line.kind == "blank":
            continue
        lines.append(raw)
    return _fill_empty_sections(lines)


def _fill_empty_sections(lines: list[str]) -> str:
    """Return the text of ``lines`` with a note under each numbered section a removal left empty.

    A section runs to the next heading of its level or higher, so a section whose text is in
    its lettered parts (``## 2. Workflow`` then ``### A. Overview``) is not empty.
    """
    out: list[str] = []
    for index, line in enumerate(lines):
        out.append(line)
        section = SECTION_HEADING.match(line) if "#" in line[:8] else None
        if section is None:
            continue
        following = next((other for other in lines[index + 1 :] if other.strip()), "")
        heading = HEADING.match(following)
        if not following or (heading and len(heading.group(1)) <= len(section.group(1))):
            out.extend(["", NOT_COVERED])  # the section ends with no text in it
    return "\n".join(out)


def _remove_units(text: str, violations: list[Violation], layout: Layout) -> str:
    """Return ``text`` (whose layout is ``layout``) with each violation's unit removed and the
    debris tidied on the lines an edit touched."""
    # Outer edits first: an edit inside another goes with it (the first of equal ones stays:
    # sorted() is stable), and two that overlap become one deletion of both.
    spans = [_edit_for(text, layout, v.action, v.start, v.end) for v in violations]
    edits: list[tuple[int, int, str]] = []
    for start, end, replacement in sorted(spans, key=lambda edit: (edit[0], -edit[1])):
        if edits and end <= edits[-1][1]:
            continue
        if edits and start < edits[-1][1]:
            edits[-1] = (edits[-1][0], end, "")
        else:
            edits.append((start, end, replacement))
    touched: set[int] = set()  # line numbers in the cleaned text
    shift, last, pieces = 0, 0, []
    for start, end, replacement in edits:
        first = text.count("\n", 0, start) - shift
        touched.update(range(max(0, first - 1), first + replacement.count("\n") + 2))
        shift += text.count("\n", start, end) - replacement.count("\n")
        pieces += [text[last:start], replacement]
        last = end
    return _tidy("".join(pieces) + text[last:], touched)


# ---------------------------------------------------------------------------- what is found

# Two chat interfaces' marks: Gemini's ``[cite_start]`` (often right after a list marker, whose
# space must stay) ... ``[cite: 27]`` (with the space before it), and ChatGPT's ``【697†source】``.
# Each alternative opens with one character ("[", "【", a space, a tab), which the regex engine
# skips to; with the optional spaces first, the pattern was tried at every character (3-5x as slow
# on the real answers that have marks, which a score reads twice: validate, then the claim check).
_CITE = r"\[cite:[ \t]*[\d,\s]{0,40}\]"
_SOURCE_MARK = r"【[\d:]{1,12}†[^】\n]{0,40}】"
_CITATION = re.compile(
    rf"\[cite_start\]|{_CITE}|{_SOURCE_MARK}"
    rf"| [ \t]*(?:{_CITE}|{_SOURCE_MARK})|\t[ \t]*(?:{_CITE}|{_SOURCE_MARK})"
)
_REPO_NAME = re.compile(r"^(?=.*[A-Z0-9])[A-Za-z][A-Za-z0-9]{2,}(?:[-_][A-Za-z0-9]+)*$")


class MarkdownLink(NamedTuple):
    """A markdown link ``[label](target)``: its span, where its label ends, its target's span and key."""

    start: int
    end: int
    label_end: int
    target_start: int
    target_end: int
    key: str


@dataclass(frozen=True)
class Found:
    """The links and names in a text, before any is judged: what validation and the score both read."""

    text: str
    links: list[Link]
    markdown_links: list[MarkdownLink]
    mentions: list[NameMention]
    """The model names outside links and targets (inside link labels too), in order."""


def find_items(text: str) -> Found:
    links = find_links(text)
    markdown_links = [
        MarkdownLink(m.start(), m.end(), m.end(1), m.start(2), m.end(2), url_key(m.group(2)))
        for m in MD_LINK.finditer(text)
    ]
    skip = [(link.start, link.end) for link in links]
    skip += [(md.target_start, md.target_end) for md in markdown_links]
    return Found(text, links, markdown_links, find_model_names(text, skip=skip))


class Violation(BaseModel, extra="forbid"):
    """One thing the validator removed, and why."""

    kind: Kind
    value: str
    start: int
    end: int
    """Span of ``value`` in the text it was found in: for an ``invisible`` character, the input
    after newline normalisation and citation clean-up; for the first pass's URLs and names, that
    text without its invisible characters."""
    section: int | None
    """The numbered section it stood in, None before the first section heading."""
    action: Action
    nearest: str | None = None
    """The allowed item most like it, with ``similarity`` (0-100, rapidfuzz ratio)."""
    similarity: float = 0.0
    key: str | None = None
    """For URLs: the key it matched on (see :mod:`cnaps_rag.links`)."""


class Validation(BaseModel, extra="forbid"):
    """The cleaned answer and every removal made to get it."""

    text: str
    violations: list[Violation]
    citations: int = 0
    """Chat-interface citation marks (``[cite_start]``, ``[cite: 27]``) removed."""
    _found: Found | None = PrivateAttr(default=None)

    @property
    def found(self) -> Found | None:
        """What the first pass found (in the input after newline and citation clean-up), for the score."""
        return self._found

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        """Return the number of violations of each kind (``url`` and ``model`` always)."""
        return {"url": 0, "model": 0} | Counter(violation.kind for violation in self.violations)


# Unicode's format characters (category Cf, Unicode 14 as Python 3.10-3.12 know it) as two
# classes, those of the first 65,536 code points and the rest: a search for the first skips text
# without them at C speed (10 µs on a 4 KB answer, where a category lookup per character took
# 80 µs and one class holding both 56 µs); the second is searched only in text that has a
# character past U+FFFF. tests/test_hostile.py compares them with unicodedata.
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_FORMAT_ASTRAL = re.compile(
    "[\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


def invisible_spans(text: str) -> list[tuple[int, int]]:
    """Return where ``text`` holds a format character that is removed: any but a zero-width
    (non-)joiner between two non-ASCII characters."""
    if text.isascii():
        return []
    found = [match.start() for match in _FORMAT.finditer(text)]
    if len(text.encode("utf-16-le", "surrogatepass")) > 2 * len(text):  # a character past U+FFFF
        found = sorted(found + [match.start() for match in _FORMAT_ASTRAL.finditer(text)])
    return [
        (index, index + 1)
        for index in found
        if not (
            text[index] in "\u200c\u200d"
            and 0 < index < len(text) - 1
            and not text[index - 1].isascii()
            and not text[index + 1].isascii()
        )
    ]


def _may_cite(text: str) -> bool:
    return "[cite" in text or "†" in text  # every mark holds one: most answers skip the pattern


def citation_spans(text: str) -> list[tuple[int, int]]:
    """Return where :func:`validate` finds a citation mark in ``text``, in order."""
    return [match.span() for match in _CITATION.finditer(text)] if _may_cite(text) else []


# ---------------------------------------------------------------------------- finding


def _extra_mentions(
    text: str, disallowed: list[NameMention], bad_links: list[Link], taken: bytearray
) -> list[NameMention]:
    """Return more disallowed names: what a disallowed identifier or code link names elsewhere.

    ``Enhancement-low-light-img-enhancer`` is also written ``low-light-img-enhancer``, and the
    repository of a disallowed GitHub link (``github.com/x/DeepArt``) names the model ``DeepArt``.
    """
    terms: set[str] = set()
    for mention in disallowed:
        head, _, tail = mention.text.partition("-")
        if tail and task_by_code(head) is not None and len(tail) >= 6:
            terms.add(tail)
    for link in bad_links:
        if link.key.startswith("github:") and "/" in link.key:
            repo = link.text.rstrip("/").split("/")[-1].removesuffix(".git")
            if _REPO_NAME.match(repo):
                terms.add(repo)
    found = []
    for term in sorted(terms):
        if text.count(term) < 2:
            continue  # only where it was found (the identifier or the link itself)
        for match in re.finditer(r"(?<![\w\-/.])" + re.escape(term) + r"(?![\w\-/])", text):
            if 1 not in taken[match.start() : match.end()]:
                found.append(NameMention(match.start(), match.end(), term, name_key(term), None))
    return found


def _nearest_url(key: str, allow: AllowList) -> dict[str, Any]:
    best = nearest(key, allow.urls)
    return {"nearest": allow.urls[best[0]], "similarity": round(best[1], 1)} if best else {}


def _find_violations(text: str, allow: AllowList) -> tuple[list[Violation], Layout | None, Found]:
    """Return every unsourced URL and model name in ``text`` with the unit that goes with each,
    the text's layout if it was needed (so the removal reuses it), and what was found.

    Links come first, then names, each in text order (as reports list them).
    """
    violations: list[Violation] = []
    # The layout is only needed to place a violation: most answers have none, and skip it
    # (building it always makes validate 1.18x as slow on the real dev answers).
    layout: Layout | None = None
    sections: list[tuple[int, int]] = []

    def structure() -> Layout:
        nonlocal layout, sections
        if layout is None:
            layout = Layout(text)
            sections = [  # (offset, number) of each markdown heading that opens a numbered section
                (layout.lines[part.line].start, int(part.number))
                for part in layout.numbered_headings()
                if part.level <= 6 and part.number.isdigit()
            ]
        return layout

    def record(kind: Kind, value: str, start: int, end: int, action: Action, **extra: Any) -> None:
        structure()
        section = next((number for offset, number in reversed(sections) if offset <= start), None)
        violations.append(
            Violation(kind=kind, value=value, start=start, end=end, section=section, action=action, **extra)
        )

    found = find_items(text)
    taken = bytearray(len(text))  # where a link stands: names inside it are not mentions
    bad_links: list[Link] = []
    judged_labels: list[tuple[int, int]] = []  # the links whose label goes or stays with its target
    sourced_labels: list[MarkdownLink] = []  # the links whose label is text like any other
    for md in found.markdown_links:
        taken[md.target_start : md.target_end] = b"\x01" * (md.target_end - md.target_start)
        if md.key in allow.urls:
            sourced_labels.append(md)
            judged_labels.append((md.target_start - 1, md.end))
            continue
        judged_labels.append((md.start, md.end))
        label, target = text[md.start + 1 : md.label_end], text[md.target_start : md.target_end]
        kept = (  # the label stays when it says nothing unsourced itself
            bool(label.strip())
            and all(link.key in allow.urls for link in find_links(label))
            and all(allow.names.check(m).allowed for m in find_model_names(label))
            and not structure().in_code(md.start)
        )
        action: Action = "kept_link_text" if kept else "removed_link"
        record(
            "url", target, md.target_start, md.target_end, action, key=md.key, **_nearest_url(md.key, allow)
        )
        bad_links.append(Link(md.target_start, md.target_end, target, md.key))
    for link in found.links:
        taken[link.start : link.end] = b"\x01" * (link.end - link.start)
        if link.key in allow.urls or any(
            md.start <= link.start and link.end <= md.end for md in found.markdown_links
        ):
            continue
        action = _url_unit(text, structure(), link.start, link.end)
        record("url", link.text, link.start, link.end, action, key=link.key, **_nearest_url(link.key, allow))
        bad_links.append(link)

    # A name in an unsourced link's label is judged with the label, above; in a sourced link's
    # label it is text like any other, so an outside name cannot ride on a sourced link
    # ("[GFPGAN](<a sourced link>)"). Names never cross a label's brackets, so leaving those
    # found in judged labels out gives what finding with them skipped gives.
    mentions = found.mentions
    if judged_labels:
        in_links = bytearray(len(text))
        for start, end in judged_labels:
            in_links[start:end] = b"\x01" * (end - start)
        mentions = [m for m in mentions if in_links.find(1, m.start, m.end) < 0]
    verdicts = {id(m): allow.names.check(m) for m in mentions}
    for mention in mentions:
        taken[mention.start : mention.end] = b"\x01" * (mention.end - mention.start)
    disallowed = [m for m in mentions if not verdicts[id(m)].allowed]
    extra = [
        m for m in _extra_mentions(text, disallowed, bad_links, taken) if not allow.names.check(m).allowed
    ]
    every = sorted([*mentions, *extra], key=lambda m: m.start)
    for index, mention in enumerate(every):
        verdict = verdicts.get(id(mention))
        if verdict is not None and verdict.allowed:
            continue
        in_label = next((md for md in sourced_labels if md.start < mention.start < md.label_end), None)
        if in_label is not None:
            action = _label_unit(text, structure(), in_label, every, allow)
        else:
            before = every[index - 1] if index else None
            after = every[index + 1] if index + 1 < len(every) else None
            action = _name_unit(text, structure(), mention, before, after)
        record(
            "model",
            mention.text,
            mention.start,
            mention.end,
            action,
            nearest=verdict.nearest if verdict else None,
            similarity=verdict.score if verdict else 0.0,
        )
    return violations, layout, found


_LABEL_FILLER = re.compile(r"[\W_]|\b(?:by|and|or|the|a|an|of|for|via|see|code|repo|paper)\b", re.I)


def _label_unit(
    text: str, layout: Layout, link: MarkdownLink, mentions: list[NameMention], allow: AllowList
) -> Action:
    """Return what goes with an unsourced name in a sourced link's label: the name, or where the
    label says nothing else ("[GFPGAN](…)", "[GFPGAN code](…)") the link, as an unsourced link
    would go (with its sentence where the link is the sentence's object)."""
    start, end = link.start + 1, link.label_end
    rest, position = [], start
    for mention in mentions:
        if start <= mention.start < end and not allow.names.check(mention).allowed:
            rest.append(text[position : mention.start])
            position = mention.end
    rest.append(text[position:end])
    if _LABEL_FILLER.sub("", "".join(rest)):
        return "removed_name"
    unit = _url_unit(text, layout, link.start, link.end)
    return "removed_link" if unit == "removed_url" else unit


def validate(markdown: str, spec: PromptSpec | AllowList, *, untrusted_summaries: bool = False) -> Validation:
    """Return the answer with every unsourced URL and model name removed, and a report of each removal.

    ``spec`` is the prompt (or its already built :class:`AllowList`, which then decides on
    summary links itself). ``untrusted_summaries`` allows no link that only a summary gives,
    for datasets whose summaries may be hostile. Never raises on any string; validating the
    result again removes nothing.
    """
    allow = (
        spec
        if isinstance(spec, AllowList)
        else AllowList.for_spec(spec, untrusted_summaries=untrusted_summaries)
    )
    text = normalize_newlines(markdown)
    text, citations = _CITATION.subn("", text) if _may_cite(text) else (text, 0)
    spans = invisible_spans(text)
    violations = [
        Violation(
            kind="invisible",
            value=f"U+{ord(text[start]):04X}",
            start=start,
            end=end,
            section=None,
            action="removed_character",
        )
        for start, end in spans
    ]
    if spans:
        removed = {start for start, _ in spans}
        text = "".join(char for index, char in enumerate(text) if index not in removed)
    found, layout, first = _find_violations(text, allow)
    # A removal or a tidy can join text into a new link or name, but only on a line that is no
    # line of the text before (links and names never span lines): look again at those lines
    # first, and over the whole text if they hold one (looking at the whole text at once makes
    # validate 1.06-1.16x as slow on the real dev answers).
    for _ in range(8):
        if not found:
            break
        violations.extend(found)
        # Lines of the text before that held nothing: the same line after holds nothing either.
        lines = text.split("\n")
        before = set(lines) - {lines[text.count("\n", 0, v.start)] for v in found}
        text = _remove_units(text, found, layout or Layout(text))
        new_lines = "\n".join(line for line in text.split("\n") if line not in before)
        if new_lines and _find_violations(new_lines, allow)[0]:
            found, layout, _ = _find_violations(text, allow)
        else:
            found = []
    validation = Validation(
        text=text.strip("\n") + ("\n" if text.strip() else ""), violations=violations, citations=citations
    )
    validation._found = first
    return validation
