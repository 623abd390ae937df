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
from .files import data_words

# The validator's own patterns and findings, so that a heading, a list item, a link and a name
# are the same things for the score as for the validator whose work it measures.
from .markdown import HEADING, ITEM, answer_parts, in_order
from .spec import PromptSpec
from .text import normalize_newlines, sentence_spans, sentences
from .validate import NOT_COVERED, Found, Validation, citation_spans, find_items, validate

SUPPORT_THRESHOLD = 0.6
"""Share of a sentence's distinct content words that must occur in the prompt."""

METRICS: tuple[str, ...] = ("url_precision", "source_recall", "model_precision", "structure", "grounding")
"""The scores that are aggregated over answers, in report order."""


_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
""":data:`_WORD` for ASCII text, where it means the same (a plain class is faster to try)."""
_SENTENCE_END = re.compile(r"[.!?。！？]")
"""A character that may end a sentence (:func:`cnaps_rag.text.sentence_spans` says when it does)."""
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Longest first; one is stripped, and only when a stem of at least 4 characters is left.
_SUFFIXES = (
    "izations", "ization", "ations", "ation", "ments", "ment", "ness", "ings", "ing",
    "ies", "ied", "edly", "ers", "er", "ed", "ly", "es", "s",
)  # fmt: skip


class Sentence(BaseModel):
    """A sentence of an answer and where it stands."""

    model_config = ConfigDict(extra="forbid")

    text: str
    start: int
    end: int
    """Span of ``text`` in the scored markdown (after CRLF became LF)."""
    support: float
    """Share of its distinct content words that occur in the prompt."""


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
    sentences: int
    unsupported: list[Sentence]
    violations: dict[str, int]
    """What the validator strips: ``{"url": n, "model": m}``."""
    citation_marks: int = 0
    """Chat-interface citation marks (``[cite_start]``, ``[cite: 27]``) in the answer."""


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(data_words("stopwords.txt"))


# Pure functions of one word, and answers repeat their words: cached, they take score from
# ~2 ms to well under 1 ms per 2 KB (most of its time went to stemming the same words again).
@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """Return ``word`` without a common English inflection or derivation suffix."""
    if any(c.isdigit() for c in word):
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            if suffix in ("ies", "ied"):
                word = word[: -len(suffix)] + "y"
            elif not (suffix == "s" and word.endswith(("ss", "us", "is"))):
                word = word[: -len(suffix)]
                # "deblurring", "running": the doubled consonant belongs to the suffix.
                if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiousl":
                    word = word[:-1]
            break
    # "image" and "images", "restore" and "restored" meet at "imag", "restor".
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@lru_cache(maxsize=1)
def _background_words() -> frozenset[str]:
    # Words any answer may use without a source (data/background_words.txt says which and why).
    return frozenset(_stem(word) for word in data_words("background_words.txt"))


@lru_cache(maxsize=1 << 16)
def _content_word(word: str) -> str | None:
    """Return the stemmed content word that ``word`` (as written) is, or None when it is none."""
    lowered = word.lower()
    if lowered in _stopwords() or _CJK_CHAR.search(lowered):
        return None
    if len(lowered) >= 3 or (len(lowered) == 2 and any(c.isdigit() for c in lowered)):
        return _stem(lowered)
    return None


def content_words(text: str, *, cjk: bool = True) -> set[str]:
    """Return the stemmed content words of ``text`` (the module docstring says which words count).

    ``cjk=False`` says the caller knows ``text`` holds no CJK character (the score checks a whole
    answer once rather than each of its sentences).
    """
    words: set[str] = set()
    if cjk and _CJK_CHAR.search(text):
        for run in _CJK_RUN.findall(text):
            words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        text = _CJK_RUN.sub(" ", text)
    found = (_ASCII_WORD if text.isascii() else _WORD).findall(text)
    words.update(filter(None, map(_content_word, found)))  # no content word is ""
    return words


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
    return frozenset(content_words("\n".join(parts))) | _background_words()


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


def _pieces(text: str) -> list[tuple[int, int]]:
    """Return the span of each candidate sentence: lines that are not headings, split at sentence ends."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        stripped = line.strip()
        # A heading's or list item's marker is the first thing on its line after spaces or tabs.
        if not stripped or (stripped[0] == "#" and HEADING.match(line)) or stripped == NOT_COVERED:
            continue
        item = ITEM.match(line) if stripped[0] in "-*+•" or stripped[0].isdigit() else None
        start = line_start + (item.end() if item else 0)
        # A sentence end in the line? Three substring checks are faster than the class's scan.
        if "." in line or "!" in line or "?" in line or (not line.isascii() and _SENTENCE_END.search(line)):
            spans.extend(sentence_spans(text, start, offset - 1))
        elif text[start : offset - 1].strip():
            spans.append((start, offset - 1))  # one sentence: what sentence_spans gives
    return spans


def _sentences(
    text: str, vocabulary: frozenset[str], links: list[tuple[int, int]]
) -> tuple[int, list[Sentence]]:
    """Return how many sentences the answer has, and those whose content words the prompt has too
    few of (below :data:`SUPPORT_THRESHOLD`)."""
    count, unsupported = 0, []
    # Blank out links (once, keeping every offset) so that a URL's path words are not judged as prose.
    kept, position = [], 0
    for link_start, link_end in links:  # sorted by start; they may overlap
        link_start, link_end = max(link_start, position), min(link_end, len(text))
        if link_end > link_start:
            kept += [text[position:link_start], " " * (link_end - link_start)]
            position = link_end
    blanked = "".join(kept) + text[position:]
    cjk = _CJK_CHAR.search(blanked) is not None
    for start, end in _pieces(text):
        words = content_words(blanked[start:end], cjk=cjk)
        if not words:
            continue
        count += 1
        support = round(len(words & vocabulary) / len(words), 4)
        if support >= SUPPORT_THRESHOLD:
            continue
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        unsupported.append(Sentence(text=text[start:end], start=start, end=end, support=support))
    return count, unsupported


def score(
    markdown: str,
    spec: PromptSpec,
    *,
    allow: AllowList | None = None,
    validation: Validation | None = None,
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

    # Citation marks ("[cite: 6]") are chat debris, not prose: blanked like links, not judged.
    marks = citation_spans(text)
    sentences, unsupported = _sentences(text, prompt_vocabulary(spec), sorted([*links, *marks]))
    grounding = (sentences - len(unsupported)) / sentences if sentences else 1.0

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
        sentences=sentences,
        unsupported=unsupported,
        violations=validation.counts(),
        citation_marks=len(marks),
    )
