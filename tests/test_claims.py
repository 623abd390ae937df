"""Claim-level grounding: which units make claims, which source each credits, and the verdicts.

The prompt and answers here are written for these tests (one invented related paper, "Lumen");
each calibration test fails when the constant or rule it names moves or goes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnaps_rag import parse_prompt, score
from cnaps_rag.claims import LEAD_IN_WORDS, units
from cnaps_rag.files import data_words
from cnaps_rag.markdown import Layout
from cnaps_rag.profiles import profiles
from cnaps_rag.support import EVALUATIVE_WEIGHT, GOAL_THRESHOLD, SPECIFIC_WEIGHT, SUPPORT_THRESHOLD
from cnaps_rag.words import ROOT_LENGTH, background_words, method_words, roots, word_root, workflow_words

PROMPT = """You are an AI scientist.

A user has asked the following question:
"My old scanned family photos are blurry and scratched. How can I make them sharp again?"

Based on the following recommended models, explain:

1. What task the user is trying to perform.
2. How the model(s) would work in a CNAPS AI-like workflow (input → model → output).
3. List relevant papers and tools (with GitHub or ArXiv links) that support your answer.

Use **only the provided models and papers**. Do not refer to outside sources.

### Recommended AI Models:
Model: Deblur-NAFNet-GoPro
Paper: https://arxiv.org/abs/2204.04676
GitHub: https://github.com/megvii-research/NAFNet

### Related Papers:
Model: Lumen: Repairing Faded Prints with Paired Scans
Paper: http://arxiv.org/pdf/2301.00001v1.pdf
Summary: Printed photographs fade and crack with age. We present Lumen, which repairs cracks and \
restores faded colours by learning from pairs of damaged and clean scans of the same print. A crack \
mask is predicted first, by a SegFormer branch, and the masked regions are filled from their surroundings.

