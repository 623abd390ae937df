"""Evaluate answers of one or many systems: score each against its prompt, aggregate, side by side.

:func:`evaluate` takes answers files (JSONL, streamed a line at a time) or answer records
from Python, finds each record's prompt, validates and scores it once
(:func:`cnaps_rag.score.score`), optionally asks a judge (:mod:`.judge`), and returns an
:class:`~cnaps_rag.evaluation.models.EvalReport`; :func:`cnaps_rag.evaluation.report.write_report`
writes it. An answer record is a JSON object with ``id`` and ``markdown`` (the batch's output,
or any JSONL of that shape), optionally ``draft`` (scored beside the final answer), ``error``
(a failed answer: counted and listed, not scored), ``system`` (which system wrote it: one file
may hold several) and its prompt as ``prompt`` (the prompt text, or the name of a file in the
prompt index) or ``prompt_path``. The id and prompt fields are read as ``cnaps-rag batch``
reads a dataset (:func:`cnaps_rag.inputs.dataset_record`), with the same field names
(``id`` and ``prompt`` where a record lacks the named ones, as a batch's output does).

Memory stays flat in the number of records: a record's text is dropped once it is scored
(each row keeps its scores and where its record stands, and the report page reads the text
back from the file), and the summaries are running sums. Records given from Python keep
their texts for the page, since the caller holds them anyway.

The report is a pure function of its inputs: no timestamps, no absolute paths that the
caller did not give, answers in file order, JSON with sorted keys (the run's speed is in
``report.run``, which the files leave out). A record that cannot be scored (no prompt, a
prompt that does not parse, no markdown) becomes a row with the reason; a line that is not
JSON is listed with its number. Neither stops the evaluation, and neither does a judge failure.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..allowlist import AllowList
from ..errors import CnapsRagError, one_line
from ..score import METRICS, Scores, score
from ..spec import PromptSpec
from ..text import normalize_newlines
from ..validate import Violation, validate
from .agreement import agreement
from .answers import AnswerTexts, find_prompt, load_prompt_index, open_answers, stream_records
from .models import BrokenLine, Comparison, EvalReport, JudgeReport, Judgment, MetricComparison, Row, RunInfo
from .tally import SystemTally, prompt_rows, rank_systems

if TYPE_CHECKING:
    from .judge import Judge

__all__ = ["compare", "evaluate", "evaluate_file", "load_prompt_index"]


def _checked(text: str, spec: PromptSpec, allow: AllowList) -> tuple[Scores, list[Violation]]:
    """Return the scores of ``text`` and what the validator strips from it, from one validation."""
    validation = validate(text, allow)
    return score(text, spec, allow=allow, validation=validation), validation.violations


@dataclass
class _Options:
    """How records are read and checked: prompt index, folder for relative prompt paths, field names."""

    prompts: Mapping[str, PromptSpec]
    base_dir: Path | None
    id_field: str
    prompt_field: str
    system_field: str
    untrusted_summaries: bool = False


def _row(
    record: Mapping[str, Any], position: int, line: int | None, system: str, options: _Options
) -> tuple[Row, PromptSpec | None, str | None]:
    """Return the record's row, its prompt and its final text (None for a record not scored)."""
    raw_id = record.get(options.id_field, record.get("id"))
    record_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"#{position}"
    error = record.get("error")
    if error:
        reason = error if isinstance(error, str) else json.dumps(error, sort_keys=True, ensure_ascii=False)
        row = Row(id=record_id, line=line, system=system, status="failed", reason=" ".join(reason.split()))
        return row, None, None
    markdown = record.get("markdown")
    if not isinstance(markdown, str):
        row = Row(
            id=record_id, line=line, system=system, status="unscorable", reason="no string field 'markdown'"
        )
        return row, None, None
    try:
        spec = find_prompt(
            record, record_id, options.prompts, options.base_dir, options.id_field, options.prompt_field
        )
    except CnapsRagError as exc:
        return (
            Row(id=record_id, line=line, system=system, status="unscorable", reason=exc.one_line()),
            None,
            None,
        )
    allow = AllowList.for_spec(spec, untrusted_summaries=options.untrusted_summaries)
    # Scores and validator spans both refer to the LF text the report shows.
    final_text = normalize_newlines(markdown)
    draft = record.get("draft")
    row = Row(id=record_id, line=line, system=system, status="scored", prompt_id=spec.id)
    try:
        row.final_scores, row.final_stripped = _checked(final_text, spec, allow)
        if isinstance(draft, str):
            row.draft_scores, row.draft_stripped = _checked(normalize_newlines(draft), spec, allow)
    except Exception as exc:
        # A record the validator or the scorer cannot handle is a bug to report, not a reason to
        # lose the run: its row says what went wrong (CNAPS_RAG_RAISE_ERRORS=1 shows the traceback).
        if os.environ.get("CNAPS_RAG_RAISE_ERRORS"):
            raise
        reason = f"scoring failed: {one_line(exc)}"
        return Row(id=record_id, line=line, system=system, status="unscorable", reason=reason), None, None
    return row, spec, final_text


