"""Read a dataset team's own results: one JSON file per prompt, its answers and its judges' verdicts.

The layout (as the public CNAPS evaluation repositories keep it) is one JSON object per prompt:
the prompt's text (``query_text``), the answers (``responses``: system -> markdown) and, where
the prompt was judged, each judge's pick (``votes``: judge -> system), its scores
(``scores``: judge -> system -> number) and its reasons (``rationales``: judge -> text). A file
may hold one such object or a JSON list of them; a folder holds such files (``*.json``).
:class:`ResultsFields` names the fields where a team calls them otherwise.

:func:`read_results` yields, per prompt, the answer records :func:`cnaps_rag.evaluation.evaluate`
scores (``id``, ``prompt``, ``markdown``, the system) and the :class:`RecordedVerdicts`, or one
line saying why a file or an item breaks the layout: the rest go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files import read_bytes
from .models import RecordedVerdicts

RESULTS_SUFFIX = ".json"
"""An answers path with this suffix, or a folder, is read as results; anything else as JSONL."""


@dataclass(frozen=True)
class ResultsFields:
    """The field names of the results layout (``--results-field ROLE=NAME`` changes one)."""

    id: str = "query_id"
    """The prompt's id in a JSON list (a file of one prompt is named by its file's stem)."""
    prompt: str = "query_text"
    responses: str = "responses"
    votes: str = "votes"
    scores: str = "scores"
    rationales: str = "rationales"

    @classmethod
    def parse(cls, pairs: Sequence[str]) -> ResultsFields:
        """Return the fields with each ``ROLE=NAME`` pair applied; raise ConfigError on a bad pair."""
        roles = [f.name for f in fields(cls)]
        changes: dict[str, str] = {}
        for pair in pairs:
            role, _, name = pair.partition("=")
            if role.strip() not in roles or not name.strip():
                raise ConfigError(
                    f"--results-field {pair!r}: expected ROLE=NAME", hint=f"ROLE is one of {', '.join(roles)}"
                )
            changes[role.strip()] = name.strip()
        return cls(**changes)


def is_results_path(path: Path) -> bool:
    """Return whether ``path`` is read as results (a folder, or a ``.json`` file)."""
    return path.is_dir() or path.suffix.lower() == RESULTS_SUFFIX


def results_files(path: Path) -> list[Path]:
    """Return the results files at ``path``: the path itself, or a folder's ``*.json`` files by name."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() == RESULTS_SUFFIX and p.is_file())
    return [path]


@dataclass
class ResultsItem:
    """One prompt of a results file: its answer records and its recorded verdicts (None: not judged)."""

    records: list[tuple[str | None, dict[str, Any]]]
    """(system, answer record) per answer, in the file's order (None: the record's own or the file's)."""
    verdicts: RecordedVerdicts | None
    problem: str | None = None
    """Which verdicts were left out (they break the layout); the answers are scored all the same."""


def _load(path: Path) -> Any:
    data = read_bytes(path, "results file", ConfigError)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


@lru_cache(maxsize=1)
def _cached(path: str, stamp: tuple[int, int]) -> Any:
    # The report page reads answers back in file order: one file parsed once per run of them.
    return _load(Path(path))


def read_back(path: str, position: int, system: str, responses: str) -> str | None:
    """Return the answer of ``system`` to the ``position``-th prompt (from 1) of a results file, or None."""
    try:
        stat = Path(path).stat()
        data = _cached(path, (stat.st_mtime_ns, stat.st_size))
    except (OSError, ConfigError):
        return None
    items = data if isinstance(data, list) else [data]
    if not 1 <= position <= len(items) or not isinstance(items[position - 1], dict):
        return None
    answers = items[position - 1].get(responses)
    answer = answers.get(system) if isinstance(answers, dict) else None
    return answer if isinstance(answer, str) else None


