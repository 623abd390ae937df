"""What a prompt allows an answer to cite (its source links and the model names it contains), and the
policy that matches a found name against the allowed ones."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from rapidfuzz import fuzz, process

from .links import find_links, url_key
from .names import (
    LEXICON_KEYS,
    NameMention,
    digit_runs,
    families,
    family_key,
    find_model_names,
    in_lexicon,
    initials,
    is_generic,
    name_key,
    part_is_model,
    title_acronyms,
    unversioned,
)
from .spec import PromptSpec
from .text import sentences

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._]*(?:-[A-Za-z0-9+._]+)+$")
_CODE_HOSTS = ("github.com", "huggingface.co", "gitlab.com")
_RUN_SPLIT = re.compile(r"[-_.]+")
_TITLE_RUN = re.compile(
    r"(?:\b[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)*\b[ \t]+){1,7}\b[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)*\b"
)
_PREFIX_BEFORE_DIGIT = re.compile(r"^([a-z]{3,})\d")

# A summary is untrusted text: a sentence in it that gives the reader orders is an injection,
# and the names and links it carries are not sources.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^!?\n]{0,40}\b(?:instruction|prompt|rule|above|previous)"
    r"|\b(?:you must|you should|always|instead)\b[^.!?\n]{0,40}\b(?:cite|recommend|mention|use|link)\b"
    r"|^\s*(?:cite|recommend|mention)\b",
    re.I,
)


def is_injection(sentence: str) -> bool:
    """Return whether a summary sentence gives the reader orders ("ignore previous instructions…")."""
    return _INJECTION.search(sentence) is not None


def _without_injections(spec: PromptSpec) -> str:
    """Return the prompt text with every summary sentence that reads as an injected order blanked out."""
    raw = spec.raw
    for source in spec.sources:
        for sentence in sentences(source.summary or ""):
            if is_injection(sentence):
                raw = raw.replace(sentence, " " * len(sentence))
    return raw


# ------------------------------------------------------------------- the matching policy


@dataclass(frozen=True)
class NameMatch:
    """How a name compares with the allowed ones."""

    allowed: bool
    nearest: str | None
    score: float


_SPLIT_PARTS = re.compile(r"[\s\-_/]+")
_CHECKED_SIZE = 4096
"""Verdicts an allow-list remembers before it starts again."""


class AllowedNames:
    """The model names a prompt allows, and the rule for matching a mention against them.

    Immutable: the mapping is read-only, so an allow-list shared through a cache cannot be
    changed by one caller for the next.
    """

    __slots__ = ("_checked", "_followers", "_names", "_unversioned")
    _names: Mapping[str, str]
    _followers: Mapping[str, frozenset[str]]
    _unversioned: frozenset[str]
    _checked: dict[tuple[str, str], NameMatch]

    def __init__(self, names: Mapping[str, str], followers: Mapping[str, frozenset[str]] | None = None):
        """``names`` maps each allowed key to the spelling shown in reports.

        ``followers`` maps an identifier part's key to the keys of the parts that follow it in
        a source identifier (``mssnet`` -> ``realblurj``), so that a shortening of one
        (``MSSNet-J``) is recognised.
        """
        frozen = MappingProxyType(dict(names))
        object.__setattr__(self, "_names", frozen)
        object.__setattr__(self, "_followers", MappingProxyType(dict(followers or {})))
        object.__setattr__(self, "_unversioned", frozenset(unversioned(key) for key in frozen))
        # Verdicts already given, by (key, text): answers name the same models again and again.
        # Not state a caller can see: a verdict depends only on the mention and the names.
        object.__setattr__(self, "_checked", {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"AllowedNames is immutable (cannot set {name})")

    @property
    def names(self) -> Mapping[str, str]:
        """Return the allowed keys, each with the spelling shown in reports (read-only)."""
        return self._names

    def __contains__(self, key: str) -> bool:
        return key in self._names

    def _allows_key(self, key: str) -> bool:
        return key in self._names or unversioned(key) in self._unversioned

    def _allows_parts(self, text: str, *, listed: bool = False) -> bool:
        """Return whether a compound's model parts are all allowed and at least one is.

        Plain words (``Segmentation``, ``fast``, ``Transformer``) pass; a part with a digit
        or a model-like part must be allowed itself, so another version never passes. In a
        listed name only generic words pass: ``Swin Transformer`` is Swin, but Real-ESRGAN
        is another model than ESRGAN.
        """
        parts = [p for p in _SPLIT_PARTS.split(text) if p]
        if len(parts) < 2:
            return False
        allowed = False
        previous = ""
        for part in parts:
            key = name_key(part)
            if self._allows_key(key):
                allowed = True
            elif (
                previous
                and len(part) <= 2
                and part[0].isupper()
                and any(
                    following.startswith(key) or following.endswith(key)
                    for following in self._followers.get(previous, ())
                )
            ):
                allowed = True  # MSSNet-J for MSSNet-RealBlurJ
            elif (
                previous
                and part is parts[-1]
                and len(key) >= 4
                and any(following.startswith(key) for following in self._followers.get(previous, ()))
            ):
                allowed = True  # Txt2Img-StableDiff, cut at a line's end in a box diagram
            elif is_generic(part):
                pass
            elif listed or not (part.isalpha() and not part_is_model(part) and key not in LEXICON_KEYS):
                return False
            previous = key
        return allowed

    def check(self, mention: NameMention) -> NameMatch:
        """Return whether ``mention`` names an allowed model, and the nearest allowed name.

        Exact keys match (so ``MSS-Net`` is ``MSSNet``, ``Stable Diffusion V1.5`` is
        ``stable-diffusion-1.5``). A compound matches when its model parts do (and it is not
        itself a listed model, as Real-ESRGAN is); an expansion matches its allowed acronym.
        Fuzzy matching tolerates a misspelling of an allowed name, never another version:
        the digits, the last two characters and any ``+`` must agree.
        """
        memo = (mention.key, mention.text)
        verdict = self._checked.get(memo)
        if verdict is None:
            if len(self._checked) >= _CHECKED_SIZE:
                self._checked.clear()  # a bound, for a long run over one prompt's answers
            verdict = self._checked[memo] = self._check(mention.key, mention.text)
        return verdict

    def _check(self, key: str, text: str) -> NameMatch:
        """Return the verdict on a mention of ``text`` (key ``key``); :meth:`check` says the rules."""
        if self._allows_key(key):
            return NameMatch(True, self._names.get(key, text), 100.0)
        if self._allows_parts(text, listed=in_lexicon(text)):
            return NameMatch(True, text, 100.0)
        words = text.split()
        expansion = len(words) > 1 and all(w[:1].isupper() for w in words)
        if expansion and any(acronym in self._names for acronym in title_acronyms(words)):
            return NameMatch(True, text, 100.0)
        if not self._names:
            return NameMatch(False, None, 0.0)
        best = process.extractOne(key, list(self._names), scorer=fuzz.ratio)
        assert best is not None
        nearest_key, score = best[0], float(best[1])
        same_version = (
            digit_runs(key) == digit_runs(nearest_key)
            and key[-2:] == nearest_key[-2:]
            and key.count("+") == nearest_key.count("+")
        )
        return NameMatch(score >= 90 and same_version, self._names[nearest_key], round(score, 1))


# ------------------------------------------------------------------- building an allow-list


def _runs(parts: list[str]) -> Iterable[str]:
    """Yield every run of consecutive parts, joined by hyphens (Deblur-MIMO-UNet-GoPro: MIMO-UNet)."""
    for first in range(len(parts)):
        for last in range(first + 1, len(parts) + 1):
            yield "-".join(parts[first:last])


def _code_path_parts(url: str) -> list[str]:
    """Return the owner and repository parts of a code-host link (github.com/VainF/DeepLabV3Plus-Pytorch)."""
    text = re.sub(r"^[a-z]+://", "", url.strip(), flags=re.I).removeprefix("www.")
    host, _, path = text.partition("/")
    if host.lower() not in _CODE_HOSTS:
        return []
    segments = [s for s in path.split("/")[:2] if s]
    if len(segments) == 2:
        segments[1] = segments[1].removesuffix(".git")
    return segments


class _NameBuilder:
    """Collects allowed name keys with the spelling shown for each, and identifier part order."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.followers: dict[str, set[str]] = {}

    def add(self, key: str, shown: str) -> None:
        if key:
            self.names.setdefault(key, shown)

    def add_with_family(self, text: str) -> None:
        key = name_key(text)
        self.add(key, text)
        family = family_key(key)
        if family:
            self.add(family, text)
        prefix = _PREFIX_BEFORE_DIGIT.match(key)
        if prefix:  # Swin2SR allows Swin (Swin Transformer)
            self.add(prefix.group(1), text)
        for abbreviation in initials(text):  # StableDiffusionV1 allows SD1, SDV1
            self.add(abbreviation, text)

    def add_identifier(self, name: str, split: re.Pattern[str]) -> None:
        parts = [p for p in split.split(name) if p]
        for run in _runs(parts):
            self.add_with_family(run)
        keys = [name_key(p) for p in parts]
        for before, after in itertools.pairwise(keys):
            self.followers.setdefault(before, set()).add(after)


