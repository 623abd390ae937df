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
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..allowlist import AllowList
from ..errors import CnapsRagError, ConfigError, PromptError
from ..files import json_lines
from ..inputs import DATASET_SUFFIXES, InputRecord, dataset_record, iter_inputs
from ..parse import load_prompt_file
from ..score import METRICS, Scores, score
from ..spec import PromptSpec
from ..text import normalize_newlines
from ..validate import Violation, validate
from .agreement import agreement
from .models import (
    CRITERIA,
    BrokenLine,
    Comparison,
    EvalReport,
    JudgeReport,
    JudgeSummary,
    MetricComparison,
    MetricRow,
    MetricSummary,
    PromptIndex,
    PromptRow,
    Row,
    RunInfo,
    StrippedValue,
    SystemSummary,
)

if TYPE_CHECKING:
    from .judge import Judge

STRIPPED_SHOWN = 10
"""How many of a system's most often stripped values the report lists."""


def load_prompt_index(path: str | Path, *, id_field: str = "id", prompt_field: str = "prompt") -> PromptIndex:
    """Return the prompts at ``path`` by id: a prompt file, a dataset, or a folder of them.

    The ids are those ``cnaps-rag batch`` gives for the same path and fields
    (:func:`cnaps_rag.inputs.iter_inputs`). What cannot be read inside a folder or a dataset
    is listed in ``problems``, by prompt id, or by ``file:line`` for a record without one.
    Raises :class:`ConfigError` when ``path`` does not exist, :class:`PromptError` when it is
    one prompt file that does not parse.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such prompt file or folder")
    single_prompt_file = path.is_file() and path.suffix.lower() not in DATASET_SUFFIXES
    index = PromptIndex()
    for record in iter_inputs([path], id_field=id_field, prompt_field=prompt_field):
        if record.spec is not None:
            index.setdefault(record.spec.id, record.spec)
            continue
        assert record.exception is not None
        if single_prompt_file:
            raise record.exception
        # A record without an id of its own is named by where it stands: prompts.jsonl:2.
        key = record.id if record.named else Path(record.origin).name
        message = record.exception.one_line()
        index.problems[key] = message.removeprefix(f"{record.origin}: ")
    return index


# --------------------------------------------------------------------------- reading answers files


def _open_answers(path: Path) -> Any:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such answers file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a answers file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def _decode(path: Path, raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {offset + exc.start})") from None


def stream_records(path: str | Path) -> Iterator[tuple[int, int, dict[str, Any] | None, str | None]]:
    """Yield (line, byte offset, record, None) or (line, offset, None, why not) per non-blank line.

    Reads one line at a time, so a file of any size takes the memory of its longest line.
    Raises :class:`ConfigError` when the file is missing, a folder, unreadable or not UTF-8.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a answers file")
    with _open_answers(path) as file:
        offset = 0
        for number, raw in enumerate(file, start=1):
            start, offset = offset, offset + len(raw)
            text = _decode(path, raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw, start)
            # files.json_lines says why a line is not JSON, in the words batch uses too.
            for _, value, reason in json_lines(text):
                if isinstance(value, dict):
                    yield number, start, value, None
                else:
                    yield number, start, None, reason or f"not a JSON object but {type(value).__name__}"


def read_record_at(path: str | Path, offset: int) -> dict[str, Any]:
    """Return the record whose line starts at byte ``offset`` of ``path``."""
    with _open_answers(Path(path)) as file:
        file.seek(offset)
        raw = file.readline()
    value = json.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path}: no record at offset {offset}")
    return value


