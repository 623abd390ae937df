"""A GGUF without a chat template: found from its header, refused in one line, answered with --chat-format.

The model without a template is a copy of the embedded one with ``tokenizer.chat_template``
removed (the ``templateless_model`` fixture); small GGUFs holding metadata only are written here
with the ``gguf`` package to test the header reader.
"""

from __future__ import annotations

import json
import struct

import gguf
import pytest
from conftest import PROMPTS, prompt

from cnaps_rag import ConfigError, answer
from cnaps_rag.backends import LocalBackend, embedded_model_path, local
from cnaps_rag.backends.metadata import FORMAT_HINT, TEMPLATE_KEY, model_card, read_metadata
from cnaps_rag.cli import main
from cnaps_rag.doctor import doctor

UPSCALE = str(PROMPTS / "000_d18f79af084974a4.txt")


def metadata_only(path, keys):
    """Write a GGUF holding the string ``keys`` (and arrays, a number, a flag) but no tensors."""
    writer = gguf.GGUFWriter(path, arch="llama")
    for key, value in keys.items():
        writer.add_string(key, value)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "a", "é", ""])
    writer.add_array("tokenizer.ggml.scores", [0.5, -1.0, 2.0, 0.0])
    writer.add_uint32("llama.block_count", 30)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path


def test_the_header_reader_reads_what_gguf_wrote_and_skips_arrays(tmp_path):
    path = metadata_only(tmp_path / "m.gguf", {"general.name": "Tiny", TEMPLATE_KEY: "{{ x }}"})
    metadata = read_metadata(path)
    assert metadata["general.name"] == "Tiny" and metadata["tokenizer.chat_template"] == "{{ x }}"
    assert metadata["llama.block_count"] == 30 and metadata["tokenizer.ggml.add_bos_token"] is False
    assert metadata["tokenizer.ggml.tokens"] is None and metadata["tokenizer.ggml.scores"] is None


def test_the_header_reader_agrees_with_the_gguf_package_on_the_embedded_model():
    reader = gguf.GGUFReader(embedded_model_path())
    expected = {
        name: field.contents()
        for name, field in reader.fields.items()
        if not name.startswith("GGUF.") and field.types[0] != gguf.GGUFValueType.ARRAY
    }
    ours = read_metadata(embedded_model_path())
    assert {k: v for k, v in ours.items() if v is not None} == pytest.approx(expected)
    assert "tokenizer.chat_template" in ours


@pytest.mark.parametrize(
    ("keys", "name", "base"),
    [
        ({"general.name": "Gemma 3 270m"}, "gemma-3-270m-q4_k_m.gguf", True),  # the issue's file
        ({"general.name": "Gemma 3 270m", "general.finetune": "it"}, "m.gguf", False),
        ({"general.name": "Qwen2.5 0.5B Instruct"}, "m.gguf", False),
        ({}, "SmolLM2-135M-Instruct.Q4_1.gguf", False),
        ({}, "m.gguf", True),
    ],
)
def test_a_base_model_is_one_whose_metadata_names_no_fine_tune(tmp_path, keys, name, base):
    card = model_card(metadata_only(tmp_path / name, keys))
    assert card.base_model is base and not card.has_chat_template
    assert any("base model" in line for line in card.lines()) is base
    assert ("instruction-tuned GGUF" in card.fix()) is base and "--chat-format" in card.fix()


def test_a_base_model_without_a_template_is_refused_saying_both(tmp_path):
    # The issue's Gemma 3 270M file: no template, no fine-tune name (its metadata, without the weights).
    path = metadata_only(tmp_path / "gemma-3-270m-q4_k_m.gguf", {"general.name": "Gemma 3 270m"})
    with pytest.raises(ConfigError, match="marks a base model") as info:
        LocalBackend(model_path=path)
    line = info.value.one_line()
    assert "no chat template" in line and "instruction-tuned" in line and "--chat-format" in line


@pytest.mark.parametrize("content", [b"", b"GGUF\x03\x00", b"not a gguf file at all, really"])
def test_a_file_that_is_no_gguf_is_a_config_error(tmp_path, content):
    path = tmp_path / "m.gguf"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="cannot read model"):
        read_metadata(path)


def test_a_header_cut_short_is_a_config_error(tmp_path):
    path = metadata_only(tmp_path / "m.gguf", {"general.name": "Tiny"})
    data = path.read_bytes()
    assert struct.unpack("<Q", data[16:24])[0] > 3  # the key-value count
    path.write_bytes(data[:60])
    with pytest.raises(ConfigError, match="ends inside its header"):
        read_metadata(path)


def test_a_model_without_a_template_is_refused_when_the_backend_is_made(templateless_model):
    with pytest.raises(ConfigError, match="no chat template in its GGUF metadata") as info:
        LocalBackend(model_path=templateless_model)
    assert "--chat-format" in info.value.one_line()
    with pytest.raises(ConfigError, match="unknown chat format 'chatlm'") as info:
        LocalBackend(model_path=templateless_model, chat_format="chatlm")
    assert "chatml" in (info.value.hint or "")


@pytest.mark.parametrize("command", ["answer", "batch"])
def test_answer_and_batch_stop_in_one_line_without_loading_the_model(
    templateless_model, command, tmp_path, capsys
):
    out = tmp_path / "answers.jsonl"
    extra = ["-o", str(out)] if command == "batch" else []
    code = main([command, UPSCALE, "--model", str(templateless_model), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("cnaps-rag: error: ") and "no chat template" in err and "--chat-format" in err
    assert not any(key[0] == str(templateless_model) for key in local._LOADED), "stopped before loading"
    assert not out.exists()


@pytest.mark.model
def test_with_a_chat_format_the_copy_answers_as_the_original(templateless_model, local_backend):
    # SmolLM2's template is ChatML: given that format, the copy is sent the same tokens.
    spec = prompt("000_d18f79af084974a4")
    copy = LocalBackend(model_path=templateless_model, chat_format="chatml", repack="off")
    original = answer(spec, backend=local_backend, strategy="capable", max_tokens=48)
    result = answer(spec, backend=copy, strategy="capable", max_tokens=48)
    assert result.markdown == original.markdown and result.meta.drafts == original.meta.drafts
    assert result.meta.prompt_tokens == original.meta.prompt_tokens > 1000
    assert result.meta.completion_tokens == original.meta.completion_tokens > 40


@pytest.mark.model
def test_doctor_says_a_model_has_no_template_and_passes_with_a_format(templateless_model, capsys):
    report = doctor(model=templateless_model)
    assert report.smoke.ok and report.card is not None and not report.card.has_chat_template
    assert not report.ok and not report.card.base_model
    text = "\n".join(report.lines())
    assert "chat template: NONE" in text and f"fix: {FORMAT_HINT}" in text
    assert main(["doctor", "--model", str(templateless_model), "--chat-format", "chatml", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chat_format"] == "chatml" and data["card"]["has_chat_template"] is False
