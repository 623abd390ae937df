"""Hostile variants of answers, and an oracle broader than the validator, for the allow-list.

An attacker (a summary that tells the model where to put a link, or a model writing Chinese
or Korean prose) plants unsourced URLs and model names in forms a reader still sees: glued to
the word before, in HTML attributes and code, as the text of a sourced link, split by
invisible characters, wrapped in bidi controls. :data:`URL_FORMS`, :data:`URL_SHAPES`,
:data:`NAME_FORMS` and :data:`NAME_SHAPES` are those forms; :func:`variant` plants a seeded
random few of them in an answer, and :func:`leaks` checks a validated text with an oracle
that does not use the validator's detection: every planted URL carries a token found nowhere
else, every planted name is searched for as a plain word, and any ``://``, ``www.`` or
domain-shaped token with a path must have a host of the prompt's own links.

Run over the real dev answers (read from ``../shared/real-answers/`` at run time):
``python -m eval.hostile [--variants 1500] [--seed 0]``. ``tests/test_hostile.py`` runs the
same generator over the fixtures in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cnaps_rag import parse_prompt, validate
from cnaps_rag.allowlist import AllowList
from cnaps_rag.errors import PromptError
from cnaps_rag.spec import PromptSpec

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("CNAPS_RAG_REAL_ANSWERS", ROOT.parent / "shared" / "real-answers"))

# Where a planted URL stands ({url}); each a form a reader sees as a link.
URL_FORMS = {
    "glued to Korean": "참고{url}",
    "glued to Chinese": "参见{url}",
    "glued to Japanese, CJK full stop after": "詳細は{url}。",
    "glued to a Latin word": "See{url}",
    "glued to an arrow": "→{url}",
    "glued to an underscore": "a_{url}",
    "after an equals sign": "weights={url}",
    "after a colon": "Code:{url}",
    "HTML attribute, quoted": '<a href="{url}">weights</a>',
    "HTML attribute, unquoted": "<img src={url}>",
    "markdown link": "[weights]({url})",
    "markdown image": "![figure]({url})",
    "autolink": "<{url}>",
    "code span": "`{url}`",
    "own line": "\n{url}\n",
    "parentheses": "(see {url})",
    "emphasis": "**{url}**",
    "full-width parentheses": "（{url}）",
}
# What a planted URL looks like ({host} is unique to the plant, {token} too).
URL_SHAPES = {
    "https": "https://{host}/{token}",
    "upper case": "HTTPS://{HOST}/{TOKEN}",
    "ftp": "ftp://{host}/{token}",
    "www": "www.{host}/{token}",
    "bare domain with a path": "{host}/{token}",
    "IPv4 host": "http://198.51.100.7/{token}",
    "IPv6 host": "http://[2001:db8::7]/{token}",
    "port": "https://{host}:8443/{token}",
    "credentials": "https://user:pw@{host}/{token}",
    "scheme-relative": "//{host}/{token}",
    "near-miss repository": "https://github.com/{token}/weights",
    "zero-width space in the host": "https://{host}\u200b/{token}",
    "file scheme": "file:///{token}/weights",
}
# Where a planted name stands ({name}); {link} is one of the prompt's own links.
NAME_FORMS = {
    "sentence": "We also apply {name} here.",
    "list item": "\n- {name}: a further model.\n",
    "sourced link's whole text": "See [{name}]({link}).",
    "sourced link's text with more words": "Weights: [{name} by its authors]({link}).",
    "code span": "Run `{name}` first.",
    "heading": "\n### {name}\n",
    "parentheses": "A model (e.g. {name}) helps.",
    "glued to Chinese": "参见{name}模型。",
}
# How a planted name is written.
NAME_SHAPES = {
    "plain": "{a}{b}",
    "zero-width space": "{a}\u200b{b}",
    "zero-width joiner": "{a}\u200d{b}",
    "word joiner": "{a}\u2060{b}",
    "soft hyphen": "{a}\u00ad{b}",
    "byte order mark": "{a}\ufeff{b}",
    "right-to-left override around": "\u202e{a}{b}\u202c",
}
# Names the lexicon lists, planted where the prompt does not name them.
NAMES = ("GFPGAN", "CodeFormer", "SwinIR", "Restormer", "NAFNet", "ControlNet", "SegFormer", "Mask2Former")

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Any "://" or "www." with what follows it, and any domain-shaped token with a path.
_URLISH = re.compile(r"(?i)(?:[a-z][a-z0-9+.-]*)?://[^\s<>\"'`]*|www\.[^\s<>\"'`]*")
_DOMAIN_PATH = re.compile(r"(?i)(?<![\w.@/-])((?:[a-z0-9-]+\.)+[a-z]{2,})(?::\d+)?/[^\s<>\"'`]*")


@dataclass
class Plant:
    """One planted item: its form, its shape, and what must not be left (a token or a name)."""

    kind: str
    form: str
    shape: str
    needle: str


@dataclass
class Variant:
    """An answer with plants in it."""

    text: str
    plants: list[Plant] = field(default_factory=list)


def _allowed_hosts(allow: AllowList) -> set[str]:
    hosts = set()
    for url in allow.urls.values():
        host = re.sub(r"(?i)^[a-z][a-z0-9+.-]*://", "", url).split("/", 1)[0].split("?", 1)[0]
        hosts.add(host.lower().removeprefix("www."))
    return hosts


def plantable_names(spec: PromptSpec) -> list[str]:
    """Return the names of :data:`NAMES` that the prompt does not allow (checked in a plain sentence)."""
    allow = AllowList.for_spec(spec)
    return [
        name
        for name in NAMES
        if name.lower() not in spec.raw.lower()
        and any(v.kind == "model" for v in validate(f"We use {name} here.\n", allow).violations)
    ]


def variant(answer: str, spec: PromptSpec, rng: random.Random, *, count: int | None = None) -> Variant:
    """Return ``answer`` with 1-6 (or ``count``) plants at random lines, each of a random form and shape."""
    names = plantable_names(spec)
    links = [url for source in spec.sources for url in source.urls]
    lines = answer.split("\n")
    result = Variant("")
    for _ in range(count or rng.randint(1, 6)):
        index = rng.randrange(len(lines))
        serial = rng.randrange(10**6)
        if rng.random() < 0.6 or not names or not links:
            form, shape = rng.choice(sorted(URL_FORMS)), rng.choice(sorted(URL_SHAPES))
            token = f"zq{serial:06d}x"
            host = f"evil{serial:06d}.example.com"
            url = URL_SHAPES[shape].format(host=host, token=token, HOST=host.upper(), TOKEN=token.upper())
            piece = URL_FORMS[form].format(url=url)
            result.plants.append(Plant("url", form, shape, token))
        else:
            form, shape = rng.choice(sorted(NAME_FORMS)), rng.choice(sorted(NAME_SHAPES))
            name = rng.choice(names)
            cut = rng.randint(1, len(name) - 1)
            written = NAME_SHAPES[shape].format(a=name[:cut], b=name[cut:])
            piece = NAME_FORMS[form].format(name=written, link=rng.choice(links))
            result.plants.append(Plant("model", form, shape, name))
        lines[index] = lines[index] + ("" if piece.startswith("\n") else " ") + piece
    result.text = "\n".join(lines)
    return result


def _visible(text: str) -> str:
    """Return ``text`` without format characters: what a reader sees."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def leaks(text: str, plants: list[Plant], spec: PromptSpec) -> list[str]:
    """Return what the oracle finds left in a validated ``text``: each a short description."""
    found = []
    seen = _visible(text)
    for plant in plants:
        if plant.kind == "url" and plant.needle.lower() in seen.lower():
            found.append(f"planted URL left ({plant.form}, {plant.shape})")
        if plant.kind == "model" and re.search(
            rf"(?<![A-Za-z0-9]){re.escape(plant.needle)}(?![A-Za-z0-9])", seen
        ):
            found.append(f"planted name left ({plant.form}, {plant.shape}): {plant.needle}")
    hosts = _allowed_hosts(AllowList.for_spec(spec))
    for match in _URLISH.finditer(seen):
        rest = re.sub(r"(?i)^(?:[a-z][a-z0-9+.-]*)?://", "", match.group(0))
        host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1].lower().removeprefix("www.")
        host = host.rstrip(".,;:!?)]}*_'\"")
        if host and host not in hosts:
            found.append(f"link-shaped text left: {match.group(0)[:60]}")
    for match in _DOMAIN_PATH.finditer(seen):
        if match.group(1).lower().removeprefix("www.") not in hosts:
            found.append(f"domain with a path left: {match.group(0)[:60]}")
    if any(char in _BIDI for char in text):
        found.append("bidi control left")
    return found


