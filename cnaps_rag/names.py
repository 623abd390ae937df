"""Find model and architecture names in text.

Two passes. The lexicon pass matches names from ``data/model_names.txt`` (with
any separator between their parts, and a version suffix after a family name:
``ResNet-152``, ``YOLOv8s``, ``GPT-4o``). The shape pass finds names that are not
listed, by their form: CamelCase with a family suffix (``MSSNet``, ``SwinIR``),
letters with a version number (``Foo-3``, ``BarNet50``), acronyms ending in a
family suffix (``EDSR``, ``SRCNN``). Words in ``data/not_models.txt`` (metrics,
hardware, formats, datasets, platforms) are never names.

The lexicons are read once, at import, so that finding names is a pure function
of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from rapidfuzz import fuzz, process


@dataclass(frozen=True)
class NameMention:
    """A model name found in text."""

    start: int
    end: int
    text: str
    key: str
    family: str | None
    """The listed family name this is a version of (``resnet`` for ResNet-152), if any."""


def name_key(name: str) -> str:
    """Return the spelling-free key of a name: lower case, no spaces, hyphens, dots or underscores."""
    return re.sub(r"[\s\-_.·]", "", name).lower()


def _read_list(filename: str) -> list[str]:
    text = files("cnaps_rag").joinpath("data", filename).read_text(encoding="utf-8")
    entries = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            entries.append(line)
    return entries


def _is_acronym(name: str) -> bool:
    # Short names mostly in capitals (HAT, SAM, FILM, DINO, LaMa) are words in lower case.
    letters = [c for c in name if c.isalpha()]
    return len(name) <= 6 and sum(c.isupper() for c in letters) >= max(2, len(letters) - 2)


MODEL_NAMES: tuple[str, ...] = tuple(_read_list("model_names.txt"))
_NOT_MODELS_EXACT = frozenset(n for n in _read_list("not_models.txt") if _is_acronym(n))
_NOT_MODELS_KEYS = frozenset(name_key(n) for n in _read_list("not_models.txt") if not _is_acronym(n))

# Generic architecture words: naming a kind of network is not citing a model.
_GENERIC = frozenset(
    name_key(n)
    for n in (
        "Transformer",
        "Transformers",
        "CNN",
        "CNNs",
        "GAN",
        "GANs",
        "LLM",
        "LLMs",
        "VAE",
        "RNN",
        "LSTM",
        "MLP",
        "Diffusion",
        "U-Net",
        "UNet",
        "Autoencoder",
        "ViTs",
    )
)

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


_LEXICON = _lexicon_pattern(MODEL_NAMES)
_LEXICON_KEYS = frozenset(name_key(n) for n in MODEL_NAMES)
LEXICON_KEYS = _LEXICON_KEYS


def is_not_model(word: str) -> bool:
    """Return whether ``word`` is listed as not a model (a metric, format, dataset, ...)."""
    return word in _NOT_MODELS_EXACT or name_key(word) in _NOT_MODELS_KEYS


_TOKEN = re.compile(_BEFORE + r"[A-Za-z][A-Za-z0-9]*(?:\+\+?|[-.]\d+|[-][A-Za-z0-9]+|/\d+)*")
_FAMILY_SUFFIX = re.compile(r"(?:Net|NeXt|GAN|ormer|ViT|BERT|GPT|SR|IR|VSR|CNN|Mixer|Diff|Det|Seg|Flow)$")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_LETTERS_DIGITS = re.compile(r"^[A-Z][A-Za-z]+[-_]?v?\d")
_ACRONYM_FAMILY = re.compile(r"^[A-Z]{2,}(?:SR|GAN|CNN|NET|IR)$")
_PLAIN_WORD = re.compile(r"^[a-z]+$")


def _part_is_model(part: str) -> bool:
    key = name_key(part)
    if part in _NOT_MODELS_EXACT or key in _NOT_MODELS_KEYS or key in _GENERIC:
        return False
    if key in _LEXICON_KEYS:
        return True
    letters = re.sub(r"[^A-Za-z]", "", part)
    if _CAMEL.search(part) and _FAMILY_SUFFIX.search(letters) and len(part) >= 4:
        return True
    if _LETTERS_DIGITS.match(part) and any(c.isupper() for c in part[1:]) | ("v" in part):
        return True
    return bool(_ACRONYM_FAMILY.match(part))


def _token_mention(token: str, start: int) -> NameMention | None:
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
    if not any(_part_is_model(p) for p in parts) and not _part_is_model(whole):
        return None
    begin = start + lead
    family = name_key(parts[0]) if len(parts) > 1 and _part_is_model(parts[0]) else None
    return NameMention(begin, begin + len(whole), whole, name_key(whole), family)


def find_model_names(text: str, skip: list[tuple[int, int]] | None = None) -> list[NameMention]:
    """Return the model names in ``text`` in order, leaving out any inside the ``skip`` spans."""
    # One byte per character, set where a link or an earlier name stands.
    used = bytearray(len(text))
    for start, end in skip or []:
        used[start:end] = b"\x01" * (min(end, len(text)) - start)

    def free(start: int, end: int) -> bool:
        return 1 not in used[start:end]

    mentions: list[NameMention] = []
    for match in _LEXICON.finditer(text):
        start, end = match.span()
        name = match.group("name")
        if not free(start, end):
            continue
        key = name_key(match.group(0))
        if key in _GENERIC or match.group(0) in _NOT_MODELS_EXACT or key in _NOT_MODELS_KEYS:
            continue
        family = name_key(name) if match.group("version") else None
        mentions.append(NameMention(start, end, match.group(0), key, family))
        used[start:end] = b"\x01" * (end - start)
    for match in _TOKEN.finditer(text):
        if not free(*match.span()):
            continue
        mention = _token_mention(match.group(0), match.start())
        if mention is not None and free(mention.start, mention.end):
            mentions.append(mention)
    mentions.sort(key=lambda m: m.start)
    return mentions


def families(key: str) -> list[str]:
    """Return the listed names ``key`` is a version of: efficientvit for EfficientViT-L3-384.

    A family that ends in a digit must not run on into another digit: ResNet-101 is
    not a version of ResNet-10. A ``v2`` suffix makes another model, not a variant:
    DeblurGAN-v2 does not allow DeblurGAN, nor MobileNetV2 MobileNet.
    """
    found = []
    for family in _LEXICON_KEYS:
        if len(family) < len(key) and key.startswith(family):
            rest = key[len(family) :]
            if (family[-1].isdigit() and rest[0].isdigit()) or re.match(r"v\d", rest):
                continue
            found.append(family)
    return found


def _digits(key: str) -> list[str]:
    return re.findall(r"\d+", key)


@dataclass(frozen=True)
class NameMatch:
    """How a name compares with the allowed ones."""

    allowed: bool
    nearest: str | None
    score: float


class AllowedNames:
    """The model names a prompt allows, and the rule for matching a mention against them."""

    def __init__(self, names: dict[str, str]):
        """``names`` maps each allowed key to the spelling shown in reports."""
        self.names = names

    def __contains__(self, key: str) -> bool:
        return key in self.names

    def check(self, mention: NameMention) -> NameMatch:
        """Return whether ``mention`` names an allowed model, and the nearest allowed name.

        Exact keys match (so ``MSS-Net`` is ``MSSNet``). A compound identifier matches
        when each of its model parts does. Fuzzy matching tolerates a misspelling of an
        allowed name, never another version: the digits, the last two characters and
        any ``+`` must agree.
        """
        key = mention.key
        if key in self.names:
            return NameMatch(True, self.names[key], 100.0)
        parts = [p for p in mention.text.split("-") if _part_is_model(p)]
        compound = len(parts) > 1 and name_key(mention.text) not in _LEXICON_KEYS
        if compound and all(name_key(p) in self.names for p in parts):
            return NameMatch(True, "-".join(parts), 100.0)
        if not self.names:
            return NameMatch(False, None, 0.0)
        best = process.extractOne(key, list(self.names), scorer=fuzz.ratio)
        assert best is not None
        nearest_key, score = best[0], float(best[1])
        same_version = (
            _digits(key) == _digits(nearest_key)
            and key[-2:] == nearest_key[-2:]
            and key.count("+") == nearest_key.count("+")
        )
        return NameMatch(score >= 90 and same_version, self.names[nearest_key], round(score, 1))
