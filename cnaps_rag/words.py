"""Content words: what the grounding checks compare between an answer and its prompt.

A text's *content words* are its words lower-cased, without English and German stopwords
(``data/stopwords.txt``), at least 3 characters long (2 when they hold a digit: ``L3``,
``76``), lightly stemmed (``restored``, ``restoring`` and ``restoration`` are ``restor``);
a run of CJK characters gives its character pairs, since Chinese text has no spaces between
words. The stemmer is a small suffix stripper rather than Snowball's English stemmer
(``snowballstemmer``): on ``fixtures/labelled`` Snowball flags 34 of the 43 planted-name
sentences and 35 of the 212 others at 60 %, against 35 and 36 here, no better; and the
``stop-words`` package's 1,333-word English list drops content words (31 of 43 flagged).

*Background words* (``data/background_words.txt``) are words any answer may use without a
source: the answer's scaffolding (user, task, input, output, paper, code) and the medium
(image, photo, frame, RGB, JPEG, phone, GPU); *workflow words* (``data/workflow_words.txt``) say
what a step does (passed, returns, final); *evaluative words* (``data/evaluative_words.txt``)
praise or rank. The claim check compares *roots*: a stem without a plural ``s``, cut to
:data:`ROOT_LENGTH` characters (``consistent`` and ``consistency`` meet at ``consist``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from .files import data_words

_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
""":data:`_WORD` for ASCII text, where it means the same (a plain class is faster to try)."""
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Longest first; one is stripped, and only when a stem of at least 4 characters is left.
_SUFFIXES = (
    "izations", "ization", "izing", "izes", "ized", "ize", "ations", "ation", "ments", "ment",
    "ness", "ings", "ing", "ies", "ied", "edly", "ers", "er", "ed", "ly", "es", "s",
)  # fmt: skip


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(data_words("stopwords.txt"))


# Pure functions of one word, and answers repeat their words: cached, they take score from
# ~2 ms to well under 1 ms per 2 KB (most of its time went to stemming the same words again).
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Return ``word`` without a common English inflection or derivation suffix."""
    if any(c.isdigit() for c in word):
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            if suffix in ("ies", "ied"):
                word = word[: -len(suffix)] + "y"
            elif not (suffix == "s" and word.endswith(("ss", "us", "is"))):
                word = word[: -len(suffix)]
                # "deblurring", "running": the doubled consonant belongs to the suffix.
                if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiousl":
                    word = word[:-1]
            break
    # "image" and "images", "restore" and "restored" meet at "imag", "restor".
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@lru_cache(maxsize=1)
def background_words() -> frozenset[str]:
    """Return the stemmed words any answer may use without a source (the file says which and why)."""
    return frozenset(roots(stem(word) for word in data_words("background_words.txt")))


@lru_cache(maxsize=1 << 16)
def content_word(word: str) -> str | None:
    """Return the stemmed content word that ``word`` (as written) is, or None when it is none."""
    lowered = word.lower()
    if lowered in _stopwords() or CJK_CHAR.search(lowered):
        return None
    if len(lowered) >= 3 or (len(lowered) == 2 and any(c.isdigit() for c in lowered)):
        return stem(lowered)
    return None


def content_words(text: str, *, cjk: bool = True) -> set[str]:
    """Return the stemmed content words of ``text`` (the module docstring says which words count).

    ``cjk=False`` says the caller knows ``text`` holds no CJK character (the score checks a whole
    answer once rather than each of its sentences).
    """
    words: set[str] = set()
    if cjk and CJK_CHAR.search(text):
        for run in _CJK_RUN.findall(text):
            words.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        text = _CJK_RUN.sub(" ", text)
    words.update(filter(None, map(content_word, words_of(text))))  # no content word is ""
    return words


def words_of(text: str) -> list[str]:
    """Return the words of ``text`` as written (runs of letters and digits)."""
    return (_ASCII_WORD if text.isascii() else _WORD).findall(text)


ROOT_LENGTH = 7
"""Words are compared by their stems' first characters (:func:`_root`)."""


@lru_cache(maxsize=1 << 16)
def _root(word: str) -> str:
    """Return what two spellings of one word share: a stem without a plural ``s`` (LLMs), cut to
    :data:`ROOT_LENGTH` characters (consistent and consistency, temporal and temporally)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:ROOT_LENGTH]


def roots(words: Iterable[str]) -> set[str]:
    """Return the roots of stemmed words (:func:`_root`)."""
    return {_root(word) for word in words}


@lru_cache(maxsize=1 << 16)
def word_root(word: str) -> str | None:
    stem = content_word(word)
    return _root(stem) if stem else None


@lru_cache(maxsize=1)
def workflow_words() -> frozenset[str]:
    """Return the roots of the words that say what a step does, in any workflow (the file says which)."""
    return frozenset(roots(content_words(" ".join(data_words("workflow_words.txt")))))


@lru_cache(maxsize=1)
def method_words() -> frozenset[str]:
    """Return the roots of the words that name how a model is built or trained (the file says which)."""
    return frozenset(roots(content_words(" ".join(data_words("method_words.txt")))))


@lru_cache(maxsize=1)
def evaluative_words() -> frozenset[str]:
    """Return the roots of the words that praise or rank (the file says which)."""
    return frozenset(roots(content_words(" ".join(data_words("evaluative_words.txt")))))
