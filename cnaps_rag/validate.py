"""Strip every URL and model name that a prompt's sources do not contain, and report each removal.

``validate(markdown, spec)`` is a pure function of its two arguments: it never
raises on any string and it is idempotent (validating its own output changes
nothing). Disallowed URLs are removed where they stand (a markdown link keeps its
text when that text is itself allowed); a disallowed model name takes with it the
sentence or list item that makes the claim, or only the name in a heading. The
three section headings stay; a section left empty says the sources do not cover it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process

from .allowlist import AllowList
from .links import Link, find_links, url_key
from .names import find_model_names
from .spec import PromptSpec

NOT_COVERED = "The provided sources do not cover this."

_MD_LINK = re.compile(
    r"\[([^\[\]\n]*)\]\(\s*<?([^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*)>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
# re.M: these are matched at a line's start inside the whole text.
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.M)
_SECTION_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*\**[ \t]*(\d+)[.)]")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", re.M)
_SENTENCE_END = re.compile(r"[.!?](?=\s+\S)")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "vs", "al", "cf", "fig", "eq", "no", "approx", "etc", "resp"})
_CONNECTOR = re.compile(
    r"(?:\b(?:available|hosted|found|released|published)\s+)?"
    r"(?:\b(?:at|from|see|via|on|in|visit|here|under|link|url|code|repo|repository|paper)\s*:?\s*)$",
    re.I,
)

Kind = Literal["url", "model"]
Action = Literal[
    "removed_url", "removed_link", "kept_link_text", "removed_sentence", "removed_item", "removed_name"
]


class Violation(BaseModel):
    """One thing the validator removed, and why."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    value: str
    start: int
    end: int
    """Span of ``value`` in the text it was found in (the input, for the first pass)."""
    section: int | None
    """The numbered section it stood in, None before the first section heading."""
    action: Action
    nearest: str | None = None
    """The allowed item most like it, with ``similarity`` (0-100, rapidfuzz ratio)."""
    similarity: float = 0.0
    key: str | None = None
    """For URLs: the key it matched on (see :mod:`cnaps_rag.links`)."""


class Validation(BaseModel):
    """The cleaned answer and every removal made to get it."""

    model_config = ConfigDict(extra="forbid")

    text: str
    violations: list[Violation]

    @property
    def ok(self) -> bool:
        """Return True when nothing had to be removed."""
        return not self.violations

    def counts(self) -> dict[str, int]:
        """Return the number of violations of each kind."""
        result = {"url": 0, "model": 0}
        for violation in self.violations:
            result[violation.kind] += 1
        return result


def _sections(text: str) -> list[tuple[int, int]]:
    """Return (offset, section number) of each numbered heading."""
    result = []
    offset = 0
    for line in text.splitlines(keepends=True):
        match = _SECTION_HEADING.match(line)
        if match:
            result.append((offset, int(match.group(1))))
        offset += len(line)
    return result


def _section_at(sections: list[tuple[int, int]], position: int) -> int | None:
    current = None
    for offset, number in sections:
        if offset > position:
            break
        current = number
    return current