# --------------------------------------------------------------------------- the evaluation


class _Run:
    """One evaluation in progress: rows, running sums per system and overall, the texts' whereabouts.

    With ``judge_workers`` above 1 the judge's requests run in a thread pool while scoring
    goes on; at most twice that many answers wait for a verdict (their texts are in the
    pending requests only), and verdicts are added in file order, so the report is the same.
    """

    def __init__(
        self, options: _Options, judge: Judge | None, judge_limit: int | None = None, judge_workers: int = 1
    ) -> None:
        self.options = options
        self.judge = judge
        self.judge_limit = judge_limit
        self.judge_asked: Counter[str] = Counter()
        self.workers = max(1, judge_workers)
        self.pool = ThreadPoolExecutor(self.workers) if judge is not None and self.workers > 1 else None
        self.pending: deque[tuple[Row, Future[tuple[Judgment | None, str | None]]]] = deque()
        self.rows: list[Row] = []
        self.broken: list[BrokenLine] = []
        self.overall = SystemTally("all")
        self.systems: dict[str, SystemTally] = {}
        self.texts = AnswerTexts()
        self.started = time.perf_counter()

    def add(
        self, record: Mapping[str, Any], line: int | None, default_system: str, source: str | None
    ) -> Row:
        field = record.get(self.options.system_field)
        system = str(field) if isinstance(field, (str, int)) and str(field).strip() else default_system
        row, spec, final_text = _row(record, len(self.rows) + 1, line, system, self.options)
        row.source = source
        self.rows.append(row)
        self.overall.add(row)
        self.systems.setdefault(system, SystemTally(system)).add(row)
        wanted = self.judge_limit is None or self.judge_asked[system] < self.judge_limit
        if self.judge is not None and spec is not None and final_text is not None and wanted:
            self.judge_asked[system] += 1
            if self.pool is None:
                row.judgment, row.judge_error = self.judge.judge(spec, final_text)
                self._add_verdict(row)
            else:
                self.pending.append((row, self.pool.submit(self.judge.judge, spec, final_text)))
                while len(self.pending) > 2 * self.workers:
                    self._settle()
        return row

    def _add_verdict(self, row: Row) -> None:
        self.overall.add_verdict(row)
        self.systems[row.system].add_verdict(row)

    def _settle(self) -> None:
        """Wait for the oldest pending verdict and add it."""
        row, future = self.pending.popleft()
        row.judgment, row.judge_error = future.result()
        self._add_verdict(row)

    def abort(self) -> None:
        """Drop the pending verdicts (a file could not be read, or the user interrupted)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def finish(self) -> None:
        """Wait for every pending verdict and stop the judge's threads."""
        try:
            while self.pending:
                self._settle()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)

    def report(self, name: str) -> EvalReport:
        self.finish()
        tallies = list(self.systems.values())
        ranking, ranks = rank_systems(tallies)
        names = [t.name for t in tallies]
        judge_report = None
        if self.judge is not None:
            judged = [r for r in self.rows if r.judgment is not None]
            judge_report = JudgeReport(
                model=self.judge.model,
                rubric_version=self.judge.rubric_version,
                judged=len(judged),
                failed=sum(r.judge_error is not None for r in self.rows),
                agreement=agreement(self.rows),
            )
        counts = dict(self.overall.counts)
        counts["broken_lines"] = len(self.broken)
        report = EvalReport(
            name=name,
            counts=counts,
            metrics=self.overall.metric_rows(),
            violations={which: dict(counter) for which, counter in self.overall.violations.items()},
            rows=self.rows,
            broken_lines=self.broken,
            systems=[t.summary(ranks[t.name]) for t in tallies],
            ranking=ranking,
            prompts=prompt_rows(self.rows, names),
            judge=judge_report,
            run=RunInfo(
                answers=len(self.rows),
                seconds=round(time.perf_counter() - self.started, 3),
                judge_requests=self.judge.requests if self.judge is not None else 0,
                judge_cache_hits=self.judge.cache_hits if self.judge is not None else 0,
            ),
        )
        report._texts = self.texts
        return report


def _system_names(paths: Sequence[Path]) -> list[str]:
    """Return each file's system name: its stem, or the path as given where two stems are the same."""
    stems = [p.stem for p in paths]
    return [stem if stems.count(stem) == 1 else str(path) for stem, path in zip(stems, paths, strict=True)]


def _as_paths(answers: Any) -> list[Path] | None:
    """Return ``answers`` as a list of paths when it names files, else None (it holds records)."""
    if isinstance(answers, (str, Path)):
        return [Path(answers)]
    if isinstance(answers, Sequence) and answers and all(isinstance(a, (str, Path)) for a in answers):
        return [Path(a) for a in answers]
    return None


