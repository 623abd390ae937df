"""Prompt templates: strict substitution, versions, and golden renders of the real prompts."""

from __future__ import annotations

import json
import os

import pytest
from conftest import ROOT, QueueBackend, prompt

from cnaps_rag import TemplateError, answer
from cnaps_rag.templates import Template, load_template

GOLDEN = ROOT / "tests" / "golden"


def test_missing_and_unused_variables_are_errors():
    template = Template(name="t", version="1", body="Q: $question\nS: $source")
    with pytest.raises(TemplateError, match=r"missing \['source'\]"):
        template.render(question="q")
    with pytest.raises(TemplateError, match=r"unused \['extra'\]"):
        template.render(question="q", source="s", extra="x")
    with pytest.raises(TemplateError, match="no prompt template"):
        load_template("does-not-exist")


def test_every_template_has_a_version():
    for name in ("guided_goal", "free", "capable", "capable_fix", "format_retry"):
        assert load_template(name).version not in ("", "unversioned")


@pytest.mark.parametrize(
    ("strategy", "example"),
    # guided asks the model only to choose among a question's sentences: 000's question has two.
    [("guided", "000"), ("capable", "004"), ("free", "004")],
)
def test_rendered_prompts_match_golden_files(strategy, example):
    """What the model is sent for an example; UPDATE_GOLDEN=1 rewrites the files after a reviewed change."""
    name = {"000": "000_d18f79af084974a4", "004": "004_3b145cd2937caf5f"}[example]
    backend = QueueBackend()
    answer(prompt(name), backend=backend, strategy=strategy)
    sent = [{"messages": r.messages, "max_tokens": r.max_tokens, "schema": r.schema} for r in backend.history]
    rendered = json.dumps(sent, indent=1, ensure_ascii=False) + "\n"
    golden = GOLDEN / f"{strategy}_{example}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")
