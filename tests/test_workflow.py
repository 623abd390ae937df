"""The second format's scaffold: which models serve the goal, in which order, and its sections."""

from __future__ import annotations

import re

import pytest
from conftest import PROMPTS, QueueBackend, prompt

from cnaps_rag import answer, load_prompt_file, parse_prompt
from cnaps_rag.draft.plan import plan_workflow


def _two():
    return load_prompt_file(PROMPTS / "w02_dump_two.txt")


def test_denoise_runs_before_upscaling_and_variants_of_one_task_run_in_parallel():
    plan = plan_workflow(_two()[0])
    assert [step.task.key for step in plan.chain] == ["denoising", "sisr"]
    assert not plan.chain[0].parallel
    assert [m.source.name for m in plan.chain[1].modules] == ["SISR-SwinIR-Classical-4x", "SISR-HAT-4x"]
    assert plan.input == plan.chain[0].task.input and plan.output == plan.chain[1].task.output


def test_models_whose_task_does_not_serve_the_goal_are_left_out_with_a_reason():
    plan = plan_workflow(_two()[1])
    used = [m.source.name for m in plan.modules]
    assert used == [
        "Segmentation-HuggingFace-nvidia-segformer-b0-finetuned-ade-512-512",
        "PoseEstimation-OpenPose",
    ]
    [left] = plan.left_out
    assert left.source.name == "Txt2Voice-HuggingFace-suno-bark"
    assert "text-to-speech, which the question does not ask for" in left.reason


def test_an_unknown_task_is_never_placed_in_the_workflow():
    plan = plan_workflow(prompt("w04_title_and_speech"))
    unknown = [item for item in plan.left_out if item.task is None]
    assert [item.source.name for item in unknown] == ["Scaling Laws for Tiny Vision Encoders"]
    assert "do not say which task" in unknown[0].reason
    assert "Scaling Laws for Tiny Vision Encoders" not in [m.source.name for m in plan.modules]


def test_a_style_name_does_not_make_a_model_serve_another_goal():
    # The question asks to remove rain; the NST checkpoint's style is called "rain-princess".
    text = (PROMPTS / "w01_related_github.txt").read_text(encoding="utf-8")
    spec = parse_prompt(
        text.replace(text.split('"')[1], "Please remove the rain streaks from my street photo.")
    )
    plan = plan_workflow(spec)
    assert [m.source.name for m in plan.modules] == ["WeatherRemoval-CLAIO-DeRain"]
    assert {item.source.name for item in plan.left_out} == {
        "NST-fast-neural-style-rain-princess",
        "Txt2Img-StableDiffusionV1-SnowyDream",
    }


def _guided(spec):
    backend = QueueBackend()
    return answer(spec, backend=backend, strategy="scaffold"), backend


def test_guided_answer_follows_the_prompts_sections_in_order():
    result, backend = _guided(prompt("workflow_format_example"))
    headings = [line for line in result.markdown.splitlines() if line.startswith("#")]
    assert headings == [section.heading for section in prompt("workflow_format_example").sections]
    # One generation: the choice of the question's goal sentence (it has two); everything else
    # comes from the prompt and the task lexicon.
    assert len(backend.history) == 1 and result.meta.template_version == "guided-goal-1"
    assert "In the user's words: “Can you clean the noise" in result.markdown


def test_diagram_boxes_are_the_models_the_answer_uses():
    spec = _two()[0]
    result, _ = _guided(spec)
    diagram = result.markdown.split("### B.")[1].split("### C.")[0]
    assert diagram.count("```") == 2
    boxed = re.findall(r"\[ (S\d+) (\S+) · ", diagram)
    assert boxed == [(m.source.id, m.source.name) for m in plan_workflow(spec).modules]
    assert "Select or fuse" in diagram and "▼" in diagram


def test_module_details_give_each_modules_input_and_output_and_one_line_per_left_out_model():
    spec = prompt("w04_title_and_speech")
    result, _ = _guided(spec)
    details = result.markdown.split("### C.")[1].split("## 3.")[0]
    for module in plan_workflow(spec).modules:
        block = details.split(f"**{module.source.name}**")[1].split("\n\n")[0]
        assert f"**Input:** {module.task.input}" in block and f"**Output:** {module.task.output}" in block
    line = next(x for x in details.splitlines() if x.startswith("**Scaling Laws for Tiny Vision Encoders**"))
    assert "not used: the sources do not say which task" in line


def test_justification_lists_every_source_with_its_links():
    spec = prompt("w01_related_github")
    result, _ = _guided(spec)
    justification = result.markdown.split("## 3.")[1]
    for source in spec.sources:
        assert f"[{source.id}] {source.name}" in justification
        assert all(url in justification for url in source.urls)
    assert result.validation.violations == []


