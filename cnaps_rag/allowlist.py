"""What a prompt allows an answer to cite (its source links and the model names it contains), and the
policy that matches a found name against the allowed ones."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from types import MappingProxyType

from rapidfuzz import fuzz, process

from .links import find_links, url_key
from .names import LEXICON_KEYS, NameMention, families, find_model_names, is_generic, name_key, part_is_model
from .spec import PromptSpec, Source
from .text import sentences

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


# ------------------------------------------------------------------- other spellings of a name
# Keys a prompt's name is allowed under as well as its own: without its version, its initials,
# a title's acronym.

_VERSION_TAIL = re.compile(r"v?\d+(?:\.\d+)*[a-z]?$")
_V_BEFORE_DIGIT = re.compile(r"(?<=[a-z])v(?=\d)")
_CAMEL_WORD = re.compile(r"[A-Z][a-z]+")


def _unversioned(key: str) -> str:
    return _V_BEFORE_DIGIT.sub("", key)  # stablediffusionv15 -> stablediffusion15


def _initials(part: str) -> list[str]:
    """Return the keys of a CamelCase part's abbreviations: ``sd1`` and ``sdv1`` for StableDiffusionV1."""
    version = re.search(r"[Vv]?\d+(?:\.\d+)*$", part)
    base = part[: version.start()] if version else part
    words = _CAMEL_WORD.findall(base)
    if len(words) < 2 or sum(map(len, words)) != len(base):
        return []
    letters = "".join(w[0] for w in words).lower()
    if not version:
        return [letters]
    tail = version.group(0).lower()
    return [letters + tail, letters + tail.lstrip("v")]


def _title_acronyms(words: list[str]) -> list[str]:
    """Return the keys of the acronyms of a run of capitalised words: ``ddpm`` for "Denoising
    Diffusion Probabilistic Models"; a last word ``Network`` also gives ``…net``."""
    pieces = [p for w in words for p in w.split("-") if p]
    if len(pieces) < 2:
        return []
    letters = "".join(p[0] for p in pieces).lower()
    return (
        [letters, letters[:-1] + "net"] if pieces[-1].lower() in ("network", "networks", "net") else [letters]
    )


# ------------------------------------------------------------------- the matching policy


def nearest(key: str, allowed: Mapping[str, str]) -> tuple[str, float] | None:
    """Return the allowed key most like ``key`` and how alike (0-100, rapidfuzz ratio), if any."""
    best = process.extractOne(key, list(allowed), scorer=fuzz.ratio) if allowed else None
    return (best[0], float(best[1])) if best else None


@dataclass(frozen=True)
class NameMatch:
    """How a name compares with the allowed ones."""

    allowed: bool
    nearest: str | None
    score: float


_SPLIT_PARTS = re.compile(r"[\s\-_/]+")


@dataclass(frozen=True)
class AllowedNames:
    """The model names a prompt allows (read-only, as :class:`AllowList`), and the rule for
    matching a mention against them."""

    names: Mapping[str, str]
    """Each allowed key, with the spelling shown in reports."""
    followers: Mapping[str, frozenset[str]]
    """An identifier part's key -> the keys of the parts that follow it in a source identifier
    (``mssnet`` -> ``realblurj``), so that a shortening of one (``MSSNet-J``) is recognised."""

    @cached_property
    def _unversioned(self) -> frozenset[str]:
        return frozenset(_unversioned(key) for key in self.names)

    def _allows_key(self, key: str) -> bool:
        return key in self.names or _unversioned(key) in self._unversioned

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
            following = self.followers.get(previous, ()) if previous else ()
            if self._allows_key(key):
                allowed = True
            elif (
                len(part) <= 2
                and part[0].isupper()
                and any(f.startswith(key) or f.endswith(key) for f in following)
            ):
                allowed = True  # MSSNet-J for MSSNet-RealBlurJ
            elif part is parts[-1] and len(key) >= 4 and any(f.startswith(key) for f in following):
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
        return self._verdicts(mention.key, mention.text)

    @cached_property
    def _verdicts(self) -> Callable[[str, str], NameMatch]:
        return lru_cache(maxsize=4096)(self._check)  # answers name the same models again and again

    def _check(self, key: str, text: str) -> NameMatch:
        if self._allows_key(key) or self._allows_parts(text, listed=name_key(text) in LEXICON_KEYS):
            return NameMatch(True, self.names.get(key, text), 100.0)
        words = text.split()
        expansion = len(words) > 1 and all(w[:1].isupper() for w in words)
        if expansion and any(acronym in self.names for acronym in _title_acronyms(words)):
            return NameMatch(True, text, 100.0)
        best = nearest(key, self.names)
        if best is None:
            return NameMatch(False, None, 0.0)
        nearest_key, score = best
        same_version = (
            re.findall(r"\d+", key) == re.findall(r"\d+", nearest_key)
            and key[-2:] == nearest_key[-2:]
            and key.count("+") == nearest_key.count("+")
        )
        return NameMatch(score >= 90 and same_version, self.names[nearest_key], round(score, 1))


# ------------------------------------------------------------------- building an allow-list

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._]*(?:-[A-Za-z0-9+._]+)+$")
_TITLE_RUN = re.compile(
    r"(?:\b[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)*\b[ \t]+){1,7}\b[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)*\b"
)
_PREFIX_BEFORE_DIGIT = re.compile(r"^([a-z]{3,})\d")


def _code_path_parts(url: str) -> list[str]:
    """Return the owner and repository parts of a code-host link (github.com/VainF/DeepLabV3Plus-Pytorch)."""
    host, _, path = re.sub(r"^[a-z]+://", "", url.strip(), flags=re.I).removeprefix("www.").partition("/")
    if host.lower() not in ("github.com", "huggingface.co", "gitlab.com"):
        return []
    segments = [s for s in path.split("/")[:2] if s]
    if len(segments) == 2:
        segments[1] = segments[1].removesuffix(".git")
    return segments


