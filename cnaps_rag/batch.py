"""Answer a whole dataset: many inputs in, one JSONL record per prompt out.

Inputs are prompt files (one or several prompts each), folders of them, and JSONL
or JSON datasets (fields ``id`` and ``prompt`` by default). Each record is written
whole, flushed and fsynced as soon as its prompt is done, so an interrupted run
loses at most the prompts in flight and never leaves a torn line; a run resumes by
default, skipping ids already in the output. A prompt that fails becomes a record
with ``error`` and the batch goes on.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .answer import Answer, Strategy, answer
from .backends import Backend, LocalBackend, resolve_backend
from .errors import CnapsRagError, ConfigError, PromptError
from .parse import load_prompt_file, parse_prompts
from .spec import PromptSpec

_DATASET_SUFFIXES = {".jsonl", ".json"}
_PROMPT_SUFFIXES = {".txt", ".md", ".prompt"}


@dataclass
class InputRecord:
    """One prompt to answer, or the reason it cannot be read."""

    id: str
    origin: str
    spec: PromptSpec | None = None
    error: str | None = None
    error_type: str | None = None


class BatchSummary(BaseModel):
    """What a batch did. ``answered + failed + skipped == inputs``."""

    model_config = ConfigDict(extra="forbid")

    inputs: int = 0
    answered: int = 0
    failed: int = 0
    skipped: int = 0
    violations_stripped: int = 0
    seconds: float = 0.0
    output: str = ""
    interrupted: bool = False

    def line(self) -> str:
        """Return the summary as one line for the terminal."""
        text = (
            f"{self.answered} answered, {self.failed} failed, {self.skipped} skipped of {self.inputs}; "
            f"{self.violations_stripped} violations stripped; {self.seconds:.1f}s -> {self.output}"
        )
        return text + (" (interrupted)" if self.interrupted else "")


# --------------------------------------------------------------------------- inputs


def _error_record(record_id: str, origin: str, exc: Exception) -> InputRecord:
    message = exc.one_line() if isinstance(exc, CnapsRagError) else f"{type(exc).__name__}: {exc}"
    return InputRecord(record_id, origin, error=message, error_type=type(exc).__name__)


def _dataset_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed object or the exception) for a JSONL or JSON dataset."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            yield 0, PromptError(f"{path}: not valid JSON ({exc})")
            return
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        if not isinstance(data, list):
            yield 0, PromptError(f"{path}: expected a list of records")
            return
        yield from enumerate(data, start=1)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, PromptError(f"{path}:{number}: broken JSON line ({exc.args[0][:60]})")


def _from_dataset(path: Path, id_field: str, prompt_field: str) -> Iterator[InputRecord]:
    for number, row in _dataset_rows(path):
        origin = f"{path}:{number}"
        fallback_id = f"{path.stem}:{number}"
        if isinstance(row, Exception):
            yield _error_record(fallback_id, origin, row)
            continue
        if not isinstance(row, dict):
            yield _error_record(fallback_id, origin, PromptError(f"{origin}: a record must be a JSON object"))
            continue
        record_id = str(row.get(id_field) or fallback_id)
        text = row.get(prompt_field)
        if not isinstance(text, str):
            error = PromptError(f"{origin}: no {prompt_field!r} text", hint="set --prompt-field")
            yield _error_record(record_id, origin, error)
            continue
        try:
            specs = parse_prompts(text, id_prefix=record_id)
        except PromptError as exc:
            yield _error_record(record_id, origin, PromptError(f"{origin}: {exc.message}", hint=exc.hint))
            continue
        for spec in specs:
            yield InputRecord(spec.id, origin, spec=spec)


def iter_inputs(
    paths: Iterable[str | Path], *, id_field: str = "id", prompt_field: str = "prompt"
) -> Iterator[InputRecord]:
    """Yield every prompt in ``paths`` (files, folders, datasets), or a record of why it cannot be read."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix in _PROMPT_SUFFIXES | _DATASET_SUFFIXES
            )
            if not files:
                yield _error_record(
                    str(path), str(path), PromptError(f"{path}: folder holds no prompt files")
                )
            for file in files:
                yield from iter_inputs([file], id_field=id_field, prompt_field=prompt_field)
        elif not path.exists():
            yield _error_record(path.stem or str(path), str(path), PromptError(f"{path}: no such file"))
        elif path.suffix in _DATASET_SUFFIXES:
            yield from _from_dataset(path, id_field, prompt_field)
        else:
            try:
                for spec in load_prompt_file(path):
                    yield InputRecord(spec.id, str(path), spec=spec)
            except PromptError as exc:
                yield _error_record(path.stem, str(path), exc)


# --------------------------------------------------------------------------- output


