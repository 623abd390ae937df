"""Evaluate whole runs: score every answer record of one or many systems, aggregate, judge, report.

``models`` holds what an evaluation produces, ``evaluate`` makes it (``judge`` and
``agreement`` add an optional model judge), ``report`` (JSON, Markdown, the three files) and
``html_page`` render it; nothing here imports back.
"""

from __future__ import annotations

from .evaluate import compare, evaluate, evaluate_file, load_prompt_index
from .judge import Judge
from .models import EvalReport, PromptIndex, Row
from .report import report_json, report_markdown, write_report

__all__ = [
    "EvalReport",
    "Judge",
    "PromptIndex",
    "Row",
    "compare",
    "evaluate",
    "evaluate_file",
    "load_prompt_index",
    "report_json",
    "report_markdown",
    "write_report",
]
