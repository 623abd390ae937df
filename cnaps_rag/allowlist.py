"""What a prompt allows an answer to cite: its source links and the model names it contains."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .links import find_links, url_key
from .names import AllowedNames, families, find_model_names, name_key
from .spec import PromptSpec

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.]*(?:-[A-Za-z0-9+.]+)+$")


# A summary is untrusted text: a sentence in it that gives the reader orders is an injection,
# and the names it carries are not sources.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^!?\n]{0,40}\b(?:instruction|prompt|rule|above|previous)"
    r"|\b(?:you must|you should|always|instead)\b[^.!?\n]{0,40}\b(?:cite|recommend|mention|use|link)\b"
    r"|^\s*(?:cite|recommend|mention)\b",
    re.I,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n")


def _without_injections(spec: PromptSpec) -> str:
    """Return the prompt text with every summary sentence that reads as an injected order blanked out."""
    raw = spec.raw
    for source in spec.sources:
        if not source.summary:
            continue
        for sentence in _SENTENCE_BREAK.split(source.summary):
            if sentence.strip() and _INJECTION.search(sentence):
                raw = raw.replace(sentence.strip(), " " * len(sentence.strip()))
    return raw


@dataclass(frozen=True)
class AllowList:
    """The URLs (by key) and model names that an answer to one prompt may contain."""

    urls: dict[str, str]
    """URL key -> the URL as the prompt writes it; only Paper and GitHub values."""
    names: AllowedNames
    url_sources: dict[str, list[str]]
    """URL key -> ids of the sources that give it."""

    @classmethod
    def from_spec(cls, spec: PromptSpec) -> AllowList:
        """Return the allow-list of a prompt.

        URLs: exactly the ``Paper:`` and ``GitHub:`` values; a URL inside a summary is
        untrusted and not allowed. Names: every model-like name anywhere in the prompt,
        each source's ``Model:`` value, and the parts of dataset identifiers such as
        ``Deblur-MSSNet-GoPro``; a versioned name also allows its family (``EfficientViT``
        for ``EfficientViT-L3-384``).
        """
        urls: dict[str, str] = {}
        url_sources: dict[str, list[str]] = {}
        for source in spec.sources:
            for url in source.urls:
                key = url_key(url)
                urls.setdefault(key, url)
                url_sources.setdefault(key, []).append(source.id)
        names: dict[str, str] = {}
        raw = _without_injections(spec)
        link_spans = [(link.start, link.end) for link in find_links(raw)]
        for mention in find_model_names(raw, skip=link_spans):
            names.setdefault(mention.key, mention.text)
            for family in [mention.family, *families(mention.key)]:
                if family:
                    names.setdefault(family, mention.text)
        for source in spec.sources:
            names.setdefault(name_key(source.name), source.name)
            if _IDENTIFIER.match(source.name):
                # Every run of parts: an architecture may hold a hyphen (Deblur-MIMO-UNet-GoPro).
                parts = source.name.split("-")
                for first in range(len(parts)):
                    for last in range(first + 1, len(parts) + 1):
                        run = "-".join(parts[first:last])
                        names.setdefault(name_key(run), run)
        return cls(urls=urls, names=AllowedNames(names), url_sources=url_sources)

    @classmethod
    def for_spec(cls, spec: PromptSpec) -> AllowList:
        """Return the allow-list of a prompt, built once per distinct prompt content.

        Building scans the whole prompt and takes most of a validate call; answers to
        one prompt are often checked many times (draft, final, eval), so it is cached
        by content, which keeps validate a pure function of its arguments.
        """
        return _cached_allow_list(spec.model_dump_json())

    def allows_url(self, url_or_key: str, *, is_key: bool = False) -> bool:
        """Return whether a URL (or an already computed key) is one of the sources' links."""
        return (url_or_key if is_key else url_key(url_or_key)) in self.urls


@lru_cache(maxsize=256)
def _cached_allow_list(spec_json: str) -> AllowList:
    return AllowList.from_spec(PromptSpec.model_validate_json(spec_json))