class JsonlWriter:
    """Appends whole records to a JSONL file, one write, flush and fsync each; safe across threads."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def _repair_torn_tail(self) -> None:
        # A kill during a write can leave a partial last line: cut it so every line is JSON.
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as file:
            file.seek(-1, os.SEEK_END)
            if file.read(1) == b"\n":
                return
            file.seek(0)
            data = file.read()
            file.truncate(data.rfind(b"\n") + 1)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def done_ids(path: Path) -> set[str]:
    """Return the ids already recorded in a JSONL output (answered or failed)."""
    if not path.exists():
        return set()
    ids = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "id" in record:
            ids.add(str(record["id"]))
    return ids


def answer_record(result: Answer, spec: PromptSpec) -> dict[str, Any]:
    """Return the JSONL record of an answer."""
    return {
        "id": result.id,
        "markdown": result.markdown,
        "draft": result.draft,
        "violations": [v.model_dump() for v in result.validation.violations],
        "cited": result.cited,
        "meta": result.meta.model_dump(),
        "prompt": spec.raw,
        "error": None,
    }


def _safe_name(record_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._#-]+", "_", record_id).strip("._") or "prompt"


# --------------------------------------------------------------------------- run


def answer_batch(
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    backend: str | Backend = "local",
    model: str | None = None,
    base_url: str | None = None,
    strategy: Strategy | None = None,
    max_tokens: int | None = None,
    workers: int = 1,
    resume: bool = True,
    md_dir: str | Path | None = None,
    id_field: str = "id",
    prompt_field: str = "prompt",
    progress: bool | None = None,
    attempts: int = 4,
    max_wait: float = 30.0,
) -> BatchSummary:
    """Answer every prompt in ``inputs`` into the JSONL file ``output``; return the summary.

    ``workers`` > 1 sends that many prompts at once (useful with a hosted backend;
    the local model answers one at a time). ``resume`` skips ids already in the
    output; without it the output is started afresh. ``progress`` defaults to a bar
    when stderr is a terminal. ``attempts`` and ``max_wait`` bound the retries of each
    generation (see :func:`cnaps_rag.answer.answer`).
    """
    started = time.perf_counter()
    out_path = Path(output)
    if out_path.is_dir():
        raise ConfigError(f"{out_path}: is a folder, expected a JSONL file path")
    if not resume and out_path.exists():
        out_path.unlink()
    chosen = resolve_backend(backend, model=model, base_url=base_url)
    if isinstance(chosen, LocalBackend):
        workers = 1  # one model in one process: requests would only queue on its lock
    markdown_dir = Path(md_dir) if md_dir else None
    if markdown_dir:
        markdown_dir.mkdir(parents=True, exist_ok=True)

    records = list(iter_inputs(inputs, id_field=id_field, prompt_field=prompt_field))
    summary = BatchSummary(inputs=len(records), output=str(out_path))
    already = done_ids(out_path) if resume else set()
    writer = JsonlWriter(out_path)
    seen: set[str] = set()
    todo: list[InputRecord] = []
    for record in records:
        if record.id in already or record.id in seen:
            summary.skipped += 1
            continue
        seen.add(record.id)
        if record.spec is None:
            writer.write(
                {
                    "id": record.id,
                    "error": record.error,
                    "error_type": record.error_type,
                    "origin": record.origin,
                }
            )
            summary.failed += 1
            continue
        todo.append(record)

    bar = _progress_bar(len(todo), progress)

    def run_one(record: InputRecord) -> dict[str, Any]:
        assert record.spec is not None
        try:
            result = answer(
                record.spec,
                backend=chosen,
                strategy=strategy,
                max_tokens=max_tokens,
                attempts=attempts,
                max_wait=max_wait,
            )
        except CnapsRagError as exc:
            return {
                "id": record.id,
                "error": exc.one_line(),
                "error_type": type(exc).__name__,
                "origin": record.origin,
            }
        if markdown_dir:
            (markdown_dir / f"{_safe_name(record.id)}.md").write_text(result.markdown, encoding="utf-8")
        return answer_record(result, record.spec)

    def finish(line: dict[str, Any]) -> None:
        writer.write(line)
        if line.get("error"):
            summary.failed += 1
        else:
            summary.answered += 1
            summary.violations_stripped += len(line["violations"])
        if bar is not None:
            bar.update(1)

    try:
        if workers <= 1:
            for record in todo:
                finish(run_one(record))
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                pending: set[Future[dict[str, Any]]] = set()
                queue = iter(todo)
                for record in queue:
                    pending.add(pool.submit(run_one, record))
                    if len(pending) >= workers * 2:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            finish(future.result())
                for future in pending:
                    finish(future.result())
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        writer.close()
        if bar is not None:
            bar.close()
        summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _progress_bar(total: int, progress: bool | None) -> Any:
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="prompt", file=sys.stderr)
