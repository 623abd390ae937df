"""Keys of a model name's other spellings: without its version, its initials, a title's acronym.

The allow-list (:mod:`cnaps_rag.allowlist`) allows a name under these keys as well as its own
(:func:`cnaps_rag.names.name_key`); they are pure functions of one name.
"""

from __future__ import annotations

import re

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
