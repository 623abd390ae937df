"""Find links in free text and reduce each to the key that the allow-list matches on.

Finding uses linkify-it-py (full URLs, bare domains, e-mail addresses, with unicode and
punctuation rules tested on its own suite) plus what it does not find: ``arXiv:ID``, DOIs, and
a link a reader sees where linkify wants a word boundary first (``Seehttps://``,
``참고https://``, ``src=https://``, an IPv6 host). A link starts at an ASCII character and ends
before white space, quotes, angle brackets and the punctuation of other scripts (``。``,
``）``, ``→``), so a link glued to Chinese or Korean prose has the key it would have alone.

Matching rules, shared by validation and scoring: http, https and no scheme are equal; the host
is case-insensitive; a leading ``www.``, a trailing slash and a ``#fragment`` are ignored; arXiv
``abs/``, ``pdf/``, ``html/``, a ``.pdf`` suffix, ``export.arxiv.org`` and ``arXiv:ID`` all
denote the paper ID, whatever its version; ``github.com/OWNER/REPO`` with ``.git`` or any
sub-path denotes the repository, case-insensitively; any other URL matches exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from .text import matches_at, trim_url_tail

if TYPE_CHECKING:
    from linkify_it import LinkifyIt

_ARXIV_ID = r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})"
_ARXIV_TEXT = re.compile(rf"\barXiv\s*:\s*({_ARXIV_ID})(?:v\d+)?", re.I)
_DOI_TEXT = re.compile(
    r"\b(?:doi\s*:\s*|(?:https?://)?(?:dx\.)?doi\.org/)(10\.\d{4,9}/[^\s\"'<>\]\[()]+)", re.I
)
_ARXIV_PATH = re.compile(rf"^/(?:abs|pdf|html|format)/({_ARXIV_ID})(?:v\d+)?(?:\.pdf)?/?$", re.I)
_GITHUB_PATH = re.compile(r"^/([A-Za-z0-9-]+)(?:/([A-Za-z0-9._-]+?))?(?:\.git)?(?:/.*)?$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


class Link(NamedTuple):
    """A link found in text: where it stands and the key it matches on."""

    start: int
    end: int
    text: str
    key: str


@lru_cache(maxsize=1)
def _linkify() -> tuple[LinkifyIt, frozenset[str]]:
    """Return linkify with the full list of top-level domains (it finds paperswithcode.com and
    ai.meta.com), and that list in lower case."""
    from linkify_it import LinkifyIt
    from linkify_it.tlds import TLDS

    return LinkifyIt(options={"fuzzy_ip": True}).tlds(TLDS, True), frozenset(
        t.lower() for t in TLDS if t.isascii()
    )


@lru_cache(maxsize=8192)
def url_key(url: str) -> str:
    """Return the key of a URL under the matching rules (the module docstring lists them)."""
    text = trim_url_tail(url.strip().strip("<>"))
    arxiv = _ARXIV_TEXT.fullmatch(text)
    if arxiv:
        return f"arxiv:{arxiv.group(1).lower()}"
    doi = _DOI_TEXT.match(text)
    if doi and doi.end() == len(text):
        return f"doi:{trim_url_tail(doi.group(1)).lower()}"
    if text.lower().startswith("mailto:"):
        return "mailto:" + text[7:].lower()
    if "@" in text and not _SCHEME.match(text) and "/" not in text.split("@", 1)[0]:
        return "mailto:" + text.lower()
    text = _SCHEME.sub("", text, count=1).removeprefix("//")  # scheme-relative: no scheme
    host, sep, rest = text.split("#", 1)[0].partition("/")
    path, query = sep + rest, ""
    if "?" in host:
        host, _, query = host.partition("?")
        query = "?" + query
    elif "?" in path:
        path, _, query = path.partition("?")
        query = "?" + query
    host = host.lower().rsplit("@", 1)[-1].removeprefix("www.")  # user:pass@host:port
    arxiv = _ARXIV_PATH.match(path) if host in ("arxiv.org", "export.arxiv.org") else None
    if arxiv:
        return f"arxiv:{arxiv.group(1).lower()}"
    github = _GITHUB_PATH.match(path) if host == "github.com" else None
    if github:
        owner, repo = github.group(1).lower(), github.group(2)
        return f"github:{owner}/{repo.lower()}" if repo else f"github:{owner}"
    return f"{host}{path.rstrip('/')}{query}"


# An http(s) URL alone in a run, after brackets or emphasis, or a markdown link's target after
# its label's last word ("GitHub](https://...", "(AGAP)](http..."), with nothing after it but
# closing brackets, emphasis and prose punctuation. Not after a backtick: linkify links nothing
# there (such a URL is found as a glued one, :func:`_glued_links`).
_PLAIN_HTTP = re.compile(
    r"[(<\[*\"']*(?:[A-Za-z0-9_*`()+-]*\]\()?(https?://[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9](?::\d{1,5})?(?:[/?#][A-Za-z0-9._~%/+=&?#-]*)?)"
)


def _plain_http(chunk: str) -> list[tuple[int, int]] | None:
    """Return the span of the one plain http(s) URL a run holds, or None when linkify must decide.

    Kept (issue 19): linkify-it takes ~80 µs a call, and without this validate takes 1.2-1.4x as
    long on the real dev answers. For the runs it takes, it gives linkify's answer (tests
    compare the two on the real answers, the fixtures, the link suite and generated runs).
    """
    match = _PLAIN_HTTP.match(chunk)
    if match is None:
        return None
    start, end = match.span(1)
    while end > start and chunk[end - 1] in ".,;:!?-":  # prose after a URL, as linkify trims it
        end -= 1
    return None if chunk[end:].strip(")]>*`\"',.;:!?") else [(start, end)]


def _arxiv_matches(text: str, lowered: str) -> Iterator[re.Match[str]]:
    """Yield the matches of ``_ARXIV_TEXT`` in ``text`` (``lowered`` is ``text.lower()``).

    Kept (issue 19): the case-insensitive pattern is tried at every position; trying it only
    where the lower-cased text says "arxiv" takes 12 µs per real dev answer instead of 130 µs
    (validate 1.13-1.2x as long without it).
    """
    if len(lowered) != len(text) or "\u0131" in text:
        # "İ" lower-cases to two characters and "ı" matches "i" without being it: scan it all.
        return _ARXIV_TEXT.finditer(text)
    return matches_at(_ARXIV_TEXT, text, (m.start() for m in re.finditer("arxiv", lowered)))


# A scheme's "://" with the scheme's letters before it; the schemes a reader's renderer links
# are tried as the end of a run glued to a word ("Seehttps" is "See" + "https").
_SCHEME_RUN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
_KNOWN_SCHEMES = ("https", "http", "sftp", "ftps", "ftp", "file", "wss", "ws", "git", "ssh", "svn", "rtsp")
# A host's top-level domain with a path after it: where a bare domain glued to the text before
# it ends ("a_evil.example.com/x", "Code:evil.example.com/x"); the search skips to each dot.
_TLD_PATH = re.compile(r"\.([A-Za-z]{2,63})(?::\d{1,5})?/")
_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+([A-Za-z]{2,63})\b")
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_GLUED_BODY = re.compile(r"[^\s<>\"'`]+")
_ARROWS = ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F), (0x2B00, 0x2BFF))


def _settle(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the span of a link found at ``start:end`` without what glued prose added to it.

    A run of other-script characters before an ASCII letter is the prose it is glued to
    (``参见github.com/...``, ``→www...``), and the link stops at the first punctuation, space,
    mathematical sign or arrow of another script (``…/MSSNet。``); other symbols stay, as in
    the domain ``✪df.ws``.
    """
    raw = text[start:end]
    if raw.isascii():
        return start, end
    lead = 0
    while lead < len(raw) and not raw[lead].isascii():
        lead += 1
    if 0 < lead < len(raw) and raw[lead].isalnum() and "." not in raw[:lead]:
        start += lead
    for index in range(start, end):
        char = text[index]
        if char.isascii():
            continue
        category = unicodedata.category(char)
        if category[0] in "PZ" or category == "Sm" or any(a <= ord(char) <= b for a, b in _ARROWS):
            end = index
            break
    return start, start + len(trim_url_tail(text[start:end]))