class AnswerTexts:
    """Gives back each row's answer and draft for the report page, without holding file records."""

    def __init__(self) -> None:
        self._where: list[tuple[str, int] | tuple[str | None, str | None]] = []
        self._from_file: list[bool] = []

    def add_file(self, path: str, offset: int) -> None:
        """Remember that the next row's record starts at ``offset`` of ``path``."""
        self._where.append((path, offset))
        self._from_file.append(True)

    def add_texts(self, markdown: str | None, draft: str | None) -> None:
        """Keep the next row's texts themselves (records given from Python)."""
        self._where.append((markdown, draft))
        self._from_file.append(False)

    def get(self, index: int) -> tuple[str | None, str | None]:
        """Return row ``index``'s final answer and draft, LF newlines, as they were scored."""
        if self._from_file[index]:
            path, offset = self._where[index]
            assert isinstance(path, str) and isinstance(offset, int)
            try:
                record = read_record_at(path, offset)
            except (CnapsRagError, OSError, ValueError):
                return None, None  # the file changed since it was scored: the page shows scores only
            markdown, draft = record.get("markdown"), record.get("draft")
        else:
            markdown, draft = self._where[index]
        return (
            normalize_newlines(markdown) if isinstance(markdown, str) else None,
            normalize_newlines(draft) if isinstance(draft, str) else None,
        )


# --------------------------------------------------------------------------- one record


@lru_cache(maxsize=256)
def _prompt_records(text: str, record_id: str, id_field: str, prompt_field: str) -> tuple[InputRecord, ...]:
    # Several systems' answers carry the same prompt: parse it once.
    row = {id_field: record_id, prompt_field: text}
    return tuple(dataset_record(row, record_id, record_id, id_field=id_field, prompt_field=prompt_field))


def _existing_file(path: Path, base_dir: Path | None) -> Path | None:
    """Return ``path`` (or, when relative, ``base_dir / path``) if it is a file, else None."""
    candidates = [path] if path.is_absolute() or base_dir is None else [path, base_dir / path]
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte
            continue
    return None


def _find_prompt(
    record: Mapping[str, Any],
    record_id: str,
    prompts: Mapping[str, PromptSpec],
    base_dir: Path | None,
    id_field: str,
    prompt_field: str,
) -> PromptSpec:
    """Return the record's prompt; raise PromptError saying why there is none.

    In order: the record's prompt text (``prompt_field``, else ``prompt``, parsed as
    ``cnaps-rag batch`` parses a dataset record), its ``prompt_path`` (relative paths
    against ``base_dir``, the answers file's folder), its prompt field as the name of an
    indexed prompt (``000_x.txt`` is ``000_x``), the index entry of its ``id``.
    """
    # A batch's own output says "prompt" whatever field its input dataset used.
    text = record.get(prompt_field, record.get("prompt"))
    if isinstance(text, str) and "\n" in text:
        found = _prompt_records(text, record_id, id_field, prompt_field)
        spec = next((r.spec for r in found if r.spec is not None and r.spec.id == record_id), None)
        spec = spec or next((r.spec for r in found if r.spec is not None), None)
        if spec is not None:
            return spec
        exception = found[0].exception
        assert exception is not None
        raise PromptError(exception.message.removeprefix(f"{record_id}: "), hint=exception.hint)
    names = [record.get("prompt_path"), text]
    for name in names:
        if not isinstance(name, str) or not name.strip():
            continue
        stem = Path(name).stem
        for key in (name, stem):
            if key in prompts:
                return prompts[key]
        path = _existing_file(Path(name), base_dir)
        if path is not None:
            specs = load_prompt_file(path)
            return next((s for s in specs if s.id == record_id), specs[0])
    if record_id in prompts:
        return prompts[record_id]
    problems = getattr(prompts, "problems", {})
    for key in (record_id, *(Path(n).stem for n in names if isinstance(n, str))):
        if key in problems:
            raise PromptError(f"its prompt does not parse: {problems[key]}")
    raise PromptError(
        f"no prompt for id {record_id!r}",
        hint="give --prompts PATH, a prompt file, a folder of them or a dataset JSONL; "
        "or put a 'prompt' or 'prompt_path' field in the record",
    )


def _checked(text: str, spec: PromptSpec, allow: AllowList) -> tuple[Scores, list[Violation]]:
    """Return the scores of ``text`` and what the validator strips from it, from one validation."""
    validation = validate(text, allow)
    return score(text, spec, allow=allow, validation=validation), validation.violations


