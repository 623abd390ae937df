"""Evaluate a file of answers: score each against its prompt and aggregate, draft beside final.

``run_eval(ANSWERS.jsonl, PROMPTS)`` is what ``cnaps-rag eval`` calls: it reads the answers,
finds each one's prompt, scores it with :func:`cnaps_rag.score.score` and, given an output
folder, writes ``report.json``, ``report.md`` and ``report.html`` there
(:mod:`cnaps_rag.report`). An answer record is a JSON object with ``id`` and ``markdown``
(the batch's output, or any JSONL of that shape), optionally ``draft`` (scored beside the
final answer), ``error`` (a failed answer: counted and listed, not scored), and its prompt
as ``prompt`` (the prompt text, or the name of a file in the prompt index) or ``prompt_path``.

The report is a pure function of its inputs: no timestamps, no absolute paths that the
caller did not give, answers in file order, JSON with sorted keys. A record that cannot be
scored (no prompt, a prompt that does not parse, no markdown) becomes a row with the reason;
a line that is not JSON is listed with its number. Neither stops the evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .allowlist import AllowList
from .errors import CnapsRagError, ConfigError, PromptError
from .files import read_bytes
from .parse import load_prompt_file, parse_prompt, parse_prompts
from .score import METRICS, Scores, score
from .spec import PromptSpec
from .validate import Violation, validate

Status = Literal["scored", "failed", "unscorable"]


class PromptIndex(dict[str, PromptSpec]):
    """Prompts by id, plus why the ones that could not be read are missing."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, str] = {}
        """Prompt id (or ``file:line``) -> why it is not in the index."""


class BrokenLine(BaseModel):
    """A line of the answers file that is not an answer record."""

    model_config = ConfigDict(extra="forbid")

    line: int
    reason: str


class Row(BaseModel):
    """One answer record: its scores, or why it has none."""

    model_config = ConfigDict(extra="forbid")

    id: str
    line: int | None
    """Line in the answers file (the record's position when records came from Python)."""
    status: Status
    reason: str | None = None
    """For a failed answer, its error; for an unscorable one, why it could not be scored."""
    prompt_id: str | None = None
    markdown: str | None = None
    """The final answer, with CRLF made LF (spans refer to this text)."""
    draft: str | None = None
    final_scores: Scores | None = None
    draft_scores: Scores | None = None
    final_stripped: list[Violation] = []
    """What the validator strips from the final answer, spans in ``markdown``."""
    draft_stripped: list[Violation] = []
    """What the validator strips from the draft, spans in ``draft``."""


class MetricSummary(BaseModel):
    """One metric over the scored answers: mean, minimum, share of answers with a perfect score."""

    model_config = ConfigDict(extra="forbid")

    mean: float | None
    minimum: float | None
    perfect: float | None
    """Share of answers scoring 1.0 (True for ``structure``)."""
    answers: int


class MetricRow(BaseModel):
    """One metric of the summary table: the final answers, the drafts and the difference."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    final: MetricSummary
    draft: MetricSummary
    difference: float | None
    """Mean of final minus mean of draft, over the answers that have a draft (None if none has)."""


class MetricComparison(BaseModel):
    """One metric's final mean in two reports and the difference (this minus other)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    this: float | None
    other: float | None
    difference: float | None


class Comparison(BaseModel):
    """Two evaluations side by side, metric by metric."""

    model_config = ConfigDict(extra="forbid")

    this: str
    other: str
    this_scored: int
    other_scored: int
    common_ids: int
    """Answers (by id) scored in both."""
    metrics: list[MetricComparison]


