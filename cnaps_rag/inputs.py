"""Read prompts from the user's files, folders and datasets: (id, spec) or (id, why not).

``cnaps-rag batch`` answers what :func:`iter_inputs` yields and ``cnaps-rag eval`` looks
answers' prompts up in the same reading, so a prompt has the same id in both:

- a prompt file (``.txt``, ``.md``, ``.prompt``, any case; or any file named directly)
  gives its stem, ``stem#n`` for a file of several prompts;
- a dataset (``.jsonl``, or ``.json`` holding a list, or an object with a list) gives each
  record's ``id_field`` (``id#n`` for a record of several prompts), the prompt text being its
  ``prompt_field``; a line or record that cannot be read gives ``stem:line``;
- a folder gives every such file in it and its subfolders, hidden ones left out.

Nothing here raises on a bad file or record: it becomes an :class:`InputRecord` with the error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CnapsRagError, PromptError
from .files import json_lines, read_bytes
from .parse import load_prompt_file, parse_prompts
from .spec import PromptSpec

PROMPT_SUFFIXES = frozenset({".txt", ".md", ".prompt"})
DATASET_SUFFIXES = frozenset({".jsonl", ".json"})


@dataclass(frozen=True)
class InputRecord:
    """One prompt to answer, or the error that says why it cannot be read."""

    id: str
    origin: str  # where it was read: a path, ``path:line`` for a dataset record
    spec: PromptSpec | None = None
    exception: CnapsRagError | None = None
    named: bool = True  # False when the input gave no id and ``id`` is where it stands (``stem:line``)


def _dataset_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line or position, the parsed object or the PromptError why not)."""
    try:
        text = read_bytes(path, "dataset").decode("utf-8-sig", errors="replace")
    except PromptError as exc:
        yield 0, exc
        return
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield 0, PromptError(f"{path}: not valid JSON ({exc})")
            return
        if isinstance(data, dict):  # {"prompts": [...]} or a single record
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        yield from enumerate(data if isinstance(data, list) else [data], start=1)
        return
    for number, value, reason in json_lines(text):
        yield number, PromptError(f"{path}:{number}: broken JSON line ({reason})") if reason else value


def dataset_record(
    row: Any, origin: str, fallback_id: str, *, id_field: str = "id", prompt_field: str = "prompt"
) -> list[InputRecord]:
    """Return the prompts of one dataset record (several for a record holding a dump), or its error;
    ``row`` may be the PromptError why it could not be parsed."""
    if not isinstance(row, dict):
        error = row if isinstance(row, PromptError) else PromptError(f"{origin}: not a JSON object")
        return [InputRecord(fallback_id, origin, exception=error, named=False)]
    given = row.get(id_field)
    # An id of 0 is an id (datasets number from 0); only a missing or empty one is not.
    record_id = fallback_id if given is None or given == "" else str(given)
    text = row.get(prompt_field)
    if not isinstance(text, str):
        error = PromptError(f"{origin}: no {prompt_field!r} text", hint="set --prompt-field")
        return [InputRecord(record_id, origin, exception=error)]
    try:
        specs = parse_prompts(text, id_prefix=record_id)
    except PromptError as exc:
        error = PromptError(f"{origin}: {exc.message}", hint=exc.hint)
        return [InputRecord(record_id, origin, exception=error)]
    return [InputRecord(spec.id, origin, spec=spec) for spec in specs]


def iter_inputs(
    paths: Iterable[str | Path], *, id_field: str = "id", prompt_field: str = "prompt"
) -> Iterator[InputRecord]:
    """Yield every prompt in ``paths`` (files, folders, datasets), or a record of why it cannot be read."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                file
                for file in path.rglob("*")
                if file.is_file()
                and not any(part.startswith(".") for part in file.relative_to(path).parts)
                and file.suffix.lower() in PROMPT_SUFFIXES | DATASET_SUFFIXES
            )
            if not files:
                yield InputRecord(
                    str(path), str(path), exception=PromptError(f"{path}: folder holds no prompt files")
                )
            for file in files:
                yield from iter_inputs([file], id_field=id_field, prompt_field=prompt_field)
        elif not path.exists():
            yield InputRecord(
                path.stem or str(path), str(path), exception=PromptError(f"{path}: no such file")
            )
        elif path.suffix.lower() in DATASET_SUFFIXES:
            for number, row in _dataset_rows(path):
                origin, fallback = f"{path}:{number}", f"{path.stem}:{number}"
                yield from dataset_record(row, origin, fallback, id_field=id_field, prompt_field=prompt_field)
        else:
            try:
                specs = load_prompt_file(path)
            except CnapsRagError as exc:
                yield InputRecord(path.stem, str(path), exception=exc)
                continue
            for spec in specs:
                yield InputRecord(spec.id, str(path), spec=spec)