class _Options:
    """How records are read: prompt index, folder for relative prompt paths, field names."""

    def __init__(
        self,
        prompts: Mapping[str, PromptSpec],
        base_dir: Path | None,
        id_field: str,
        prompt_field: str,
        system_field: str,
    ):
        self.prompts = prompts
        self.base_dir = base_dir
        self.id_field = id_field
        self.prompt_field = prompt_field
        self.system_field = system_field


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
        spec = _find_prompt(
            record, record_id, options.prompts, options.base_dir, options.id_field, options.prompt_field
        )
    except CnapsRagError as exc:
        return (
            Row(id=record_id, line=line, system=system, status="unscorable", reason=exc.one_line()),
            None,
            None,
        )
    allow = AllowList.for_spec(spec)
    # Scores and validator spans both refer to the LF text the report shows.
    final_text = normalize_newlines(markdown)
    draft = record.get("draft")
    row = Row(id=record_id, line=line, system=system, status="scored", prompt_id=spec.id)
    row.final_scores, row.final_stripped = _checked(final_text, spec, allow)
    if isinstance(draft, str):
        row.draft_scores, row.draft_stripped = _checked(normalize_newlines(draft), spec, allow)
    return row, spec, final_text


# --------------------------------------------------------------------------- running sums


def _value(scores: Scores, metric: str) -> float:
    return float(getattr(scores, metric))


class _Tally:
    """Running mean, minimum and perfect count of one series of scores."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum: float | None = None
        self.perfect = 0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.perfect += value >= 1.0

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def summary(self) -> MetricSummary:
        if not self.count:
            return MetricSummary(mean=None, minimum=None, perfect=None, answers=0)
        # Rounded so that float noise (0.30000000000000004) does not reach the report.
        return MetricSummary(
            mean=round(self.total / self.count, 6),
            minimum=round(self.minimum or 0.0, 6),
            perfect=round(self.perfect / self.count, 6),
            answers=self.count,
        )


class _SystemTally:
    """Running sums of one system's rows (or of all rows)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sources: list[str] = []
        self.counts = Counter({"records": 0, "scored": 0, "failed": 0, "unscorable": 0, "with_draft": 0})
        self.final = {metric: _Tally() for metric in METRICS}
        self.draft = {metric: _Tally() for metric in METRICS}
        self.paired_final = {metric: 0.0 for metric in METRICS}
        self.violations: dict[str, Counter[str]] = {
            "final": Counter(url=0, model=0),
            "draft": Counter(url=0, model=0),
        }
        self.stripped: Counter[tuple[str, str]] = Counter()
        self.criteria = {criterion: _Tally() for criterion in CRITERIA}
        self.supported = _Tally()
        self.asked = _Tally()
        self.judge_failed = 0

    def add(self, row: Row) -> None:
        self.counts["records"] += 1
        self.counts[row.status] += 1
        if row.source is not None and row.source not in self.sources:
            self.sources.append(row.source)
        if row.final_scores is None:
            return
        for metric in METRICS:
            self.final[metric].add(_value(row.final_scores, metric))
        for kind, count in row.final_scores.violations.items():
            self.violations["final"][kind] += count
        if row.draft_scores is not None:
            self.counts["with_draft"] += 1
            for metric in METRICS:
                self.draft[metric].add(_value(row.draft_scores, metric))
                self.paired_final[metric] += _value(row.final_scores, metric)
            for kind, count in row.draft_scores.violations.items():
                self.violations["draft"][kind] += count
        # What the system wrote: the draft where there is one (the final is already validated).
        stripped = row.draft_stripped if row.draft_scores is not None else row.final_stripped
        self.stripped.update({(v.kind, v.value) for v in stripped})
        if row.judgment is not None:
            for criterion in CRITERIA:
                self.criteria[criterion].add(row.judgment.scores[criterion])
            self.supported.add(row.judgment.supported_share)
            self.asked.add(float(row.judgment.does_what_was_asked))
        elif row.judge_error is not None:
            self.judge_failed += 1

    def metric_rows(self) -> list[MetricRow]:
        rows = []
        for metric in METRICS:
            draft = self.draft[metric]
            difference = (
                round((self.paired_final[metric] - draft.total) / draft.count, 6) if draft.count else None
            )
            rows.append(
                MetricRow(
                    metric=metric,
                    final=self.final[metric].summary(),
                    draft=draft.summary(),
                    difference=difference,
                )
            )
        return rows

    def judge_summary(self) -> JudgeSummary | None:
        judged = self.supported.count
        if not judged and not self.judge_failed:
            return None

        def mean(tally: _Tally) -> float | None:
            value = tally.mean()
            return None if value is None else round(value, 6)

        return JudgeSummary(
            judged=judged,
            failed=self.judge_failed,
            criteria={criterion: mean(tally) for criterion, tally in self.criteria.items()},
            supported_share=mean(self.supported),
            does_what_was_asked=mean(self.asked),
        )

    def summary(self, ranks: dict[str, int]) -> SystemSummary:
        most = sorted(self.stripped.items(), key=lambda item: (-item[1], item[0]))[:STRIPPED_SHOWN]
        return SystemSummary(
            name=self.name,
            sources=self.sources,
            counts=dict(self.counts),
            metrics=self.metric_rows(),
            ranks=ranks,
            violations={which: dict(counter) for which, counter in self.violations.items()},
            stripped=[StrippedValue(kind=kind, value=value, answers=n) for (kind, value), n in most],
            judge=self.judge_summary(),
        )


