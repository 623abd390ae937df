"""Evaluate whole runs: score every answer record of one or many systems, aggregate, judge, report.

``answers`` reads the inputs (answers files, a dataset team's results, prompts); ``run`` scores,
judges and tallies them (``tally``) into an :class:`EvalReport` (``models``); ``judge`` is an
optional model judge, ``panel`` how far judges agree; ``report`` writes it as JSON, Markdown and a
page (their sections written once, ``sections.j2``). Nothing here imports back.
"""

from __future__ import annotations

from .answers import ResultsFields, load_prompt_index
from .judge import Judge
from .models import BlindSpot, EvalReport, PanelReport, PromptIndex, RecordedVerdicts, Row
from .report import report_json, report_markdown, write_report
from .run import evaluate

__all__ = [
    "BlindSpot",
    "EvalReport",
    "Judge",
    "PanelReport",
    "PromptIndex",
    "RecordedVerdicts",
    "ResultsFields",
    "Row",
    "evaluate",
    "load_prompt_index",
    "report_json",
    "report_markdown",
    "write_report",
]
