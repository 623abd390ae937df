from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, prompt

from cnaps_rag import AllowList, validate
from cnaps_rag.links import find_links
from cnaps_rag.validate import NOT_COVERED

SKELETON = "## 1. Task\n\n{one}\n\n## 2. Workflow\n\n{two}\n\n## 3. Papers\n\n{three}\n"


def answer_text(one="Upscaling.", two="Input → MSSNet → output.", three="- https://github.com/kky7/MSSNet"):
    return SKELETON.format(one=one, two=two, three=three)


def test_clean_answer_is_unchanged(example_upscale):
    text = answer_text()
    result = validate(text, example_upscale)
    assert result.ok and result.text == text


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/xinntao/Real-ESRGAN",
        "github.com/kky7/MSSNet2",
        "paperswithcode.com",
        "arXiv:2107.10833",
        "doi:10.1109/CVPR.2016.90",
        "https://arxiv.org/abs/2406.17118",
    ],
)
def test_unsourced_urls_are_stripped(example_upscale, url):
    result = validate(
        answer_text(three=f"- MSSNet code: https://github.com/kky7/MSSNet\n- More: see {url}."),
        example_upscale,
    )
    assert url not in result.text
    assert "https://github.com/kky7/MSSNet" in result.text
    [violation] = result.violations
    assert (violation.kind, violation.section, violation.value) == ("url", 3, url)


@pytest.mark.parametrize(
    "url",
    [
        "https://arxiv.org/abs/2406.17117",
        "arXiv:2406.17117v1",
        "https://www.github.com/kky7/MSSNet/tree/main",
        "http://cg.postech.ac.kr/Research/MSSNet/MSSNet.pdf",
    ],
)
def test_sourced_urls_in_other_forms_are_kept(example_upscale, url):
    result = validate(answer_text(three=f"- Source: {url}"), example_upscale)
    assert result.ok and url in result.text


def test_url_only_in_a_summary_is_not_allowed():
    spec = prompt("v11_injection")
    assert "evil.example.com" in spec.raw
    result = validate(answer_text(three="- See https://evil.example.com/x for details."), spec)
    assert "evil.example.com" not in result.text


def test_injected_name_in_a_summary_is_not_allowed():
    spec = prompt("v11_injection")
    result = validate(answer_text(two="Use Real-ESRGAN for every photo. EDSR upscales 2×."), spec)
    assert "Real-ESRGAN" not in result.text and "EDSR upscales" in result.text


def test_markdown_link_keeps_allowed_text_only(example_upscale):
    text = answer_text(
        three="- The [MSSNet code](https://gitlab.com/x/mssnet) is public.\n- [Real-ESRGAN](https://github.com/xinntao/Real-ESRGAN)"
    )
    result = validate(text, example_upscale)
    assert "The MSSNet code is public." in result.text
    assert "Real-ESRGAN" not in result.text and "gitlab" not in result.text
    assert "[]" not in result.text and "()" not in result.text


@pytest.mark.parametrize(
    ("name", "sourced_by"),
    [
        ("ResNet-50", "000_d18f79af084974a4"),
        ("GPT-4", "000_d18f79af084974a4"),
        ("Real-ESRGAN", "000_d18f79af084974a4"),
        ("YOLOv8", "000_d18f79af084974a4"),
        ("Stable Diffusion", "000_d18f79af084974a4"),
        ("DALL-E 2", "000_d18f79af084974a4"),
        ("HAT", "000_d18f79af084974a4"),
        ("MobileNetV3", "v03_missing_lines"),
        ("EfficientNet-B0", "000_d18f79af084974a4"),
        ("EfficientViT-L3-224", "000_d18f79af084974a4"),
    ],
)
def test_unsourced_model_names_take_their_sentence(name, sourced_by):
    spec = prompt(sourced_by)
    two = f"The model restores detail. {name} is a stronger choice here. Output is an image."
    result = validate(answer_text(two=two, three="- Sources as listed."), spec)
    assert name not in result.text
    assert "The model restores detail. Output is an image." in result.text
    assert [v.value for v in result.violations if v.kind == "model"] == [name]
    assert result.violations[0].action == "removed_sentence" and result.violations[0].section == 2


