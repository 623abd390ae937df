"""Prompt templates: strict substitution, versions, and golden renders of the real prompts."""

from __future__ import annotations

import pytest
from renders import GOLDEN, PROMPT_RENDERS, prompts_sent

from cnaps_rag import TemplateError
from cnaps_rag.templates import Template, load_template


def test_missing_and_unused_variables_are_errors():
    template = Template(name="t", version="1", body="Q: $question\nS: $source")
    with pytest.raises(TemplateError, match=r"missing \['source'\]"):
        template.render(question="q")
    with pytest.raises(TemplateError, match=r"unused \['extra'\]"):
        template.render(question="q", source="s", extra="x")
    with pytest.raises(TemplateError, match="no prompt template"):
        load_template("does-not-exist")


def test_every_template_has_a_version():
    for name in ("scaffold_goal", "fields", "capable", "capable_fix", "format_retry"):
        assert load_template(name).version not in ("", "unversioned")


@pytest.mark.parametrize(("strategy", "example"), PROMPT_RENDERS)
def test_rendered_prompts_match_golden_files(strategy, example):
    """What the model is sent for an example (``python tests/renders.py`` rewrites the files)."""
    assert prompts_sent(strategy, example) == (GOLDEN / f"{strategy}_{example}.json").read_text(
        encoding="utf-8"
    )
