"""Find model and architecture names in text.

Two passes. The lexicon pass matches names from ``data/model_names.txt`` (with any separator
between their parts, and a version suffix after a family name: ``ResNet-152``, ``YOLOv8s``,
``GPT-4o``). The shape pass finds names that are not listed, by their form: CamelCase with a
family suffix (``MSSNet``, ``SwinIR``), letters with a version number (``Foo-3``,
``BarNet50``), acronyms ending in a family suffix (``EDSR``, ``SRCNN``). Words in
``data/not_models.txt`` (metrics, hardware, formats, datasets, platforms) are never names; nor
are a lower-case phrase (``latent diffusion`` is a technique) or a listed name that is a
person's first name (``Claude Monet``). An identifier that starts with a dataset task code
(``Enhancement-low-light-img-enhancer``) is a name as a whole, lower-case parts included.
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
from .text import matches_at


class NameMention(NamedTuple):
    """A model name found in text (a named tuple: an answer has dozens)."""

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
LEXICON_KEYS = frozenset(name_key(n) for n in MODEL_NAMES)
_NOT_MODELS_EXACT = frozenset(n for n in data_lines("not_models.txt") if _is_acronym(n))
_NOT_MODELS_KEYS = frozenset(name_key(n) for n in data_lines("not_models.txt") if not _is_acronym(n))
_GENERIC = frozenset(name_key(n) for n in data_lines("generic_names.txt"))  # kinds of network ("a CNN")
_FUNCTION_WORDS = frozenset(data_lines("function_words.txt"))
_PROSE_SUFFIX = frozenset(data_lines("prose_suffixes.txt"))  # "Segmentation-based", "MSSNet-like"
_SURNAME_STOP = frozenset(data_lines("name_continuations.txt"))  # "Gemini Pro" is no person


def in_lexicon(name: str) -> bool:
    return name_key(name) in LEXICON_KEYS


def is_not_model(word: str) -> bool:
    """Return whether ``word`` is listed as not a model (a metric, format, dataset, ...)."""
    return word in _NOT_MODELS_EXACT or name_key(word) in _NOT_MODELS_KEYS


def is_generic(word: str) -> bool:
    """Return whether ``word`` names a kind of network (``Transformer``, ``CNN``), not a model."""
    return name_key(word) in _GENERIC


def is_function_word(word: str) -> bool:
    return word.lower() in _FUNCTION_WORDS


# ---------------------------------------------------------------------------- the lexicon pass

_VERSION = (
    r"(?:[-_ ]?(?:v\d+(?:\.\d+)*[a-z]?|\d+(?:\.\d+)*[a-zA-Z]?(?![A-Za-z0-9])|[A-Z]\d+[a-z]?"
    r"|(?:XL|XXL|Large|Base|Small|Tiny|Huge|Nano|Mini|Lite|Turbo|Plus|Pro)(?![A-Za-z0-9]))"
    r"(?:/\d+)?|\+\+?)"
)
# ASCII only: a name glued to CJK text ("AOD-Net或FFA-Net") still stands alone.
_BEFORE = r"(?<![A-Za-z0-9_\-/.@])"


def _lexicon_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    # Grouped by first letter behind a lookahead: at a word start the engine tries one
    # group's few names instead of all 600.
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names), key=lambda n: (-len(n), n)):  # longest first, then in one order
        body = r"[\s\-]?".join(map(re.escape, name.replace("-", " ").split()))
        groups.setdefault(name[0].lower(), []).append(body if _is_acronym(name) else f"(?i:{body})")
    alternatives = [
        f"(?=[{re.escape(first)}{re.escape(first.upper())}])(?:{'|'.join(bodies)})"
        for first, bodies in groups.items()
    ]
    return re.compile(
        _BEFORE + r"(?P<name>" + "|".join(alternatives) + r")(?P<version>" + _VERSION + r"*)(?![A-Za-z0-9_+])"
    )


# ASCII letters lower-cased, and every byte a name may not follow (the pattern's look-behind
# allows any but letters, digits and _-/.@) made a space; the characters other than ASCII
# that (?i:) matches to an ASCII letter are folded first.
_WORD_START_TABLE = bytes(
    (b + 32 if 65 <= b <= 90 else b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "_-/.@") else 32
    for b in range(256)
)
_FOLDS = {"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"}


def _spaced(text: str) -> str:
    """Return ``text`` as the automaton reads it, one character for one (so offsets hold)."""
    if not text.isascii():
        for char, letter in _FOLDS.items():
            text = text.replace(char, letter)
    return text.encode("ascii", "replace").translate(_WORD_START_TABLE).decode("ascii")


@lru_cache(maxsize=1)
def _lexicon() -> tuple[ahocorasick.Automaton, re.Pattern[str]]:
    """Return an Aho-Corasick automaton of each listed name's spellings (lower-cased, each with
    nothing, a space or a hyphen between its parts), and the lexicon pattern.

    Kept (issue 19): the automaton finds, in one pass, the few word starts where the pattern
    can match, and the pattern is tried there only; ``pattern.finditer`` alone makes validate
    2.3x as slow on the real dev answers. Built on first use: compiling is most of the import.
    """
    automaton = ahocorasick.Automaton()
    for name in MODEL_NAMES:
        parts = name.replace("-", " ").split()
        for separators in itertools.product(("", " ", "-"), repeat=len(parts) - 1):
            word = " " + _spaced("".join(p + s for p, s in zip(parts, (*separators, ""), strict=True)))
            automaton.add_word(word, len(word) - 1)
    automaton.make_automaton()
    return automaton, _lexicon_pattern(MODEL_NAMES)


def _lexicon_matches(text: str) -> Iterator[re.Match[str]]:
    """Yield what ``pattern.finditer(text)`` yields, trying the pattern only where the automaton hits."""
    automaton, pattern = _lexicon()
    # The automaton's words start with a space, so it hits at word starts only; a hit ends at
    # ``end`` in the spaced text, one character ahead of ``text``.
    starts = sorted({end - length for end, length in automaton.iter(" " + _spaced(text))})
    return matches_at(pattern, text, starts)


# ---------------------------------------------------------------------------- the shape pass

# "-4x" before "-4": alternatives are tried in order and the first that matches wins. A plain
# word ("the", "The") is never a shape name: a token must have a capital or a digit after its
# first letter, a "+" or a joined part ("MSSNet", "openjourney-v4", "Deblur-MSSNet").
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
    return matches_at(_TOKEN, text, reversed(starts))


_FAMILY_SUFFIX = re.compile("(?:" + "|".join(map(re.escape, data_lines("family_suffixes.txt"))) + ")$")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_LETTERS_DIGITS = re.compile(r"^[A-Z][A-Za-z]+[-_]?v?\d")
_ACRONYM_FAMILY = re.compile(r"^[A-Z]{2,}(?:SR|GAN|CNN|NET|IR)$")
_PLAIN_WORD = re.compile(r"^[a-z]+$")


@lru_cache(maxsize=8192)
def part_is_model(part: str) -> bool:
    """Return whether one part of a token has a model name's shape (cached: answers repeat names)."""
    key = name_key(part)
    if is_not_model(part) or key in _GENERIC:
        return False
    if key in LEXICON_KEYS:
        return True
    if _CAMEL.search(part) and _FAMILY_SUFFIX.search(re.sub(r"[^A-Za-z]", "", part)) and len(part) >= 4:
        return True
    if _LETTERS_DIGITS.match(part) and any(c.isupper() for c in part[1:]) | ("v" in part):
        return True
    return bool(_ACRONYM_FAMILY.match(part))


