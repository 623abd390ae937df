from __future__ import annotations

import pytest
from conftest import PROMPTS, prompt

from cnaps_rag import PromptError, load_prompt_file, parse_prompt, parse_prompts


def test_example_prompt_fields(example_upscale):
    spec = example_upscale
    assert spec.id == "000_d18f79af084974a4"
    assert spec.question.startswith("I tried 2× upscaling on my low-end phone")
    assert spec.question.endswith("such little computing power?")
    assert len(spec.instructions) == 3 and spec.instructions[0].startswith("What task")
    assert [s.role for s in spec.sources] == ["recommended", "related", "related", "related"]
    first = spec.sources[0]
    assert (first.id, first.name) == ("S1", "Deblur-MSSNet-GoPro")
    assert first.paper_url == "https://cg.postech.ac.kr/Research/MSSNet/MSSNet.pdf"
    assert first.github_url == "https://github.com/kky7/MSSNet"
    assert first.summary is None
    assert spec.sources[1].github_url is None
    assert "EfficientViT-L3-384" in spec.sources[1].summary


def test_id_is_derived_from_content_when_not_given():
    text = (PROMPTS / "004_3b145cd2937caf5f.txt").read_text(encoding="utf-8")
    a, b = parse_prompt(text), parse_prompt(text.replace("\n", "\r\n"))
    assert a.id == b.id and len(a.id) == 16
    assert parse_prompt(text, prompt_id="x").id == "x"


def test_crlf_bom_matches_plain():
    spec = prompt("v01_crlf_bom")
    assert not spec.question.startswith("\ufeff") and "\r" not in spec.raw
    assert spec.sources[0].name == "Derain-MPRNet-Rain13K"
    assert all("\r" not in (s.summary or "") for s in spec.sources)


def test_github_spelling_and_angle_brackets():
    spec = prompt("v02_github_angle")
    assert spec.sources[0].github_url == "https://github.com/JingyunLiang/SwinIR"
    assert all(not (s.github_url or "").startswith("<") for s in spec.sources)


def test_missing_lines_are_none():
    spec = prompt("v03_missing_lines")
    assert spec.sources[0].github_url is None
    assert any(s.summary is None for s in spec.related)


def test_no_related_section_and_several_recommended():
    assert [s.role for s in prompt("v04_no_related").sources] == ["recommended"]
    assert len(prompt("v05_three_models").recommended) == 3


def test_multiline_summary_keeps_all_lines():
    spec = prompt("v06_latex_summary")
    multi = [s for s in spec.sources if s.summary and "\n" in s.summary]
    assert multi, "a summary spanning lines is kept whole"


def test_other_languages_and_fallback_decoding():
    assert prompt("v10_chinese").question.startswith("我在雾霾天")
    assert "Urlaubsfotos" in prompt("v07_german").question
    latin = prompt("v09_latin1")
    assert "café" in latin.question
    assert latin.warnings and "decoded as" in latin.warnings[0]


def test_trailing_whitespace_is_not_kept():
    spec = prompt("v08_trailing_ws")
    for source in spec.sources:
        for url in source.urls:
            assert url == url.strip()


def test_dump_of_several_prompts():
    specs = load_prompt_file(PROMPTS / "multi.txt")
    assert [s.id for s in specs] == ["multi#1", "multi#2", "multi#3"]
    assert len({s.question for s in specs}) == 3
    with pytest.raises(PromptError, match="holds 3 prompts"):
        parse_prompt((PROMPTS / "multi.txt").read_text(encoding="utf-8"))
    assert len(parse_prompts((PROMPTS / "multi.txt").read_bytes())) == 3


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.txt", "empty"),
        ("binary.bin", "binary"),
        ("no_question.txt", "no question"),
        ("no_sources.txt", "no sources"),
        ("does_not_exist.txt", "no such file"),
    ],
)
def test_bad_inputs_raise_prompt_error_saying_what_is_missing(name, message):
    with pytest.raises(PromptError, match=message) as info:
        load_prompt_file(PROMPTS / "bad" / name)
    assert str(PROMPTS / "bad" / name) in str(info.value)
    assert "\n" not in info.value.one_line()


def test_paper_lines_without_a_model_line_are_no_sources():
    # Every later step needs a source; a spec without one crashed the fields strategy's schema.
    text = (PROMPTS / "000_d18f79af084974a4.txt").read_text(encoding="utf-8")
    without_models = "\n".join(line for line in text.splitlines() if not line.startswith("Model:"))
    assert "Paper:" in without_models
    with pytest.raises(PromptError, match="no sources: the prompt lists no 'Model:' lines"):
        parse_prompt(without_models)


def test_folder_is_not_a_prompt():
    with pytest.raises(PromptError, match="folder"):
        load_prompt_file(PROMPTS)


def test_url_inside_a_summary_is_not_a_source_url():
    spec = prompt("v11_injection")
    assert all("evil.example.com" not in url for s in spec.sources for url in s.urls)


# --------------------------------------------------------------------------- second format


