"""eval/faithfulness.py: how the score's flags are counted against claim-level labels.

The labels here are written for the test (the prompt of tests/test_claims.py); the real dev labels
live in ../shared/faithfulness/ and are never copied into the project.
"""

from __future__ import annotations

import json

import pytest
from test_claims import PROMPT

from eval import faithfulness

ANSWER = (
    "## 2. Workflow\n\n"
    "- NAFNet deblurs the photos.\n"
    "- NAFNet relies on wavelet attention.\n"
    "- Lumen repairs cracks from pairs of damaged and clean scans.\n"
    "- Dashcam footage is stabilised with optical flow.\n"
)
UNITS = [
    ("## 2. Workflow", "N", False),
    ("NAFNet deblurs the photos.", "S", False),
    ("NAFNet relies on wavelet attention.", "U", True),
    ("Lumen repairs cracks from pairs of damaged and clean scans.", "S", False),
    ("Dashcam footage is stabilised with optical flow.", "U", False),
]


def record(system: str) -> dict:
    units = [{"text": t, "label": label, "misattributed": m, "why": ""} for t, label, m in UNITS]
    return {"id": f"x#{system}", "system": system, "prompt": PROMPT, "markdown": ANSWER, "units": units}


def test_counts_against_the_labels():
    report = faithfulness.measure([record("a"), record("b")])
    every = report["all"]
    assert every["unsupported_caught"] == 1.0 and every["supported_kept"] == 1.0
    assert every["balanced_accuracy"] == 1.0 and every["flags_right"] == 1.0
    assert every["no_claim_flagged"] == 0.0
    assert every["misattribution_caught"] == 1.0 and every["misattribution_precision"] == 1.0
    assert every["mean_grounding"] == pytest.approx(0.5) and every["labelled_supported"] == pytest.approx(0.5)
    assert set(report["systems"]) == {"a", "b"}


def test_a_unit_is_flagged_when_flags_cover_half_of_it():
    assert faithfulness.covered((10, 20), [(15, 30)]) == 0.5
    assert faithfulness.covered((10, 20), [(0, 12), (11, 14)]) == 0.4
    assert faithfulness.HALF == 0.5


def test_spearman():
    assert faithfulness.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert faithfulness.spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    assert faithfulness.spearman([1, 2], [1, 2]) is None


def test_main_prints_the_table_and_says_what_it_cannot_read(tmp_path, capsys):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(record("a")) + "\nnot json\n", encoding="utf-8")
    assert faithfulness.main([str(path)]) == 0
    out, err = capsys.readouterr()
    assert "| a | 1.00 | 1.00 | 1.00 | 1.00 |" in out and "| all |" in out
    assert "labels.jsonl:2: not JSON" in err
    assert faithfulness.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_broken_record_is_reported_and_the_rest_measured():
    broken = [{"id": "no-units", "system": "a", "prompt": PROMPT, "markdown": ANSWER}, ["not", "a", "record"]]
    bad_label = record("a") | {"id": "bad-label"}
    bad_label["units"] = [{"text": "x", "label": "Q"}]
    bad_prompt = record("a") | {"id": "bad-prompt", "prompt": "no sources here"}
    report = faithfulness.measure([*broken, bad_label, bad_prompt, record("b")])
    assert set(report["systems"]) == {"b"}
    names = [e.split(": ")[0] for e in report["errors"]]
    assert names == ["no-units", '["not", "a", "record"]', "bad-label", "bad-prompt"]


def test_leave_one_system_out_picks_each_knob_without_the_held_out_system(capsys):
    from eval import heldout

    knob = heldout.parse_knob("cnaps_rag.support.SUPPORT_THRESHOLD=0.01,0.75")
    assert knob == ("cnaps_rag.support", "SUPPORT_THRESHOLD", [0.01, 0.75])
    grid = [{("cnaps_rag.support", "SUPPORT_THRESHOLD"): value} for value in knob[2]]
    report = heldout.held_out([record("a"), record("b")], grid)
    # At 0.01 nothing is flagged (balanced accuracy 0.5); at 0.75 every unit is judged right.
    for row in report["systems"].values():
        assert row["held_out_pick"] == grid[1] and row["held_out"]["balanced_accuracy"] == 1.0
    assert report["held_out"]["flags_right"] == 1.0
    from cnaps_rag import support

    assert support.SUPPORT_THRESHOLD == 0.75  # set back
    with pytest.raises(ValueError, match=r"MODULE\.NAME"):
        heldout.parse_knob("SUPPORT_THRESHOLD")
    with pytest.raises(ValueError, match="no Python literal"):
        heldout.parse_knob("cnaps_rag.support.SUPPORT_THRESHOLD=high")
    # A rule written as a pattern switches on and off; a constant that is none has neither.
    switch = heldout.parse_knob("cnaps_rag.support._FLOW=on,off")
    assert switch[2] == ["on", "off"]
    with heldout.knobs({("cnaps_rag.support", "_FLOW"): "off"}):
        assert support._FLOW.match("Output: a photo") is None
    assert support._FLOW.match("Output: a photo")
    with (
        pytest.raises(ValueError, match="no pattern"),
        heldout.knobs({("cnaps_rag.support", "GOAL_THRESHOLD"): "off"}),
    ):
        pass
    heldout.print_report(report)
    assert "| a | SUPPORT_THRESHOLD=0.75 | 1.00 → 1.00 |" in capsys.readouterr().out