Answer:
"""


@pytest.fixture(scope="module")
def spec():
    return parse_prompt(PROMPT)


def verdicts(spec, markdown: str, **options) -> dict[str, tuple[str, float, list[str]]]:
    """Return each claim flagged or general: text -> (verdict, support, sources)."""
    result = score(markdown, spec, **options)
    found = {s.text: ("unsupported", s.support, s.sources) for s in result.unsupported}
    found |= {s.text: ("misattributed", s.support, s.sources) for s in result.misattributed}
    found |= {s.text: ("general", s.support, s.sources) for s in result.general if s.text not in found}
    return found


def flagged(spec, claim: str, before: str = "") -> tuple[str, float, list[str]] | None:
    """Return the verdict on ``claim`` (None when supported), after ``before``."""
    return verdicts(spec, f"## 2. Workflow\n\n{before}{claim}\n").get(claim.removeprefix("- "))


# --------------------------------------------------------------------------- shapes


def shapes(text: str) -> list[tuple[str, str]]:
    return [(text[u.start : u.end], u.shape) for u in units(text, Layout(text), "Why is my photo blurry?")]


def test_no_claim_shapes():
    text = (
        "## 2. Workflow\n"
        "**Sub-goals:**\n"
        "The workflow has three steps:\n"
        "┌──────────┐\n"
        "[Input: blurry photo]\n"
        "photo → NAFNet → sharp photo\n"
        "|\n"
        "V\n"
        "---\n"
        "| step | model |\n"
        "| --- | --- |\n"
        "| 1 | NAFNet deblurs the photo |\n"
        '"Why is my photo blurry?"\n'
        "Here is how it works.\n"
        "As an expert in photo repair, here is a workflow.\n"
        "1.\n"
        "```mermaid\nA --> B\n```\n"
        "NAFNet deblurs the photo.\n"
    )
    assert shapes(text) == [
        ("2. Workflow", "heading"),
        ("**Sub-goals:**", "label"),
        ("The workflow has three steps:", "lead-in"),
        ("┌──────────┐", "diagram"),
        ("[Input: blurry photo]", "diagram"),
        ("photo → NAFNet → sharp photo", "diagram"),
        ("|", "diagram"),
        ("V", "diagram"),
        ("---", "rule"),
        ("| step | model |", "table header"),
        ("| 1 | NAFNet deblurs the photo |", "claim"),
        ('"Why is my photo blurry?"', "question"),
        ("Here is how it works.", "transition"),
        ("As an expert in photo repair, here is a workflow.", "transition"),
        ("1.", "no words"),
        ("NAFNet deblurs the photo.", "claim"),
    ]


def test_a_lead_in_has_at_most_eight_words():
    assert LEAD_IN_WORDS == 8
    eight = "The photo then goes through these two steps:"
    assert shapes(eight) == [(eight, "lead-in")]
    nine = "The blurry photo then goes through these two steps:"
    assert shapes(nine) == [(nine, "claim")]


def test_an_arrow_chain_of_long_steps_is_prose():
    sentence = "The blurry photo goes first → to the deblurring model that sharpens its edges"
    assert shapes(sentence) == [(sentence, "claim")]


# --------------------------------------------------------------------------- credit and support


def test_a_claim_is_read_against_the_source_it_names(spec):
    # Lumen's own words: supported when credited to Lumen, misattributed when credited to NAFNet.
    assert flagged(spec, "Lumen repairs cracks from pairs of damaged and clean scans.") is None
    verdict, support, sources = flagged(spec, "NAFNet repairs cracks from pairs of damaged and clean scans.")
    assert (verdict, sources) == ("misattributed", ["S1"])
    assert support == pytest.approx(5 / 7, abs=1e-4)


def test_the_identifier_says_task_architecture_and_training_data(spec):
    assert flagged(spec, "NAFNet is a deblurring architecture trained on the GoPro dataset.") is None
    verdict, _, sources = flagged(spec, "NAFNet relies on wavelet attention and adversarial training.")
    assert (verdict, sources) == ("misattributed", ["S1"])


@pytest.mark.parametrize(
    ("before", "claim", "sources"),
    [
        ("", "[S1] predicts a crack mask.", ["S1"]),  # a source marker
        ("", "[the paper](https://arxiv.org/abs/2204.04676) fills the masked regions.", ["S1"]),  # a link
        ("NAFNet deblurs the photos. ", "It predicts a crack mask first.", ["S1"]),  # a pronoun
        ("NAFNet deblurs the photos. ", "Unlike older tools, it predicts a crack mask.", ["S1"]),
        ("### NAFNet\n\n", "- Repairs cracks from pairs of damaged and clean scans.", ["S1"]),  # a heading
        ("**NAFNet:**\n", "- Repairs cracks from pairs of damaged and clean scans.", ["S1"]),  # a bold label
        ("NAFNet works as follows:\n", "- Repairs cracks from pairs of damaged and clean scans.", ["S1"]),
    ],
)
def test_how_a_claim_credits_a_source(spec, before, claim, sources):
    verdict, _, found = flagged(spec, claim, before)
    assert (verdict, found) == ("misattributed", sources)


def test_a_chat_citation_mark_credits_some_source_but_not_which(spec):
    # Read against every source; a claim none of them says is unsupported, not misattributed.
    verdict, _, sources = flagged(spec, "Wavelets sharpen edges [cite: 4].")
    assert (verdict, sources) == ("unsupported", ["S1", "S2"])
    assert flagged(spec, "Cracks are repaired from damaged and clean scans [cite: 4].") is None


def test_a_cited_claim_takes_the_users_topic_only_from_the_sources(spec):
    # scratched, family: the question's words. A chat citation mark says some source says them,
    # and none does (5 of 7 found); the same claim without the mark credits none and may use them.
    claim = "Cracks in scratched family photos are repaired from clean scans"
    assert flagged(spec, f"{claim} [cite: 4].")[:2] == ("unsupported", pytest.approx(5 / 7, abs=1e-4))
    assert flagged(spec, f"{claim}.") is None
    # Where the answer restates the prompt (a step's output), the question's words stay its own.
    assert flagged(spec, "- **Output:** Sharp family photos, vivid and free of smudges [cite: 3].") is None


@pytest.mark.parametrize(
    "claim",
    [
        "[S2] predicts a crack mask.",
        "[the paper](http://arxiv.org/pdf/2301.00001v1.pdf) fills the masked regions.",
        "**Faded Prints with Paired Scans** fills the masked regions.",  # a bold phrase of its title
    ],
)
def test_the_right_source_supports_the_claim(spec, claim):
    assert flagged(spec, claim) is None


def test_two_words_of_a_title_in_bold_name_the_paper(spec):
    # Under a heading that names NAFNet: the bold phrase credits Lumen instead, whose words these are.
    assert flagged(spec, "**Paired Scans** fill the masked regions.", "### NAFNet\n\n") is None
    assert flagged(spec, "These fill the masked regions.", "### NAFNet\n\n")[0] == "misattributed"


def test_a_model_the_summary_names_names_its_paper(spec):
    assert flagged(spec, "SegFormer predicts the crack mask.", "### NAFNet\n\n") is None


def test_a_related_paper_speaks_of_the_users_topic_only_in_its_own_words(spec):
    # scratched, family: the question's words, which Lumen (a related paper) does not use.
    assert flagged(spec, "Lumen repairs scratched family photos.")[:2] == ("misattributed", 0.4)
    assert flagged(spec, "NAFNet deblurs scratched family photos.") is None  # the recommended model
    assert flagged(spec, "Lumen repairs cracks in scanned prints.") is None  # scanned: Lumen's word too


def test_a_claim_crediting_no_source_may_use_every_sources_words(spec):
    assert flagged(spec, "Cracks are repaired from pairs of damaged and clean scans.") is None
    verdict, _, sources = flagged(spec, "Dashcam footage is stabilised with optical flow.")
    assert (verdict, sources) == ("unsupported", [])


def test_an_item_the_validator_strips_makes_its_claim_unsupported(spec):
    result = score("## 2. Workflow\n\nReal-ESRGAN sharpens the photos.\n", spec)
    [item] = result.unsupported
    assert "Real-ESRGAN" in item.why and not result.misattributed
    # Credited to NAFNet, which does not give it either: misattributed.
    result = score("## 2. Workflow\n\nNAFNet deblurs the photos with Real-ESRGAN.\n", spec)
    assert result.misattributed == result.unsupported and "Real-ESRGAN" in result.misattributed[0].why


def test_workflow_words_need_no_source(spec):
    # pass, return, version: words of any workflow (data/workflow_words.txt).
    assert flagged(spec, "The photo is passed to NAFNet, which returns a sharper version.") is None


@pytest.mark.parametrize("filename", ["background_words.txt", "workflow_words.txt"])
def test_every_listed_word_needs_no_source_as_written(filename):
    # Claims are read by root (cut to ROOT_LENGTH): a listed word longer than that ("workflow",
    # "repository") must be listed by its root too, or it counts as missing.
    listed = background_words() if filename == "background_words.txt" else workflow_words()
    assert {word for word in data_words(filename) if word_root(word)} <= {
        word for word in data_words(filename) if word_root(word) in listed
    }


def test_the_instructions_say_what_the_answer_holds_not_what_a_source_does(spec):
    # trying: a word of the instructions alone ("What task the user is trying to perform"). It says
    # nothing of NAFNet (2 of 3 words found); a claim crediting no source may use it.
    assert flagged(spec, "NAFNet deblurs by trying.")[:2] == ("misattributed", pytest.approx(2 / 3, abs=1e-4))
    assert flagged(spec, "Deblurring works by trying.") is None
    # The question's words are what the user asks about: a recommended model may be said to do it.
    assert flagged(spec, "NAFNet deblurs scratched photos.") is None


# --------------------------------------------------------------------------- calibration


def test_support_threshold():
    assert SUPPORT_THRESHOLD == 0.75


def test_the_task_section_restates_the_question_in_other_words(spec):
    # In the section saying what the user wants, a claim crediting no source needs half its words
    # found (scanned, family, photo, sharp of 8: become, vivid, free, smudges are not); elsewhere 3/4.
    assert GOAL_THRESHOLD == 0.5
    claim = "Scanned family photos become sharp, vivid and free of smudges."
    assert verdicts(spec, f"## 1. Task\n\n{claim}\n") == {}
    marked = claim.replace(".", " [cite: 2].")  # a chat citation mark names no source
    assert verdicts(spec, f"## 1. Task\n\n{marked}\n") == {}
    assert verdicts(spec, f"## 2. Workflow\n\n{claim}\n")[claim][:2] == ("unsupported", 0.5)
    # Four of nine is not half; a claim that credits a source is read against it as anywhere.
    less = "Scanned family photos become sharp, vivid, glossy and free of smudges."
    assert verdicts(spec, f"## 1. Task\n\n{less}\n")[less][0] == "unsupported"
    named = "NAFNet makes old family photos sharp, vivid and free of smudges."  # 5 of 8
    assert verdicts(spec, f"## 1. Task\n\n{named}\n")[named][0] == "misattributed"


def test_what_the_provided_models_lack_is_read_from_the_list(spec):
    # Crediting no source and saying what the list lacks: half its words, as a restated goal.
    assert flagged(spec, "None of the provided models restores colour film negatives.") is None
    assert flagged(spec, "No model from the list restores colour film negatives.") is None
    said = flagged(spec, "Each of the provided models restores colour film negatives.")
    assert said[:2] == ("unsupported", pytest.approx(4 / 6, abs=1e-4))
    less = flagged(spec, "None of the provided models restores film negatives, slides or tintypes.")
    assert less[0] == "unsupported" and less[1] < GOAL_THRESHOLD
    assert flagged(spec, "Lumen is not provided with colour film negatives.")[0] == "misattributed"


def test_what_flows_in_or_out_of_a_step_needs_half_its_words(spec):
    # Under NAFNet's label: sharp, family, photo of 6 found (output is a workflow word); the same
    # words under another field label are read at 3/4, and 3 of 7 is not half.
    before = "**NAFNet:**\n"
    assert flagged(spec, "- **Output:** Sharp family photos, vivid and free of smudges.", before) is None
    said = flagged(spec, "- **Result:** Sharp family photos, vivid and free of smudges.", before)
    assert said[0] == "misattributed" and GOAL_THRESHOLD < said[1] < SUPPORT_THRESHOLD
    less = flagged(spec, "- **Output:** Sharp photos, vivid, glossy and free of smudges.", before)
    assert less[0] == "misattributed" and less[1] < GOAL_THRESHOLD


def test_three_of_four_words_found_is_enough(spec):
    # nafnet, deblur, photo found; overnight not: 3/4 = the threshold.
    assert flagged(spec, "NAFNet deblurs photos overnight.") is None


def test_five_of_seven_is_not(spec):
    assert (
        flagged(spec, "NAFNet repairs cracks from pairs of damaged and clean scans.")[1] < SUPPORT_THRESHOLD
    )


def test_praise_the_source_does_not_give_weighs_two(spec):
    assert EVALUATIVE_WEIGHT == 1.0
    # nafnet, deblur, photo, robust: robust is missing (1) and praise (+1): 1 - 2/4.
    assert flagged(spec, "NAFNet deblurs the photos robustly.")[1] == pytest.approx(0.5)


def test_a_missing_name_weighs_three(spec):
    assert SPECIFIC_WEIGHT == 2.0
    # nafnet, deblur, photo, taken, lisbon: Lisbon is missing (1) and written as a name (+2): 1 - 3/5.
    assert flagged(spec, "NAFNet deblurs photos taken in Lisbon.")[1] == pytest.approx(0.4)


def test_a_missing_method_word_weighs_three(spec):
    # nafnet, deblur, photo, attention: attention is missing (1) and names a method (+2): 1 - 3/4.
    assert flagged(spec, "NAFNet deblurs photos with attention.")[1] == pytest.approx(0.25)
    # Without the weight, three of four found would do.
    assert flagged(spec, "NAFNet deblurs photos with care.") is None


@pytest.mark.parametrize(
    "ordinary",
    [
        "transformation",
        "conditions",
        "decode",
        "encode",
        "perception",
        "contrast",
        "embedded",
        "layered",
        "samples",
    ],
)
def test_no_method_word_shares_its_root_with_an_ordinary_word(ordinary):
    assert word_root(ordinary) not in method_words()


def test_words_compare_by_root():
    assert ROOT_LENGTH == 7
    assert roots({"consistent", "consistency"}) == {"consist"}
    assert roots({"llms"}) == roots({"llm"}) == {"llm"}
    assert roots({"mask", "masking"}) == {"mask", "masking"}


def test_the_summary_names_models_and_the_title_head_names_the_paper(spec):
    lumen = profiles(spec)["S2"]
    assert "lumen" in lumen.aliases
    nafnet = profiles(spec)["S1"]
    assert {"nafnet", "nafnetgopro", "deblurnafnetgopro"} <= nafnet.aliases
    assert "gopro" in nafnet.aliases  # the training data names the model too


# --------------------------------------------------------------------------- the score


def test_general_statements_count_on_neither_side_unless_strict(spec):
    markdown = (
        "## 2. Workflow\n\nNAFNet deblurs the photos.\n"
        "Transformers excel at modelling long-range dependencies.\n"
        "NAFNet relies on wavelet attention.\n"
    )
    lenient = score(markdown, spec)
    assert [s.text for s in lenient.general] == ["Transformers excel at modelling long-range dependencies."]
    assert (lenient.claims, len(lenient.unsupported), lenient.grounding) == (3, 1, 0.5)
    strict = score(markdown, spec, strict=True)
    assert (len(strict.unsupported), strict.grounding) == (2, pytest.approx(1 / 3))


def test_flagged_items_say_why_and_point_into_the_markdown(spec):
    markdown = "## 2. Workflow\n\n- NAFNet deblurs the photos.\n- NAFNet relies on wavelet attention.\n"
    result = score(markdown, spec)
    [item] = result.unsupported
    assert result.misattributed == [item]
    assert markdown[item.start : item.end] == item.text == "NAFNet relies on wavelet attention."
    assert item.sources == ["S1"]
    assert "S1 (Deblur-NAFNet-GoPro)" in item.why and "not found: attention, relies, wavelet" in item.why


def test_an_acronym_defined_in_place_claims_nothing_more(spec):
    assert flagged(spec, "NAFNet restores old scanned photos (OSP).") is None
    assert flagged(spec, "NAFNet restores old scanned photos with OSP.")[0] == "misattributed"


def test_a_sentence_ends_inside_closing_emphasis(spec):
    result = score("## 2. Workflow\n\n**The photo is sharp.** NAFNet relies on wavelet attention.\n", spec)
    assert [s.text for s in result.unsupported] == ["NAFNet relies on wavelet attention."]
    assert result.claims == 2


@settings(max_examples=400)
@given(st.text(alphabet="abzAQTS9 .-_'éÜİ", max_size=40))
def test_name_shaped_words_are_those_of_the_plain_pattern(text):
    import re

    from cnaps_rag.support import _name_shaped

    plain = re.compile(r"(?<=[a-z] )[A-Z][A-Za-z0-9]*|\b[A-Z]{2,}[A-Za-z0-9]*|\b[a-z]+[A-Z][A-Za-z0-9]*")
    assert sorted(_name_shaped(text)) == sorted(plain.findall(text))
