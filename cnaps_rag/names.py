"""Find model and architecture names in text.

Two passes. The lexicon pass matches names from ``data/model_names.txt`` (with
any separator between their parts, and a version suffix after a family name:
``ResNet-152``, ``YOLOv8s``, ``GPT-4o``). The shape pass finds names that are not
listed, by their form: CamelCase with a family suffix (``MSSNet``, ``SwinIR``),
letters with a version number (``Foo-3``, ``BarNet50``), acronyms ending in a
family suffix (``EDSR``, ``SRCNN``). Words in ``data/not_models.txt`` (metrics,
hardware, formats, datasets, platforms) are never names; nor are a lower-case phrase
(``latent diffusion`` is a technique) or a listed name that is a person's first name
(``Claude Monet``). An identifier that starts with a dataset task code
(``Enhancement-low-light-img-enhancer``) is a name as a whole, lower-case parts included.

Word lists live in ``data/``: ``generic_names.txt`` (kinds of network, never a model),
``family_suffixes.txt`` (the shape pass's endings), ``prose_suffixes.txt`` ("-based",
"-like") and ``name_continuations.txt`` ("Gemini Pro" is no person). They are read once, at
import, so that finding names is a pure function of the text; matching a found name against
a prompt's sources is :mod:`cnaps_rag.allowlist`'s.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

import ahocorasick

from .files import data_lines
from .tasks import task_by_code


class NameMention(NamedTuple):
    """A model name found in text (a named tuple: an answer has dozens, made fast)."""

    start: int
    end: int
    text: str
    key: str
    family: str | None
    """The listed family name this is a version of (``resnet`` for ResNet-152), if any."""


_KEY_DROP = dict.fromkeys(map(ord, " \t\n\r\f\v\u00a0\u2009\u202f-_.·"))


def name_key(name: str) -> str:
    """Return the spelling-free key of a name: lower case, no spaces, hyphens, dots or underscores."""
    return name.translate(_KEY_DROP).lower()


def _is_acronym(name: str) -> bool:
    # Short names mostly in capitals (HAT, SAM, FILM, DINO, LaMa) are words in lower case.
    letters = [c for c in name if c.isalpha()]
    return len(name) <= 6 and sum(c.isupper() for c in letters) >= max(2, len(letters) - 2)


MODEL_NAMES: tuple[str, ...] = tuple(data_lines("model_names.txt"))
_NOT_MODELS_EXACT = frozenset(n for n in data_lines("not_models.txt") if _is_acronym(n))
_NOT_MODELS_KEYS = frozenset(name_key(n) for n in data_lines("not_models.txt") if not _is_acronym(n))

# Kinds of network ("a CNN"): naming one is not citing a model.
_GENERIC = frozenset(name_key(n) for n in data_lines("generic_names.txt"))


def is_generic(word: str) -> bool:
    """Return whether ``word`` names a kind of network (``Transformer``, ``CNN``), not a model."""
    return name_key(word) in _GENERIC


_VERSION = (
    r"(?:[-_ ]?(?:v\d+(?:\.\d+)*[a-z]?|\d+(?:\.\d+)*[a-zA-Z]?(?![A-Za-z0-9])|[A-Z]\d+[a-z]?"
    r"|(?:XL|XXL|Large|Base|Small|Tiny|Huge|Nano|Mini|Lite|Turbo|Plus|Pro)(?![A-Za-z0-9]))"
    r"(?:/\d+)?|\+\+?)"
)


# ASCII only: a name glued to CJK text ("AOD-Net或FFA-Net") still stands alone.
_BEFORE = r"(?<![A-Za-z0-9_\-/.@])"


def _lexicon_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    # Grouped by first letter behind a lookahead: at a word start the engine tries one
    # group's few names instead of all 600 (validate spent most of its time here).
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names), key=len, reverse=True):  # longest first within each group
        parts = [re.escape(p) for p in re.split(r"[\s\-]+", name) if p]
        body = r"[\s\-]?".join(parts)
        groups.setdefault(name[0].lower(), []).append(body if _is_acronym(name) else f"(?i:{body})")
    alternatives = [
        f"(?=[{re.escape(first)}{re.escape(first.upper())}])(?:{'|'.join(bodies)})"
        for first, bodies in groups.items()
    ]
    return re.compile(
        _BEFORE + r"(?P<name>" + "|".join(alternatives) + r")(?P<version>" + _VERSION + r"*)(?![A-Za-z0-9_+])"
    )


# Byte table: ASCII letters lower-cased, and every byte a name may not follow (the pattern's
# look-behind allows any but letters, digits and _-/.@) made a space.
_WORD_START_TABLE = bytes(
    (b + 32 if 65 <= b <= 90 else b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "_-/.@") else 32
    for b in range(256)
)
# The characters other than ASCII that (?i:) matches to an ASCII letter.
_FOLDS = {"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"}


def _spaced(text: str) -> str:
    """Return ``text`` as the automaton reads it: ASCII letters lower-cased, a space for each
    character a name may not follow, one character for one (so offsets hold)."""
    if not text.isascii():
        for char, letter in _FOLDS.items():
            if char in text:
                text = text.replace(char, letter)
    # One C pass each: non-ASCII characters become "?", then spaces.
    return text.encode("ascii", "replace").translate(_WORD_START_TABLE).decode("ascii")


def _names_automaton(names: tuple[str, ...]) -> ahocorasick.Automaton:
    """Return an Aho-Corasick automaton of each listed name, lower-cased, in every spelling the
    pattern allows between its parts (nothing, a space or a hyphen).

    Every lexicon match starts with its name, so the automaton finds, in one pass over the text,
    the few places where the lexicon pattern can match; the pattern is then tried there only,
    instead of at every position (most of validate's time before). Whole names, not their first
    parts: "d" (D-DBPN) or "u" (U-Net) would send every word that starts with the letter on.
    """
    automaton = ahocorasick.Automaton()
    for name in names:
        parts = [p for p in re.split(r"[\s\-]+", name) if p]
        for separators in itertools.product(("", " ", "-"), repeat=len(parts) - 1):
            spelling = itertools.chain.from_iterable(zip(parts, (*separators, ""), strict=True))
            word = " " + _spaced("".join(spelling))
            automaton.add_word(word, len(word) - 1)
    automaton.make_automaton()
    return automaton


@lru_cache(maxsize=1)
def _lexicon() -> tuple[ahocorasick.Automaton, re.Pattern[str]]:
    """Return the lexicon's automaton and pattern, built on first use (compiling the pattern is
    most of this module's import time, and importing need not pay it)."""
    return _names_automaton(MODEL_NAMES), _lexicon_pattern(MODEL_NAMES)


def _lexicon_matches(text: str) -> Iterator[re.Match[str]]:
    """Yield the lexicon pattern's matches in ``text``, left to right and without overlaps."""
    # The automaton's words start with a space, so it hits at word starts only.
    spaced = " " + _spaced(text)
    # A hit ends at ``end`` in ``spaced``, one character ahead of ``text``.
    automaton, pattern = _lexicon()
    starts = sorted({end - length for end, length in automaton.iter(spaced)})
    resume = 0
    for start in starts:
        if start < resume:
            continue
        match = pattern.match(text, start)
        if match is not None and match.end() > start:
            yield match
            resume = match.end()


LEXICON_KEYS = frozenset(name_key(n) for n in MODEL_NAMES)
"""The lexicon's names, each by its key (:func:`name_key`)."""


def in_lexicon(name: str) -> bool:
    """Return whether ``name`` (in any spelling) is in the curated lexicon of model names."""
    return name_key(name) in LEXICON_KEYS


def is_not_model(word: str) -> bool:
    """Return whether ``word`` is listed as not a model (a metric, format, dataset, ...)."""
    return word in _NOT_MODELS_EXACT or name_key(word) in _NOT_MODELS_KEYS


# "-4x" before "-4": alternatives are tried in order and the first that matches wins.
# A plain word ("the", "The") is never a shape name (listed names are the lexicon pass's):
# a token must have a capital or a digit after its first letter, a "+" or a joined part
# ("MSSNet", "openjourney-v4", "Deblur-MSSNet"), and the lookahead skips the rest before
# Python sees them.
_TOKEN = re.compile(
    _BEFORE + r"(?=[A-Za-z][a-z]*[A-Z0-9_+-])[A-Za-z][A-Za-z0-9]*(?:\+\+?|[-_][A-Za-z0-9]+|\.\d+|/\d+)*"
)
# Where _TOKEN can start, found in the reversed text: read backwards, a token's start is the first
# character after it that may end its opening (a capital, digit, "_", "+" or "-"), then lower-case
# letters, then one letter, with no character before it that _BEFORE forbids. This pattern opens
# with a class and runs once over the text; _TOKEN, whose look-behind comes first, was tried at
# every position (~60 µs per 2 KB). Kept (issue 19): with the plain _TOKEN.finditer validate takes
# 1.15x as long on the real dev answers, the one shortcut of the package that still measures.
_TOKEN_START_REVERSED = re.compile(r"[A-Z0-9_+\-][a-z]*[A-Za-z](?![A-Za-z0-9_\-/.@])")


def token_matches(text: str) -> Iterator[re.Match[str]]:
    """Yield what ``_TOKEN.finditer(text)`` yields: _TOKEN matched only where it can start."""
    size = len(text)
    starts = [size - m.end() for m in _TOKEN_START_REVERSED.finditer(text[::-1])]
    resume = 0
    for start in reversed(starts):
        if start < resume:
            continue  # inside the token before, as finditer would skip it
        match = _TOKEN.match(text, start)
        if match is not None:
            yield match
            resume = match.end()


_FAMILY_SUFFIX = re.compile("(?:" + "|".join(map(re.escape, data_lines("family_suffixes.txt"))) + ")$")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_LETTERS_DIGITS = re.compile(r"^[A-Z][A-Za-z]+[-_]?v?\d")
_ACRONYM_FAMILY = re.compile(r"^[A-Z]{2,}(?:SR|GAN|CNN|NET|IR)$")
_PLAIN_WORD = re.compile(r"^[a-z]+$")


_NOT_LETTER = re.compile(r"[^A-Za-z]")


@lru_cache(maxsize=8192)
def part_is_model(part: str) -> bool:
    """Return whether one part of a token has a model name's shape (cached: answers repeat names)."""
    key = name_key(part)
    if part in _NOT_MODELS_EXACT or key in _NOT_MODELS_KEYS or key in _GENERIC:
        return False
    if key in LEXICON_KEYS:
        return True
    letters = _NOT_LETTER.sub("", part)
    if _CAMEL.search(part) and _FAMILY_SUFFIX.search(letters) and len(part) >= 4:
        return True
    if _LETTERS_DIGITS.match(part) and any(c.isupper() for c in part[1:]) | ("v" in part):
        return True
    return bool(_ACRONYM_FAMILY.match(part))


# Identifiers hold no function words: "depth-of-field" is prose even after a task code.
_FUNCTION_WORDS = frozenset(data_lines("function_words.txt"))


def is_function_word(word: str) -> bool:
    """Return whether ``word`` is a function word ("of", "the", "is"; data/function_words.txt)."""
    return word.lower() in _FUNCTION_WORDS


# Words glued to a name that make it prose ("Segmentation-based", "MSSNet-like").
_PROSE_SUFFIX = frozenset(data_lines("prose_suffixes.txt"))


@lru_cache(maxsize=8192)
def _identifier_shape(token: str) -> str | None:
    """Return the identifier a token is (without a prose suffix), or None."""
    parts = token.split("-")
    while len(parts) > 1 and parts[-1].lower() in _PROSE_SUFFIX:
        parts.pop()
    rest = parts[1:]
    if not rest or task_by_code(parts[0]) is None or any(p.lower() in _FUNCTION_WORDS for p in rest):
        return None  # "depth-of-field" is prose: identifiers hold no function words
    # "Colorization-DISCO", "Inpainting-LaMa" or a run of two or more words; never
    # "Segmentation-maps" or "Enhance-First".
    if len(rest) < 2 and not any(c.isupper() or c.isdigit() for c in rest[0][1:]):
        return None
    return "-".join(parts)


@lru_cache(maxsize=8192)
def _token_shape(token: str) -> tuple[int, str, str, str | None] | None:
    """Return (offset, name, key, family) of the name a token is, or None (cached per token)."""
    identifier = _identifier_shape(token)
    if identifier is not None:
        return 0, identifier, name_key(identifier), None
    parts = token.split("-")
    # Trim plain lower-case words at either end: "MSSNet-based", "non-ResNet".
    while parts and _PLAIN_WORD.match(parts[-1]):
        parts.pop()
    lead = 0
    while parts and _PLAIN_WORD.match(parts[0]):
        lead += len(parts.pop(0)) + 1
    if not parts:
        return None
    whole = "-".join(parts)
    if whole in _NOT_MODELS_EXACT or name_key(whole) in _NOT_MODELS_KEYS:
        return None
    if not any(part_is_model(p) for p in parts) and not part_is_model(whole):
        return None
    family = name_key(parts[0]) if len(parts) > 1 and part_is_model(parts[0]) else None
    return lead, whole, name_key(whole), family


_NEXT_WORD = re.compile(r"[ \t]+([A-Z][a-z]+)\b(?![-\d])")


def _is_prose(found: str) -> bool:
    """Return whether a lexicon match is a lower-case phrase (``latent diffusion``), a technique."""
    return " " in found and found == found.lower()


def _is_person(text: str, found: str, end: int) -> bool:
    """Return whether a one-word lexicon match is a first name followed by a surname (Claude Monet)."""
    if not found.isalpha() or not found[0].isupper() or not found[1:].islower():
        return False
    following = _NEXT_WORD.match(text, end)
    if following is None:
        return False
    word = following.group(1)
    return (
        name_key(word) not in LEXICON_KEYS
        and name_key(found + word) not in LEXICON_KEYS
        and (word not in _SURNAME_STOP)
    )


# Capitalised words after a listed name that continue the name rather than start a surname.
_SURNAME_STOP = frozenset(data_lines("name_continuations.txt"))


def find_model_names(text: str, skip: list[tuple[int, int]] | None = None) -> list[NameMention]:
    """Return the model names in ``text`` in order, leaving out any inside the ``skip`` spans."""
    # One byte per character, set where a link or an earlier name stands.
    used = bytearray(len(text))
    for start, end in skip or []:
        used[start:end] = b"\x01" * (min(end, len(text)) - start)

    mentions: list[NameMention] = []
    for match in _lexicon_matches(text):
        start, end = match.span()
        if used.find(1, start, end) >= 0:
            continue  # in a link or an earlier name (find, not a slice: no copy)
        found, name, version = match.group(0, "name", "version")
        key = name_key(found)
        if key in _GENERIC or found in _NOT_MODELS_EXACT or key in _NOT_MODELS_KEYS:
            continue
        if _is_prose(found) or _is_person(text, found, end):
            used[start:end] = b"\x01" * (end - start)  # nor may the shape pass take it
            continue
        mentions.append(NameMention(start, end, found, key, name_key(name) if version else None))
        used[start:end] = b"\x01" * (end - start)
    for match in token_matches(text):
        start, end = match.span()
        if used.find(1, start, end) >= 0:
            continue
        shape = _token_shape(match.group(0))
        if shape is not None:
            mentions.append(NameMention(start + shape[0], start + shape[0] + len(shape[1]), *shape[1:]))
    mentions.sort(key=itemgetter(0))  # by start, stable
    return mentions


def families(key: str) -> list[str]:
    """Return the listed names ``key`` is a version of: efficientvit for EfficientViT-L3-384.

    A family that ends in a digit must not run on into another digit: ResNet-101 is
    not a version of ResNet-10. A bare family is allowed by any of its versions
    (DeblurGAN by DeblurGAN-v2, MobileNet by MobileNetV2); another explicit version is
    not (the matching in :class:`AllowedNames` keeps versions apart).
    """
    found = []
    for family in LEXICON_KEYS:
        if len(family) < len(key) and key.startswith(family):
            rest = key[len(family) :]
            if family[-1].isdigit() and rest[0].isdigit():
                continue
            found.append(family)
    return found


# ---------------------------------------------------------------------------- other spellings
# Keys a prompt's name is allowed under as well as its own (cnaps_rag.allowlist reads them):
# without its version, its initials, a title's acronym. Pure functions of one name.

_VERSION_TAIL = re.compile(r"v?\d+(?:\.\d+)*[a-z]?$")
_V_BEFORE_DIGIT = re.compile(r"(?<=[a-z])v(?=\d)")


def family_key(key: str) -> str | None:
    """Return ``key`` without its trailing version (``mobilenet`` for ``mobilenetv2``), if it has one."""
    base = _VERSION_TAIL.sub("", key)
    return base if base != key and len(base) >= 3 and not base[-1].isdigit() else None


def unversioned(key: str) -> str:
    """Return ``key`` with a ``v`` before a version number dropped: ``stablediffusionv15`` -> ``...15``."""
    return _V_BEFORE_DIGIT.sub("", key)


_CAMEL_WORD = re.compile(r"[A-Z][a-z]+")


def initials(part: str) -> list[str]:
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


def title_acronyms(words: list[str]) -> list[str]:
    """Return the keys of the acronyms of a run of capitalised words.

    ``Denoising Diffusion Probabilistic Models`` gives ``ddpm``; a last word ``Network`` also
    gives ``…net`` (``Multi-Stage Splitting Network``: ``mssn`` and ``mssnet``).
    """
    pieces = [p for w in words for p in w.split("-") if p]
    if len(pieces) < 2:
        return []
    letters = "".join(p[0] for p in pieces).lower()
    found = [letters]
    if pieces[-1].lower() in ("network", "networks", "net"):
        found.append(letters[:-1] + "net")
    return found


def digit_runs(key: str) -> list[str]:
    """Return the runs of digits in ``key``: a fuzzy match must keep them (no other version)."""
    return re.findall(r"\d+", key)
