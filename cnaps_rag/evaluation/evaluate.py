"""Evaluate answers of one or many systems: score each against its prompt, aggregate, side by side.

:func:`evaluate` takes answers files (JSONL, streamed a line at a time) or answer records
from Python, finds each record's prompt, validates and scores it once
(:func:`cnaps_rag.scores.score`), optionally asks a judge (:mod:`.judge`), and returns an
:class:`~cnaps_rag.evaluation.models.EvalReport`; :func:`cnaps_rag.evaluation.report.write_report`
writes it. An answer record is a JSON object with ``id`` and ``markdown`` (the batch's output,
or any JSONL of that shape), optionally ``draft`` (scored beside the final answer), ``error``
(a failed answer: counted and listed, not scored), ``system`` (which system wrote it: one file
may hold several) and its prompt as ``prompt`` (the prompt text, or the name of a file in the
prompt index) or ``prompt_path``. The id and prompt fields are read as ``cnaps-rag batch``
reads a dataset (:func:`cnaps_rag.inputs.dataset_record`), with the same field names
(``id`` and ``prompt`` where a record lacks the named ones, as a batch's output does).
A ``.json`` file or a folder of them holds a dataset team's results instead, one prompt each
with every system's answer and its judges' verdicts (:mod:`.results`); they become the same
answer records, and the verdicts a panel (:mod:`.panel`).

Memory stays flat in the number of records: a record's text is dropped once it is scored,
each finished row goes to disk (:mod:`.rowstore`; the run keeps where its record stands, and
the report page reads the text back from the file), and the summaries are running sums.
Records given from Python keep their texts for the page, since the caller holds them anyway.
Scoring runs where :mod:`.run` sends it: this process, a pool of processes, an executor.

The report is a pure function of its inputs: no timestamps, no absolute paths that the
caller did not give, answers in file order, JSON with sorted keys (the run's speed is in
``report.run``, which the files leave out). A record that cannot be scored (no prompt, a
prompt that does not parse, no markdown) becomes a row with the reason; a line that is not
JSON is listed with its number. Neither stops the evaluation, and neither does a judge failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CnapsRagError, ConfigError
from ..spec import PromptSpec
from ..support import ClaimReader
from .answers import load_prompt_index, open_answers, stream_records
from .models import BrokenLine, EvalReport
from .results import ResultsFields, is_results_path, read_results, results_files
from .run import Options, Run

if TYPE_CHECKING:
    from .judge import Judge

__all__ = ["evaluate", "load_prompt_index"]


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
    judge: Judge | Sequence[Judge] | None = None,
    judge_limit: int | None = None,
    judge_workers: int = 1,
    id_field: str = "id",
    prompt_field: str = "prompt",
    system_field: str = "system",
    untrusted_summaries: bool = False,
    lines: Sequence[int] | None = None,
    broken_lines: Sequence[BrokenLine] = (),
    base_dir: str | Path | None = None,
    results_fields: ResultsFields | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    claim_checker: ClaimReader | None = None,
) -> EvalReport:
    """Return the evaluation of answers against their prompts, every system side by side.

    ``answers`` is an answers file, a list of them, or answer records from Python. A JSONL
    file holds answer records; a ``.json`` file or a folder of them holds a dataset team's
    results, one prompt each with every system's answer and maybe its judges' verdicts
    (:mod:`cnaps_rag.evaluation.results`; ``results_fields`` names its fields). A
    record's system is its ``system_field``, else its file's name (its stem; the path as
    given where two files share a stem), else ``name``. ``prompts`` maps ids to prompts
    (see :func:`load_prompt_index`); a record may also carry its own prompt (module
    docstring). ``judge`` (:class:`cnaps_rag.evaluation.judge.Judge`, or several: a panel)
    adds its verdicts, on the first ``judge_limit`` scored answers of each system when that
    is given (a judge costs), ``judge_workers`` requests at a time (for a hosted judge).
    ``untrusted_summaries`` validates and scores as ``validate(..., untrusted_summaries=True)``
    does (no link that only a summary gives is allowed). Scoring runs in this process, in a
    pool of ``jobs`` processes, or on ``executor`` (any ``concurrent.futures.Executor``, a
    Dask client's ``get_executor()`` for instance); the report is the same. For
    records from Python, ``lines`` are their line numbers and ``broken_lines`` the lines
    that were not records, both only reported; ``base_dir`` resolves relative
    ``prompt_path`` values (for files, each file's folder). Raises :class:`ConfigError` when
    a file is missing or unreadable; never raises on a bad record: it becomes a row with
    status ``unscorable`` and the reason. ``claim_checker`` (:mod:`cnaps_rag.claim_check`, off by
    default) has a model read each flagged claim; with it answers are scored in this process.
    """
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
    if claim_checker is not None:
        jobs, executor = 1, None  # the checker's client and counters stay in this process
    paths = _as_paths(answers)
    if paths is not None:
        for path in paths:
            # Before any scoring: a typo in the last file must not cost the judging of the first ones.
            if not is_results_path(path) or not path.exists():
                open_answers(path).close()
            elif not results_files(path):
                raise ConfigError(f"{path}: no .json results files in this folder")
    judges = [] if judge is None else [judge] if not isinstance(judge, Sequence) else list(judge)
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    run = Run(options, judges, judge_limit, judge_workers, jobs=jobs, executor=executor)
    try:
        if paths is None:
            run.broken = list(broken_lines)
            _add_records(run, answers, lines, name or "answers")  # type: ignore[arg-type]
        else:
            _add_files(run, paths, folder, results_fields or ResultsFields())
    except BaseException:
        run.abort()
        raise
    return run.report(name or ("answers" if paths is None else ", ".join(str(p) for p in paths)))


def _add_records(
    run: Run, records: Iterable[Mapping[str, Any]], lines: Sequence[int] | None, system: str
) -> None:
    """Score records given from Python; their texts are kept for the page."""
    for position, record in enumerate(records, start=1):
        line = lines[position - 1] if lines is not None and position <= len(lines) else position
        run.texts.add_texts(
            *(v if isinstance(v, str) else None for v in (record.get("markdown"), record.get("draft")))
        )
        run.add(record, line, system, None)


def _add_files(run: Run, paths: Sequence[Path], folder: Path | None, fields: ResultsFields) -> None:
    """Score answers files a line at a time, results files a prompt at a time; the page reads texts back."""
    for path, system in zip(paths, _system_names(paths), strict=True):
        if is_results_path(path):
            for file in results_files(path):
                run.options.base_dir = folder or file.parent
                _add_results(run, file, system, fields)
            continue
        run.options.base_dir = folder or path.parent
        for line, offset, value, reason in stream_records(path):
            if value is None:
                run.broken.append(BrokenLine(line=line, reason=reason or "not a record", source=str(path)))
                continue
            run.texts.add_file(str(path), offset)
            run.add(value, line, system, str(path))


def _add_results(run: Run, path: Path, system: str, fields: ResultsFields) -> None:
    """Score one results file's answers, prompt by prompt, and keep their recorded verdicts."""
    try:
        items = list(read_results(path, fields))
    except CnapsRagError as exc:
        # One file that breaks the layout is one line of the report; the other files go on.
        run.broken.append(
            BrokenLine(line=None, reason=exc.one_line().removeprefix(f"{path}: "), source=str(path))
        )
        return
    for position, _, item in items:
        if isinstance(item, str):
            run.broken.append(BrokenLine(line=None, reason=item, source=str(path)))
            continue
        if item.problem is not None:
            run.broken.append(BrokenLine(line=None, reason=item.problem, source=str(path)))
        if item.verdicts is not None:
            run.add_verdicts(item.verdicts)
        for answer_system, record in item.records:
            if answer_system is None:  # a plain answer record in a list
                run.texts.add_texts(record.get("markdown"), record.get("draft"))
                run.add(record, None, system, str(path))
                continue
            run.texts.add_result(str(path), position, answer_system, fields.responses)
            run.add(record, None, answer_system, str(path))
