"""Check each claim of an answer against the source it credits, in that source's own words.

Deterministic, no model. For each unit :mod:`cnaps_rag.claims` calls a claim (and each lead-in that
names a source):

1. **Which sources it credits.** A source marker (``[S2]``), a link that the prompt gives for a
   source, or a name of the source (:mod:`cnaps_rag.profiles` says which names); else, for a unit
   with a chat citation mark (``[cite: 3]``), some source; else, for a unit that opens with a
   pronoun ("It", "Its", "This model", also after a clause), what the unit before it credited;
   else the sources named by the bold label or lead-in it stands under (or the list item it is
   nested in), else by its heading.
2. **What it may say.** A unit that credits sources may use the words of those sources only
   (:class:`~cnaps_rag.profiles.Profile`: the identifier read as task, architecture, data and style,
   the title, the summary, the link path), plus the user's question, the sources' names, and the
   background and workflow words any answer may use, but not the prompt's instructions (they say
   what the answer holds, not what a source does); a related paper (no recommended model) is about
   something else, so a claim crediting only related papers may not take the
   question's topic words without them, and neither may a claim with a chat citation mark (it says
   a source says it, and the user's words are not what any source says), except where it restates
   the prompt (step 4). A unit that credits none may use the words of every source.
3. **Support.** The share of its distinct content words found there, where a word of praise
   (``data/evaluative_words.txt``) its sources do not use weighs :data:`EVALUATIVE_WEIGHT` more and a
   missing word written as a name or naming a method (``data/method_words.txt``: encoder, attention,
   conditioning) :data:`SPECIFIC_WEIGHT` more; an acronym defined in place
   ("text-to-speech (TTS)") is no word of the claim.
4. **Verdict.** *Supported* at :data:`SUPPORT_THRESHOLD` or more; at :data:`GOAL_THRESHOLD`, where
   the answer restates the prompt in its own words: a line saying what flows into or out of a step,
   and a claim crediting no source (or only a chat mark) that stands in the section saying what the
   user wants or says what the provided models lack. Else *misattributed* when it credits a source
   (the claim is not in the source it credits), *general* when it credits none, names no model and
   is a textbook statement by its subject (:func:`cnaps_rag.claims.is_general`), *unsupported*
   otherwise. A unit that holds an item the
   validator strips (a model name or URL no source gives) is unsupported whatever its words, and
   misattributed when it credits a source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

from .allowlist import AllowList
from .claims import Unit, is_general, units
from .markdown import Layout
from .profiles import (
    Fields,
    Profile,
    SourceNames,
    claim_words,
    name_text,
    profile_table,
    source_fields,
)
from .spec import PromptSpec
from .text import blanked_spans
from .validation import NOT_COVERED, Found
from .words import (
    CJK_CHAR,
    background_words,
    content_words,
    evaluative_words,
    method_words,
    roots,
    word_root,
    words_of,
    workflow_words,
)

SUPPORT_THRESHOLD = 0.75
"""Share of a claim's distinct content words (less the penalties below) that must be found."""
EVALUATIVE_WEIGHT = 1.0
"""Extra weight of a word of praise (``data/evaluative_words.txt``) that the credited source lacks."""
GOAL_THRESHOLD = 0.5
"""The support that a claim restating the prompt in the answer's own words needs (:func:`_restates`:
the user's goal in the task section, what the provided models lack, a step's input or output)."""
SPECIFIC_WEIGHT = 2.0
"""Extra weight of a missing word written as a name (an acronym, CamelCase, a capital inside a
sentence) or naming how a model is built or trained (``data/method_words.txt``): a specific model,
dataset or method the prompt does not give."""

_T = TypeVar("_T")
Verdict = Literal["supported", "unsupported", "misattributed", "general"]

