"""Read answers files a line at a time, and find each answer record's prompt.

An answers file is JSONL: :func:`stream_records` yields its records one line at a time with
each line's byte offset, so :class:`AnswerTexts` can read an answer back for the report page
without anyone holding the texts. A record's prompt is found by :func:`find_prompt`: its own
prompt text (parsed as ``cnaps-rag batch`` parses a dataset record, through
:func:`cnaps_rag.inputs.dataset_record`), a prompt file it names, or the prompt index
(:func:`load_prompt_index`, read as ``batch`` reads its inputs).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CnapsRagError, ConfigError, PromptError
from ..files import json_lines, open_binary
from ..inputs import DATASET_SUFFIXES, InputRecord, dataset_record, iter_inputs
from ..parse import load_prompt_file
from ..spec import PromptSpec
from ..text import normalize_newlines
from .models import PromptIndex
from .results import read_back


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


def open_answers(path: Path) -> BinaryIO:
    """Return an answers file open for streaming, or raise ConfigError saying why it cannot be read."""
    return open_binary(path, "answers file", ConfigError)


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
    with open_answers(path) as file:
        offset = 0
        for number, raw in enumerate(file, start=1):
            start, offset = offset, offset + len(raw)
            text = _decode(path, raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw, start)
            # files.json_lines says why a line is not JSON, in the words batch uses too; it ends
            # lines at "\n" only, so a record holding U+2028 or NEL stays whole.
            for _, value, reason in json_lines(text):
                if isinstance(value, dict):
                    yield number, start, value, None
                else:
                    yield number, start, None, reason or f"not a JSON object but {type(value).__name__}"


def read_record_at(path: str | Path, offset: int) -> dict[str, Any]:
    """Return the record whose line starts at byte ``offset`` of ``path``."""
    with open_answers(Path(path)) as file:
        file.seek(offset)
        raw = file.readline()
    value = json.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path}: no record at offset {offset}")
    return value


class AnswerTexts:
    """Gives back each row's answer and draft for the report page, without holding file records.

    Per row it keeps 12 bytes: where its record stands (an index into the few distinct
    sources, and the record's byte offset in a JSONL file or its position in a results file).
    """

    def __init__(self) -> None:
        self._sources: dict[tuple[str, str, str | None], int] = {}
        """(kind, file, system) -> its index; kind is ``jsonl``, ``results`` or ``texts``."""
        self._keys: list[tuple[str, str, str | None]] = []
        self._source = array("i")
        self._offset = array("q")
        self._texts: dict[int, tuple[str | None, str | None]] = {}

    def _add(self, kind: str, path: str, system: str | None, offset: int) -> None:
        key = (kind, path, system)
        if key not in self._sources:
            self._sources[key] = len(self._keys)
            self._keys.append(key)
        self._source.append(self._sources[key])
        self._offset.append(offset)

    def add_file(self, path: str, offset: int) -> None:
        """Remember that the next row's record starts at ``offset`` of the JSONL file ``path``."""
        self._add("jsonl", path, None, offset)

    def add_result(self, path: str, position: int, system: str, responses: str) -> None:
        """Remember that the next row is ``system``'s answer to the ``position``-th prompt of a results file.

        ``responses`` is the field holding the answers.
        """
        self._add("results", path, f"{responses}\0{system}", position)

    def add_texts(self, markdown: str | None, draft: str | None) -> None:
        """Keep the next row's texts themselves (records given from Python)."""
        self._texts[len(self._offset)] = (markdown, draft)
        self._add("texts", "", None, 0)

    def get(self, index: int) -> tuple[str | None, str | None]:
        """Return row ``index``'s final answer and draft, LF newlines, as they were scored."""
        kind, path, system = self._keys[self._source[index]]
        markdown: Any
        draft: Any = None
        if kind == "texts":
            markdown, draft = self._texts[index]
        elif kind == "results":
            responses, _, name = (system or "").partition("\0")
            markdown = read_back(path, self._offset[index], name, responses)
        else:
            try:
                record = read_record_at(path, self._offset[index])
            except (CnapsRagError, OSError, ValueError):
                return None, None  # the file changed since it was scored: the page shows scores only
            markdown, draft = record.get("markdown"), record.get("draft")
        return (
            normalize_newlines(markdown) if isinstance(markdown, str) else None,
            normalize_newlines(draft) if isinstance(draft, str) else None,
        )


# --------------------------------------------------------------------------- finding prompts


@lru_cache(maxsize=256)
def _prompt_records(text: str, record_id: str, id_field: str, prompt_field: str) -> tuple[InputRecord, ...]:
    # Several systems' answers carry the same prompt: parse it once.
    row = {id_field: record_id, prompt_field: text}
    return tuple(dataset_record(row, record_id, record_id, id_field=id_field, prompt_field=prompt_field))


@lru_cache(maxsize=64)
def _prompt_file(path: str, stamp: tuple[int, int]) -> tuple[PromptSpec, ...]:
    # Several systems' answers name the same prompt file: read and parse it once (while
    # ``stamp``, its modification time and size, says it is unchanged).
    return tuple(load_prompt_file(Path(path)))


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


def find_prompt(
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
        if name in prompts:  # the common case, before any path is parsed
            return prompts[name]
        stem = Path(name).stem
        for key in (name, stem):
            if key in prompts:
                return prompts[key]
        path = _existing_file(Path(name), base_dir)
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
