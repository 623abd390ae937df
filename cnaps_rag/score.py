"""Score how faithful an answer is to its prompt: deterministic, no model.

``score(markdown, spec)`` returns :class:`Scores`:

- ``url_precision``: distinct cited URLs that the prompt allows / distinct cited URLs
  (1.0 when none is cited). A cited URL is every link :func:`cnaps_rag.links.find_links`
  finds (full URLs, bare domains, ``<autolinks>``, ``arXiv:ID``, DOIs, e-mail) and every
  markdown link target; two URLs are the same when their :func:`~cnaps_rag.links.url_key`
  is, so ``arXiv:2406.17117`` and ``http://arxiv.org/pdf/2406.17117v2.pdf`` count once.
- ``source_recall``: sources at least one of whose links (``Paper:``, ``GitHub:``) is cited
  / sources that have a link (1.0 when no source has one).
- ``model_precision``: model-name mentions the prompt allows / all mentions, counting every
  occurrence (1.0 when there is none). Names inside links are not mentions.
- ``structure``: the share of the parts the prompt asks for (its numbered sections, and for
  the second format the lettered parts A, B, C of its workflow section) that the answer has,
  in order and not empty (1.0 when all are). Extra sections are allowed. A heading is any of
  the forms real answers use: ``## 1. Task``, ``### 1.``, ``**1. Task**`` on a line of its
  own, or a plain ``1. What task…`` line that repeats the prompt's own words for that part
  (:func:`cnaps_rag.markdown.answer_parts`). A section whose only text is
  :data:`cnaps_rag.validate.NOT_COVERED` is empty: the validator writes that line when it
  removed everything the section said. ``sections_found`` and ``empty_sections`` say why
  ``structure`` is below 1.
- ``citation_marks``: chat-interface citation marks in the answer (``[cite_start]``,
  ``[cite: 27]``), which refer to nothing a reader has; the validator removes them.
- ``grounding``: supported sentences / sentences (1.0 when there is none); see below.
- ``violations``: what :func:`cnaps_rag.validate.validate` strips, by kind.

Grounding
---------
A *sentence* is a sentence of a line that is not a heading and not the ``NOT_COVERED``
line, split at ``.``, ``!``, ``?`` before a space (not after ``e.g.``, ``et al.`` or an
initial) and at ``。！？``; list markers and links are left out of it, and a piece without
content words (a line that is only links, "**Input:**") is no sentence.

Its *content words* are its words lower-cased, without English and German stopwords
(``data/stopwords.txt``), at least 3 characters long (2 when they hold a digit: ``L3``,
``76``), lightly stemmed (``restored``, ``restoring`` and ``restoration`` are ``restor``);
a run of CJK characters gives its character pairs, since Chinese text has no spaces between
words. The stemmer is a small suffix stripper rather than Snowball's English stemmer
(``snowballstemmer``): on ``fixtures/labelled`` Snowball flags 34 of the 43 planted-name
sentences and 35 of the 212 others at 60 %, against 35 and 36 here, no better; and the
``stop-words`` package's 1,333-word English list drops content words (31 of 43 flagged).

The prompt's *vocabulary* is the content words of its question, its instructions, its
sources' names and its summaries (without the summary sentences that read as injected
orders, which the allow-list ignores too), plus a short fixed list of background words
(``data/background_words.txt``) that any answer may use without a source: the answer's
scaffolding (user, task, input, output, paper, code) and the medium (image, photo, frame,
RGB, JPEG, phone, GPU).

A sentence is *supported* when at least :data:`SUPPORT_THRESHOLD` (60 %) of its distinct
content words are in the vocabulary. The threshold comes from the 46 labelled answers in
``fixtures/labelled``: the 43 sentences that carry a planted model name have a median
support of 38 %, the 212 others 86 %. At 60 %, 35 of the 43 (81 %) are flagged and 36 of
the 212 (17 %). Of those 36, 13 label a planted link ("Mirror:", "Leaderboard:"), 8 are
German or Chinese answers to English summaries, and 15 add what the prompt does not say
(PSNR and SSIM, an encoder-decoder split, camera formats) or are short, with one of two
words unknown ("Dark frame → Retinexformer → bright frame"). At 50 % only 28 of the 43
(65 %) would be flagged; at 67 %, 59 of the 212. The measure is lexical: it cannot see a
false claim made of the prompt's own words, and an answer in another language than its
sources scores low although it may be right.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from .allowlist import AllowList, is_injection

# The validator's own patterns and findings, so that a heading, a list item, a link and a name
# are the same things for the score as for the validator whose work it measures.
from .claims import units as claim_units
from .markdown import Layout, answer_parts, in_order
from .spec import PromptSpec
from .support import SUPPORT_THRESHOLD, Check, check, profiles
from .text import normalize_newlines, sentences
from .words import background_words, content_words
from .validate import NOT_COVERED, Found, Validation, citation_spans, find_items, validate


METRICS: tuple[str, ...] = ("url_precision", "source_recall", "model_precision", "structure", "grounding")
"""The scores that are aggregated over answers, in report order."""


_SENTENCE_END = re.compile(r"[.!?。！？]")
"""A character that may end a sentence (:func:`cnaps_rag.text.sentence_spans` says when it does)."""


class Sentence(BaseModel):
    """A claim of an answer that the score flags, where it stands and why."""

    model_config = ConfigDict(extra="forbid")

    text: str
    start: int
    end: int
    """Span of ``text`` in the scored markdown (after CRLF became LF)."""
    support: float
    """Share of its distinct content words found in what it may say."""
    sources: list[str] = []
    """IDs of the sources it credits (by marker, link, name, heading or pronoun), read against it."""
    why: str = ""
    """Which source was read and what was not found in it."""


class Scores(BaseModel):
    """Faithfulness scores of one answer to one prompt (the module docstring defines each)."""

    model_config = ConfigDict(extra="forbid")

    url_precision: float
    source_recall: float
    model_precision: float
    structure: float
    grounding: float
    sections_found: list[int]
    """Numbers of the numbered section headings, in the order they appear."""
    empty_sections: list[int]
    cited_urls: list[str]
    """Distinct keys of the cited URLs, in order of first citation."""
    unallowed_urls: list[str]
    """The cited keys the prompt does not allow."""
    cited_sources: list[str]
    """IDs of the sources with at least one cited link, in prompt order."""
    linked_sources: list[str]
    """IDs of the sources that have a link (the denominator of ``source_recall``)."""
    model_mentions: int
    unallowed_models: list[str]
    """The mentions the prompt does not allow, as written, in order."""
    claims: int
    """Units that make a claim (general statements included)."""
    unsupported: list[Sentence]
    """Claims the prompt does not support: misattributed ones too (and general ones when strict)."""
    misattributed: list[Sentence] = []
    """Claims credited to a source that does not say them (each also in ``unsupported``)."""
    general: list[Sentence] = []
    """Claims about the task or field that credit no source and name no model (not in
    ``unsupported`` unless strict)."""
    violations: dict[str, int]
    """What the validator strips: ``{"url": n, "model": m}``."""
    citation_marks: int = 0
    """Chat-interface citation marks (``[cite_start]``, ``[cite: 27]``) in the answer."""


def prompt_vocabulary(spec: PromptSpec) -> frozenset[str]:
    """Return the content words of the prompt's question, instructions, source names and summaries.

    Built once per distinct prompt content (every answer to a prompt is scored against the same
    vocabulary, and building it was a quarter of a score call); the cached set is immutable.
    """
    # Keyed, like AllowList.for_spec, by the strings it reads, whose hashes Python keeps.
    sources = tuple((source.name, source.summary) for source in spec.sources)
    return _vocabulary(spec.question, tuple(spec.instructions), sources)


@lru_cache(maxsize=256)
def _vocabulary(
    question: str, instructions: tuple[str, ...], sources: tuple[tuple[str, str | None], ...]
) -> frozenset[str]:
    parts = [question, *instructions]
    for name, summary in sources:
        parts.append(name)
        if summary:
            parts.extend(s for s in sentences(summary) if not is_injection(s))
    return frozenset(content_words("\n".join(parts))) | background_words()


def _links(found: Found) -> tuple[list[tuple[int, int]], list[str]]:
    """Return the spans of every link and markdown link target found, and the distinct keys of
    the URLs they cite in order of first citation."""
    targets = [md for md in found.markdown_links if md.target_end > md.target_start]
    spans = sorted(
        [(link.start, link.end) for link in found.links] + [(t.target_start, t.target_end) for t in targets]
    )
    cited = [(link.start, link.key) for link in found.links] + [(t.target_start, t.key) for t in targets]
    keys: list[str] = []
    for _, key in sorted(cited):
        # An anchor-only target ("#setup") has an empty key: it cites nothing.
        if key and key not in keys:
            keys.append(key)
    return spans, keys


def _structure(text: str, spec: PromptSpec) -> tuple[float, list[int], list[int]]:
    """Return the share of required parts present in order, the section numbers found, the empty ones."""
    required = [section.number for section in spec.sections] or ["1", "2", "3"]
    expected: dict[str, list[str]] = {}
    for section in spec.sections:
        expected.setdefault(section.number, []).append(section.title)
    for number, instruction in enumerate(spec.instructions, start=1):
        expected.setdefault(str(number), []).append(instruction)
    parts = answer_parts(text, expected, filler=NOT_COVERED)
    present = in_order(required, [part.number for part in parts if not part.empty])
    numbers = [int(part.number) for part in parts if part.number.isdigit()]
    empty = [int(part.number) for part in parts if part.number.isdigit() and part.empty]
    return present / len(required), numbers, empty


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    """Return ``text`` with the (sorted, possibly overlapping) spans blanked, every offset kept."""
    kept, position = [], 0
    for start, end in spans:
        start, end = max(start, position), min(end, len(text))
        if end > start:
            kept += [text[position:start], " " * (end - start)]
            position = end
    return "".join(kept) + text[position:]


def _grounding(
    text: str, spec: PromptSpec, allow: AllowList, found: Found, links: list[tuple[int, int]], strict: bool
) -> tuple[int, list[Sentence], list[Sentence], list[Sentence]]:
    """Return the number of claims, and the unsupported, misattributed and general ones."""
    layout = Layout(text)
    pieces = [u for u in claim_units(text, layout, spec.question) if not text[u.start : u.end] == NOT_COVERED]
    # Links and citation marks are blanked (a URL's path words are no prose); a link the prompt
    # gives for a source credits that source.
    blanked = _blanked(text, sorted([*links, *citation_spans(text)]))
    link_sources = [(link.start, link.end, allow.url_sources.get(link.key, ())) for link in found.links]
    link_sources += [
        (md.start, md.end, allow.url_sources.get(md.key, ())) for md in found.markdown_links if md.key
    ]
    stripped = [(m.start, m.end, m.text) for m in found.mentions if not allow.names.check(m).allowed]
    stripped += [(link.start, link.end, link.text) for link in found.links if link.key and link.key not in allow.urls]
    checks = check(
        text, spec, pieces, layout, blanked=blanked, link_sources=link_sources, stripped=stripped,
        names_in=[(m.start, m.end) for m in found.mentions], marks=citation_spans(text),
    )  # fmt: skip
    table = profiles(spec)

    def item(c: Check) -> Sentence:
        return Sentence(
            text=text[c.start : c.end], start=c.start, end=c.end, support=c.support,
            sources=list(c.sources), why=c.why(table),
        )  # fmt: skip

    unsupported = [item(c) for c in checks if c.verdict in ("unsupported", "misattributed")]
    misattributed = [item(c) for c in checks if c.verdict == "misattributed"]
    general = [item(c) for c in checks if c.verdict == "general"]
    if strict:
        unsupported = sorted(unsupported + general, key=lambda s: s.start)
    return len(checks), unsupported, misattributed, general


def score(
    markdown: str,
    spec: PromptSpec,
    *,
    allow: AllowList | None = None,
    validation: Validation | None = None,
    strict: bool = False,
) -> Scores:
    """Return the faithfulness scores of ``markdown`` as an answer to ``spec``.

    ``allow`` is the prompt's already built allow-list and ``validation`` the result of
    :func:`cnaps_rag.validate.validate` on this same text, to save doing either again. A
    pure function of its arguments: the same answer and prompt give the same scores.
    """
    allow = allow or AllowList.for_spec(spec)
    text = normalize_newlines(markdown)
    if validation is None:
        validation = validate(text, allow)
    # The links and names the validation found, unless it read another text (it drops citation marks).
    found = validation.found
    if found is None or found.text != text:
        found = find_items(text)
    links, cited = _links(found)

    unallowed_urls = [key for key in cited if key not in allow.urls]
    url_precision = (len(cited) - len(unallowed_urls)) / len(cited) if cited else 1.0

    cited_ids = {sid for key in cited for sid in allow.url_sources.get(key, [])}
    linked = [s.id for s in spec.sources if s.urls]
    cited_sources = [sid for sid in linked if sid in cited_ids]
    source_recall = len(cited_sources) / len(linked) if linked else 1.0

    mentions = found.mentions
    unallowed_models = [m.text for m in mentions if not allow.names.check(m).allowed]
    model_precision = (len(mentions) - len(unallowed_models)) / len(mentions) if mentions else 1.0

    structure, sections_found, empty_sections = _structure(text, spec)

    claims, unsupported, misattributed, general = _grounding(text, spec, allow, found, links, strict)
    # Without strict, general statements count on neither side (with it, they are unsupported).
    judged = claims if strict else claims - len(general)
    grounding = (judged - len(unsupported)) / judged if judged else 1.0

    return Scores(
        url_precision=url_precision,
        source_recall=source_recall,
        model_precision=model_precision,
        structure=structure,
        grounding=grounding,
        sections_found=sections_found,
        empty_sections=empty_sections,
        cited_urls=cited,
        unallowed_urls=unallowed_urls,
        cited_sources=cited_sources,
        linked_sources=linked,
        model_mentions=len(mentions),
        unallowed_models=unallowed_models,
        claims=claims,
        unsupported=unsupported,
        misattributed=misattributed,
        general=general,
        violations=validation.counts(),
        citation_marks=len(citation_spans(text)),
    )
