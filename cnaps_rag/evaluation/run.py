"""Evaluate answers of one or many systems: score each against its prompt, judge, tally, side by side.

An answer's prompt is found (:mod:`.answers`), it is scored in chunks by :func:`score_answers`
(a pure function: in this process, a process pool, or any executor, a Dask cluster's), judged
(in a thread pool with ``judge_workers``) and tallied (:mod:`.tally`). A bounded number of answers
wait at each stage and results are taken in input order, so the report is the same however the
work ran, and memory stays flat: finished rows and the texts the page shows go to disk
(:class:`RowStore`). A record that cannot be scored, a line that is not JSON, a
judge that fails: each is a line of the report, and the evaluation goes on.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import weakref
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..allowlist import AllowList
from ..errors import CnapsRagError, ConfigError, one_line
from ..files import open_binary
from ..scores import score
from ..spec import PromptSpec
from ..support import ClaimReader
from ..text import normalize_newlines
from ..validation import validate
from .answers import (
    Options,
    ResultsFields,
    find_prompt,
    is_results_path,
    read_results,
    results_files,
    stream_records,
)
from .models import BrokenLine, EvalReport, JudgeReport, Judgment, RecordedVerdicts, Row, RunInfo
from .panel import agreement, answer_faults, judge_panel
from .tally import PromptTable, SystemTally, rank_systems

if TYPE_CHECKING:
    from .judge import Judge

CHUNK = 16
"""Answers sent to a worker at a time: a real answer scores in ~2 ms, a pool's task costs ~0.2 ms."""


def evaluate(
    answers: str | Path | Sequence[str | Path] | Iterable[Mapping[str, Any]],
    prompts: Mapping[str, PromptSpec] | None = None,
    *,
    name: str | None = None,
    judge: Judge | Sequence[Judge] | None = None,
    judge_limit: int | None = None,
    judge_workers: int = 1,
    id_field: str = "id",
    prompt_field: str = "prompt",
    system_field: str = "system",
    untrusted_summaries: bool = False,
    base_dir: str | Path | None = None,
    results_fields: ResultsFields | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    claim_checker: ClaimReader | None = None,
) -> EvalReport:
    """Return the evaluation of answers against their prompts, every system side by side.

    ``answers`` is an answers file (JSONL of records with ``id`` and ``markdown``, maybe ``draft``,
    ``error``, ``system``, ``prompt`` or ``prompt_path``), a results file or folder (fields named
    by ``results_fields``), a list of them, or records from Python. A record's system is its
    ``system_field``, else its file's stem (the path where two stems are the same), else ``name``.
    ``prompts`` maps ids to prompts; relative ``prompt_path`` values are read from ``base_dir``
    (default: each file's folder). ``judge`` (several: a panel) judges the first ``judge_limit``
    scored answers of each system, ``judge_workers`` at a time. Scoring runs here, in ``jobs``
    processes or on ``executor`` (here with ``claim_checker``). Raises :class:`ConfigError` when
    a file is missing or unreadable, never on a bad record: it becomes an ``unscorable`` row.
    """
    if claim_checker is not None:
        jobs, executor = 1, None  # the checker's client and counters stay in this process
    paths = None
    if isinstance(answers, (str, Path)):
        paths = [Path(answers)]
    elif isinstance(answers, Sequence) and answers and all(isinstance(a, (str, Path)) for a in answers):
        paths = [Path(a) for a in answers]
    for path in paths or []:
        # Before any scoring: a typo in the last file must not cost the judging of the first ones.
        if not is_results_path(path) or not path.exists():
            open_binary(path, "answers file", ConfigError).close()
        elif not results_files(path):
            raise ConfigError(f"{path}: no .json results files in this folder")
    judges = [] if judge is None else [judge] if not isinstance(judge, Sequence) else list(judge)
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    folder = Path(base_dir) if base_dir is not None else None
    options = Options(
        prompts if prompts is not None else {},
        folder,
        id_field,
        prompt_field,
        system_field,
        untrusted_summaries,
        claim_checker,
    )
    run = Run(options, judges, judge_limit, judge_workers, jobs, executor)
    if paths is None:
        given: Iterable[Mapping[str, Any]] = answers  # type: ignore[assignment]
        records: Iterable[Record] = ((r, line, name or "answers", None) for line, r in enumerate(given, 1))
    else:
        records = run.records(paths, folder, results_fields or ResultsFields())
    run.take(run.item(number, record) for number, record in enumerate(records, start=1))
    return run.report(name or ("answers" if paths is None else ", ".join(str(p) for p in paths)))