@dataclass(frozen=True)
class AllowList:
    """The URLs (by key) and model names that an answer to one prompt may contain.

    Immutable (read-only mappings in a frozen dataclass): :meth:`for_spec` shares one
    allow-list between calls, so no caller may change what the next one is allowed.
    """

    urls: Mapping[str, str]
    """URL key -> the URL as the prompt writes it: the Paper and GitHub values, and the links in
    summaries unless those are untrusted."""
    names: AllowedNames
    url_sources: Mapping[str, tuple[str, ...]]
    """URL key -> ids of the sources that give it."""
    summary_urls: frozenset[str] = frozenset()
    """Keys of the allowed URLs that only a summary gives."""

    @classmethod
    def from_spec(cls, spec: PromptSpec, *, untrusted_summaries: bool = False) -> AllowList:
        """Return the allow-list of a prompt.

        URLs: the ``Paper:`` and ``GitHub:`` values, and a URL in a summary ("Code is available
        at …") unless it stands in a sentence that gives orders or ``untrusted_summaries`` is
        set. Names: every model-like name anywhere in the prompt (without injected sentences),
        each source's name and every run of its identifier parts (``Deblur-MSSNet-GoPro``
        allows ``MSSNet``), the owner/repository parts of its code links
        (``github.com/AnswerDotAI/ModernBERT`` allows ``ModernBERT``), the bare family of any
        version (``MobileNet`` for ``MobileNetV2``), CamelCase initials (``SD1`` for
        ``StableDiffusionV1``) and the acronyms of capitalised title phrases (``DDPM`` for
        "Denoising Diffusion Probabilistic Models").
        """
        urls: dict[str, str] = {}
        url_sources: dict[str, list[str]] = {}
        for source in spec.sources:
            for url in source.urls:
                key = url_key(url)
                urls.setdefault(key, url)
                url_sources.setdefault(key, []).append(source.id)
        trusted_raw = _without_injections(spec)
        summary_urls: set[str] = set()
        code_links = [url for source in spec.sources for url in source.urls]
        if not untrusted_summaries:
            for source in spec.sources:
                summary = "\n".join(s for s in sentences(source.summary or "") if not is_injection(s))
                for link in find_links(summary):
                    if link.key and link.key not in urls:
                        urls[link.key] = link.text
                        summary_urls.add(link.key)
                        url_sources.setdefault(link.key, []).append(source.id)
                    code_links.append(link.text)

        builder = _NameBuilder()
        link_spans = [(link.start, link.end) for link in find_links(trusted_raw)]
        for mention in find_model_names(trusted_raw, skip=link_spans):
            builder.add_with_family(mention.text)
            for family in [mention.family, *families(mention.key)]:
                if family:
                    builder.add(family, mention.text)
        for source in spec.sources:
            builder.add(name_key(source.name), source.name)
            if _IDENTIFIER.match(source.name):
                builder.add_identifier(source.name, re.compile(r"-"))
                # Parts joined by underscores are parts too (pedestrian_gender_recognition).
                for part in source.name.split("-"):
                    if "_" in part:
                        builder.add_identifier(part, re.compile(r"_"))
        for url in code_links:
            for segment in _code_path_parts(url):
                builder.add_identifier(segment, _RUN_SPLIT)
        for match in _TITLE_RUN.finditer(trusted_raw):
            for acronym in title_acronyms(match.group(0).split()):
                builder.add(acronym, match.group(0))
        return cls(
            urls=MappingProxyType(urls),
            names=AllowedNames(builder.names, {k: frozenset(v) for k, v in builder.followers.items()}),
            url_sources=MappingProxyType({k: tuple(v) for k, v in url_sources.items()}),
            summary_urls=frozenset(summary_urls),
        )

    @classmethod
    def for_spec(cls, spec: PromptSpec, *, untrusted_summaries: bool = False) -> AllowList:
        """Return the allow-list of a prompt, built once per distinct prompt content.

        Building scans the whole prompt and takes most of a validate call; answers to
        one prompt are often checked many times (draft, final, eval), so it is cached
        by content, which keeps validate a pure function of its arguments. What is
        cached is immutable.
        """
        # The key is what from_spec reads (the text and the sources): a tuple of the strings
        # themselves, whose hashes Python keeps, instead of a JSON dump of the spec (14 us).
        sources = tuple((s.id, s.role, s.name, s.paper_url, s.github_url, s.summary) for s in spec.sources)
        key = (spec.raw, sources, untrusted_summaries)
        allow = _CACHE.get(key)
        if allow is None:
            allow = cls.from_spec(spec, untrusted_summaries=untrusted_summaries)
            with _CACHE_LOCK:  # batch workers share the cache
                while len(_CACHE) >= _CACHE_SIZE:
                    _CACHE.pop(next(iter(_CACHE)))  # the oldest entry
                _CACHE[key] = allow
        return allow

    def cited_sources(self, spec: PromptSpec, keys: Iterable[str]) -> list[str]:
        """Return the IDs of ``spec``'s sources (of this allow-list) at least one of whose links has
        a key among ``keys``, in prompt order: what an answer citing those links cites."""
        ids = {sid for key in keys for sid in self.url_sources.get(key, ())}
        return [source.id for source in spec.sources if source.id in ids]


_CACHE_SIZE = 256
_CACHE: dict[tuple[object, ...], AllowList] = {}
_CACHE_LOCK = threading.Lock()