def _line_bounds(text: str, position: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return start, len(text) if end == -1 else end


def _sentence_bounds(text: str, line_start: int, line_end: int, position: int) -> tuple[int, int]:
    content_start = line_start
    prefix = _ITEM.match(text, line_start, line_end) or _HEADING.match(text, line_start, line_end)
    if prefix:
        content_start = prefix.end()
    start = content_start
    for match in _SENTENCE_END.finditer(text, content_start, line_end):
        before = text[content_start : match.start()].split()
        word = before[-1].lower() if before else ""
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue  # "e.g.", "et al.", an initial
        if match.end() > position:
            return start, match.end()
        start = match.end()
        while start < line_end and text[start] in " \t":
            start += 1
    return start, line_end


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
        for start, end, replacement in sorted(self.items, reverse=True):
            text = text[:start] + replacement + text[end:]
        return text


def _remove_claim(text: str, position: int, edits: _Edits) -> Action:
    """Remove the sentence or list item around ``position``; in a heading, leave the name to the caller."""
    line_start, line_end = _line_bounds(text, position)
    if _HEADING.match(text, line_start, line_end):
        return "removed_name"
    sentence_start, sentence_end = _sentence_bounds(text, line_start, line_end, position)
    content_start = line_start
    prefix = _ITEM.match(text, line_start, line_end)
    if prefix:
        content_start = prefix.end()
    whole_line = (
        text[content_start:sentence_start].strip() == "" and text[sentence_end:line_end].strip() == ""
    )
    if whole_line:
        edits.add(line_start, min(line_end + 1, len(text)))
        return "removed_item" if prefix else "removed_sentence"
    # Take the space between sentences with it, so no line starts or ends with a stray space.
    while sentence_end < line_end and text[sentence_end] in " \t":
        sentence_end += 1
    if sentence_end == line_end:
        while sentence_start > content_start and text[sentence_start - 1] in " \t":
            sentence_start -= 1
    edits.add(sentence_start, sentence_end)
    return "removed_sentence"


def _url_removal(text: str, link: Link) -> tuple[int, int]:
    """Return the span to delete for a disallowed bare URL: with its brackets and a dangling connector."""
    start, end = link.start, link.end
    if start > 0 and end < len(text) and text[start - 1] + text[end] in ("<>", "()", "[]"):
        start, end = start - 1, end + 1
    line_start, line_end = _line_bounds(text, link.start)
    before = text[line_start:start]
    item = _ITEM.match(text, line_start, line_end)
    if (
        item
        and before[item.end() - line_start :].rstrip().endswith(":")
        and not text[end:line_end].strip(" \t.,;")
    ):
        return line_start, min(line_end + 1, len(text))  # the item was a label for this link
    connector = _CONNECTOR.search(before.rstrip(" \t"))
    if connector:
        start = start - len(before) + connector.start()
        while start > 0 and text[start - 1] in " \t":
            start -= 1
    return start, end


def _one_pass(text: str, allow: AllowList) -> tuple[str, list[Violation]]:
    sections = _sections(text)
    edits = _Edits()
    violations: list[Violation] = []
    links = find_links(text)
    handled: list[tuple[int, int]] = []

    def record(
        kind: Kind,
        value: str,
        start: int,
        end: int,
        action: Action,
        nearest: str | None,
        similarity: float,
        key: str | None = None,
    ) -> None:
        section = _section_at(sections, start)
        violations.append(
            Violation(
                kind=kind,
                value=value,
                start=start,
                end=end,
                section=section,
                action=action,
                nearest=nearest,
                similarity=similarity,
                key=key,
            )
        )

    def nearest_url(key: str) -> tuple[str | None, float]:
        if not allow.urls:
            return None, 0.0
        best = process.extractOne(key, list(allow.urls), scorer=fuzz.ratio)
        assert best is not None
        return allow.urls[best[0]], round(float(best[1]), 1)

    for match in _MD_LINK.finditer(text):
        label, target = match.group(1), match.group(2)
        handled.append(match.span())
        key = url_key(target)
        if key in allow.urls:
            continue
        nearest, score = nearest_url(key)
        label_ok = bool(label.strip()) and _is_clean(label, allow)
        action: Action = "kept_link_text" if label_ok else "removed_link"
        record(
            "url", target, match.start(2), match.end(2), action, nearest=nearest, similarity=score, key=key
        )
        if label_ok:
            edits.add(match.start(), match.end(), label)
        else:
            span = _url_removal(text, Link(match.start(), match.end(), match.group(0), key))
            edits.add(*span)

    for link in links:
        if any(s <= link.start and link.end <= e for s, e in handled):
            continue
        if link.key in allow.urls:
            continue
        nearest, score = nearest_url(link.key)
        record(
            "url",
            link.text,
            link.start,
            link.end,
            "removed_url",
            nearest=nearest,
            similarity=score,
            key=link.key,
        )
        edits.add(*_url_removal(text, link))

    skip = [(link.start, link.end) for link in links] + [
        (m.start(2), m.end(2)) for m in _MD_LINK.finditer(text)
    ]
    for mention in find_model_names(text, skip=skip):
        verdict = allow.names.check(mention)
        if verdict.allowed:
            continue
        action = _remove_claim(text, mention.start, edits)
        if action == "removed_name":
            edits.add(mention.start, mention.end)
        record(
            "model",
            mention.text,
            mention.start,
            mention.end,
            action,
            nearest=verdict.nearest,
            similarity=verdict.score,
        )
    return edits.apply(text), violations


def _is_clean(fragment: str, allow: AllowList) -> bool:
    if any(link.key not in allow.urls for link in find_links(fragment)):
        return False
    return all(allow.names.check(m).allowed for m in find_model_names(fragment))


_EMPTY_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]*(?:\**[\w ]{0,20}\**[ \t]*:)?[ \t]*[.,;:]*[ \t]*$")
_EMPTY_BRACKETS = re.compile(r"[ \t]*(?:\([\s,;:.]*\)|\[[\s,;:.]*\]|<\s*>)")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\S)[ \t]+(?=[.,;:!?](?:\s|$))")
_DOUBLE_PUNCT = re.compile(r"([,;:])[ \t]*(?=[.,;:])|(?<=\.)\.(?!\.)")
_MULTI_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_ORPHAN_CONNECTOR = re.compile(r"[ \t,]+(?:and|or|at|from|via|see)[ \t]*(?=[.!?]?$)", re.M | re.I)


def _tidy(text: str) -> str:
    """Return ``text`` without the debris removals leave: empty brackets and items, stray spaces."""
    text = _EMPTY_BRACKETS.sub("", text)
    lines = []
    for line in text.split("\n"):
        if _EMPTY_ITEM.match(line) and not _HEADING.match(line):
            continue
        if not _HEADING.match(line):
            line = _MULTI_SPACE.sub(" ", line)
            line = _SPACE_BEFORE_PUNCT.sub("", line)
            line = _DOUBLE_PUNCT.sub(lambda m: m.group(1) or "", line)
            line = _ORPHAN_CONNECTOR.sub("", line)
        lines.append(line.rstrip() if line.strip() else "")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return _fill_empty_sections(text)


def _fill_empty_sections(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        out.append(line)
        if not _SECTION_HEADING.match(line):
            continue
        rest = lines[index + 1 :]
        body = []
        for following in rest:
            if _HEADING.match(following):
                break
            body.append(following)
        if not any(b.strip() for b in body):
            out.extend(["", NOT_COVERED])
    return "\n".join(out)


def validate(markdown: str, spec: PromptSpec | AllowList) -> Validation:
    """Return the answer with every unsourced URL and model name removed, and a report of each removal.

    ``spec`` is the prompt (or its already built :class:`AllowList`). Never raises
    on any string; validating the result again removes nothing.
    """
    allow = spec if isinstance(spec, AllowList) else AllowList.for_spec(spec)
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    violations: list[Violation] = []
    # A removal or a tidy can join text into a new link or name: repeat until nothing changes.
    for _ in range(8):
        cleaned, found = _one_pass(text, allow)
        violations.extend(found)
        cleaned = _tidy(cleaned)
        if not found and cleaned == text:
            break
        text = cleaned
    return Validation(text=text.strip("\n") + ("\n" if text.strip() else ""), violations=violations)
