from __future__ import annotations

import pytest

from cnaps_rag import parse_prompt, validate
from cnaps_rag.profiles import profiles
from cnaps_rag.scores import score
from cnaps_rag.support import SUPPORT_THRESHOLD
from cnaps_rag.validation import NOT_COVERED
from cnaps_rag.words import content_words

SKELETON = "## 1. Task\n\n{one}\n\n## 2. Workflow\n\n{two}\n\n## 3. Papers\n\n{three}\n"


def answer_text(one="Upscaling.", two="Input → MSSNet → output.", three="- https://github.com/kky7/MSSNet"):
    return SKELETON.format(one=one, two=two, three=three)


# A prompt whose third source has no link, for source recall.
PARTLY_LINKED = """You are an AI scientist.

A user has asked the following question:
"How can I remove rain streaks from my dashcam video?"

Based on the following recommended models, explain:

1. What task the user is trying to perform.
2. How the model(s) would work in a CNAPS AI-like workflow (input → model → output).
3. List relevant papers and tools (with GitHub or ArXiv links) that support your answer.

### Recommended AI Models:
Model: Derain-MPRNet-Rain13K
Paper: https://arxiv.org/abs/2102.02808
GitHub: https://github.com/swz30/MPRNet

### Related Papers:
Model: Restormer: Efficient Transformer for High-Resolution Image Restoration
Paper: http://arxiv.org/pdf/2111.09881v2.pdf

Model: A survey of deraining without a link
Summary: Rain streaks degrade images taken by outdoor cameras.

Answer:
"""

UNLINKED = PARTLY_LINKED.replace("Paper: https://arxiv.org/abs/2102.02808\n", "").replace(
    "GitHub: https://github.com/swz30/MPRNet\n", ""
)
UNLINKED = UNLINKED.replace("Paper: http://arxiv.org/pdf/2111.09881v2.pdf\n", "")


# --------------------------------------------------------------------------- URL precision


def test_no_urls_means_url_precision_one(example_upscale):
    result = score(answer_text(three="- The MSSNet paper."), example_upscale)
    assert result.url_precision == 1.0
    assert result.cited_urls == [] and result.unallowed_urls == []


def test_two_allowed_and_one_unallowed_url(example_upscale):
    three = (
        "- https://github.com/kky7/MSSNet\n- arXiv:2406.17117\n- Also https://github.com/xinntao/Real-ESRGAN"
    )
    result = score(answer_text(three=three), example_upscale)
    assert result.url_precision == pytest.approx(2 / 3)
    assert result.cited_urls == ["github:kky7/mssnet", "arxiv:2406.17117", "github:xinntao/real-esrgan"]
    assert result.unallowed_urls == ["github:xinntao/real-esrgan"]


def test_the_same_url_in_different_forms_counts_once(example_upscale):
    three = (
        "- Little Companions: http://arxiv.org/pdf/2406.17117v2.pdf\n"
        "- Again as arXiv:2406.17117 and as [the abstract](https://arxiv.org/abs/2406.17117).\n"
        "- Leaderboard: paperswithcode.com/sota and again https://paperswithcode.com/sota/"
    )
    result = score(answer_text(three=three), example_upscale)
    # Two distinct keys, one allowed: 1/2, not 3/5 as counting occurrences would give.
    assert result.cited_urls == ["arxiv:2406.17117", "paperswithcode.com/sota"]
    assert result.url_precision == 0.5


def test_markdown_link_target_is_a_cited_url(example_upscale):
    result = score(answer_text(three="- [MSSNet code](https://gitlab.com/x/mssnet)"), example_upscale)
    assert result.cited_urls == ["gitlab.com/x/mssnet"]
    assert result.url_precision == 0.0


# --------------------------------------------------------------------------- source recall


