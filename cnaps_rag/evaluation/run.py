"""One evaluation in progress: answers go in one at a time, are scored, judged, tallied and stored.

An answer passes three stages in input order. Its prompt is found here
(:func:`prepare`); it is scored in chunks (:mod:`.scoring`), in this process or on an
executor (a process pool for ``jobs`` above 1, or whatever the caller gives, a Dask cluster's
for instance); the judges' verdicts are asked for in a thread pool when ``judge_workers`` is
above 1. A bounded number of answers wait at each stage (their texts are in the pending work
only), results are taken in input order, so the report is the same however the work ran. A
finished row is tallied (running sums) and written to the :class:`.rowstore.RowStore`.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CnapsRagError, one_line
from ..spec import PromptSpec
from ..support import ClaimReader
from ..text import normalize_newlines
from .agreement import agreement
from .answers import AnswerTexts, find_prompt
from .models import (
    BrokenLine,
    EvalReport,
    JudgeReport,
    Judgment,
    RecordedVerdicts,
    Row,
    RunInfo,
    StrippedItem,
)
from .panel import answer_faults, judge_panel
from .rowstore import RowStore
from .scoring import Scored, ScoreJob, score_answer, score_answers
from .tally import PromptTable, SystemTally, rank_systems

if TYPE_CHECKING:
    from .judge import Judge

CHUNK = 16
"""Answers sent to a worker at a time: a real answer scores in ~2 ms, a pool's task costs ~0.2 ms."""


@dataclass
class Options:
    """How records are read and checked: prompt index, folder for relative prompt paths, field names."""

    prompts: Mapping[str, PromptSpec]
    base_dir: Path | None
    id_field: str
    prompt_field: str
    system_field: str
    untrusted_summaries: bool = False
    checker: ClaimReader | None = None


@dataclass
class _Entry:
    """An answer on its way: its row, and while it waits its prompt and texts."""

    row: Row
    job: ScoreJob | None


def prepare(
    record: Mapping[str, Any], position: int, line: int | None, system: str, options: Options
) -> _Entry:
    """Return the record's row and, when it can be scored, the job that scores it."""
    raw_id = record.get(options.id_field, record.get("id"))
    record_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"#{position}"
    error = record.get("error")
    if error:
        reason = error if isinstance(error, str) else json.dumps(error, sort_keys=True, ensure_ascii=False)
        row = Row(id=record_id, line=line, system=system, status="failed", reason=" ".join(reason.split()))
        return _Entry(row, None)
    markdown = record.get("markdown")
    if not isinstance(markdown, str):
        reason = "no string field 'markdown'"
        return _Entry(Row(id=record_id, line=line, system=system, status="unscorable", reason=reason), None)
    try:
        spec = find_prompt(
            record, record_id, options.prompts, options.base_dir, options.id_field, options.prompt_field
        )
    except CnapsRagError as exc:
        reason = exc.one_line()
        return _Entry(Row(id=record_id, line=line, system=system, status="unscorable", reason=reason), None)
    draft = record.get("draft")
    row = Row(id=record_id, line=line, system=system, status="scored", prompt_id=spec.id)
    # Scores and validator spans both refer to the LF text the report shows.
    job = ScoreJob(
        normalize_newlines(markdown),
        draft if isinstance(draft, str) else None,
        spec,
        options.untrusted_summaries,
        options.checker,
    )
    return _Entry(row, job)


def _apply(row: Row, scored: Scored) -> None:
    if scored.error is not None:
        row.status, row.reason, row.prompt_id = "unscorable", scored.error, None
        return
    row.final_scores, row.final_stripped = scored.final_scores, scored.final_stripped
    row.draft_scores, row.draft_stripped = scored.draft_scores, scored.draft_stripped


