"""What each source of a prompt says, in its own words, and the names that credit it.

A source's *words* are the content words (:mod:`cnaps_rag.words`) of its identifier read as task,
architecture, training data and style (``Deblur-MSSNet-GoPro``: a deblurring architecture trained
on a dataset; the task's name, input and output from :mod:`cnaps_rag.tasks`), its title, its
summary (without sentences that read as injected orders) and its link path. Words are compared by
their *roots*: a stem without a plural ``s``, cut to :data:`cnaps_rag.words.ROOT_LENGTH` characters.

A source is *named* by its identifier or any run of its parts (``MSSNet``, ``MSSNet-RealBlurJ``), the
CamelCase words of its architecture without the version (``Stable Diffusion``), the letters before
a digit (``Swin`` for ``Swin2SR``), a paper title's head before its colon (``DepthCrafter``) or
acronym, a code repository's name unless it is plain words (``TRELLIS``, not
``structure-from-motion``), a model its summary names, or a bold phrase or link label made of its
title's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .allowlist import is_injection
from .names import find_model_names, in_lexicon, name_key, part_is_model
from .spec import PromptSpec, Source
from .tasks import model_task, parse_identifier
from .text import sentences
from .words import content_words, roots, word_root

_TOKEN = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])|[-_./]+")
MAX_ALIAS_TOKENS = 6
"""The longest run of words a source's name is looked for as."""


@dataclass(frozen=True)
class Profile:
    """One source as the prompt gives it: the names that credit it and the words it says."""

    id: str
    name: str
    aliases: frozenset[str]
    """Keys (:func:`cnaps_rag.names.name_key`) of the names that refer to this source."""
    words: frozenset[str]
    """Content words of its identifier reading, title, summary and link path."""


def claim_words(text: str, written: list[str], cjk: bool) -> set[str]:
    """Return the roots of the content words of ``text``, whose words as written are ``written``
    (:func:`roots` of :func:`~cnaps_rag.words.content_words`, in one pass without CJK characters)."""
    if cjk:
        return roots(content_words(text))
    return {root for root in map(word_root, written) if root}


def split_name(text: str) -> str:
    return " ".join(p for p in _CAMEL.split(text) if p)


def _path_words(url: str) -> str:
    """Return the words of a link's path (``github.com/Tencent/DepthCrafter``: Tencent DepthCrafter)."""
    path = re.sub(r"^[a-z]+://[^/]+", "", url.strip(), flags=re.I)
    if re.search(r"arxiv|doi|\.pdf$", url, re.I):
        return ""
    return split_name(path)


def _aliases(source: Source) -> set[str]:
    keys = {name_key(source.name)}
    name = source.name.strip()
    if " " not in name and "-" in name:
        ident = parse_identifier(name)
        parts = [p for p in re.split(r"[-_]", name) if p]
        first = 1 if ident.task is not None else 0
        for i in range(first, len(parts)):
            for j in range(i + 1, len(parts) + 1):
                run = parts[i:j]
                # A single plain lower-case word (fast, neural, style) names nothing by itself.
                if (
                    len(run) == 1
                    and run[0].isalpha()
                    and run[0].islower()
                    and run[0] not in (ident.architecture, ident.style, ident.training_data)
                    and not (part_is_model(run[0]) or in_lexicon(run[0]))
                ):
                    continue
                if len(name_key("".join(run))) >= 3:
                    keys.add(name_key("".join(run)))
        for part in (ident.architecture, ident.style):
            if part:
                keys.add(name_key(part))
                prefix = re.match(r"^([A-Za-z]{3,})\d", part)
                if prefix:  # Swin2SR: "Swin"
                    keys.add(name_key(prefix.group(1)))
                camel = [w for w in _CAMEL.split(part) if w]
                if len(camel) > 1:  # StableDiffusionV1: "Stable Diffusion"
                    keys.add(name_key("".join(w for w in camel if not re.fullmatch(r"[Vv]?\d+", w))))
    else:
        head = re.split(r"[:\u2013\u2014]| - ", name, maxsplit=1)[0].strip()
        if head != name and len(head.split()) <= 4:
            keys.add(name_key(head))
        caps = re.findall(r"\b[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*", name)
        acronym = "".join(w[0] for w in caps).lower()
        if len(caps) >= 3:
            keys.add(acronym)
    for url in source.urls:
        path = re.sub(r"^[a-z]+://[^/]+", "", url.strip(), flags=re.I).strip("/")
        segments = [s for s in path.split("/") if s]
        repo = segments[1].removesuffix(".git") if len(segments) >= 2 else ""
        # A repository named in plain words (structure-from-motion) names a topic, not the source.
        if re.search(r"github|gitlab|huggingface", url, re.I) and not re.fullmatch(
            r"[a-z]+(?:[-_.][a-z0-9.]+)*", repo
        ):
            keys.add(name_key(repo))
            for piece in re.split(r"[-_.]", repo):
                if len(piece) >= 4 and not piece.islower():
                    keys.add(name_key(piece))
    if source.summary:
        # A model the summary names (a paper that builds on SparseInst) is named through it.
        keys.update(m.key for m in find_model_names(source.summary))
    return {key for key in keys if len(key) >= 3}


