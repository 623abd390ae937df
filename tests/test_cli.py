from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import PROMPTS

from cnaps_rag.cli import main

UPSCALE = str(PROMPTS / "000_d18f79af084974a4.txt")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnaps_rag.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_parse_prints_the_spec_as_json(capsys):
    assert main(["parse", UPSCALE]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "000_d18f79af084974a4" and data["sources"][0]["name"] == "Deblur-MSSNet-GoPro"


def test_validate_exit_codes_and_report(tmp_path, capsys):
    clean = tmp_path / "clean.md"
    clean.write_text(
        "## 1. Task\n\nMSSNet.\n\n## 2. Flow\n\nx\n\n## 3. Papers\n\n- https://github.com/kky7/MSSNet\n"
    )
    assert main(["validate", UPSCALE, str(clean)]) == 0
    assert capsys.readouterr().out == clean.read_text()
    dirty = tmp_path / "dirty.md"
    dirty.write_text(clean.read_text() + "- https://github.com/xinntao/Real-ESRGAN\n")
    assert main(["validate", UPSCALE, str(dirty), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [v["value"] for v in report["violations"]] == ["https://github.com/xinntao/Real-ESRGAN"]


def test_validate_reads_standard_input():
    result = run("validate", UPSCALE, "-", stdin="Use GPT-4 today. MSSNet deblurs.\n")
    assert result.returncode == 1
    assert result.stdout == "MSSNet deblurs.\n"
    assert "GPT-4" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["parse", str(PROMPTS / "bad" / "binary.bin")], "binary"),
        (["parse", str(PROMPTS / "bad" / "empty.txt")], "empty"),
        (["parse", "/no/such/file.txt"], "no such file"),
        (["validate", str(PROMPTS / "multi.txt"), "-"], "holds 3 prompts"),
        (["validate", UPSCALE, "/no/such/answer.md"], "no such file"),
        # llama.cpp reads a budget of 0 or less as "until the context is full".
        (["answer", UPSCALE, "--max-tokens", "0"], "max_tokens must be 1 or more"),
        (["batch", UPSCALE, "-o", "/no/such/out.jsonl", "--max-tokens", "-3"], "must be 1 or more"),
        (["batch", UPSCALE, "-o", f"{UPSCALE}/out.jsonl"], "cannot write there"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args, message):
    result = run(*args, stdin="")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_is_exit_2():
    assert run("frobnicate").returncode == 2
    unknown = run("answer", UPSCALE, "--strategy", "template")
    assert unknown.returncode == 2 and "{scaffold,capable,fields}" in unknown.stderr
    assert run("--version").stdout.startswith("cnaps-rag ")