def evaluate(
    answers: str | Path | Sequence[str | Path] | Iterable[Mapping[str, Any]],
    prompts: Mapping[str, PromptSpec] | None = None,
    *,
    name: str | None = None,
    judge: Judge | None = None,
    judge_limit: int | None = None,
    judge_workers: int = 1,
    id_field: str = "id",
    prompt_field: str = "prompt",
    system_field: str = "system",
    untrusted_summaries: bool = False,
    lines: Sequence[int] | None = None,
    broken_lines: Sequence[BrokenLine] = (),
    base_dir: str | Path | None = None,
) -> EvalReport:
    """Return the evaluation of answers against their prompts, every system side by side.

    ``answers`` is an answers file, a list of them, or answer records from Python. A
    record's system is its ``system_field``, else its file's name (its stem; the path as
    given where two files share a stem), else ``name``. ``prompts`` maps ids to prompts
    (see :func:`load_prompt_index`); a record may also carry its own prompt (module
    docstring). ``judge`` (:class:`cnaps_rag.evaluation.judge.Judge`) adds its verdicts,
    on the first ``judge_limit`` scored answers of each system when that is given (a judge
    costs), ``judge_workers`` requests at a time (for a hosted judge).
    ``untrusted_summaries`` validates and scores as ``validate(..., untrusted_summaries=True)``
    does (no link that only a summary gives is allowed). For
    records from Python, ``lines`` are their line numbers and ``broken_lines`` the lines
    that were not records, both only reported; ``base_dir`` resolves relative
    ``prompt_path`` values (for files, each file's folder). Raises :class:`ConfigError` when
    a file is missing or unreadable; never raises on a bad record: it becomes a row with
    status ``unscorable`` and the reason.
    """
    folder = Path(base_dir) if base_dir is not None else None
    options = _Options(
        prompts if prompts is not None else {},
        folder,
        id_field,
        prompt_field,
        system_field,
        untrusted_summaries,
    )
    paths = _as_paths(answers)
    if paths is not None:
        for path in paths:
            # Before any scoring: a typo in the last file must not cost the judging of the first ones.
            open_answers(path).close()
    run = _Run(options, judge, judge_limit, judge_workers)
    try:
        if paths is None:
            run.broken = list(broken_lines)
            _add_records(run, answers, lines, name or "answers")  # type: ignore[arg-type]
        else:
            _add_files(run, paths, folder)
    except BaseException:
        run.abort()
        raise
    return run.report(name or ("answers" if paths is None else ", ".join(str(p) for p in paths)))


def _add_records(
    run: _Run, records: Iterable[Mapping[str, Any]], lines: Sequence[int] | None, system: str
) -> None:
    """Score records given from Python; their texts are kept for the page."""
    for position, record in enumerate(records, start=1):
        line = lines[position - 1] if lines is not None and position <= len(lines) else position
        run.add(record, line, system, None)
        run.texts.add_texts(
            *(v if isinstance(v, str) else None for v in (record.get("markdown"), record.get("draft")))
        )


def _add_files(run: _Run, paths: Sequence[Path], folder: Path | None) -> None:
    """Score answers files a line at a time; the page reads each text back by its offset."""
    for path, system in zip(paths, _system_names(paths), strict=True):
        run.options.base_dir = folder or path.parent
        for line, offset, value, reason in stream_records(path):
            if value is None:
                run.broken.append(BrokenLine(line=line, reason=reason or "not a record", source=str(path)))
                continue
            run.add(value, line, system, str(path))
            run.texts.add_file(str(path), offset)


def compare(report: EvalReport, other: EvalReport) -> Comparison:
    """Return the final means of two reports side by side, with ``report`` minus ``other``."""
    metrics = []
    for metric in METRICS:
        this_mean = report.metric(metric).final.mean
        other_mean = other.metric(metric).final.mean
        difference = (
            round(this_mean - other_mean, 6) if this_mean is not None and other_mean is not None else None
        )
        metrics.append(
            MetricComparison(metric=metric, this=this_mean, other=other_mean, difference=difference)
        )
    scored_this = {r.id for r in report.rows if r.status == "scored"}
    scored_other = {r.id for r in other.rows if r.status == "scored"}
    return Comparison(
        this=report.name,
        other=other.name,
        this_scored=len(scored_this),
        other_scored=len(scored_other),
        common_ids=len(scored_this & scored_other),
        metrics=metrics,
    )


def evaluate_file(
    path: str | Path,
    prompts: Mapping[str, PromptSpec] | None = None,
    *,
    compare_with: str | Path | None = None,
    **options: Any,
) -> EvalReport:
    """Return the evaluation of one JSONL answers file (see :func:`evaluate`, which takes ``options``).

    ``compare_with`` is a second answers file, evaluated against the same prompts and set
    beside this one as :attr:`EvalReport.comparison`. Raises :class:`ConfigError` when
    either file is missing or unreadable.
    """
    report = evaluate([path], prompts, name=str(path), **options)
    if compare_with is not None:
        options.pop("judge", None)
        options.pop("judge_limit", None)
        options.pop("judge_workers", None)
        report.comparison = compare(
            report, evaluate([compare_with], prompts, name=str(compare_with), **options)
        )
    return report
