from __future__ import annotations

import pytest

from cnaps_rag.spec import Source
from cnaps_rag.tasks import TASKS, model_task, parse_identifier, task_by_code, tasks_in_question
from eval.tasks import load_model_labels

# Every task code the dataset's identifiers use (first part of the identifier).
DATASET_CODES = {
    "Classification": "image_classification",
    "Colorization": "colorization",
    "Deblur": "deblurring",
    "Denoise": "denoising",
    "Enhancement": "image_enhancement",
    "FaceReplacement": "face_replacement",
    "HDR": "hdr_reconstruction",
    "Harmonization": "harmonization",
    "Img2Txt": "image_to_text",
    "ImgTxt2Img": "instruct_image",
    "ImgTxt2Txt": "visual_qa",
    "Inpainting": "inpainting",
    "NST": "style_transfer",
    "ObjDet": "object_detection",
    "PoseEstimation": "pose_estimation",
    "Restoration": "image_restoration",
    "SISR": "sisr",
    "Segmentation": "segmentation",
    "Txt2Img": "text_to_image",
    "Txt2Txt": "text_to_text",
    "Txt2Voice": "text_to_speech",
    "Voice2Txt": "speech_recognition",
    "WeatherRemoval": "weather_removal",
}


@pytest.mark.parametrize(("code", "key"), sorted(DATASET_CODES.items()))
def test_every_dataset_code_is_a_task_with_input_output_and_steps(code, key):
    task = task_by_code(code)
    assert task is not None and task.key == key
    assert task.input and task.output and len(task.steps) >= 2 and task.describe


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("WeatherRemoval-CLAIO-DeHaze", "dehazing"),
        ("WeatherRemoval-CLAIO-DeRain", "deraining"),
        ("WeatherRemoval-CLAIO-DeSnow", "desnowing"),
        ("WeatherRemoval-CLAIO", "weather_removal"),
        ("Restoration-SwinIR-Jpeg10", "jpeg_artifact_removal"),
        ("Enhancement-low-light-img-enhancer", "low_light_enhancement"),
        ("Enhancement-Zero-DCE-LOL", "image_enhancement"),
    ],
)
def test_a_part_after_the_code_can_name_the_specific_task(name, key):
    assert model_task(name).task.key == key


def test_weather_part_is_not_training_data():
    ident = parse_identifier("WeatherRemoval-CLAIO-DeSnow")
    assert (ident.architecture, ident.training_data) == ("CLAIO", None)


def test_fine_tuned_checkpoints_keep_their_base_task_whatever_the_style_says():
    # Style names that read like other tasks: rain, snow, face, real.
    for name in ("NST-fast-neural-style-rain-princess", "Txt2Img-StableDiffusionV1-SnowyFace-Real"):
        result = model_task(name)
        assert result.task.key in ("style_transfer", "text_to_image") and result.basis == "code"
    ident = parse_identifier("Txt2Img-StableDiffusionV1-majicMix-realistic")
    assert (ident.architecture, ident.style) == ("StableDiffusionV1", "majicMix-realistic")
    ident = parse_identifier("NST-fast-neural-style-rain-princess")
    assert (ident.architecture, ident.style) == ("fast-neural-style", "rain-princess")


def test_hub_identifiers_name_host_owner_and_model():
    ident = parse_identifier("Classification-HuggingFace-NTQAI-pedestrian_gender_recognition")
    assert (ident.host, ident.owner, ident.architecture) == (
        "HuggingFace",
        "NTQAI",
        "pedestrian_gender_recognition",
    )
    ident = parse_identifier("ImgTxt2Img-HuggingFace-alaa-lab-InstructCV")
    assert (ident.owner, ident.architecture) == ("alaa-lab", "InstructCV")
    ident = parse_identifier("Segmentation-HuggingFace-facebook-maskformer-swin-base-coco")
    assert (ident.task.key, ident.owner, ident.architecture) == (
        "segmentation",
        "facebook",
        "maskformer-swin-base-coco",
    )


def test_scale_at_either_end_of_the_identifier():
    assert parse_identifier("SISR-IMDN-4x").scale == "4x"
    assert parse_identifier("SISR-IMDN-4x").architecture == "IMDN"
    ident = parse_identifier("SISR-Any-LIIF-EDSR")
    assert (ident.scale, ident.architecture, ident.training_data) == ("Any", "LIIF", "EDSR")


def test_paper_title_task_comes_from_the_title_then_the_summary_else_unknown():
    title = model_task("DepthCrafter: Generating Consistent Long Depth Sequences for Open-world Videos")
    assert (title.task.key, title.basis) == ("depth_estimation", "title")
    summary = Source(
        id="S1",
        role="recommended",
        name="A Tiny Network for Phones",
        summary="We remove rain streaks from photos. Our deraining network runs on phones.",
    )
    assert (model_task(summary).task.key, model_task(summary).basis) == ("deraining", "summary")
    # A summary that names several kinds of task does not decide.
    mixed = summary.model_copy(update={"summary": "Used for denoising, segmentation and super-resolution."})
    assert model_task(mixed).basis == "unknown" and model_task(mixed).task is None
    assert model_task("Scaling Laws for Tiny Vision Encoders").basis == "unknown"


def test_title_terms_match_word_starts_only():
    # "rains" starts no word of "constrains"/"trains"; "segment" none of "subsegments".
    assert model_task("Training Constrains Subsegments of Brains").task is None


def test_model_task_never_reads_the_question():
    # The question asks for deraining; the model is a style-transfer checkpoint named "rain-princess".
    assert [t.key for t in tasks_in_question("Can you remove rain streaks from my photo?")][:1] == [
        "deraining"
    ]
    assert model_task("NST-fast-neural-style-rain-princess").task.key == "style_transfer"


def test_question_keywords_match_at_word_starts():
    # "grainy" holds "rainy": the question asks for denoising, not deraining.
    keys = [t.key for t in tasks_in_question("My drone clip is grainy. Can you clean the noise?")]
    assert "denoising" in keys and "deraining" not in keys
    assert "deraining" in [t.key for t in tasks_in_question("A rainy street at dusk, full of streaks")]
    # A keyword that sets its own boundary (" pose ") still matches after a word.
    assert "pose_estimation" in [t.key for t in tasks_in_question("Estimate the body pose of each runner")]


def test_codes_are_unique_and_families_known():
    codes = [code.lower() for task in TASKS for code in task.codes]
    assert len(codes) == len(set(codes))
    keys = {task.key for task in TASKS}
    assert all(key in keys for task in TASKS for _, key in task.refine)


def test_every_labelled_dev_model_gets_its_labelled_task():
    for name, keys in load_model_labels().items():
        found = model_task(name).task
        if keys:
            assert found is not None and found.key in keys, name
        else:
            assert found is None, name