# --------------------------------------------------------------------------- scoring one answer


@dataclass(frozen=True)
class ScoreJob:
    row: Row
    final: str  # LF newlines, as the draft
    draft: str | None
    spec: PromptSpec
    untrusted_summaries: bool = False
    checker: ClaimReader | None = None


def score_answer(job: ScoreJob) -> Row:
    """Return the job's row with the scores of its answer and draft; a failure is in the row, not raised."""
    allow = AllowList.for_spec(job.spec, untrusted_summaries=job.untrusted_summaries)
    scored: dict[str, Any] = {}
    try:
        for which, text in (("final", job.final), ("draft", job.draft)):
            if text is not None:
                validation = validate(text, allow)
                scores = score(text, job.spec, allow=allow, validation=validation, checker=job.checker)
                scored |= {f"{which}_scores": scores, f"{which}_stripped": validation.violations}
    except Exception as exc:
        # CNAPS_RAG_RAISE_ERRORS=1 shows the traceback (in this process; a worker's is sent back).
        if os.environ.get("CNAPS_RAG_RAISE_ERRORS"):
            raise
        return _unscorable(job.row, f"scoring failed: {one_line(exc)}")
    return job.row.model_copy(update=scored)


def score_answers(jobs: list[ScoreJob]) -> list[Row]:
    """Return :func:`score_answer` of each job, in order (the unit of work sent to a worker)."""
    return [score_answer(job) for job in jobs]


def _unscorable(row: Row, reason: str) -> Row:
    return row.model_copy(update={"status": "unscorable", "reason": reason, "prompt_id": None})


# --------------------------------------------------------------------------- rows on disk


class RowStore(Sequence[Row]):
    """An evaluation's rows, and the texts of its scored answers for the page, in a temporary file:
    16 bytes a row in memory (a scored row is 29 KB as Python objects: a million would take tens of GB)."""

    def __init__(self) -> None:
        # Open for the store's life, deleted once closed: with the store, or at exit.
        self._file = tempfile.TemporaryFile(prefix="cnaps-rag-rows-", suffix=".jsonl")  # noqa: SIM115
        weakref.finalize(self, self._file.close)
        self._offsets = array("q")
        self._texts = array("q")  # where the row's (final, draft) line starts; -1: none
        self._lock = threading.Lock()

    def _write(self, data: bytes) -> int:
        start = self._file.seek(0, os.SEEK_END)  # a read may have moved the position
        self._file.write(data + b"\n")
        return start

    def append(self, row: Row, texts: tuple[str, str | None] | None = None) -> None:
        with self._lock:
            self._offsets.append(self._write(row.model_dump_json().encode("utf-8")))
            self._texts.append(self._write(json.dumps(texts).encode("utf-8")) if texts else -1)

    def _line(self, offset: int) -> bytes:
        with self._lock:
            self._file.seek(offset)
            return self._file.readline()

    def get(self, index: int) -> tuple[str | None, str | None]:
        """Return row ``index``'s final answer and draft as they were scored (None: not scored)."""
        if self._texts[index] < 0:
            return None, None
        markdown, draft = json.loads(self._line(self._texts[index]))
        return markdown, draft

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Row.model_validate_json(self._line(self._offsets[index]))  # an IndexError past the end


# --------------------------------------------------------------------------- the run


Verdict = tuple[Judgment | None, str | None]  # a judge's verdict, or None and why not
Record = tuple[Mapping[str, Any], int | None, str, str | None]  # a record, its line, system, file
Task = TypeVar("Task")