def _number(value: Any) -> float | None:
    """Return a score as a number: a number, or the total of a judge's per-criterion numbers."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dict) and value and all(_number(v) is not None for v in value.values()):
        return sum(_number(v) or 0.0 for v in value.values())
    return None


def _verdicts(
    item: Mapping[str, Any], prompt_id: str, fields: ResultsFields
) -> tuple[RecordedVerdicts | None, list[str]]:
    """Return the item's recorded verdicts (None when it has none) and what of them breaks the layout.

    A part that breaks it is left out, the rest kept: scores of the wrong shape do not cost the votes.
    """
    votes, scores, reasons = (item.get(f) for f in (fields.votes, fields.scores, fields.rationales))
    if votes is None and scores is None:
        return None, []
    problems = []
    if not isinstance(votes or {}, dict) or not all(isinstance(v, str) for v in (votes or {}).values()):
        problems.append(f"{fields.votes!r} is not an object of judge -> system")
        votes = {}
    if scores is not None and not isinstance(scores, dict):
        problems.append(f"{fields.scores!r} is not an object of judge -> system -> score")
        scores = {}
    table: dict[str, dict[str, float]] = {}
    for judge, by_system in (scores or {}).items():
        numbers = {str(k): _number(v) for k, v in by_system.items()} if isinstance(by_system, dict) else None
        if numbers is None or any(v is None for v in numbers.values()):
            problems.append(f"{fields.scores!r} of {judge!r} is not an object of system -> score")
        elif numbers:
            table[str(judge)] = {k: v for k, v in numbers.items() if v is not None}
    rationales = reasons if isinstance(reasons, dict) else {}
    verdicts = RecordedVerdicts(
        id=prompt_id,
        votes={str(k): v for k, v in (votes or {}).items()},
        scores=table,
        rationales={str(k): v for k, v in rationales.items() if isinstance(v, str) and v},
    )
    return (verdicts if verdicts.votes or verdicts.scores else None), problems


def _items(data: Any, path: Path, fields: ResultsFields) -> Iterator[tuple[str, Any]]:
    """Yield (prompt id, item) per prompt of a file: its stem, or the items' ids in a list."""
    if not isinstance(data, list):
        yield path.stem, data
        return
    ids = [item.get(fields.id) if isinstance(item, dict) else "" for item in data]
    given = [str(i) for item, i in zip(data, ids, strict=True) if isinstance(item, dict)]
    # The items' own ids where every object has a distinct one ("Query1" in every file is none).
    named = all(isinstance(i, (str, int)) and str(i) for i in ids if i != "") and len(set(given)) == len(
        given
    )
    for position, item in enumerate(data, start=1):
        yield (str(ids[position - 1]) if named else f"{path.stem}:{position}"), item


def read_results(path: Path, fields: ResultsFields) -> Iterator[tuple[int, str, ResultsItem | str]]:
    """Yield (position from 1, prompt id, item) per prompt of a results file, or (…, why not).

    Raises :class:`ConfigError` when the file cannot be read or is not JSON at all.
    """
    for position, (prompt_id, item) in enumerate(_items(_load(path), path, fields), start=1):
        where = f"item {position}: " if position > 1 or prompt_id != path.stem else ""
        if not isinstance(item, dict):
            yield position, prompt_id, f"{where}not a JSON object but {type(item).__name__}"
            continue
        responses = item.get(fields.responses)
        if "markdown" in item and responses is None:
            # A list may hold plain answer records too (id, markdown, system, prompt).
            yield position, prompt_id, ResultsItem([(None, dict(item))], None)
            continue
        if not isinstance(responses, dict) or not responses:
            yield position, prompt_id, f"{where}no {fields.responses!r} object of system -> answer"
            continue
        prompt = item.get(fields.prompt)
        records: list[tuple[str | None, dict[str, Any]]] = []
        for system, markdown in responses.items():
            record: dict[str, Any] = {"id": prompt_id, "markdown": markdown}
            if not isinstance(markdown, str):  # a system that gave no answer: a failed one
                kind = "null" if markdown is None else type(markdown).__name__
                record = {"id": prompt_id, "error": f"no answer in {fields.responses!r} ({kind})"}
            if prompt is not None:
                record["prompt"] = prompt
            records.append((str(system), record))
        verdicts, problems = _verdicts(item, prompt_id, fields)
        problem = f"{where}verdicts left out: {'; '.join(problems)}" if problems else None
        yield position, prompt_id, ResultsItem(records, verdicts, problem)