_MARKER = re.compile(r"\[(S\d+)\]")
_PRONOUN = re.compile(
    r"^\W*(?:[^,.;:]{1,60}, )?(?:it|its|it's|they|their|both"
    r"|(?:this|the|that|these)(?: [\w-]+){0,2} (?:model|network|paper|method|approach|framework|tool)s?)\b",
    re.I,
)
"""A unit that opens so (perhaps after a clause: "Unlike X, it …") speaks of what the unit before it
named."""


class Check(NamedTuple):
    """The verdict on one claim."""

    start: int
    end: int
    verdict: Verdict
    support: float
    sources: tuple[str, ...]
    """IDs of the sources the claim credits (read against them), in prompt order."""
    missing: tuple[str, ...]
    """Its words that what it may say lacks (for a flagged claim as written, lower-cased), sorted."""
    stripped: str | None = None
    """An item in it that the validator strips, if any."""
    how: str = ""
    """How it credits its sources: ``named`` (marker, link or name in it), ``pronoun``, ``label``,
    ``heading``; "" when it credits none."""
    checked: str = ""
    """What a model that checked the claim said (``MODEL: reason``, :func:`review`); "" when none did."""

    def why(self, profiles: dict[str, Profile]) -> str:
        """Return one line saying what was read and what was not found in it."""
        if self.stripped is not None:
            return f"names {self.stripped!r}, which no source gives"
        read = ", ".join(f"{sid} ({profiles[sid].name})" for sid in self.sources)
        missing = ", ".join(self.missing[:6]) + (" …" if len(self.missing) > 6 else "")
        where = f"read {read}" if read else "read the question and all sources"
        if self.checked and not self.missing:
            return f"{where}; checked by {self.checked}"
        found = f"{self.support:.0%} of its words found; {where}; not found: {missing}"
        return f"{found}; checked by {self.checked}" if self.checked else found


_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,5}?)s?\)")
"""An acronym in brackets, perhaps plural: "(TTS)", "(LLMs)"."""
_BEFORE_ACRONYM = re.compile(r"[\s*_-]+")


def _defined(written: str) -> set[str]:
    """Return the roots of the acronyms ``written`` defines in place (whose letters start the words
    before them): saying "(TTS)" after "text-to-speech" claims nothing more."""
    found = set()
    for match in _ACRONYM.finditer(written):
        acronym = match.group(1)
        before = [w for w in _BEFORE_ACRONYM.split(written[max(0, match.start() - 120) : match.start()]) if w]
        letters = "".join(w[0] for w in before[-len(acronym) :])
        if len(before) >= len(acronym) and letters.lower() == acronym.lower():
            found.add(word_root(acronym) or "")
    return found


# A word written as a name: an acronym (TTS), camelCase (wordLlama), a capital after a lower-case
# word (Raspberry Pi). As one pattern with a word start tried at every character it cost twice as
# much; the capitals are skipped to instead, and camelCase is looked for only where a lower-case
# letter stands before a capital (1 claim in 10 on the real answers). The property test in
# tests/test_claims.py pins the words against the plain pattern.
_CAPITAL_SHAPED = re.compile(r"[A-Z](?<!\w[A-Z])(?:[A-Z]|(?<=[a-z] [A-Z]))[A-Za-z0-9]*")
_CAMEL_SHAPED = re.compile(r"\b[a-z]+[A-Z][A-Za-z0-9]*")
_LOWER_CAPITAL = re.compile(r"[A-Z](?<=[a-z][A-Z])")


def _name_shaped(written: str) -> list[str]:
    """Return the words of ``written`` written as names (in no particular order)."""
    shaped = _CAPITAL_SHAPED.findall(written)
    if _LOWER_CAPITAL.search(written):
        shaped += _CAMEL_SHAPED.findall(written)
    return shaped


def _specific(written: str, missing: set[str]) -> set[str]:
    """Return the missing roots written as names or naming a method: a specific thing, which the
    prompt must give."""
    named = {root for root in map(word_root, _name_shaped(written)) if root in missing}
    return named | (missing & method_words())