class Run:
    """One evaluation in progress (module docstring): pending work, rows, running sums, verdicts."""

    def __init__(
        self,
        options: Options,
        judges: list[Judge],
        judge_limit: int | None,
        judge_workers: int,
        jobs: int,
        executor: Executor | None,
    ) -> None:
        self.options = options
        self.judges = judges
        self.judge_limit = judge_limit
        self.judge_asked: Counter[str] = Counter()
        self.workers = max(1, judge_workers)
        self.judge_pool = ThreadPoolExecutor(self.workers) if judges and self.workers > 1 else None
        self.own_pool = executor is None and jobs > 1
        self.executor = ProcessPoolExecutor(jobs) if self.own_pool else executor
        # Chunks in flight: enough to keep every worker busy while the oldest is taken.
        self.max_chunks = 2 * (jobs if executor is None else max(jobs, os.cpu_count() or 1))
        self.rows = RowStore()
        self.broken: list[BrokenLine] = []
        self.overall = SystemTally("all")
        self.systems: dict[str, SystemTally] = {}
        self.prompts = PromptTable()
        self.recorded: dict[str, RecordedVerdicts] = {}  # by prompt id (a later one replaces it)
        self.faults: dict[tuple[str, str], list[Any]] = {}
        self.live: dict[str, RecordedVerdicts] = {}  # a live panel's, scores its rubric overall
        self.live_specs: dict[str, PromptSpec] = {}
        self.started = time.perf_counter()

    # ----------------------------------------------------------------------- input

    def records(self, paths: Sequence[Path], folder: Path | None, fields: ResultsFields) -> Iterator[Record]:
        """Yield answers files' records a line at a time, results files' a prompt at a time."""
        stems = [p.stem for p in paths]
        for path in paths:
            # A file's system is its stem, or the path as given where two stems are the same.
            system = path.stem if stems.count(path.stem) == 1 else str(path)
            if is_results_path(path):
                for file in results_files(path):
                    self.options.base_dir = folder or file.parent
                    yield from self._results(file, system, fields)
                continue
            self.options.base_dir = folder or path.parent
            for line, value, reason in stream_records(path):
                if value is None:
                    self.broken.append(BrokenLine(line=line, reason=reason, source=str(path)))
                    continue
                yield value, line, system, str(path)

    def _results(self, path: Path, system: str, fields: ResultsFields) -> Iterator[Record]:
        """Yield one results file's answers, prompt by prompt, and keep their recorded verdicts."""
        try:
            items = list(read_results(path, fields))
        except CnapsRagError as exc:
            # One file that breaks the layout is one line of the report; the other files go on.
            reason = exc.one_line().removeprefix(f"{path}: ")
            self.broken.append(BrokenLine(line=None, reason=reason, source=str(path)))
            return
        for item in items:
            if item.problem is not None:
                self.broken.append(BrokenLine(line=None, reason=item.problem, source=str(path)))
            if item.verdicts is not None:
                self.recorded[item.verdicts.id] = item.verdicts
            for answer_system, record in item.records:  # system None: a plain answer record in a list
                yield record, None, answer_system or system, str(path)

    def item(self, number: int, entry: Record) -> Row | ScoreJob:
        """Return the row of answer record ``number`` (from 1), or the job that scores it."""
        options, (record, line, default_system, source) = self.options, entry
        field = record.get(options.system_field)
        system = str(field) if isinstance(field, (str, int)) and str(field).strip() else default_system
        raw_id = record.get(options.id_field, record.get("id"))
        record_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"#{number}"
        row = Row(id=record_id, line=line, system=system, source=source, status="unscorable")
        error, markdown = record.get("error"), record.get("markdown")
        if error:
            text = error if isinstance(error, str) else json.dumps(error, sort_keys=True, ensure_ascii=False)
            row.status, row.reason = "failed", " ".join(text.split())
        elif not isinstance(markdown, str):
            row.reason = "no string field 'markdown'"
        else:
            try:
                spec = find_prompt(record, record_id, options)
            except CnapsRagError as exc:
                row.reason = exc.one_line()
            else:
                draft = record.get("draft")
                row.status, row.prompt_id = "scored", spec.id
                # Scores and validator spans both refer to the LF texts the page shows.
                draft = normalize_newlines(draft) if isinstance(draft, str) else None
                return ScoreJob(
                    row,
                    normalize_newlines(markdown),
                    draft,
                    spec,
                    options.untrusted_summaries,
                    options.checker,
                )
        return row

    # ----------------------------------------------------------------------- scoring and judging

    def take(self, items: Iterable[Row | ScoreJob]) -> None:
        """Score, judge and tally every item, each row once the ones before it are done."""
        try:
            asked = (self._ask(row, job) for row, job in self._scored(items))
            for row, job, futures in _ahead(asked, 2 * self.workers):
                if futures and job is not None:
                    self._add_verdicts(row, job.spec, [future.result() for future in futures])
                self._finish(row, job)
        except BaseException:
            self.stop(wait=False)
            raise
        self.stop(wait=True)

    def _scored(self, items: Iterable[Row | ScoreJob]) -> Iterator[tuple[Row, ScoreJob | None]]:
        items = iter(items)
        size = CHUNK if self.executor is not None else 1
        # Chunks of ``size`` items until none are left, each sent off as it is cut.
        submitted = ((chunk, self._submit(chunk)) for chunk in iter(lambda: list(islice(items, size)), []))
        for chunk, future in _ahead(submitted, self.max_chunks):
            try:
                results = iter(future.result())
            except Exception as exc:
                # The executor failed, not the answers: their rows say so and the run goes on.
                if os.environ.get("CNAPS_RAG_RAISE_ERRORS"):
                    raise
                reason = f"scoring failed on the executor: {one_line(exc)}"
                results = iter([_unscorable(job.row, reason) for job in chunk if isinstance(job, ScoreJob)])
            for item in chunk:
                yield (next(results), item) if isinstance(item, ScoreJob) else (item, None)

    def _submit(self, chunk: list[Row | ScoreJob]) -> Future[list[Row]]:
        jobs = [job for job in chunk if isinstance(job, ScoreJob)]
        try:
            return (self.executor.submit if self.executor else _run_here)(score_answers, jobs)
        except Exception as exc:  # a pool that broke down, a cluster that went away
            future: Future[list[Row]] = Future()
            future.set_exception(exc)
            return future

    def _ask(self, row: Row, job: ScoreJob | None) -> tuple[Row, ScoreJob | None, list[Future[Verdict]]]:
        wanted = self.judge_limit is None or self.judge_asked[row.system] < self.judge_limit
        futures: list[Future[Verdict]] = []
        if self.judges and job is not None and row.final_scores is not None and wanted:
            self.judge_asked[row.system] += 1
            submit = self.judge_pool.submit if self.judge_pool is not None else _run_here
            futures = [submit(judge.judge, job.spec, job.final) for judge in self.judges]
        return row, job, futures

    def _add_verdicts(self, row: Row, spec: PromptSpec, verdicts: list[Verdict]) -> None:
        row.judgment, row.judge_error = verdicts[0]
        if len(self.judges) > 1 and row.prompt_id is not None:
            self.live_specs.setdefault(row.prompt_id, spec)
            given = {
                judge.model: v for judge, (v, _) in zip(self.judges, verdicts, strict=True) if v is not None
            }
            row.judgments = given
            if given:
                live = self.live.setdefault(row.prompt_id, RecordedVerdicts(id=row.prompt_id))
                for model, judgment in given.items():
                    live.scores.setdefault(model, {})[row.system] = judgment.overall

    def _finish(self, row: Row, job: ScoreJob | None) -> None:
        if row.system not in self.systems:
            self.systems[row.system] = SystemTally(row.system)
        self.overall.add(row)
        self.systems[row.system].add(row)
        self.prompts.add(len(self.rows) + 1, row)
        if row.final_scores is not None:
            if row.id in self.recorded:
                self.faults[(row.id, row.system)] = answer_faults(row)
            if len(self.judges) > 1 and row.prompt_id is not None:
                self.faults[(row.prompt_id, row.system)] = answer_faults(row)
        self.rows.append(row, (job.final, job.draft) if job is not None and row.status == "scored" else None)

    def stop(self, wait: bool) -> None:
        """Stop the pools this run started (dropping the pending work when not waiting)."""
        for pool in (self.judge_pool, self.executor if self.own_pool else None):
            if pool is not None:
                pool.shutdown(wait=wait, cancel_futures=True)

    # ----------------------------------------------------------------------- the report

    def live_verdicts(self, systems: Sequence[str]) -> tuple[list[RecordedVerdicts], list[str]]:
        """Return a live panel's verdicts per prompt answered by two systems or more, and the
        comparisons that gave no pick.

        Each judge's vote is the answer it picks when shown them all (A, B, ...), asked again with
        the answers in reverse order to show position bias; its scores are its rubric verdicts'
        overall scores (0 to 1).
        """
        live = [v for v in self.live.values() if len({s for by in v.scores.values() for s in by}) > 1]
        tasks = []
        for verdict in live:
            positions = self.prompts.prompts[verdict.id].answers  # each a scored row: its texts are kept
            answers = [(s, self.rows.get(positions[s] - 1)[0] or "") for s in systems if s in positions]
            tasks += [(verdict, judge, answers) for judge in self.judges]

        def ask(
            task: tuple[RecordedVerdicts, Judge, list[tuple[str, str]]],
        ) -> list[tuple[str | None, str | None]]:
            verdict, judge, answers = task
            # The answers in order, then reversed: a pick that changes shows position bias.
            return [judge.compare(self.live_specs[verdict.id], shown) for shown in (answers, answers[::-1])]

        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(ask, tasks))
        failures = []
        for (verdict, judge, _), [(first, why), (again, why_again)] in zip(tasks, results, strict=True):
            failures += [f"{judge.model} on {verdict.id}: {w}" for w in (why, why_again) if w is not None]
            if first is not None:
                verdict.votes[judge.model] = first
                if again is not None:
                    verdict.reordered[judge.model] = again
        return live, failures

    def report(self, name: str) -> EvalReport:
        """Return the report of everything taken."""
        tallies = list(self.systems.values())
        ranking, ranks = rank_systems(tallies)
        names = [t.name for t in tallies]
        judge_report = None
        if self.judges:
            judged = [r for r in self.rows if r.judgment is not None]
            judge_report = JudgeReport(
                model=self.judges[0].model,
                rubric_version=self.judges[0].rubric_version,
                judged=len(judged),
                failed=self.overall.judge_failed,
                agreement=agreement(judged),
            )
        panel = None
        live, failures = self.live_verdicts(names) if len(self.judges) > 1 else ([], [])
        if self.recorded or live:
            source = " and ".join(
                kind for kind, given in (("recorded", self.recorded), ("live", live)) if given
            )
            # Recorded and live judges on the same prompts sit on one panel (their names differ).
            for verdict in live:
                into = self.recorded.setdefault(verdict.id, RecordedVerdicts(id=verdict.id))
                into.votes |= verdict.votes
                into.scores |= verdict.scores
                into.reordered |= verdict.reordered
            panel = judge_panel(list(self.recorded.values()), self.faults, names, source)
            panel.failures = failures
        overall = self.overall.summary({})
        return EvalReport(
            name=name,
            counts={**overall.counts, "broken_lines": len(self.broken)},
            metrics=overall.metrics,
            violations=overall.violations,
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


def _ahead(tasks: Iterable[Task], count: int) -> Iterator[Task]:
    """Yield ``tasks`` in order, each once the ``count`` after it are started: their work runs meanwhile,
    and no more than ``count + 1`` wait."""
    waiting: deque[Task] = deque()
    for task in tasks:
        waiting.append(task)
        if len(waiting) > count:
            yield waiting.popleft()
    yield from waiting


def _run_here(function: Callable[..., Any], *args: Any) -> Future[Any]:
    """Return a future of ``function(*args)`` run now, in this process (what it raises is the future's)."""
    future: Future[Any] = Future()
    try:
        future.set_result(function(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future