class EvalReport(BaseModel):
    """The evaluation of one answers file: the summary, every answer and every problem."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """The answers file as the caller named it."""
    counts: dict[str, int]
    """records, scored, failed, unscorable, with_draft, broken_lines."""
    metrics: list[MetricRow]
    violations: dict[str, dict[str, int]]
    """What the validator strips, summed: ``{"final": {"url": n, "model": m}, "draft": {...}}``."""
    rows: list[Row]
    broken_lines: list[BrokenLine]
    comparison: Comparison | None = None

    def metric(self, name: str) -> MetricRow:
        """Return the summary row of metric ``name``; raise KeyError if there is none."""
        for row in self.metrics:
            if row.metric == name:
                return row
        raise KeyError(name)


# --------------------------------------------------------------------------- reading


def _read_text(path: Path, what: str) -> str:
    """Return a UTF-8 file's text, or raise ConfigError saying why it cannot be read."""
    data = read_bytes(path, what, ConfigError)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def _json_lines(text: str) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, the object, None) or (line number, None, why it is not one) per non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        if isinstance(value, dict):
            yield number, value, None
        else:
            yield number, None, f"not a JSON object but {type(value).__name__}"


def read_answers(path: str | Path) -> tuple[list[dict[str, Any]], list[int], list[BrokenLine]]:
    """Return the records of a JSONL answers file, their line numbers, and the lines that are not records.

    Raises :class:`ConfigError` when the file is missing, a folder, unreadable or not UTF-8.
    """
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    broken: list[BrokenLine] = []
    for number, record, reason in _json_lines(_read_text(Path(path), "answers file")):
        if record is None:
            broken.append(BrokenLine(line=number, reason=reason or "not a record"))
        else:
            records.append(record)
            lines.append(number)
    return records, lines, broken


# The batch's input kinds, so that a folder gives here the ids `cnaps-rag batch` gave its answers.
_PROMPT_SUFFIXES = frozenset({".txt", ".md", ".prompt"})
_DATASET_SUFFIXES = frozenset({".jsonl", ".json"})


def _dataset_records(path: Path, index: PromptIndex) -> Iterable[tuple[str, dict[str, Any]]]:
    """Yield (where, record) for each record of a JSONL or JSON dataset; note the others in ``index``."""
    text = _read_text(path, "prompts file")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            index.problems[path.name] = f"not JSON: {exc.msg} at line {exc.lineno}"
            return
        if isinstance(data, dict):  # {"prompts": [...]} or a single record
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        rows = list(enumerate(data if isinstance(data, list) else [data], start=1))
        for number, row in rows:
            if isinstance(row, dict):
                yield f"{path.name}:{number}", row
            else:
                index.problems[f"{path.name}:{number}"] = "not a JSON object"
        return
    for number, record, reason in _json_lines(text):
        if record is None:
            index.problems[f"{path.name}:{number}"] = reason or "not a record"
        else:
            yield f"{path.name}:{number}", record


def _add_dataset(index: PromptIndex, path: Path) -> None:
    for where, record in _dataset_records(path, index):
        prompt_id, text = record.get("id"), record.get("prompt")
        if not isinstance(prompt_id, (str, int)) or not isinstance(text, str):
            index.problems[where] = "needs fields 'id' and 'prompt'"
            continue
        try:
            # As the batch does: a record holding several prompts gives id#1, id#2, ...
            specs = parse_prompts(text, id_prefix=str(prompt_id))
        except PromptError as exc:
            index.problems[str(prompt_id)] = exc.one_line()
            continue
        for spec in specs:
            index.setdefault(spec.id, spec)


def _add_file(index: PromptIndex, path: Path) -> None:
    try:
        if path.suffix.lower() in _DATASET_SUFFIXES:
            _add_dataset(index, path)
            return
        specs = load_prompt_file(path)
    except CnapsRagError as exc:
        index.problems[path.stem] = exc.one_line()
        return
    for spec in specs:
        index.setdefault(spec.id, spec)


