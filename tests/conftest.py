from __future__ import annotations

from pathlib import Path

import pytest

from cnaps_rag import PromptSpec, load_prompt_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROMPTS = FIXTURES / "prompts"
URL_CASES = ROOT.parent / "shared" / "url-cases"


def prompt(name: str) -> PromptSpec:
    """Return the single prompt in fixtures/prompts/{name}.txt."""
    specs = load_prompt_file(PROMPTS / f"{name}.txt")
    assert len(specs) == 1
    return specs[0]


@pytest.fixture(scope="session")
def example_upscale() -> PromptSpec:
    """The first example: a 2x upscaling question answered with a deblurring model."""
    return prompt("000_d18f79af084974a4")


@pytest.fixture(scope="session")
def example_liif() -> PromptSpec:
    return prompt("004_3b145cd2937caf5f")
