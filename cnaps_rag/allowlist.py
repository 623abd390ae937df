"""What a prompt allows an answer to cite: its source links and the model names it contains."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from .links import find_links, url_key
from .names import AllowedNames, families, family_key, find_model_names, initials, name_key, title_acronyms
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
        return _cached_allow_list(spec.model_dump_json(), untrusted_summaries)


@lru_cache(maxsize=256)
def _cached_allow_list(spec_json: str, untrusted_summaries: bool) -> AllowList:
    return AllowList.from_spec(
        PromptSpec.model_validate_json(spec_json), untrusted_summaries=untrusted_summaries
    )