def _glued_links(text: str, lowered: str, found: list[Link]) -> list[Link]:
    """Return the links linkify leaves out because no word boundary stands before them.

    Not inside a link found already, each of these starts one: a ``://``, at the scheme that
    ends the letters before it (``Seehttps://`` -> ``https://``; any other scheme whole); a
    ``//`` before a host with a top-level domain (scheme-relative); a host with a top-level
    domain and a path, and a ``www.``, where no domain character stands before it
    (``a_evil.example.com/x``). The link runs to white space, a quote or an angle bracket (so
    an unquoted HTML attribute and an IPv6 host are read whole).
    """

    def inside(position: int) -> bool:
        return any(link.start <= position < link.end for link in found)

    tlds = _linkify()[1]
    starts: list[int] = []
    for slashes in re.finditer("//", text):
        position = slashes.start()
        if inside(position):
            continue
        if position and text[position - 1] == ":":  # a scheme's "://" ("file:///" too)
            run = _SCHEME_RUN.search(text, max(0, position - 41), position - 1)
            start = position - 1
            if run is not None:
                letters = run.group(0).lower()
                known = next((s for s in _KNOWN_SCHEMES if letters.endswith(s)), None)
                start = start - len(known) if known else run.start()
            starts.append(start)
        elif text[position - 1 : position] != "/":  # scheme-relative, glued or not
            host = _HOST.match(text, position + 2)
            if host is not None and host.group(1).lower() in tlds:
                starts.append(position)
    for match in _TLD_PATH.finditer(text):
        if match.group(1).lower() not in tlds or inside(match.start()):
            continue
        start = match.start()
        while start and text[start - 1] in _DOMAIN_CHARS:
            start -= 1
        if start < match.start() and (not start or text[start - 1] not in "@/"):
            starts.append(start)
    # Found in the text, not in ``lowered`` (``text.lower()``: "İ" lowers to two characters), but
    # looked for only where ``lowered`` holds one: the case-insensitive pattern is tried at every
    # character (2 of the 115 real answers hold a "www."; find_links takes 0.86x as long without it).
    for www in re.finditer(r"www\.", text, re.IGNORECASE) if "www." in lowered else ():
        before = text[www.start() - 1] if www.start() else " "
        if not inside(www.start()) and not (before.isascii() and (before.isalnum() or before in ".-/")):
            starts.append(www.start())
    links: list[Link] = []
    for start in sorted(set(starts)):
        body = _GLUED_BODY.match(text, start)
        if body is None:
            continue
        start, end = _settle(text, start, body.end())
        raw = text[start:end]
        while raw.endswith("]") and raw.count("[") < raw.count("]"):
            raw = raw[:-1]  # a markdown label's bracket, not an IPv6 host's
        raw = trim_url_tail(raw)
        rest = raw.split("://", 1)[-1]
        if len(rest) >= 3 and any(char.isalnum() for char in rest):  # "://" alone links nowhere
            links.append(Link(start, start + len(raw), raw, url_key(raw)))
    return links


