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
    for name in ("guided_task", "guided_source", "free", "capable", "capable_fix", "format_retry"):
        assert load_template(name).version not in ("", "unversioned")


@pytest.mark.parametrize("strategy", ["guided", "capable", "free"])
def test_rendered_prompts_match_golden_files(strategy):
    """What the model is sent for example 004; UPDATE_GOLDEN=1 rewrites the files after a reviewed change."""
    backend = QueueBackend()
    answer(prompt("004_3b145cd2937caf5f"), backend=backend, strategy=strategy)
    sent = [{"messages": r.messages, "max_tokens": r.max_tokens, "schema": r.schema} for r in backend.history]
    rendered = json.dumps(sent, indent=1, ensure_ascii=False) + "\n"
    golden = GOLDEN / f"{strategy}_004.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")