@lru_cache(maxsize=256)
def _common(question: str, instructions: tuple[str, ...], names: tuple[str, ...]) -> frozenset[str]:
    """Return what any claim may say: the question, the instructions, the sources' names, the
    background and workflow words (naming a source is no claim about it)."""
    return (
        frozenset(roots(content_words("\n".join([question, *instructions, *names]))))
        | background_words()
        | workflow_words()
    )


def _ordered(ids: set[str], order: Sequence[str]) -> tuple[str, ...]:
    return tuple(sid for sid in order if sid in ids) if len(ids) > 1 else tuple(ids)


class _Spans(Generic[_T]):
    """Items with spans, sorted by start, asked in order of the units for those that overlap one."""

    def __init__(self, items: Iterable[tuple[int, int, _T]]) -> None:
        self.items = sorted(items, key=lambda item: item[0])
        self.first = 0

    def over(self, unit: Unit) -> list[_T]:
        """Return the values of the items that overlap ``unit`` (units come in order)."""
        items, index = self.items, self.first
        if index >= len(items):
            return []  # most answers have no mark or stripped item, and few links
        # An item that ends before this unit starts ends before every later one too.
        while index < len(items) and items[index][1] <= unit.start:
            index += 1
        self.first = index
        found = []
        while index < len(items) and items[index][0] < unit.end:
            if items[index][1] > unit.start:
                found.append(items[index][2])
            index += 1
        return found


class _TaskLines:
    """The lines of the answer's section that says what task the user is doing (none when the
    prompt asks for no such section or the answer has no heading for it), found when first asked."""

    def __init__(self, layout: Layout, spec: PromptSpec) -> None:
        self.layout, self.spec = layout, spec
        self.lines: range | None = None

    def __contains__(self, line: int) -> bool:
        if self.lines is None:
            self.lines = self._find()
        return line in self.lines

    def _find(self) -> range:
        number = next((section.number for section in self.spec.sections if section.key == "task"), None)
        start = None
        for heading in self.layout.numbered_headings() if number is not None else ():
            if start is None:
                start = heading.line if heading.number == number else None
            elif heading.number.isdigit() and heading.number != number:
                return range(start, heading.line)
        return range(start, len(self.layout.lines)) if start is not None else range(0)


_LACKING = re.compile(
    r"^(?=.*\b(?:no|none|not|lack|lacks|cannot|without|neither)\b)"  # a negation, and
    r".*\b(?:provided|listed|list|recommended|available|given)\b",  # the prompt's list
    re.I,
)
"""A claim about what the prompt's list of models lacks ("none of the provided models …", "no …
model is available", "not a model from the list"): the answer reads the list, as a reader can
(:data:`GOAL_THRESHOLD`)."""


_FLOW = re.compile(r"^\W*(?:input|output)s?\b[\w ]{0,20}?\W*:", re.I)
"""A line that says what flows into or out of a step ("**Output:** a sharp photo"): the data the
question and the task's input and output describe, in the answer's words (:data:`GOAL_THRESHOLD`)."""


def _restates(written: str, how: str, unit: Unit, task: _TaskLines) -> bool:
    """Return whether a claim restates the prompt in the answer's words (:data:`GOAL_THRESHOLD`): a
    step's input or output, or, crediting no source (a chat mark names none), the user's goal in the
    task section or what the provided models lack."""
    return bool(_FLOW.match(written)) or (
        how in ("", "mark") and (unit.line in task or _LACKING.match(written) is not None)
    )


_SILENT = frozenset({"diagram", "rule", "no words", "question", "transition", "table header"})
"""Shapes of units that neither claim nor name what the units after them are about."""


