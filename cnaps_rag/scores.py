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
  the second format the lettered parts A, B, C of its workflow section) present in order and
  not empty, in any heading form :func:`cnaps_rag.markdown.answer_parts` reads. A section whose
  only text is :data:`cnaps_rag.validation.NOT_COVERED` (the validator's note where it removed
  everything) is empty.
- ``grounding``: (claims − general − unsupported) / (claims − general), 1.0 when there is none;
  with ``strict=True`` general statements are unsupported too. How claims are cut and checked:
  :mod:`cnaps_rag.claims`, :mod:`cnaps_rag.support`, the README's "Grounding".
"""

from __future__ import annotations

from pydantic import BaseModel

from .allowlist import AllowList
from .markdown import Layout, answer_parts, in_order
from .profiles import profiles
from .spec import PromptSpec
from .support import ClaimReader, check, review
from .text import normalize_newlines
from .validation import NOT_COVERED, Found, Validation, citation_spans, find_items, validate

METRICS: tuple[str, ...] = ("url_precision", "source_recall", "model_precision", "structure", "grounding")
"""The scores that are aggregated over answers, in report order."""


class Sentence(BaseModel, extra="forbid"):
    """A claim of an answer that the score flags, where it stands and why."""

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


class Scores(BaseModel, extra="forbid"):
    """Faithfulness scores of one answer to one prompt (the module docstring defines each)."""

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


def _links(found: Found) -> tuple[list[tuple[int, int]], list[str]]:
    """Return the spans of every link and markdown link target found, and the distinct keys of
    the URLs they cite in order of first citation."""
    targets = [md for md in found.markdown_links if md.target_end > md.target_start]
    spans = sorted(
        [(link.start, link.end) for link in found.links] + [(t.target_start, t.target_end) for t in targets]
    )
    cited = [(link.start, link.key) for link in found.links] + [(t.target_start, t.key) for t in targets]
    # An anchor-only target ("#setup") has an empty key: it cites nothing.
    return spans, list(dict.fromkeys(key for _, key in sorted(cited) if key))


def _structure(text: str, spec: PromptSpec, layout: Layout) -> tuple[float, list[int], list[int]]:
    """Return the share of required parts present in order, the section numbers found, the empty ones."""
    required = [section.number for section in spec.sections] or ["1", "2", "3"]
    expected: dict[str, list[str]] = {}
    for section in spec.sections:
        expected.setdefault(section.number, []).append(section.title)
    for number, instruction in enumerate(spec.instructions, start=1):
        expected.setdefault(str(number), []).append(instruction)
    parts = answer_parts(text, expected, filler=NOT_COVERED, layout=layout)
    present = in_order(required, [part.number for part in parts if not part.empty])
    numbers = [int(part.number) for part in parts if part.number.isdigit()]
    empty = [int(part.number) for part in parts if part.number.isdigit() and part.empty]
    return present / len(required), numbers, empty


def score(
    markdown: str,
    spec: PromptSpec,
    *,
    allow: AllowList | None = None,
    validation: Validation | None = None,
    strict: bool = False,
    checker: ClaimReader | None = None,
) -> Scores:
    """Return the faithfulness scores of ``markdown`` as an answer to ``spec``.

    ``allow`` is the prompt's already built allow-list and ``validation`` the result of
    :func:`cnaps_rag.validation.validate` on this same text, to save doing either again.
    ``checker`` (off by default; :class:`cnaps_rag.claim_check.ClaimChecker`) is a model that
    reads the flagged claims (or all) against the sources they credit; its verdicts replace the
    deterministic ones (:func:`cnaps_rag.support.review`). Without it a pure function of its
    arguments: the same answer and prompt give the same scores.
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

    linked = [s.id for s in spec.sources if s.urls]
    cited_sources = allow.cited_sources(spec, cited)
    source_recall = len(cited_sources) / len(linked) if linked else 1.0

    mentions = found.mentions
    unallowed_models = [m.text for m in mentions if not allow.names.check(m).allowed]
    model_precision = (len(mentions) - len(unallowed_models)) / len(mentions) if mentions else 1.0

    layout = Layout(text)  # read once: the structure and the claim check both walk its lines
    structure, sections_found, empty_sections = _structure(text, spec, layout)

    marks = citation_spans(text)
    checks = check(text, spec, allow, found, links, marks, layout)
    if checker is not None:
        checks = review(checks, text, spec, checker)
    table = profiles(spec)
    flagged = [
        (c.verdict, Sentence(
            text=text[c.start : c.end], start=c.start, end=c.end, support=c.support,
            sources=list(c.sources), why=c.why(table),
        ))
        for c in checks
        if c.verdict != "supported"
    ]  # fmt: skip
    general = [flag for verdict, flag in flagged if verdict == "general"]
    unsupported = [flag for verdict, flag in flagged if verdict != "general"]  # misattributed ones too
    misattributed = [flag for verdict, flag in flagged if verdict == "misattributed"]
    if strict:
        unsupported = sorted(unsupported + general, key=lambda s: s.start)
    claims = len(checks)
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
        citation_marks=len(marks),
    )
