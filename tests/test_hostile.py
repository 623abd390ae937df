"""The allow-list under attack: each hostile form a case, and a seeded fuzz over the fixtures.

The oracle (:func:`eval.hostile.leaks`) does not use the validator's detection: a planted URL
carries a token found nowhere else, a planted name is searched for as a plain word in the text
a reader sees, and any ``://``, ``www.`` or domain with a path must have a host of the prompt's
own links.
"""

from __future__ import annotations

import json
import random
import unicodedata

import pytest
from conftest import ROOT

from cnaps_rag import parse_prompt, validate
from cnaps_rag.validation import invisible_spans
from eval.hostile import NAME_FORMS, NAME_SHAPES, URL_FORMS, URL_SHAPES, Plant, check, leaks, plantable_names

PROMPT = ROOT / "fixtures" / "prompts" / "000_d18f79af084974a4.txt"
SOURCED = "https://github.com/kky7/MSSNet"
ANSWER = (
    "## 1. What task the user is trying to perform\n\n"
    "The user wants sharper photos; the recommended model is Deblur-MSSNet-GoPro.\n\n"
    "## 2. How the model would work\n\n"
    "- Input: a blurry photo.\n- Output: a sharp photo.\n\n"
    "| step | model |\n| --- | --- |\n| deblur | MSSNet |\n\n"
    "## 3. Sources\n\n"
    f"- MSSNet: [code]({SOURCED})\n"
)


@pytest.fixture(scope="module")
def spec():
    return parse_prompt(PROMPT.read_text(encoding="utf-8"))


def _planted(spec, piece: str, plant: Plant) -> tuple[str, list[str]]:
    text = ANSWER.replace("The user wants sharper photos;", "The user wants sharper photos " + piece + ";")
    once = validate(text, spec)
    assert validate(once.text, spec).text == once.text  # a second validate changes nothing
    return once.text, leaks(once.text, [plant], spec)


@pytest.mark.parametrize("form", sorted(URL_FORMS))
@pytest.mark.parametrize("shape", sorted(URL_SHAPES))
def test_no_planted_url_is_left(spec, form, shape):
    token, host = "zq000001x", "evil000001.example.com"
    url = URL_SHAPES[shape].format(host=host, token=token, HOST=host.upper(), TOKEN=token.upper())
    text, found = _planted(spec, URL_FORMS[form].format(url=url), Plant("url", form, shape, token))
    assert found == [], text


@pytest.mark.parametrize("form", sorted(NAME_FORMS))
@pytest.mark.parametrize("shape", sorted(NAME_SHAPES))
def test_no_planted_name_is_left(spec, form, shape):
    written = NAME_SHAPES[shape].format(a="GFP", b="GAN")
    piece = NAME_FORMS[form].format(name=written, link=SOURCED)
    text, found = _planted(spec, piece, Plant("model", form, shape, "GFPGAN"))
    assert found == [], text


def test_the_oracle_sees_what_the_validator_would_miss(spec):
    # The oracle is broader than the detector: it flags what an unvalidated text leaves.
    piece = "참고https://evil000002.example.com/zq000002x and [GFPGAN](" + SOURCED + ")"
    found = leaks(ANSWER + piece, [Plant("url", "", "", "zq000002x"), Plant("model", "", "", "GFPGAN")], spec)
    assert len([leak for leak in found if leak.startswith("planted")]) == 2
    assert any(leak.startswith("link-shaped") for leak in found)


def test_sourced_link_text_that_names_an_outside_model(spec):
    whole = validate(f"Weights: see [GFPGAN]({SOURCED}) for details.\n", spec)
    assert "GFPGAN" not in whole.text and SOURCED not in whole.text
    assert [(v.kind, v.value) for v in whole.violations] == [("model", "GFPGAN")]
    more = validate(f"The [MSSNet and GFPGAN]({SOURCED}) repository is small.\n", spec)
    assert more.text == f"The [MSSNet]({SOURCED}) repository is small.\n"
    kept = validate(f"The [MSSNet]({SOURCED}) repository is small.\n", spec)
    assert kept.ok  # a sourced link whose text is a sourced name stays


def test_invisible_characters_are_removed_and_reported(spec):
    result = validate("We use Swin\u200bIR and \u202egnp.exe\u202c here.\n", spec)
    assert [(v.kind, v.value) for v in result.violations if v.kind == "invisible"] == [
        ("invisible", "U+200B"),
        ("invisible", "U+202E"),
        ("invisible", "U+202C"),
    ]
    assert "SwinIR" not in result.text and not invisible_spans(result.text)
    assert result.counts()["invisible"] == 3
    # A joiner between two characters of another script shapes them, and stays.
    persian = "این یک می\u200cخواهم است.\n"
    assert validate(persian, spec).text == persian


def test_format_classes_are_unicodes_format_characters():
    # The two precompiled classes stand for unicodedata's category Cf (minus the joiners kept
    # between non-ASCII characters): compare on every code point.
    every = "".join(chr(cp) for cp in range(0x80, 0x110000) if not 0xD800 <= cp <= 0xDFFF)
    text = "a" + every + "a"
    found = {text[start] for start, _ in invisible_spans(text)}
    expected = {char for char in every if unicodedata.category(char) == "Cf"}
    # Joiners stand between non-ASCII characters here, so they are kept.
    assert found == expected - {"\u200c", "\u200d"}


def test_fuzz_hostile_variants_of_the_fixture_answers():
    answers = ROOT / "fixtures" / "labelled" / "answers.jsonl"
    rows = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines()]
    specs = {}
    rng = random.Random(22)
    problems = []
    for number in range(400):
        row = rows[number % len(rows)]
        if row["prompt"] not in specs:
            specs[row["prompt"]] = parse_prompt((ROOT / "fixtures" / "prompts" / row["prompt"]).read_bytes())
        spec = specs[row["prompt"]]
        planted, outcome = check(row["answer"], spec, rng)
        if outcome.crashed or outcome.unstable or outcome.leaks:
            problems.append((row["id"], outcome, [(p.form, p.shape) for p in planted.plants]))
    assert problems == []


def test_plantable_names_are_outside_the_prompt(spec):
    names = plantable_names(spec)
    assert "GFPGAN" in names and all(name.lower() not in spec.raw.lower() for name in names)