class _Credits:
    """Which sources each unit credits, walking the units in order: what the unit names itself,
    else what the heading, bold label, lead-in or the unit before it (through a pronoun) named."""

    def __init__(self, text: str, layout: Layout) -> None:
        self.text = text
        self.lines = layout.lines
        self.headings: dict[int, set[str]] = {}  # heading level -> the sources it names
        self.label: tuple[int, set[str]] | None = None  # (indent, sources) of the label in force
        self.previous: set[str] = set()
        self.previous_line = -1

    def credit(
        self, unit: Unit, named: set[str], everything: set[str], marked: bool
    ) -> tuple[set[str], str] | None:
        """Return the sources ``unit`` credits and how, or None when it is no claim to check."""
        line = self.lines[unit.line]
        if unit.shape == "heading":
            level = len(self.text[line.start : line.content].strip())
            self.headings = {k: v for k, v in self.headings.items() if k < level}
            if named:
                self.headings[level] = named
            self.label, self.previous = None, set()
            return None
        new_line = unit.line != self.previous_line
        self.previous_line = unit.line
        if self.label is not None and (
            (new_line and line.kind == "text" and unit.claim)  # a paragraph after a label ends it
            or (line.kind == "item" and line.indent < self.label[0])  # so does an item less indented
        ):
            self.label = None
        lead_in = unit.shape == "lead-in" and bool(named)
        if unit.shape in ("label", "lead-in"):
            # A bold label or a lead-in ("X does this by:") names what the lines after it are about.
            self.label = (line.indent + (line.kind == "item"), named) if named else None
        if not (unit.claim or lead_in):
            if unit.shape in ("label", "lead-in"):
                self.previous = named
            return None
        credited, how = set(named), "named"
        if not credited and marked:
            credited, how = set(everything), "mark"  # a chat citation mark credits some source
        if not credited and self.previous and _PRONOUN.match(self.text[unit.start : unit.end]):
            credited, how = set(self.previous), "pronoun"
        if not credited and self.label is not None and not lead_in:
            credited, how = set(self.label[1]), "label"
        if not credited and self.headings:
            credited, how = set(self.headings[max(self.headings)]), "heading"
        if named and line.kind == "item" and self.text[unit.start : unit.end].rstrip("*_ ").endswith(":"):
            self.label = (line.indent + 1, named)  # an item naming a source leads into nested items
        self.previous = credited or self.previous
        return credited, how if credited else ""


@dataclass(frozen=True)
class _Allowed:
    """What the claims of one answer to one prompt may say."""

    base: frozenset[str]
    """Background, workflow and the sources' name words: what any claim may use."""
    question: frozenset[str]
    """The question's words: what the user asks about, which a claim crediting a recommended model
    may say of it (the instructions' words say what the answer looks like, not what a source does)."""
    topic: frozenset[str]
    """The question's words that the instructions lack: what the user asks about, which a related
    paper (on another topic) does not speak of unless in its own words."""
    related: frozenset[str]
    """IDs of the related papers (the sources that are no recommended model)."""
    everything: frozenset[str]
    """All of the above, the instructions' words and every source's words: what a claim crediting
    no source may use."""
    sources: frozenset[str]
    """Every source's words (a claim crediting none may praise as any of them does)."""


@dataclass(frozen=True)
class _Prompt:
    """What checking any answer to one prompt needs, built once per prompt."""

    table: dict[str, Profile]
    order: tuple[str, ...]
    finder: SourceNames
    allowed: _Allowed
    said: dict[tuple[frozenset[str], bool], tuple[frozenset[str], frozenset[str]]] = field(
        default_factory=dict
    )
    """What a claim crediting each set of sources, cited or not, may say (:func:`_may_say`)."""


@lru_cache(maxsize=256)
def _prompt(question: str, instructions: tuple[str, ...], sources: tuple[Fields, ...]) -> _Prompt:
    """Return what checking an answer to this prompt needs (cached by the strings it reads)."""
    table = profile_table(sources)
    related = frozenset(fields[0] for fields in sources if fields[1] == "related")
    return _Prompt(table, tuple(table), SourceNames(table), _allowed(question, instructions, table, related))