def _allowed_names(sources: Sequence[Source], trusted_raw: str, code_links: list[str]) -> AllowedNames:
    """Return the names a prompt allows: every model-like name in its text (``trusted_raw``, without
    injected sentences), each source's name and every run of its identifier parts
    (``Deblur-MSSNet-GoPro`` allows ``MSSNet``), the owner/repository parts of its code links
    (``github.com/AnswerDotAI/ModernBERT`` allows ``ModernBERT``), the bare family of any version
    (``MobileNet`` for ``MobileNetV2``), CamelCase initials (``SD1`` for ``StableDiffusionV1``) and
    the acronyms of capitalised title phrases (``DDPM`` for "Denoising Diffusion Probabilistic
    Models")."""
    names: dict[str, str] = {}  # key -> the spelling shown in reports: the first one found
    followers: dict[str, set[str]] = {}

    def add(key: str, shown: str) -> None:
        if key:
            names.setdefault(key, shown)

    def add_with_family(text: str) -> None:
        key = name_key(text)
        add(key, text)
        family = _VERSION_TAIL.sub("", key)  # MobileNet for MobileNetV2
        if family != key and len(family) >= 3 and not family[-1].isdigit():
            add(family, text)
        prefix = _PREFIX_BEFORE_DIGIT.match(key)
        if prefix:  # Swin2SR allows Swin (Swin Transformer)
            add(prefix.group(1), text)
        for abbreviation in _initials(text):  # StableDiffusionV1 allows SD1, SDV1
            add(abbreviation, text)

    def add_identifier(name: str, split: str) -> None:
        parts = [p for p in re.split(split, name) if p]
        for first in range(len(parts)):  # every run of parts: MIMO-UNet in Deblur-MIMO-UNet-GoPro
            for last in range(first + 1, len(parts) + 1):
                add_with_family("-".join(parts[first:last]))
        for before, after in itertools.pairwise(name_key(p) for p in parts):
            followers.setdefault(before, set()).add(after)

    link_spans = [(link.start, link.end) for link in find_links(trusted_raw)]
    for mention in find_model_names(trusted_raw, skip=link_spans):
        add_with_family(mention.text)
        for family in [mention.family, *families(mention.key)]:
            if family:
                add(family, mention.text)
    for source in sources:
        add(name_key(source.name), source.name)
        if _IDENTIFIER.match(source.name):
            add_identifier(source.name, "-")
            # Parts joined by underscores are parts too (pedestrian_gender_recognition).
            for part in source.name.split("-"):
                if "_" in part:
                    add_identifier(part, "_")
    for url in code_links:
        for segment in _code_path_parts(url):
            add_identifier(segment, r"[-_.]+")
    for match in _TITLE_RUN.finditer(trusted_raw):
        for acronym in _title_acronyms(match.group(0).split()):
            add(acronym, match.group(0))
    return AllowedNames(
        MappingProxyType(names), MappingProxyType({key: frozenset(keys) for key, keys in followers.items()})
    )


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

    @classmethod
    def from_spec(cls, spec: PromptSpec, *, untrusted_summaries: bool = False) -> AllowList:
        """Return the allow-list of a prompt.

        URLs: the ``Paper:`` and ``GitHub:`` values, and a URL in a summary ("Code is available
        at …") unless it stands in a sentence that gives orders or ``untrusted_summaries`` is
        set. Names: see :func:`_allowed_names`.
        """
        return _allow_list(spec.raw, spec.sources, untrusted_summaries)

    @classmethod
    def for_spec(cls, spec: PromptSpec, *, untrusted_summaries: bool = False) -> AllowList:
        """Return the allow-list of a prompt, built once per distinct prompt content.

        Building takes most of a validate call, and answers to one prompt are checked many
        times (draft, final, eval); the cache is keyed by the strings :meth:`from_spec` reads
        (a :class:`Source` is frozen), so validate stays a pure function of its arguments.
        """
        return _cached_allow_list(spec.raw, tuple(spec.sources), untrusted_summaries)

    def cited_sources(self, spec: PromptSpec, keys: Iterable[str]) -> list[str]:
        """Return the IDs of ``spec``'s sources at least one of whose links has a key among
        ``keys``, in prompt order: what an answer citing those links cites."""
        ids = {sid for key in keys for sid in self.url_sources.get(key, ())}
        return [source.id for source in spec.sources if source.id in ids]


def _allow_list(raw: str, sources: Sequence[Source], untrusted_summaries: bool) -> AllowList:
    urls: dict[str, str] = {}
    url_sources: dict[str, list[str]] = {}
    for source in sources:
        for url in source.urls:
            urls.setdefault(url_key(url), url)
            url_sources.setdefault(url_key(url), []).append(source.id)
    trusted_raw = raw
    code_links = [url for source in sources for url in source.urls]
    for source in sources:
        trusted = []
        for sentence in sentences(source.summary or ""):
            if is_injection(sentence):
                trusted_raw = trusted_raw.replace(sentence, " " * len(sentence))
            else:
                trusted.append(sentence)
        for link in [] if untrusted_summaries else find_links("\n".join(trusted)):
            if link.key and link.key not in urls:
                urls[link.key] = link.text
                url_sources.setdefault(link.key, []).append(source.id)
            code_links.append(link.text)
    return AllowList(
        urls=MappingProxyType(urls),
        names=_allowed_names(sources, trusted_raw, code_links),
        url_sources=MappingProxyType({k: tuple(v) for k, v in url_sources.items()}),
    )


_cached_allow_list = lru_cache(maxsize=256)(_allow_list)  # thread-safe: batch workers share it