def test_first_format_fixtures_keep_three_sections():
    for name in ("000_d18f79af084974a4", "004_3b145cd2937caf5f", "v05_three_models", "v10_chinese"):
        spec = prompt(name)
        assert spec.format == "sections3"
        assert [s.heading for s in spec.sections] == [
            "## 1. What the user is trying to do",
            "## 2. How the model works (input → model → output)",
            "## 3. Supporting papers and tools",
        ]


def test_workflow_example_is_one_prompt_with_its_sources():
    spec = prompt("workflow_format_example")
    assert spec.format == "workflow"
    assert spec.question.startswith("My night-time drone clip is grainy")
    assert spec.question.endswith("plastic-looking faces?")
    assert [(s.id, s.name, s.role) for s in spec.sources] == [
        ("S1", "Denoise-Restormer-SIDD", "recommended"),
        ("S2", "VSR-BasicVSR-REDS", "recommended"),
        ("S3", "Enhancement-Zero-DCE-LOL", "recommended"),
    ]
    assert spec.sources[0].paper_url == "https://arxiv.org/abs/2111.09881"
    assert spec.sources[1].paper_url is None  # "Paper: None" is no link
    assert all(s.github_url is None and s.summary is None for s in spec.sources)
    # The commented-out copy of the older prompt is not an instruction of this one...
    assert not any(i.startswith("1. **Identify") for i in spec.instructions)
    # ...but its third instruction is the only place the prompt asks for a justification.
    assert spec.instructions[-1].startswith("3. Justification: Justify your design")


def test_workflow_sections_are_the_prompts_own_headings():
    spec = prompt("workflow_format_example")
    assert [s.heading for s in spec.sections] == [
        "## 1. Core Task",
        "## 2. CNAPS-style Workflow",
        "### A. High-Level Overview",
        "### B. Visual Flow Diagram",
        "### C. Module Details",
        "## 3. Justification",
    ]
    assert [s.key for s in spec.sections] == [
        "task",
        "workflow",
        "overview",
        "diagram",
        "modules",
        "justification",
    ]


def test_workflow_prompt_with_all_parts_written_out_and_crlf():
    spec = prompt("w03_full_sections_crlf")
    assert spec.format == "workflow" and "\r" not in spec.raw
    assert (
        spec.instructions[4]
        == "C. Module Details: For each module, give its input, its output and an example."
    )
    assert [s.name for s in spec.sources] == [
        "Harmonization-INR-Res256-iHarmony4",
        "ImgTxt2Img-HuggingFace-alaa-lab-InstructCV",
    ]


def test_workflow_bullets_with_github_related_papers_and_summaries():
    spec = prompt("w01_related_github")
    assert [s.role for s in spec.sources] == ["recommended"] * 3 + ["related"]
    assert spec.sources[1].github_url == "https://github.com/example-org/snowy-dream"
    assert spec.sources[2].github_url == "https://github.com/example-org/claio"  # angle brackets dropped
    related = spec.related[0]
    assert related.name == "Painterly Rendering with Feed-Forward Networks"
    assert related.summary is not None and related.summary.endswith("colours and strokes.")
    assert "\n" in related.summary  # a summary's continuation line is kept


def test_a_file_of_whole_workflow_prompts_is_several_prompts():
    specs = load_prompt_file(PROMPTS / "w02_dump_two.txt")
    assert [s.id for s in specs] == ["w02_dump_two#1", "w02_dump_two#2"]
    assert [len(s.sources) for s in specs] == [3, 3]
    assert specs[1].sources[0].name.startswith("Segmentation-HuggingFace-nvidia")
    # The stray '#' after each 'Answer:' stays with its prompt.
    assert specs[0].raw.rstrip().endswith("#")


def test_bad_workflow_prompts_say_what_is_missing():
    text = (PROMPTS / "workflow_format_example.txt").read_text(encoding="utf-8")
    question = next(line for line in text.splitlines() if line.startswith('"My night-time drone'))
    no_question = text.replace("A user asks:\n" + question + "\n", "A user asks:\n")
    with pytest.raises(PromptError, match="nothing follows 'A user asks:'"):
        parse_prompt(no_question)
    no_sources = text.split("### Recommended AI Models:")[0] + "### Recommended AI Models:\n(none yet)\n"
    with pytest.raises(PromptError, match="no sources: the prompt lists no '- \\*\\*NAME\\*\\*' bullets"):
        parse_prompt(no_sources)


def _dev_prompts():
    from eval.tasks import dev_prompts

    return dev_prompts()


@pytest.mark.skipif(not _dev_prompts(), reason="../shared/real-answers is absent")
def test_every_real_dev_prompt_parses_in_its_format():
    for file, prompt_id, text in _dev_prompts():
        spec = parse_prompt(text, prompt_id=prompt_id)
        assert spec.format == ("sections3" if file.startswith("format1") else "workflow"), prompt_id
        assert spec.recommended, prompt_id
        assert all(s.paper_url is None or s.paper_url.startswith("http") for s in spec.sources)