def name_text(name: str) -> str:
    """Return a source's name as words, whole and split (``DepthCrafter`` and ``Depth Crafter``)."""
    return " ".join([re.sub(r"[-_:/]+", " ", name), split_name(name)])


_PART_WORDS = {
    "architecture": "architecture network model",
    "training_data": "dataset data trained training weights",
    "scale": "scale factor",
    "style": "style",
}
"""What an identifier's parts say they are: ``Deblur-MSSNet-GoPro`` names an architecture trained on
a dataset, so "the MSSNet architecture trained on GoPro" is what it says."""


def _words(source: Source) -> frozenset[str]:
    parts = [name_text(source.name)]
    ident = parse_identifier(source.name)
    parts += [words for field, words in _PART_WORDS.items() if getattr(ident, field)]
    task = model_task(source).task
    if task is not None:
        parts += [task.name, task.input, task.output, " ".join(task.keywords)]
    if source.summary:
        parts += [s for s in sentences(source.summary) if not is_injection(s)]
    parts += [_path_words(url) for url in source.urls]
    return frozenset(roots(content_words("\n".join(parts))))


Fields = tuple[str, str, str, str | None, str | None, str | None]


def source_fields(spec: PromptSpec) -> tuple[Fields, ...]:
    # Keyed, like AllowList.for_spec, by the strings the profiles read.
    return tuple((s.id, s.role, s.name, s.paper_url, s.github_url, s.summary) for s in spec.sources)


@lru_cache(maxsize=256)
def profile_table(sources: tuple[Fields, ...]) -> dict[str, Profile]:
    """Return each source's profile by ID, from :func:`source_fields` (cached: do not change it)."""
    table = {}
    for sid, role, name, paper, github, summary in sources:
        source = Source(id=sid, role=role, name=name, paper_url=paper, github_url=github, summary=summary)  # type: ignore[arg-type]
        table[sid] = Profile(sid, name, frozenset(_aliases(source)), _words(source))
    return table


def profiles(spec: PromptSpec) -> dict[str, Profile]:
    """Return each source's profile by ID, built once per distinct list of sources (do not change it)."""
    return profile_table(source_fields(spec))


_EMPHASIZED = re.compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__|\[([^\]\n]+)\]\(")
"""A bold phrase or a link's label: where an answer puts a paper's name in its own words."""
TITLE_WORDS = 2
"""A bold phrase or link label names a paper when it holds at least this many words of its title
and its words are mostly the title's."""


class SourceNames:
    """Finds which sources a piece of text names: runs of its words joined, looked up by key, and
    bold phrases or link labels made of a paper title's words."""

    def __init__(self, table: dict[str, Profile]):
        self.by_key: dict[str, list[str]] = {}
        for profile in table.values():
            for key in profile.aliases:
                self.by_key.setdefault(key, []).append(profile.id)
        self.titles = [(p.id, content_words(p.name)) for p in table.values() if " " in p.name.strip()]
        self.prefixes = {key[:n] for key in self.by_key for n in range(1, len(key) + 1)}

    def _titled(self, text: str) -> set[str]:
        found: set[str] = set()
        for match in _EMPHASIZED.finditer(text):
            words = content_words(next(g for g in match.groups() if g))
            for sid, title in self.titles:
                shared = len(words & title)
                if shared >= TITLE_WORDS and shared * 2 >= len(words):
                    found.add(sid)
        return found

    def titled(self, text: str) -> set[str]:
        """Return the IDs of the papers whose titles a bold phrase or link label of ``text`` gives."""
        if self.titles and ("**" in text or "](" in text or "__" in text):
            return self._titled(text)
        return set()

    def named(self, text: str, tokens: list[str]) -> set[str]:
        """Return the IDs of the sources ``text`` names; ``tokens`` are its words, lower-cased."""
        found = self.titled(text)
        by_key, prefixes = self.by_key, self.prefixes
        for i, token in enumerate(tokens):
            # Runs of words joined, extended only while they begin some name's key.
            joined, j = token, i
            while joined in prefixes:
                ids = by_key.get(joined)
                if ids:
                    found.update(ids)
                j += 1
                if j == len(tokens) or j - i >= MAX_ALIAS_TOKENS:
                    break
                joined += tokens[j]
        return found