class Run:
    """One evaluation in progress (module docstring): rows, running sums, verdicts, the texts' whereabouts."""

    def __init__(
        self,
        options: Options,
        judges: Sequence[Judge] = (),
        judge_limit: int | None = None,
        judge_workers: int = 1,
        *,
        jobs: int = 1,
        executor: Executor | None = None,
    ) -> None:
        self.options = options
        self.judges = list(judges)
        self.judge_limit = judge_limit
        self.judge_asked: Counter[str] = Counter()
        self.judge_failed = 0
        self.workers = max(1, judge_workers)
        self.judge_pool = ThreadPoolExecutor(self.workers) if self.judges and self.workers > 1 else None
        self.own_pool = executor is None and jobs > 1
        self.executor: Executor | None = ProcessPoolExecutor(jobs) if self.own_pool else executor
        # Chunks in flight: enough to keep every worker busy while the oldest is taken.
        self.max_chunks = 2 * (jobs if executor is None else max(jobs, os.cpu_count() or 1))
        self.chunk: list[_Entry] = []
        self.scoring: deque[tuple[list[_Entry], Future[list[Scored]]]] = deque()
        self.judging: deque[tuple[_Entry, list[Future[tuple[Judgment | None, str | None]]]]] = deque()
        self.rows = RowStore()
        self.added = 0
        self.broken: list[BrokenLine] = []
        self.overall = SystemTally("all")
        self.systems: dict[str, SystemTally] = {}
        self.prompts = PromptTable()
        self.texts = AnswerTexts()
        self.verdicts: list[RecordedVerdicts] = []
        self.recorded: set[str] = set()
        self.faults: dict[tuple[str, str], list[StrippedItem]] = {}
        self.live: dict[str, dict[str, dict[str, float]]] = {}
        """Live panel: prompt id -> system -> judge -> its overall score of the answer."""
        self.live_specs: dict[str, PromptSpec] = {}
        self.compare_errors: list[str] = []
        self.started = time.perf_counter()

    # ----------------------------------------------------------------------- input

    def add(
        self, record: Mapping[str, Any], line: int | None, default_system: str, source: str | None
    ) -> None:
        """Take the next answer record (from file ``source``); its row is made once the ones before it are."""
        field = record.get(self.options.system_field)
        system = str(field) if isinstance(field, (str, int)) and str(field).strip() else default_system
        self.added += 1
        entry = prepare(record, self.added, line, system, self.options)
        entry.row.source = source
        if self.executor is None:
            if entry.job is not None:
                _apply(entry.row, score_answer(entry.job))
            self._judge(entry)
            return
        self.chunk.append(entry)
        if len(self.chunk) >= CHUNK:
            self._submit()

    def add_verdicts(self, verdicts: RecordedVerdicts) -> None:
        """Keep a prompt's recorded verdicts (before its answers are added)."""
        self.verdicts.append(verdicts)
        self.recorded.add(verdicts.id)

    # ----------------------------------------------------------------------- scoring

    def _submit(self) -> None:
        chunk, self.chunk = self.chunk, []
        jobs = [entry.job for entry in chunk if entry.job is not None]
        assert self.executor is not None
        try:
            future = self.executor.submit(score_answers, jobs)
        except Exception as exc:  # a pool that broke down, a cluster that went away
            future = Future()
            future.set_exception(exc)
        self.scoring.append((chunk, future))
        while len(self.scoring) > self.max_chunks:
            self._settle_scoring()

    def _settle_scoring(self) -> None:
        chunk, future = self.scoring.popleft()
        try:
            results = iter(future.result())
        except Exception as exc:
            # The executor failed, not the answers: their rows say so and the run goes on.
            if os.environ.get("CNAPS_RAG_RAISE_ERRORS"):
                raise
            failed = Scored(error=f"scoring failed on the executor: {one_line(exc)}")
            results = iter([failed] * len(chunk))
        for entry in chunk:
            if entry.job is not None:
                _apply(entry.row, next(results))
            self._judge(entry)

    # ----------------------------------------------------------------------- judging

    def _judge(self, entry: _Entry) -> None:
        row, job = entry.row, entry.job
        wanted = self.judge_limit is None or self.judge_asked[row.system] < self.judge_limit
        if not self.judges or job is None or row.final_scores is None or not wanted:
            if self.judging:
                self.judging.append((entry, []))  # its row waits for the rows before it
            else:
                self._finish(entry.row)
            return
        self.judge_asked[row.system] += 1
        if self.judge_pool is None:
            self._add_verdicts(row, job.spec, [judge.judge(job.spec, job.final) for judge in self.judges])
            self._finish(row)
            return
        futures = [self.judge_pool.submit(judge.judge, job.spec, job.final) for judge in self.judges]
        self.judging.append((entry, futures))
        while len(self.judging) > 2 * self.workers:
            self._settle_judging()

    def _settle_judging(self) -> None:
        entry, futures = self.judging.popleft()
        if futures and entry.job is not None:
            self._add_verdicts(entry.row, entry.job.spec, [future.result() for future in futures])
        self._finish(entry.row)

    def _add_verdicts(
        self, row: Row, spec: PromptSpec, verdicts: list[tuple[Judgment | None, str | None]]
    ) -> None:
        row.judgment, row.judge_error = verdicts[0]
        if len(self.judges) > 1:
            if row.prompt_id is not None:
                self.live_specs.setdefault(row.prompt_id, spec)
            row.judgments = {
                j.model: v for j, (v, _) in zip(self.judges, verdicts, strict=True) if v is not None
            }
            for judge, (judgment, _) in zip(self.judges, verdicts, strict=True):
                if judgment is not None and row.prompt_id is not None:
                    by_system = self.live.setdefault(row.prompt_id, {}).setdefault(row.system, {})
                    by_system[judge.model] = judgment.overall

    # ----------------------------------------------------------------------- finished rows

    def _finish(self, row: Row) -> None:
        self.overall.add(row)
        tally = self.systems.get(row.system)
        if tally is None:
            tally = self.systems[row.system] = SystemTally(row.system)
        tally.add(row)
        self.overall.add_verdict(row)
        tally.add_verdict(row)
        self.judge_failed += row.judge_error is not None
        self.prompts.add(len(self.rows) + 1, row)
        if row.final_scores is not None:
            if row.id in self.recorded:
                self.faults[(row.id, row.system)] = answer_faults(row)
            if len(self.judges) > 1 and row.prompt_id is not None:
                self.faults[(row.prompt_id, row.system)] = answer_faults(row)
        self.rows.append(row)

    def abort(self) -> None:
        """Drop the pending work (a file could not be read, or the user interrupted)."""
        for pool in (self.judge_pool, self.executor if self.own_pool else None):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def finish(self) -> None:
        """Score and judge what waits, in order, and stop the pools this run started."""
        try:
            if self.chunk:
                self._submit()
            while self.scoring:
                self._settle_scoring()
            while self.judging:
                self._settle_judging()
        finally:
            for pool in (self.judge_pool, self.executor if self.own_pool else None):
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)

    # ----------------------------------------------------------------------- the report

    def _answers(self, prompt_id: str, systems: Sequence[str]) -> list[tuple[str, str]]:
        """Return (system, final text) of each system's first scored answer to the prompt, in order."""
        positions = self.prompts.first.get(prompt_id, {})
        answers = []
        for system in systems:
            if system in positions:
                markdown, _ = self.texts.get(positions[system][0] - 1)
                if markdown is not None:
                    answers.append((system, markdown))
        return answers

    def _comparisons(
        self, prompt_ids: Sequence[str], systems: Sequence[str]
    ) -> dict[tuple[str, str], list[str | None]]:
        """Return per (prompt, judge) its picks with the answers in their order and reversed.

        Asked ``judge_workers`` at a time; a failure is listed in ``compare_errors`` and is no pick.
        """
        tasks = []
        for prompt_id in prompt_ids:
            answers = self._answers(prompt_id, systems)
            for judge in self.judges:
                for shown in (answers, answers[::-1]):
                    tasks.append((prompt_id, judge, self.live_specs[prompt_id], shown))

        def ask(task: tuple[str, Judge, PromptSpec, list[tuple[str, str]]]) -> tuple[str | None, str | None]:
            _, judge, spec, shown = task
            return judge.compare(spec, shown)

        if self.workers > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(ask, tasks))
        else:
            results = [ask(task) for task in tasks]
        picks: dict[tuple[str, str], list[str | None]] = {}
        for (prompt_id, judge, _, _), (pick, why) in zip(tasks, results, strict=True):
            if why is not None:
                self.compare_errors.append(f"{judge.model} on {prompt_id}: {why}")
            picks.setdefault((prompt_id, judge.model), []).append(pick)
        return picks

    def live_verdicts(self, systems: Sequence[str]) -> list[RecordedVerdicts]:
        """Return a live panel's verdicts per prompt answered by two systems or more.

        Each judge's vote is the answer it picks when shown them all (A, B, ...), asked again with
        the answers in reverse order to show position bias; its scores are its rubric verdicts'
        overall scores (0 to 1).
        """
        prompt_ids = [prompt_id for prompt_id, by_system in self.live.items() if len(by_system) > 1]
        picks = self._comparisons(prompt_ids, systems)
        result = []
        for prompt_id in prompt_ids:
            scores: dict[str, dict[str, float]] = {}
            for system, by_judge in self.live[prompt_id].items():
                for name, value in by_judge.items():
                    scores.setdefault(name, {})[system] = value
            votes, reordered = {}, {}
            for judge in self.judges:
                first, again = picks[(prompt_id, judge.model)]
                if first is not None:
                    votes[judge.model] = first
                    if again is not None:
                        reordered[judge.model] = again
            result.append(RecordedVerdicts(id=prompt_id, votes=votes, scores=scores, reordered=reordered))
        return result

    def report(self, name: str) -> EvalReport:
        """Return the report of everything added (after waiting for the pending work)."""
        self.finish()
        tallies = list(self.systems.values())
        ranking, ranks = rank_systems(tallies)
        names = [t.name for t in tallies]
        judge_report = None
        if self.judges:
            judged = [r for r in self.rows if r.judgment is not None] if self.overall.supported.count else []
            judge_report = JudgeReport(
                model=self.judges[0].model,
                rubric_version=self.judges[0].rubric_version,
                judged=len(judged),
                failed=self.judge_failed,
                agreement=agreement(judged),
            )
        panel = None
        live = self.live_verdicts(names) if len(self.judges) > 1 else []
        if self.verdicts or live:
            # Recorded and live judges on the same prompts sit on one panel (their names differ).
            merged = {v.id: v.model_copy(deep=True) for v in self.verdicts}
            for verdict in live:
                into = merged.setdefault(verdict.id, RecordedVerdicts(id=verdict.id))
                into.votes |= verdict.votes
                into.scores |= verdict.scores
                into.reordered |= verdict.reordered
            source = " and ".join(
                kind for kind, given in (("recorded", self.verdicts), ("live", live)) if given
            )
            panel = judge_panel(list(merged.values()), self.faults, names, source)
            panel.failures = self.compare_errors
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
            prompts=self.prompts.rows(names),
            judge=judge_report,
            judges=panel,
            run=RunInfo(
                answers=len(self.rows),
                seconds=round(time.perf_counter() - self.started, 3),
                judge_requests=sum(j.requests for j in self.judges),
                judge_cache_hits=sum(j.cache_hits for j in self.judges),
            ),
        )
        report._texts = self.texts
        return report
