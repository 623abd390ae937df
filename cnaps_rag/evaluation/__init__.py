"""Evaluate whole runs: score every answer record of one or many systems, aggregate, judge, report.

``answers`` reads answers files a line at a time and finds each record's prompt, ``results``
reads a dataset team's results (one JSON file per prompt, with its judges' verdicts);
``evaluate`` feeds them to a ``run``, which scores each answer (``scoring``, a pure function,
in processes or on any executor), keeps the rows on disk (``rowstore``) and makes the
:class:`EvalReport` (``models``), with ``tally`` keeping the running sums and ranks, ``judge``
and ``agreement`` adding optional model judges and ``panel`` making a panel of
judges, recorded or live, with their agreement and blind spots; ``report``
(JSON, Markdown, the three files) and ``html_page`` render it, each section built once in
``sections`` (its blocks and tables in ``tables``) for both formats. Nothing here imports back.
"""

from __future__ import annotations

from .evaluate import evaluate, load_prompt_index
from .judge import Judge
from .models import BlindSpot, EvalReport, PanelReport, PromptIndex, RecordedVerdicts, Row
from .report import report_json, report_markdown, write_report
from .results import ResultsFields

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
