"""Read what an evaluation scores: answers files (JSONL), a dataset team's results, each answer's prompt.

A results file (``.json``, or a folder of them) holds one prompt per object as the public CNAPS
evaluation repositories keep it: the prompt (``query_text``), the answers (``responses``: system
-> markdown) and, where it was judged, each judge's pick (``votes``), scores (``scores``: judge ->
system -> number) and reasons (``rationales``). Prompts are parsed as ``cnaps-rag batch`` parses.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError, PromptError
from ..files import json_lines, open_binary, read_bytes
from ..inputs import DATASET_SUFFIXES, InputRecord, dataset_record, iter_inputs
from ..parse import load_prompt_file
from ..spec import PromptSpec
from ..support import ClaimReader
from .models import PromptIndex, RecordedVerdicts


def load_prompt_index(path: str | Path, *, id_field: str = "id", prompt_field: str = "prompt") -> PromptIndex:
    """Return the prompts at ``path`` by id: a prompt file, a dataset, or a folder of them.

    The ids are those ``cnaps-rag batch`` gives for the same path and fields. What cannot be read
    inside a folder or a dataset is listed in ``problems``, by prompt id, or by ``file:line`` for a
    record without one. Raises :class:`ConfigError` when ``path`` does not exist,
    :class:`PromptError` when it is one prompt file that does not parse.
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
        key = record.id if record.named else Path(record.origin).name
        index.problems[key] = record.exception.one_line().removeprefix(f"{record.origin}: ")
    return index


# --------------------------------------------------------------------------- answers files


def stream_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Yield (line, record, "") or (line, None, why not) per non-blank line, holding one line at a
    time. Raises :class:`ConfigError` when the file is missing, a folder, unreadable or not UTF-8."""
    with open_binary(path, "answers file", ConfigError) as file:
        offset = 0
        for number, raw in enumerate(file, start=1):
            start, offset = offset, offset + len(raw)
            try:
                text = (raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{path}: not UTF-8 text (bad byte at offset {start + exc.start})"
                ) from None
            # json_lines says why a line is not JSON in batch's words; it ends lines at "\n" only,
            # so a record holding U+2028 or NEL stays whole.
            for _, value, reason in json_lines(text):
                if isinstance(value, dict):
                    yield number, value, ""
                else:
                    yield number, None, reason or f"not a JSON object but {type(value).__name__}"


# --------------------------------------------------------------------------- finding prompts


@lru_cache(maxsize=256)
def _prompt_records(text: str, record_id: str, id_field: str, prompt_field: str) -> tuple[InputRecord, ...]:
    # Several systems' answers carry the same prompt: parse it once.
    row = {id_field: record_id, prompt_field: text}
    return tuple(dataset_record(row, record_id, record_id, id_field=id_field, prompt_field=prompt_field))


@lru_cache(maxsize=64)
def _prompt_file(path: str, stamp: tuple[int, int]) -> tuple[PromptSpec, ...]:
    # Several answers name the same prompt file: parsed once while its stamp (mtime, size) holds.
    return tuple(load_prompt_file(Path(path)))


def _existing_file(path: Path, base_dir: Path | None) -> Path | None:
    """Return ``path`` (or, when relative, ``base_dir / path``) if it is a file, else None."""
    for candidate in [path] if path.is_absolute() or base_dir is None else [path, base_dir / path]:
        with contextlib.suppress(OSError, ValueError):  # a name too long for the file system, a NUL byte
            if candidate.is_file():
                return candidate
    return None


@dataclass
class Options:
    """How records are read: prompt index, folder for relative prompt paths, field names, scoring."""

    prompts: Mapping[str, PromptSpec]
    base_dir: Path | None
    id_field: str
    prompt_field: str
    system_field: str
    untrusted_summaries: bool
    checker: ClaimReader | None


def find_prompt(record: Mapping[str, Any], record_id: str, options: Options) -> PromptSpec:
    """Return the record's prompt; raise PromptError saying why there is none.

    In order: the record's prompt text (``prompt_field``, else ``prompt``), its ``prompt_path``
    (relative to ``base_dir``, the answers file's folder), its prompt field as the name of an
    indexed prompt (``000_x.txt`` is ``000_x``), the index entry of its ``id``.
    """
    prompts = options.prompts
    # A batch's own output says "prompt" whatever field its input dataset used.
    text = record.get(options.prompt_field, record.get("prompt"))
    if isinstance(text, str) and "\n" in text:
        found = _prompt_records(text, record_id, options.id_field, options.prompt_field)
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
        for key in (name, Path(name).stem):
            if key in prompts:
                return prompts[key]
        path = _existing_file(Path(name), options.base_dir)
        if path is not None:
            stat = path.stat()
            specs = _prompt_file(str(path), (stat.st_mtime_ns, stat.st_size))
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


# --------------------------------------------------------------------------- results files


@dataclass(frozen=True)
class ResultsFields:
    """The field names of the results layout (``--results-field ROLE=NAME`` changes one)."""

    id: str = "query_id"  # a prompt's id in a JSON list (a file of one prompt is named by its stem)
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
    return path.is_dir() or path.suffix.lower() == ".json"


def results_files(path: Path) -> list[Path]:
    """Return the results files at ``path``: the path itself, or a folder's ``*.json`` files by name."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())


@dataclass
class ResultsItem:
    """One prompt of a results file: (system, answer record) per answer (system None: the record's own
    or the file's), its recorded verdicts, and what of it breaks the layout (left out)."""

    records: list[tuple[str | None, dict[str, Any]]]
    verdicts: RecordedVerdicts | None
    problem: str | None = None


def _load(path: Path) -> Any:
    data = read_bytes(path, "results file", ConfigError)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


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
    ids = [item.get(fields.id) for item in data if isinstance(item, dict)]
    # The items' own ids where every object has a distinct one ("Query1" in every file is none).
    named = all(isinstance(i, (str, int)) for i in ids) and len({str(i) for i in ids}) == len(ids)
    for position, item in enumerate(data, start=1):
        own = str(item.get(fields.id)) if isinstance(item, dict) else ""
        yield (own if named else f"{path.stem}:{position}"), item


def read_results(path: Path, fields: ResultsFields) -> Iterator[ResultsItem]:
    """Yield the item of each prompt of a results file (one that breaks the layout: no records). Raises
    :class:`ConfigError` when the file cannot be read or is not JSON at all."""
    for position, (prompt_id, item) in enumerate(_items(_load(path), path, fields), start=1):
        where = f"item {position}: " if position > 1 or prompt_id != path.stem else ""
        if not isinstance(item, dict):
            yield ResultsItem([], None, f"{where}not a JSON object but {type(item).__name__}")
            continue
        responses = item.get(fields.responses)
        if "markdown" in item and responses is None:
            # A list may hold plain answer records too (id, markdown, system, prompt).
            yield ResultsItem([(None, dict(item))], None)
            continue
        if not isinstance(responses, dict) or not responses:
            yield ResultsItem([], None, f"{where}no {fields.responses!r} object of system -> answer")
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
        yield ResultsItem(records, verdicts, problem)