def _ranks(tallies: Sequence[_SystemTally]) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Return per metric the systems best first, and each system's rank (ties share the better rank)."""
    ranking: dict[str, list[str]] = {}
    ranks: dict[str, dict[str, int]] = {t.name: {} for t in tallies}
    for metric in METRICS:
        means = {t.name: t.final[metric].summary().mean for t in tallies}
        ordered = sorted(
            (name for name in means if means[name] is not None), key=lambda n: -(means[n] or 0.0)
        )
        ranking[metric] = ordered
        for name in ordered:
            ranks[name][metric] = 1 + sum(
                1 for other in ordered if (means[other] or 0.0) > (means[name] or 0.0)
            )
    return ranking, ranks


def _prompt_rows(rows: Sequence[Row], systems: Sequence[str]) -> list[PromptRow]:
    """Return per prompt (in order of first answer) each system's scores, with the best marked."""
    first: dict[str, dict[str, Row]] = {}
    for row in rows:
        if row.final_scores is not None and row.prompt_id is not None:
            first.setdefault(row.prompt_id, {}).setdefault(row.system, row)
    result = []
    for prompt_id, by_system in first.items():
        ordered = {name: by_system[name] for name in systems if name in by_system}
        scores = {
            name: {metric: _value(row.final_scores, metric) for metric in METRICS}
            for name, row in ordered.items()
            if row.final_scores is not None
        }
        best = {}
        for metric in METRICS:
            values = {name: s[metric] for name, s in scores.items()}
            top = max(values.values())
            if min(values.values()) < top:
                best[metric] = [name for name, value in values.items() if value == top]
        stripped = {
            name: len(row.draft_stripped if row.draft_scores is not None else row.final_stripped)
            for name, row in ordered.items()
        }
        judge = {name: row.judgment.overall for name, row in ordered.items() if row.judgment is not None}
        result.append(
            PromptRow(prompt_id=prompt_id, scores=scores, best=best, stripped=stripped, judge=judge)
        )
    return result


# --------------------------------------------------------------------------- the evaluation