def test_source_recall_counts_only_sources_with_a_link():
    spec = parse_prompt(PARTLY_LINKED)
    assert [s.urls != [] for s in spec.sources] == [True, True, False]
    result = score(answer_text(two="Video → MPRNet → output.", three="- github.com/swz30/MPRNet"), spec)
    assert result.linked_sources == ["S1", "S2"]
    assert result.cited_sources == ["S1"]
    assert result.source_recall == 0.5
    both = score(answer_text(three="- github.com/swz30/MPRNet\n- arXiv:2111.09881"), spec)
    assert both.source_recall == 1.0


def test_source_recall_is_one_when_no_source_has_a_link():
    spec = parse_prompt(UNLINKED)
    assert all(not s.urls for s in spec.sources)
    result = score(answer_text(three="- No links."), spec)
    assert result.linked_sources == [] and result.source_recall == 1.0


def test_source_recall_on_the_example(example_upscale):
    # S1 by its GitHub link, S4 by its arXiv ID; S2 and S3 not cited: 2 of 4.
    three = "- https://github.com/kky7/MSSNet\n- arXiv:2309.04502"
    result = score(answer_text(three=three), example_upscale)
    assert result.cited_sources == ["S1", "S4"]
    assert result.source_recall == 0.5
    assert score(answer_text(three="- none"), example_upscale).source_recall == 0.0


# --------------------------------------------------------------------------- model precision


def test_model_precision_counts_every_mention(example_upscale):
    two = "Input → MSSNet → output. MSSNet is fast; EfficientViT-L3-384 and Real-ESRGAN too. See MSSNet."
    result = score(answer_text(two=two), example_upscale)
    # MSSNet three times, EfficientViT-L3-384 once (both sourced), Real-ESRGAN once: 4 of 5.
    assert result.model_mentions == 5
    assert result.unallowed_models == ["Real-ESRGAN"]
    assert result.model_precision == pytest.approx(4 / 5)


def test_model_precision_is_one_without_names(example_upscale):
    result = score(answer_text(two="Input → the network → output."), example_upscale)
    assert result.model_mentions == 0 and result.model_precision == 1.0


def test_names_inside_links_are_not_mentions(example_upscale):
    result = score(
        answer_text(two="A photo goes in.", three="- https://github.com/xinntao/Real-ESRGAN"), example_upscale
    )
    assert result.model_mentions == 0 and result.model_precision == 1.0
    assert result.url_precision == 0.0


def test_only_unallowed_names(example_upscale):
    result = score(answer_text(two="Use SwinIR or HAT."), example_upscale)
    assert result.unallowed_models == ["SwinIR", "HAT"]
    assert result.model_precision == 0.0


# --------------------------------------------------------------------------- structure


def test_three_sections_in_order_is_structured(example_upscale):
    result = score(answer_text(), example_upscale)
    assert result.structure == 1.0
    assert result.sections_found == [1, 2, 3] and result.empty_sections == []


# Issue 12 changed the rule: partial credit for the parts present in order, extra sections allowed.
@pytest.mark.parametrize(
    ("text", "structure", "found", "empty"),
    [
        ("## 1. Task\nA.\n\n## 2. Flow\nB.\n", 2 / 3, [1, 2], []),
        ("## 1. Task\nA.\n\n## 3. Papers\nC.\n\n## 2. Flow\nB.\n", 2 / 3, [1, 3, 2], []),
        ("## 1. Task\nA.\n\n## 2. Flow\n\n## 3. Papers\nC.\n", 2 / 3, [1, 2, 3], [2]),
        (f"## 1. Task\nA.\n\n## 2. Flow\n\n{NOT_COVERED}\n\n## 3. Papers\nC.\n", 2 / 3, [1, 2, 3], [2]),
        ("## 1. Task\nA.\n\n## 2. Flow\nB.\n\n## 3. Papers\nC.\n\n## 4. Extra\nD.\n", 1.0, [1, 2, 3, 4], []),
        ("1. Task\nA.\n\n2. Flow\nB.\n\n3. Papers\nC.\n", 0.0, [], []),
    ],
    ids=["missing", "wrong-order", "empty", "not-covered", "a-fourth-is-allowed", "not-headings"],
)
def test_structure_gives_credit_for_parts_in_order(example_upscale, text, structure, found, empty):
    result = score(text, example_upscale)
    assert result.structure == pytest.approx(structure)
    assert result.sections_found == found and result.empty_sections == empty