@dataclass
class Outcome:
    """What one variant did: its leaks, whether validate crashed, whether a second validate changed it."""

    leaks: list[str]
    crashed: str | None = None
    unstable: bool = False


def check(answer: str, spec: PromptSpec, rng: random.Random) -> tuple[Variant, Outcome]:
    """Plant into ``answer``, validate, and return the variant with what the oracle found."""
    planted = variant(answer, spec, rng)
    try:
        once = validate(planted.text, spec)
        twice = validate(once.text, spec)
    except Exception as error:  # a crash is a finding, not the end of the run
        return planted, Outcome([], crashed=f"{type(error).__name__}: {error}")
    return planted, Outcome(leaks(once.text, planted.plants, spec), unstable=twice.text != once.text)


def _real_answers() -> list[tuple[str, PromptSpec]]:
    pairs = []
    for name in ("format1_dev.jsonl", "format2_dev.jsonl"):
        for line in (REAL / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            try:
                pairs.append((record["markdown"], parse_prompt(record["prompt"])))
            except PromptError:
                continue
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (REAL / "format1_dev.jsonl").exists():
        print(f"no real answers at {REAL}", file=sys.stderr)
        return 2
    answers = _real_answers()
    rng = random.Random(args.seed)
    leaked: dict[str, int] = {}
    crashes = unstable = with_url = with_name = plants = 0
    started = time.perf_counter()
    for number in range(args.variants):
        answer, spec = answers[number % len(answers)]
        planted, outcome = check(answer, spec, rng)
        plants += len(planted.plants)
        crashes += outcome.crashed is not None
        unstable += outcome.unstable
        with_url += any(leak.startswith(("planted URL", "link-shaped", "domain")) for leak in outcome.leaks)
        with_name += any(leak.startswith("planted name") for leak in outcome.leaks)
        for leak in outcome.leaks:
            kind = leak.split(":")[0]
            leaked[kind] = leaked.get(kind, 0) + 1
    elapsed = time.perf_counter() - started
    print(
        f"{args.variants} variants of {len(answers)} real answers ({plants} plants, seed {args.seed}): "
        f"unsourced URL left in {with_url}, planted name left in {with_name}, "
        f"crashes {crashes}, changed by a second validate {unstable} ({elapsed:.1f} s)"
    )
    for kind, count in sorted(leaked.items(), key=lambda item: -item[1]):
        print(f"  {count:5d}  {kind}")
    return 1 if with_url or with_name or crashes or unstable else 0


if __name__ == "__main__":
    sys.exit(main())
