"""Evaluate a file of answers: score each against its prompt and aggregate, draft beside final.

:func:`evaluate_file` reads an answers JSONL (:func:`cnaps_rag.records.read_records`), finds
each record's prompt, validates and scores it once (:func:`cnaps_rag.score.score`) and
returns an :class:`~cnaps_rag.evaluation.models.EvalReport`; the CLI writes it with
:func:`cnaps_rag.evaluation.report.write_report`. An answer record is a JSON object with
``id`` and ``markdown`` (the batch's output, or any JSONL of that shape), optionally ``draft``
(scored beside the final answer), ``error`` (a failed answer: counted and listed, not scored),
and its prompt as ``prompt`` (the prompt text, or the name of a file in the prompt index) or
``prompt_path``. Prompts are found as ``cnaps-rag batch`` reads them (:mod:`cnaps_rag.inputs`).

The report is a pure function of its inputs: no timestamps, no absolute paths that the
caller did not give, answers in file order, JSON with sorted keys. A record that cannot be
scored (no prompt, a prompt that does not parse, no markdown) becomes a row with the reason;
a line that is not JSON is listed with its number. Neither stops the evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..allowlist import AllowList
from ..errors import CnapsRagError, ConfigError, PromptError
from ..inputs import DATASET_SUFFIXES, iter_inputs
from ..parse import load_prompt_file, parse_prompt
from ..records import BrokenLine, read_records
from ..score import METRICS, Scores, score
from ..spec import PromptSpec
from ..text import normalize_newlines
from ..validate import Violation, validate
from .models import (
    Comparison,
    EvalReport,
    MetricComparison,
    MetricRow,
    MetricSummary,
    PromptIndex,
    Row,
)


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
    final_text = normalize_newlines(markdown)
    draft = record.get("draft")
    draft_text = normalize_newlines(draft) if isinstance(draft, str) else None
    row = Row(
        id=record_id, line=line, status="scored", prompt_id=spec.id, markdown=final_text, draft=draft_text
    )
    row.final_scores, row.final_stripped = _checked(final_text, spec, allow)
    if draft_text is not None:
        row.draft_scores, row.draft_stripped = _checked(draft_text, spec, allow)
    return row


def _checked(text: str, spec: PromptSpec, allow: AllowList) -> tuple[Scores, list[Violation]]:
    """Return the scores of ``text`` and what the validator strips from it, from one validation."""
    validation = validate(text, allow)
    return score(text, spec, allow=allow, validation=validation), _first_pass(validation.violations, text)


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


def evaluate_file(
    path: str | Path,
    prompts: Mapping[str, PromptSpec] | None = None,
    *,
    compare_with: str | Path | None = None,
) -> EvalReport:
    """Return the evaluation of a JSONL answers file (see :func:`evaluate`).

    ``prompts`` is the prompt index (:func:`load_prompt_index`); ``compare_with`` is a second
    answers file, evaluated against the same prompts and set beside this one. Raises
    :class:`ConfigError` when either file is missing or unreadable.
    """
    records, lines, broken = read_records(path)
    report = evaluate(
        records, prompts, name=str(path), lines=lines, broken_lines=broken, base_dir=Path(path).parent
    )
    if compare_with is not None:
        report.comparison = compare(report, evaluate_file(compare_with, prompts))
    return report