def _allowed(
    question_text: str, instructions: tuple[str, ...], table: dict[str, Profile], related: frozenset[str]
) -> _Allowed:
    names = tuple(name_text(p.name) for p in table.values()) + tuple(
        key for p in table.values() for key in sorted(p.aliases)
    )
    base = _common("", (), names)
    question = frozenset(roots(content_words(question_text)))
    sources = frozenset().union(*(p.words for p in table.values()))
    topic = question - frozenset(roots(content_words("\n".join(instructions))))
    everything = _common(question_text, instructions, names) | sources
    return _Allowed(base, question, topic, related, everything, sources)


def _may_say(
    credited: frozenset[str], table: dict[str, Profile], allowed: _Allowed, cited: bool
) -> tuple[frozenset[str], frozenset[str]]:
    """Return what a claim crediting ``credited`` may say, and the sources' own words (for praise);
    ``cited``: the claim carries a chat citation mark and does not restate the prompt."""
    if not credited:
        return allowed.everything, allowed.sources
    own = frozenset().union(*(table[sid].words for sid in credited))
    if cited or credited <= allowed.related:
        # A related paper is about something else, and a cited claim says that a source says it:
        # the user's topic is in such claims only in the sources' words.
        return (allowed.base - allowed.topic) | own, own
    return allowed.base | allowed.question | own, own


def _judge(
    words: set[str],
    written: str,
    may_say: tuple[frozenset[str], frozenset[str]],
    praising: frozenset[str],
) -> tuple[float, set[str]]:
    """Return a claim's support (:data:`SUPPORT_THRESHOLD` says what is enough) and its words not found."""
    found, own = may_say
    missing = words - found
    praise = (words & praising) - own
    penalty = len(missing) + EVALUATIVE_WEIGHT * len(praise)
    if missing:
        penalty += SPECIFIC_WEIGHT * len(_specific(written, missing))
    return round(max(0.0, 1 - penalty / len(words)), 4), missing | praise