def test_first_format_never_gives_a_model_the_questions_task():
    # A model whose code the lexicon does not know, asked about deblurring: its task stays unknown.
    text = (PROMPTS / "000_d18f79af084974a4.txt").read_text(encoding="utf-8")
    spec = parse_prompt(text.replace("Model: Deblur-MSSNet-GoPro", "Model: Zorblax-MSSNet-GoPro"))
    result, _ = _guided(spec)
    block = result.markdown.split("## 2.")[1].split("## 3.")[0]
    assert "The sources do not say which task this model performs." in block
    assert "super-resolution" not in block and "deblurring" not in block
    assert result.meta.model_tasks == []


def test_first_format_relevance_is_written_from_the_models_task():
    result, _ = _guided(prompt("004_3b145cd2937caf5f"))
    relevance = [line for line in result.markdown.splitlines() if "Relevance:" in line]
    assert relevance == [
        "  - Relevance: it does single-image super-resolution, which the question asks for "
        "(“What data do high-magnification models train on”)."
    ]
    mismatch, _ = _guided(prompt("000_d18f79af084974a4"))
    assert [line for line in mismatch.markdown.splitlines() if "Relevance:" in line] == [
        "  - Relevance: it does image deblurring, not single-image super-resolution "
        "(see the note in section 1)."
    ]


def test_free_strategy_follows_the_second_formats_sections_too():
    spec = prompt("workflow_format_example")
    result = answer(spec, backend=QueueBackend(), strategy="fields")
    headings = [line for line in result.markdown.splitlines() if line.startswith("#")]
    assert headings == [section.heading for section in spec.sections]
    diagram = result.markdown.split("### B.")[1].split("### C.")[0]
    boxed = re.findall(r"\[ (S\d+) (\S+) · ", diagram)
    assert boxed == [(m.source.id, m.source.name) for m in plan_workflow(spec).modules]
    # The model's prose goes where the prompt asks for prose.
    assert "The user wants a sharper image." in result.markdown.split("## 2.")[0]
    assert "Image in, model, image out." in result.markdown.split("### B.")[0]


def test_the_measure_finds_the_layout_and_the_stated_tasks():
    from eval.tasks import judge, layout_problems, load_model_labels

    spec = _two()[0]
    result, _ = _guided(spec)
    assert layout_problems(result.markdown, spec) == []
    broken = result.markdown.replace("[ S3 SISR-HAT-4x ·", "[ S3 something else ·")
    assert any("diagram boxes" in problem for problem in layout_problems(broken, spec))
    assert any("### C." in p for p in layout_problems(broken.replace("### C. Module Details", "C."), spec))
    labels = load_model_labels()
    expected = {
        "Denoise-SwinIR-Noise25": ["denoising"],
        "SISR-SwinIR-Classical-4x": ["sisr"],
        "SISR-HAT-4x": ["sisr"],
    }
    assert [judge(result.markdown, s, spec, expected[s.name])[0] for s in spec.recommended] == ["right"] * 3
    wrong = result.markdown.replace("**Task:** image denoising", "**Task:** image deraining")
    assert judge(wrong, spec.recommended[0], spec, ["denoising"])[0] == "wrong"
    assert labels  # the dev labels load and name known tasks


def test_a_blank_free_note_gives_no_empty_list_item_in_either_format():
    import json

    for name in ("000_d18f79af084974a4", "workflow_format_example"):
        spec = prompt(name)
        reply = {"task": "A task.", "workflow": "A workflow.", "sources": [{"id": "S1", "note": "  "}]}
        result = answer(spec, backend=QueueBackend([json.dumps(reply)]), strategy="fields")
        assert not [line for line in result.markdown.splitlines() if line.strip() in {"-", "- ."}]


def test_strategies_answer_to_their_former_names_and_record_todays():
    from cnaps_rag import ConfigError
    from cnaps_rag.pipeline import AnswerMeta

    spec = prompt("v05_three_models")
    assert answer(spec, backend=QueueBackend(), strategy="guided").meta.strategy == "scaffold"
    assert answer(spec, backend=QueueBackend(), strategy="free").meta.strategy == "fields"
    with pytest.raises(ConfigError, match="unknown strategy 'template'") as info:
        answer(spec, backend=QueueBackend(), strategy="template")
    assert "scaffold, capable, fields" in info.value.one_line()
    # A record written under a former name reads as today's.
    meta = answer(spec, backend=QueueBackend()).meta.model_dump()
    assert AnswerMeta.model_validate({**meta, "strategy": "guided"}).strategy == "scaffold"
