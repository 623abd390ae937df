"""Plain-text helpers shared so that the parser, the validator, the scorer and the drafting agree on
what a line, a sentence and the end of a URL are."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# A sentence ends at ., ! or ? before white space and more text, or at a CJK full stop
# (Chinese and Japanese put no space after it); not at a dot after one of these words. One class
# of all six opens the pattern, so the regex engine skips to them (written as two alternatives, it
# was tried at every character: score's sentence split took twice as long on the real answers).
_SENTENCE_END = re.compile(r"[.!?。！？](?:(?<=[.!?])(?=\s+\S)|(?<=[。！？]))")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "vs", "al", "cf", "fig", "eq", "no", "approx", "etc", "resp", "z.b"}
)

CHARS_PER_TOKEN = 3
"""A cautious count of characters per token for English prose, to turn token budgets into characters."""


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def sentence_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield the (start, end) span of each sentence in ``text[start:end]``, which should be one line.

    A dot after an abbreviation ("e.g.", "et al.") or a single letter (an initial) ends no
    sentence. Spans keep the white space that follows a sentence end at the start of the next.
    """
    for match in _SENTENCE_END.finditer(text, start, end):
        before = text[start : match.start()].split()
        word = before[-1].lower().lstrip("(") if before else ""
        if match.group(0) == "." and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        yield start, match.end()
        start = match.end()
    if text[start:end].strip():
        yield start, end


def sentences(text: str) -> list[str]:
    """Return the sentences of ``text``, stripped: each line split by :func:`sentence_spans`."""
    result, offset = [], 0
    for line in text.split("\n"):  # every span holds text: its sentence end, or the line's rest
        result += [text[start:end].strip() for start, end in sentence_spans(text, offset, offset + len(line))]
        offset += len(line) + 1
    return result


def shorten(text: str, limit: int, marker: str = " …") -> str:
    """Return ``text`` cut to at most ``limit`` characters at a word boundary, ``marker`` added when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + marker


def first_line(text: str, limit: int = 160) -> str:
    """Return the first non-blank line of ``text``, at most ``limit`` characters (for one-line errors)."""
    lines = text.strip().splitlines()
    return lines[0][:limit] if lines else ""


def strip_code_fence(text: str) -> str:
    """Return ``text`` stripped, without a markdown code fence around it (a model's JSON often has one)."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def trim_url_tail(raw: str) -> str:
    """Return ``raw`` without the trailing punctuation or emphasis that is prose, not URL.

    A closing parenthesis stays when it balances one inside the URL
    (``wikipedia.org/wiki/Bokeh_(photography)``).
    """
    while raw and (raw[-1] in ".,;:!?\"'*_" or (raw[-1] == ")" and raw.count("(") < raw.count(")"))):
        raw = raw[:-1]
    return raw


def blanked_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Return ``text`` with the (sorted, possibly overlapping) spans blanked, every offset kept."""
    kept, position = [], 0
    for start, end in spans:
        start, end = max(start, position), min(end, len(text))
        if end > start:
            kept += [text[position:start], " " * (end - start)]
            position = end
    return "".join(kept) + text[position:]


def matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match[str]]:
    """Yield what ``pattern.finditer(text)`` yields, given (in order) every place a match can start:
    the search shortcut of the name and link finders, each of which says why it pays."""
    resume = 0
    for start in starts:
        if start >= resume and (match := pattern.match(text, start)) is not None and match.end() > start:
            yield match
            resume = match.end()  # a start inside this match is skipped, as finditer skips it