def check(
    text: str,
    spec: PromptSpec,
    allow: AllowList,
    found: Found,
    link_spans: list[tuple[int, int]],
    marks: list[tuple[int, int]],
    layout: Layout | None = None,
) -> list[Check]:
    """Return the verdict on each claim of ``text`` (LF newlines), in order.

    ``found`` is what :func:`cnaps_rag.validation.find_items` finds in ``text``; ``link_spans`` the
    spans of its links and link targets, and ``marks`` those of its chat citation marks
    (:func:`cnaps_rag.validation.citation_spans`), blanked before words are read; ``layout`` is the
    text's, when the caller has it.
    """
    layout = layout or Layout(text)
    # Links and chat citation marks are no prose: blanked before units are cut and words read;
    # source markers ([S2]) too, once they have said which source a unit credits.
    shaped = blanked_spans(text, sorted([*link_spans, *marks]))
    blanked = blanked_spans(shaped, [m.span() for m in _MARKER.finditer(text)]) if "[S" in text else shaped
    prompt = _prompt(spec.question, tuple(spec.instructions), source_fields(spec))
    table, finder, allowed = prompt.table, prompt.finder, prompt.allowed
    # A link the prompt gives for a source credits that source.
    link_sources = _Spans(
        [(link.start, link.end, allow.url_sources.get(link.key, ())) for link in found.links]
        + [(md.start, md.end, allow.url_sources.get(md.key, ())) for md in found.markdown_links if md.key]
    )
    stripped = _Spans(
        [(m.start, m.end, m.text) for m in found.mentions if not allow.names.check(m).allowed]
        + [
            (link.start, link.end, link.text)
            for link in found.links
            if link.key and link.key not in allow.urls
        ]
    )
    mentions = _Spans([(m.start, m.end, True) for m in found.mentions])
    marked = _Spans([(start, end, True) for start, end in marks])
    cjk = CJK_CHAR.search(blanked) is not None
    every = set(table)
    credits = _Credits(text, layout)
    task = _TaskLines(layout, spec)
    said = prompt.said
    praising = evaluative_words()
    checks: list[Check] = []
    for unit in units(shaped, layout, spec.question):
        if unit.shape in _SILENT:
            continue  # no claim, and names nothing the units after it speak of
        piece = text[unit.start : unit.end]
        if piece == NOT_COVERED:
            continue
        written = blanked[unit.start : unit.end]
        tokens = words_of(written.lower())  # for names and content words alike
        named = finder.named(piece, tokens)
        if "[S" in piece:
            named |= {m for m in _MARKER.findall(piece) if m in table}
        for ids in link_sources.over(unit):
            named.update(ids)
        credit = credits.credit(unit, named, every, bool(marked.over(unit)))
        if credit is None:
            continue
        credited, how = credit
        words = claim_words(written, tokens, cjk)
        if "(" in written:
            words -= _defined(written)
        if not words:
            continue
        key = (frozenset(credited), how == "mark" and not _restates(written, how, unit, task))
        may_say = said.get(key)
        if may_say is None:
            may_say = said[key] = _may_say(key[0], table, allowed, key[1])
        support, missing = _judge(words, written, may_say, praising)
        bad = next(iter(stripped.over(unit)), None)
        named_model = bool(mentions.over(unit))
        verdict: Verdict
        if bad is not None:
            # What the validator strips no source gives: the source the claim credits does not say it.
            verdict = "misattributed" if credited and how != "mark" else "unsupported"
        elif support >= SUPPORT_THRESHOLD or (
            support >= GOAL_THRESHOLD and _restates(written, how, unit, task)
        ):
            verdict = "supported"
        elif credited:
            # A chat citation mark says that some source is credited, not which: its claim is
            # checked against them all and, if none says it, is unsupported, not misattributed.
            verdict = "misattributed" if how != "mark" else "unsupported"
        elif not named_model and is_general(written):
            verdict = "general"
        else:
            verdict = "unsupported"
        if verdict != "supported":
            # Shown as written ("artifacts"), not as the roots compared ("artifac").
            missing = {word for word in tokens if word_root(word) in missing} or missing
        checks.append(
            Check(
                unit.start,
                unit.end,
                verdict,
                support,
                _ordered(credited, prompt.order),
                tuple(sorted(missing)),
                bad,
                how,
            )
        )
    return checks


class ClaimReader(Protocol):
    """A second reader of claims (:class:`cnaps_rag.claim_check.ClaimChecker`: a model)."""

    which: Literal["flagged", "all"]
    """The claims it reads: those the deterministic check flags, or all."""

    @property
    def model(self) -> str: ...

    def verdict(self, claim: str, spec: PromptSpec, credited: Sequence[str]) -> tuple[bool, str] | None:
        """Return whether the sources ``credited`` (IDs; none: all) say ``claim`` and why, or None
        when it cannot tell (the deterministic verdict stands)."""
        ...


def review(checks: list[Check], text: str, spec: PromptSpec, reader: ClaimReader) -> list[Check]:
    """Return ``checks`` with the verdicts of ``reader`` on the claims it reads.

    Its *supported* clears a flag; its *not supported* keeps a flag, or flags a claim the words
    supported (misattributed when it credits a source). A claim holding an item the validator strips
    stays unsupported, and a claim the reader cannot tell about keeps its verdict.
    """
    reviewed = []
    for item in checks:
        if item.stripped is not None or (reader.which == "flagged" and item.verdict == "supported"):
            reviewed.append(item)
            continue
        said = reader.verdict(text[item.start : item.end], spec, item.sources)
        if said is None:
            reviewed.append(item)
            continue
        supported, reason = said
        verdict: Verdict = item.verdict
        if supported:
            verdict = "supported"
        elif verdict == "supported":
            verdict = "misattributed" if item.sources else "unsupported"
        reviewed.append(item._replace(verdict=verdict, checked=f"{reader.model}: {reason}"))
    return reviewed