@lru_cache(maxsize=8192)
def _token_shape(token: str) -> tuple[int, str, str, str | None] | None:
    """Return (offset, name, key, family) of the name a token is, or None (cached per token)."""
    parts = token.split("-")
    # An identifier: a task code, then parts that hold no function word ("depth-of-field" is
    # prose), without a prose suffix; "Colorization-DISCO", "Inpainting-LaMa" or two or more
    # parts, never "Segmentation-maps" or "Enhance-First".
    named = parts[:]
    while len(named) > 1 and named[-1].lower() in _PROSE_SUFFIX:
        named.pop()
    rest = named[1:]
    if (
        rest
        and task_by_code(named[0]) is not None
        and not any(map(is_function_word, rest))
        and (len(rest) >= 2 or any(c.isupper() or c.isdigit() for c in rest[0][1:]))
    ):
        identifier = "-".join(named)
        return 0, identifier, name_key(identifier), None
    # Trim plain lower-case words at either end: "MSSNet-based", "non-ResNet".
    while parts and _PLAIN_WORD.match(parts[-1]):
        parts.pop()
    lead = 0
    while parts and _PLAIN_WORD.match(parts[0]):
        lead += len(parts.pop(0)) + 1
    whole = "-".join(parts)
    if not parts or is_not_model(whole) or not (any(map(part_is_model, parts)) or part_is_model(whole)):
        return None
    family = name_key(parts[0]) if len(parts) > 1 and part_is_model(parts[0]) else None
    return lead, whole, name_key(whole), family


_NEXT_WORD = re.compile(r"[ \t]+([A-Z][a-z]+)\b(?![-\d])")


def _is_person(text: str, found: str, end: int) -> bool:
    """Return whether a one-word lexicon match is a first name followed by a surname (Claude Monet)."""
    if not found.isalpha() or not found[0].isupper() or not found[1:].islower():
        return False
    following = _NEXT_WORD.match(text, end)
    if following is None:
        return False
    word = following.group(1)
    return not in_lexicon(word) and not in_lexicon(found + word) and word not in _SURNAME_STOP


def find_model_names(text: str, skip: list[tuple[int, int]] | None = None) -> list[NameMention]:
    """Return the model names in ``text`` in order, leaving out any inside the ``skip`` spans."""
    used = bytearray(len(text))  # set where a link or an earlier name stands
    for start, end in skip or []:
        used[start:end] = b"\x01" * (min(end, len(text)) - start)
    mentions: list[NameMention] = []
    for match in _lexicon_matches(text):
        start, end = match.span()
        if used.find(1, start, end) >= 0:
            continue
        found, name, version = match.group(0, "name", "version")
        key = name_key(found)
        if key in _GENERIC or is_not_model(found):
            continue
        # A lower-case phrase ("latent diffusion") is a technique; nor may the shape pass take it.
        if not (" " in found and found == found.lower()) and not _is_person(text, found, end):
            mentions.append(NameMention(start, end, found, key, name_key(name) if version else None))
        used[start:end] = b"\x01" * (end - start)
    for match in token_matches(text):
        start, end = match.span()
        if used.find(1, start, end) < 0 and (shape := _token_shape(match.group(0))) is not None:
            mentions.append(NameMention(start + shape[0], start + shape[0] + len(shape[1]), *shape[1:]))
    mentions.sort(key=itemgetter(0))  # by start, stable
    return mentions


def families(key: str) -> list[str]:
    """Return the listed names ``key`` is a version of: efficientvit for EfficientViT-L3-384.

    A family that ends in a digit must not run on into another digit: ResNet-101 is not a
    version of ResNet-10.
    """
    return [
        family
        for family in LEXICON_KEYS
        if len(family) < len(key)
        and key.startswith(family)
        and not (family[-1].isdigit() and key[len(family)].isdigit())
    ]
