"""Evaluate whole runs: score every answer record of one or many systems, aggregate, judge, report.

``answers`` reads answers files a line at a time and finds each record's prompt; ``evaluate``
scores them and makes the :class:`EvalReport` (``models``), with ``tally`` keeping the running
sums and ranks, and ``judge`` and ``agreement`` adding an optional model judge; ``report``
(JSON, Markdown, the three files), ``html_page`` and ``html_sections`` render it, each table
built once in ``tables`` for both formats. Nothing here imports back.
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