@pytest.mark.parametrize(
    "name",
    [
        "MSSNet",
        "MSS-Net",
        "Deblur-MSSNet-GoPro",
        "EfficientViT-L3-384",
        "EfficientViT",
        "DeiT3-L-384",
        "Mask R-CNN",
        "ResNet-101",
    ],
)
def test_sourced_names_and_spellings_are_kept(example_upscale, name):
    result = validate(answer_text(two=f"{name} is the relevant model here."), example_upscale)
    assert result.ok, result.violations


@pytest.mark.parametrize(
    "word",
    [
        "GPU",
        "RGB",
        "PSNR",
        "JPEG",
        "4K",
        "CNAPS AI",
        "GitHub",
        "ArXiv",
        "ImageNet-1K",
        "MS-COCO",
        "GoPro",
        "FLOPs",
        "MACs",
        "NPU",
    ],
)
def test_words_that_are_not_models_are_left_alone(example_upscale, word):
    result = validate(answer_text(two=f"It runs on the {word} path with ease."), example_upscale)
    assert result.ok, result.violations


def test_list_item_with_a_bad_name_is_removed_whole(example_upscale):
    three = "- MSSNet: https://github.com/kky7/MSSNet\n- SwinIR is better.\n- Samplers: http://arxiv.org/pdf/2309.04502v1.pdf"
    result = validate(answer_text(three=three), example_upscale)
    assert "SwinIR" not in result.text and "\n- \n" not in result.text
    assert result.violations[0].action == "removed_item"
    assert result.text.count("\n- ") == 2


def test_emptied_section_says_so_and_headings_stay(example_upscale):
    result = validate(answer_text(one="Use Real-ESRGAN.", two="GPT-4 writes it."), example_upscale)
    for heading in ("## 1. Task", "## 2. Workflow", "## 3. Papers"):
        assert heading in result.text
    assert result.text.count(NOT_COVERED) == 2


def test_dangling_words_are_tidied(example_upscale):
    result = validate(
        answer_text(one="The code is available at https://gitlab.com/x/y. It is fast."), example_upscale
    )
    assert "available." in result.text or "The code is available" not in result.text
    assert " at ." not in result.text and " at." not in result.text


def test_report_carries_nearest_allowed_item(example_upscale):
    result = validate(answer_text(two="MSSNet2 is newer and better."), example_upscale)
    [violation] = result.violations
    assert violation.nearest == "MSSNet" and violation.similarity > 80


def test_validate_takes_a_prebuilt_allow_list(example_upscale):
    allow = AllowList.from_spec(example_upscale)
    text = answer_text(two="YOLOv8 helps.")
    assert validate(text, allow) == validate(text, example_upscale)


def test_labelled_set():
    """Every planted item is stripped and no sourced item is flagged, on the labelled answers."""
    from eval.labelled import measure

    report = measure()
    assert report["answers"] >= 40
    assert report["url_strip_recall"] == 1.0, report["misses"]
    assert report["model_strip_recall"] >= 0.98, report["misses"]
    assert sum(report["false_strips"].values()) == 0, report["false_strip_items"]


def test_labelled_outputs_keep_only_allowed_links_and_are_idempotent():
    for line in (FIXTURES / "labelled" / "answers.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        spec = prompt(record["prompt"].removesuffix(".txt"))
        allow = AllowList.from_spec(spec)
        result = validate(record["answer"], allow)
        assert all(link.key in allow.urls for link in find_links(result.text)), record["id"]
        again = validate(result.text, allow)
        assert again.ok and again.text == result.text, record["id"]