# "//", "@", a dot before two letters or between digits. Each alternative starts with one of
# "/@.", which the regex engine skips to (starting "\d\.\d" at the digit tried every position).
_HINT = re.compile(r"//|@|\.(?:[^\W\d_]{2}|(?<=\d\.)\d)")
_SPACE = re.compile(r"\s")


def find_links(text: str) -> list[Link]:
    """Return every link in ``text``, in order, without overlaps.

    Full URLs, bare domains (with or without a path), ``<autolinks>``, markdown link targets,
    e-mail addresses, ``arXiv:ID`` and DOIs.
    """
    found: list[Link] = []
    lowered = text.lower()
    if "doi" in lowered:  # the patterns only run where they can match
        for match in _DOI_TEXT.finditer(text):
            raw = trim_url_tail(match.group(0))
            found.append(Link(match.start(), match.start() + len(raw), raw, url_key(raw)))
    if "arxiv" in lowered:
        for match in _arxiv_matches(text, lowered):
            found.append(Link(match.start(), match.end(), match.group(0), url_key(match.group(0))))
    # A link holds no white space and has a hint: linkify only sees the runs of non-space
    # characters around a hint, each distinct run once (answers repeat their links).
    read: dict[str, list[tuple[int, int]]] = {}
    hint = _HINT.search(text)
    while hint is not None:
        chunk_start = max(text.rfind(" ", 0, hint.start()), text.rfind("\n", 0, hint.start()))
        chunk_start = max(chunk_start, text.rfind("\t", 0, hint.start())) + 1
        after = _SPACE.search(text, hint.end())
        chunk_end = after.start() if after else len(text)
        chunk = text[chunk_start:chunk_end]
        if chunk not in read:
            read[chunk] = _plain_http(chunk) or [
                (m.index, m.last_index) for m in _linkify()[0].match(chunk) or []
            ]
        for index, last_index in read[chunk]:
            start, end = _settle(text, chunk_start + index, chunk_start + last_index)
            if end > start:
                found.append(Link(start, end, text[start:end], url_key(text[start:end])))
        hint = _HINT.search(text, chunk_end)  # a hint holds no space: none straddles the run's end
    if "/" in text or "www." in lowered:  # every form _glued_links reads holds one
        found.extend(_glued_links(text, lowered, found))
    found.sort(key=lambda link: (link.start, -(link.end - link.start)))
    result: list[Link] = []
    for link in found:
        if not result or link.start >= result[-1].end:
            result.append(link)
    return result
