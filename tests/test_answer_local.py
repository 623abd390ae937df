"""The main job: grounded three-section answers from the scaffold strategy.

The scaffold answer is built from the prompt; the embedded model only chooses which of the
question's sentences says what the user wants. What follows from the template is tested with a
fake backend that makes that choice (unmarked, fast); what the real model does is marked
``model`` and asserts what depends on its generation.
"""

from __future__ import annotations

import re

import pytest
from conftest import PROMPTS, QueueBackend, prompt

from cnaps_rag import AllowList, answer
from cnaps_rag.links import find_links
from cnaps_rag.spec import SECTIONS3

HEADINGS = [section.heading for section in SECTIONS3]

CASES = {
    "000_d18f79af084974a4": ("single-image super-resolution", False),
    "004_3b145cd2937caf5f": ("single-image super-resolution", True),
    "v01_crlf_bom": ("image deraining", True),
    "v04_no_related": ("low-light", True),
    "v05_three_models": ("video super-resolution", True),
    "v10_chinese": ("image dehazing", None),
    "v11_injection": ("single-image super-resolution", True),
}


@pytest.fixture(scope="module")
def answers():
    # The fake picks the question's last sentence, as the grammar lets the model pick any one.
    return {name: answer(prompt(name), backend=QueueBackend(), strategy="scaffold") for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_three_sections_in_order(answers, name):
    text = answers[name].markdown
    positions = [text.find(heading) for heading in HEADINGS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


@pytest.mark.parametrize("name", sorted(CASES))
def test_only_provided_urls_and_every_source_cited(answers, name):
    spec = prompt(name)
    allow = AllowList.from_spec(spec)
    result = answers[name]
    assert all(link.key in allow.urls for link in find_links(result.markdown))
    with_links = [s.id for s in spec.sources if s.urls]
    assert result.cited == with_links
    for source in spec.sources:
        for url in source.urls:
            assert url in result.markdown, "links are rendered exactly as the prompt gives them"


@pytest.mark.parametrize("name", sorted(CASES))
def test_right_task_named_in_section_one(answers, name):
    expected, fits = CASES[name]
    section_one = answers[name].markdown.split(HEADINGS[1])[0]
    if expected:
        assert expected in section_one
    assert answers[name].meta.fits is fits


def test_mismatched_model_is_said_plainly(answers):
    text = answers["000_d18f79af084974a4"].markdown
    assert re.search(r"built for image deblurring, not single-image super-resolution", text)


def test_nothing_made_up_is_left_for_the_validator(answers):
    for name, result in answers.items():
        assert result.validation.violations == [], (name, result.validation.violations)


def test_injected_summary_does_not_reach_the_answer(answers):
    text = answers["v11_injection"].markdown
    assert "evil.example.com" not in text and "Real-ESRGAN" not in text


@pytest.mark.model
def test_metadata_records_how_the_answer_was_made(local_backend):
    result = answer(prompt("000_d18f79af084974a4"), backend=local_backend)  # two sentences: the model chooses
    meta = result.meta
    assert meta.backend == "local" and meta.model.endswith(".gguf")
    assert meta.strategy == "scaffold" and meta.structured_mode == "grammar"
    # One generation: the choice of the question's goal sentence (issue 11 item 5).
    assert meta.template_version == "guided-goal-1"
    assert meta.prompt_tokens > 100 and meta.completion_tokens > 10 and meta.generations == 1
    assert meta.timings["total"] >= meta.timings["draft"] > 0
    one_sentence = answer(prompt("004_3b145cd2937caf5f"), backend=local_backend).meta
    assert one_sentence.generations == 0, "a one-sentence question is quoted: nothing to choose"


@pytest.mark.model
def test_the_answer_quotes_the_sentence_the_model_chose(local_backend):
    from cnaps_rag.draft.caller import Caller
    from cnaps_rag.draft.scaffold import goal_sentence

    spec = prompt("000_d18f79af084974a4")
    chosen = goal_sentence(Caller(local_backend, attempts=2, max_wait=1.0), spec.question, 64)
    assert f"In the user's words: “{chosen}”" in answer(spec, backend=local_backend).markdown


@pytest.mark.model
def test_same_prompt_same_answer(local_backend):
    first = answer(prompt("000_d18f79af084974a4"), backend=local_backend)
    again = answer(prompt("000_d18f79af084974a4"), backend=local_backend)
    assert again.markdown == first.markdown and first.meta.generations == 1


@pytest.mark.model
def test_free_strategy_runs_on_the_local_model(local_backend):
    result = answer(prompt("004_3b145cd2937caf5f"), backend=local_backend, strategy="fields", max_tokens=300)
    assert result.meta.strategy == "fields"
    assert all(heading in result.markdown for heading in HEADINGS)
    allow = AllowList.from_spec(prompt("004_3b145cd2937caf5f"))
    assert all(link.key in allow.urls for link in find_links(result.markdown))


@pytest.mark.model
def test_cli_answer_prints_markdown():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "cnaps_rag.cli", "answer", str(PROMPTS / "004_3b145cd2937caf5f.txt")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(HEADINGS[0])
    assert "https://github.com/yinboc/liif" in result.stdout


@pytest.mark.model
def test_the_goal_line_quotes_one_of_the_questions_own_sentences(local_backend):
    from cnaps_rag.draft.caller import Caller
    from cnaps_rag.draft.scaffold import goal_sentence
    from cnaps_rag.text import sentences

    question = (
        "I scanned a stack of 1990s photo prints and they came out small. "
        "Can I upscale them 2x so I can make larger prints? My printer is old."
    )
    call = Caller(local_backend, attempts=2, max_wait=1.0)
    chosen = goal_sentence(call, question, 64)
    assert chosen in sentences(question), "the grammar holds the model to the question's sentences"
    assert call.generations == 1
    single = "Please enlarge this book cover 4x."
    assert goal_sentence(call, single, 64) == single and call.generations == 1, "one sentence: no choice"