def load_prompt_index(path: str | Path) -> PromptIndex:
    """Return the prompts at ``path`` by id: a prompt file, a dataset, or a folder of them.

    The ids are those ``cnaps-rag batch`` gives: a prompt file (``.txt``, ``.md``,
    ``.prompt``) gives its stem, ``stem#n`` for a file of several prompts (see
    :func:`cnaps_rag.parse.load_prompt_file`); a dataset (``.jsonl``, ``.json``) gives each
    record's ``id`` (``id#n`` for a record of several prompts); a folder, every such file in
    it and its subfolders, hidden ones left out. What cannot be read inside a folder or a
    dataset is listed in ``problems``. Raises :class:`ConfigError` when ``path`` does not
    exist or cannot be read, :class:`PromptError` when it is one prompt file that does not parse.
    """
    path = Path(path)
    index = PromptIndex()
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and p.suffix.lower() in _PROMPT_SUFFIXES | _DATASET_SUFFIXES
        )
        for file in files:
            _add_file(index, file)
        return index
    if not path.exists():
        raise ConfigError(f"{path}: no such prompt file or folder")
    if path.suffix.lower() in _DATASET_SUFFIXES:
        _add_dataset(index, path)
        return index
    for spec in load_prompt_file(path):
        index.setdefault(spec.id, spec)
    return index


# --------------------------------------------------------------------------- scoring


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
    record: Mapping[str, Any], record_id: str, prompts: Mapping[str, PromptSpec], base_dir: Path | None
) -> PromptSpec:
    """Return the record's prompt; raise PromptError saying why there is none.

    In order: the record's ``prompt`` text, its ``prompt_path`` (relative paths against
    ``base_dir``, the answers file's folder), its ``prompt`` as the name of an indexed prompt
    (``000_x.txt`` is ``000_x``), the index entry of its ``id``.
    """
    text = record.get("prompt")
    if isinstance(text, str) and "\n" in text:
        return parse_prompt(text, prompt_id=record_id)
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


def _first_pass(violations: list[Violation], text: str) -> list[Violation]:
    """Return the violations whose span is in ``text`` itself (the validator's first pass)."""
    return [v for v in violations if text[v.start : v.end] == v.value]


def _row(
    record: Mapping[str, Any],
    position: int,
    line: int | None,
    prompts: Mapping[str, PromptSpec],
    base_dir: Path | None,
) -> Row:
    raw_id = record.get("id")
    record_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"#{position}"
    error = record.get("error")
    if error:
        reason = error if isinstance(error, str) else json.dumps(error, sort_keys=True, ensure_ascii=False)
        return Row(id=record_id, line=line, status="failed", reason=" ".join(reason.split()))
    markdown = record.get("markdown")
    if not isinstance(markdown, str):
        return Row(id=record_id, line=line, status="unscorable", reason="no string field 'markdown'")
    try:
        spec = _find_prompt(record, record_id, prompts, base_dir)
    except CnapsRagError as exc:
        return Row(id=record_id, line=line, status="unscorable", reason=exc.one_line())
    allow = AllowList.for_spec(spec)
    # Scores and validator spans both refer to the LF text the report shows.
    final_text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    draft = record.get("draft")
    draft_text = draft.replace("\r\n", "\n").replace("\r", "\n") if isinstance(draft, str) else None
    row = Row(
        id=record_id,
        line=line,
        status="scored",
        prompt_id=spec.id,
        markdown=final_text,
        draft=draft_text,
        final_scores=score(final_text, spec, allow=allow),
        final_stripped=_first_pass(validate(final_text, allow).violations, final_text),
    )
    if draft_text is not None:
        row.draft_scores = score(draft_text, spec, allow=allow)
        row.draft_stripped = _first_pass(validate(draft_text, allow).violations, draft_text)
    return row


def _value(scores: Scores, metric: str) -> float:
    return float(getattr(scores, metric))


def _summary(values: Sequence[float]) -> MetricSummary:
    if not values:
        return MetricSummary(mean=None, minimum=None, perfect=None, answers=0)
    # Rounded so that float noise (0.30000000000000004) does not reach the report.
    return MetricSummary(
        mean=round(sum(values) / len(values), 6),
        minimum=round(min(values), 6),
        perfect=round(sum(1 for v in values if v >= 1.0) / len(values), 6),
        answers=len(values),
    )