class _Run:
    """One evaluation in progress: rows, running sums per system and overall, the texts' whereabouts."""

    def __init__(self, options: _Options, judge: Judge | None, judge_limit: int | None = None) -> None:
        self.options = options
        self.judge = judge
        self.judge_limit = judge_limit
        self.judge_asked: Counter[str] = Counter()
        self.rows: list[Row] = []
        self.broken: list[BrokenLine] = []
        self.overall = _SystemTally("all")
        self.systems: dict[str, _SystemTally] = {}
        self.texts = AnswerTexts()
        self.started = time.perf_counter()

    def add(
        self, record: Mapping[str, Any], line: int | None, default_system: str, source: str | None
    ) -> Row:
        field = record.get(self.options.system_field)
        system = str(field) if isinstance(field, (str, int)) and str(field).strip() else default_system
        row, spec, final_text = _row(record, len(self.rows) + 1, line, system, self.options)
        row.source = source
        wanted = self.judge_limit is None or self.judge_asked[system] < self.judge_limit
        if self.judge is not None and spec is not None and final_text is not None and wanted:
            self.judge_asked[system] += 1
            row.judgment, row.judge_error = self.judge.judge(spec, final_text)
        self.rows.append(row)
        self.overall.add(row)
        self.systems.setdefault(system, _SystemTally(system)).add(row)
        return row

    def report(self, name: str) -> EvalReport:
        tallies = list(self.systems.values())
        ranking, ranks = _ranks(tallies)
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
            prompts=_prompt_rows(self.rows, names),
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
    id_field: str = "id",
    prompt_field: str = "prompt",
    system_field: str = "system",
    lines: Sequence[int] | None = None,
    broken_lines: Sequence[BrokenLine] = (),
    base_dir: str | Path | None = None,
) -> EvalReport:
    """Return the evaluation of answers against their prompts, every system side by side.

    ``answers`` is an answers file, a list of them, or answer records from Python. A
    record's system is its ``system_field``, else its file's name (its stem; the path as
    given where two files share a stem), else ``name``. ``prompts`` maps ids to prompts
    (see :func:`load_prompt_index`); a record may also carry its own prompt (module
    docstring). ``judge`` (:class:`cnaps_rag.evaluation.judge.Judge`) adds its verdicts, on the first
    ``judge_limit`` scored answers of each system when that is given (a judge costs).
    For records from Python, ``lines`` are their line numbers and ``broken_lines`` the lines
    that were not records, both only reported; ``base_dir`` resolves relative
    ``prompt_path`` values (for files, each file's folder). Raises :class:`ConfigError` when
    a file is missing or unreadable; never raises on a bad record: it becomes a row with
    status ``unscorable`` and the reason.
    """
    prompts = prompts if prompts is not None else {}
    folder = Path(base_dir) if base_dir is not None else None
    paths = _as_paths(answers)
    if paths is None:
        run = _Run(_Options(prompts, folder, id_field, prompt_field, system_field), judge, judge_limit)
        run.broken = list(broken_lines)
        records: Iterable[Mapping[str, Any]] = answers  # type: ignore[assignment]
        for position, record in enumerate(records, start=1):
            line = lines[position - 1] if lines is not None and position <= len(lines) else position
            run.add(record, line, name or "answers", None)
            run.texts.add_texts(
                *(v if isinstance(v, str) else None for v in (record.get("markdown"), record.get("draft")))
            )
        return run.report(name or "answers")
    if not paths:
        raise ConfigError("no answers files given")
    for path in paths:
        # Before any scoring: a typo in the last file must not cost the judging of the first ones.
        if path.is_dir() or not path.exists():
            _open_answers(path).close()
    run = _Run(_Options(prompts, folder, id_field, prompt_field, system_field), judge, judge_limit)
    for path, system in zip(paths, _system_names(paths), strict=True):
        run.options.base_dir = folder or path.parent
        for line, offset, value, reason in stream_records(path):
            if value is None:
                run.broken.append(BrokenLine(line=line, reason=reason or "not a record", source=str(path)))
                continue
            run.add(value, line, system, str(path))
            run.texts.add_file(str(path), offset)
    return run.report(name or ", ".join(str(p) for p in paths))


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
        report.comparison = compare(
            report, evaluate([compare_with], prompts, name=str(compare_with), **options)
        )
    return report