def test_structure_accepts_bold_headings_and_subheadings(example_upscale):
    text = "# **1. Task**\nA.\n\n## 2) Flow\n### Input\nA photo.\n\n### 3. Papers\nC.\n"
    result = score(text, example_upscale)
    assert result.sections_found == [1, 2, 3] and result.structure == 1.0


def test_structure_accepts_the_forms_real_answers_use(example_upscale):
    first, second, _ = example_upscale.instructions
    plain = f"1. {first}\nA.\n\n2. {second}\nB.\n\n**3. Papers and tools**\n- C.\n"
    assert score(plain, example_upscale).structure == 1.0
    numbered_list = "1. A photo.\n2. A model.\n3. A result.\n"
    assert score(numbered_list, example_upscale).structure == 0.0


def test_structure_counts_the_second_formats_lettered_parts():
    from conftest import prompt

    spec = prompt("workflow_format_example")
    required = [section.number for section in spec.sections]
    assert "A" in required
    parts = [f"{'###' if n.isalpha() else '##'} {n}. Part\nText.\n" for n in required]
    assert score("\n".join(parts), spec).structure == 1.0
    without_b = "\n".join(p for p, n in zip(parts, required, strict=True) if n != "B")
    assert score(without_b, spec).structure == pytest.approx(1 - 1 / len(required))


def test_citation_marks_are_counted(example_upscale):
    text = answer_text(two="[cite_start]Input → MSSNet → output[cite: 3].")
    assert score(text, example_upscale).citation_marks == 2


def test_a_section_with_only_a_subheading_is_empty(example_upscale):
    text = "## 1. Task\nA.\n\n## 2. Flow\n### Input\n\n## 3. Papers\nC.\n"
    assert score(text, example_upscale).empty_sections == [2]


# --------------------------------------------------------------------------- grounding

COPIED = (
    "Good little companion achieve drastic MACs reduction for a wide variety of model families and scales."
)
INVENTED = "Quantum annealing hardware accelerates blockchain consensus for cryptocurrency mining."


def test_a_sentence_copied_from_a_summary_is_supported(example_upscale):
    text = answer_text(one="Upscaling on a low-end phone.", two=f"{COPIED} {INVENTED}")
    result = score(text, example_upscale)
    # The task line and the two of section 2; the link line has no words once its URL is
    # left out, so it is no sentence.
    assert result.claims == 3
    [unsupported] = result.unsupported
    assert unsupported.text == INVENTED
    assert text[unsupported.start : unsupported.end] == INVENTED
    assert unsupported.support < SUPPORT_THRESHOLD
    assert result.grounding == pytest.approx(2 / 3)


def test_headings_diagrams_link_lines_and_not_covered_are_not_claims(example_upscale):
    text = answer_text(
        one=NOT_COVERED,
        two="Input → MSSNet → output.\n\nMSSNet deblurs the photo.",
        three="- https://github.com/kky7/MSSNet",
    )
    result = score(text, example_upscale)
    assert result.claims == 1 and result.grounding == 1.0


def test_grounding_is_one_without_sentences(example_upscale):
    result = score("## 1. Task\n\n## 2. Flow\n\n## 3. Papers\n- arXiv:2406.17117\n", example_upscale)
    assert result.claims == 0 and result.grounding == 1.0


def test_sentences_split_at_ends_but_not_at_abbreviations(example_upscale):
    text = answer_text(two=f"Input, e.g. a photo → MSSNet → output. {INVENTED}")
    result = score(text, example_upscale)
    assert result.claims == 3
    assert [s.text for s in result.unsupported] == [INVENTED]