def _metric_rows(rows: Sequence[Row]) -> list[MetricRow]:
    scored = [r for r in rows if r.final_scores is not None]
    paired = [r for r in scored if r.draft_scores is not None]
    result = []
    for metric in METRICS:
        final = [_value(r.final_scores, metric) for r in scored if r.final_scores]
        draft = [_value(r.draft_scores, metric) for r in paired if r.draft_scores]
        paired_final = [_value(r.final_scores, metric) for r in paired if r.final_scores]
        difference = round((sum(paired_final) - sum(draft)) / len(draft), 6) if draft else None
        result.append(
            MetricRow(metric=metric, final=_summary(final), draft=_summary(draft), difference=difference)
        )
    return result


def evaluate(
    records: Iterable[Mapping[str, Any]],
    prompts: Mapping[str, PromptSpec] | None = None,
    *,
    name: str = "answers",
    lines: Sequence[int] | None = None,
    broken_lines: Sequence[BrokenLine] = (),
    base_dir: str | Path | None = None,
) -> EvalReport:
    """Return the evaluation of answer records against their prompts.

    ``prompts`` maps ids to prompts (see :func:`load_prompt_index`); a record may also carry
    its own prompt (module docstring). ``lines`` are the records' line numbers in their file
    and ``broken_lines`` the lines that were not records, both only reported; ``base_dir``
    resolves relative ``prompt_path`` values. Never raises on a bad record: it becomes a row
    with status ``unscorable`` and the reason.
    """
    prompts = prompts if prompts is not None else {}
    folder = Path(base_dir) if base_dir is not None else None
    rows = []
    for position, record in enumerate(records, start=1):
        line = lines[position - 1] if lines is not None and position <= len(lines) else position
        rows.append(_row(record, position, line, prompts, folder))
    violations: dict[str, dict[str, int]] = {"final": {"url": 0, "model": 0}, "draft": {"url": 0, "model": 0}}
    for row in rows:
        for which, scores in (("final", row.final_scores), ("draft", row.draft_scores)):
            if scores is not None:
                for kind, count in scores.violations.items():
                    violations[which][kind] = violations[which].get(kind, 0) + count
    counts = {
        "records": len(rows),
        "scored": sum(r.status == "scored" for r in rows),
        "failed": sum(r.status == "failed" for r in rows),
        "unscorable": sum(r.status == "unscorable" for r in rows),
        "with_draft": sum(r.draft_scores is not None for r in rows),
        "broken_lines": len(broken_lines),
    }
    return EvalReport(
        name=name,
        counts=counts,
        metrics=_metric_rows(rows),
        violations=violations,
        rows=rows,
        broken_lines=list(broken_lines),
    )


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


def evaluate_file(path: str | Path, prompts: Mapping[str, PromptSpec] | None = None) -> EvalReport:
    """Return the evaluation of a JSONL answers file (see :func:`evaluate`).

    Raises :class:`ConfigError` when the file is missing or unreadable.
    """
    records, lines, broken = read_answers(path)
    return evaluate(
        records, prompts, name=str(path), lines=lines, broken_lines=broken, base_dir=Path(path).parent
    )


def run_eval(
    answers_path: str | Path,
    prompts_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    compare_path: str | Path | None = None,
) -> EvalReport:
    """Return the evaluation of an answers file, written to ``out_dir`` when given.

    ``prompts_path`` is a prompt file, a folder of them or a dataset JSONL
    (:func:`load_prompt_index`); ``compare_path`` is a second answers file, evaluated against
    the same prompts and set beside this one. Raises :class:`ConfigError` for an answers,
    compare or prompts path that is missing or unreadable and for an output folder that
    cannot be written; :class:`PromptError` when ``prompts_path`` is one prompt file that does
    not parse.
    """
    prompts = load_prompt_index(prompts_path) if prompts_path is not None else None
    report = evaluate_file(answers_path, prompts)
    if compare_path is not None:
        report.comparison = compare(report, evaluate_file(compare_path, prompts))
    if out_dir is not None:
        # Imported here: report.py renders this module's models, so it imports this module.
        from .report import write_report

        write_report(report, out_dir)
    return report