def test_invented_sentence_among_list_items(example_upscale):
    two = f"- **Input:** a blurry photo.\n- **Model:** MSSNet.\n- {INVENTED}"
    result = score(answer_text(two=two), example_upscale)
    assert [s.text for s in result.unsupported] == [INVENTED]
    assert result.grounding == pytest.approx(3 / 4)


def test_content_words_are_stemmed_and_filtered():
    assert content_words("The restored images") == content_words("restoring an image") == {"restor", "imag"}
    assert content_words("a an the of to is 2 ×") == set()
    assert content_words("L3 gives 76%") == {"l3", "giv", "76"}
    assert content_words("去雾后") == {"去雾", "雾后"}


def test_source_words_leave_out_injected_summary_sentences():
    from conftest import prompt

    spec = prompt("v11_injection")
    words = set().union(*(p.words for p in profiles(spec).values()))
    assert "imdn" in words
    assert "evil" not in words and "esrgan" not in words


# --------------------------------------------------------------------------- the rest


def test_violations_are_what_validate_strips(example_upscale):
    text = answer_text(two="Use SwinIR here.", three="- https://github.com/kky7/MSSNet\n- paperswithcode.com")
    result = score(text, example_upscale)
    assert result.violations == validate(text, example_upscale).counts() == {"url": 1, "model": 1}
    assert score(validate(text, example_upscale).text, example_upscale).violations == {"url": 0, "model": 0}


def test_crlf_gives_the_same_scores(example_upscale):
    text = answer_text(two=f"Input → MSSNet → output. {INVENTED}")
    assert score(text.replace("\n", "\r\n"), example_upscale) == score(text, example_upscale)


def test_labelled_answer_with_planted_items(example_upscale):
    import json

    from conftest import FIXTURES

    records = [
        json.loads(line) for line in (FIXTURES / "labelled" / "answers.jsonl").read_text().splitlines()
    ]
    l002 = next(r for r in records if r["id"] == "L002")
    result = score(l002["answer"], example_upscale)
    # Cited: kky7/MSSNet, kky7/MSSNet2, arXiv 2404.19484, paperswithcode.com; two are planted.
    assert result.url_precision == 0.5
    assert result.unallowed_urls == ["github:kky7/mssnet2", "paperswithcode.com"]
    assert result.unallowed_models == ["EfficientNet-B0", "ResNet-50", "GPT-4"]
    assert result.structure == 1.0


@pytest.mark.parametrize("marks", ["", " [cite: 2]", "\r\n"])
def test_score_reads_the_validations_findings_or_finds_them_itself(example_upscale, marks):
    text = (
        "## 1. Task\nUpscaling with [MSSNet and VGG-16](https://github.com/kky7/MSSNet)." + marks + "\n\n"
        "## 2. Workflow\nInput → MSSNet → https://example.com/x.\n\n## 3. Links\n- arXiv:2406.17117\n"
    )
    alone = score(text, example_upscale)
    assert score(text, example_upscale, validation=validate(text, example_upscale)) == alone
    assert score(
        text, example_upscale, validation=validate("other text", example_upscale)
    ).model_precision == (alone.model_precision)
    assert alone.model_mentions == 3  # the label's names count, as they did


def test_citation_marks_are_counted_and_not_judged_as_prose(example_upscale):
    """A chat interface's marks ("[cite: 6]", "【4:0†source】") are debris: grounding reads around them."""
    two = "The model deblurs the blurry image with MSSNet."
    plain = score(answer_text(two=two), example_upscale)
    marked = score(
        answer_text(two="[cite_start]" + two[:-1] + " [cite: 6, 7]【4:0†source】."), example_upscale
    )
    assert marked.citation_marks == 3 and plain.citation_marks == 0
    assert (marked.claims, marked.grounding) == (plain.claims, plain.grounding)
