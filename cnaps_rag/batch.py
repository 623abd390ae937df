"""Answer a whole dataset: many inputs in, one JSONL record per prompt out.

Each record is written whole and fsynced as soon as its prompt is done, so an interrupted run
loses at most the prompts in flight and never leaves a torn line; a run resumes by default,
skipping ids already in the output.
A prompt that fails becomes a record with ``error`` and the batch goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from .backends import Backend, resolve_backend
from .errors import ConfigError, one_line
from .files import json_lines, write_whole
from .inputs import InputRecord, iter_inputs
from .pipeline import Answer, answer, check_options

MD_NAME_CHARS = 120
"""The longest markdown file stem: a file name may hold 255 bytes, an id any number."""


class BatchSummary(BaseModel, extra="forbid"):
    """What a batch did. ``answered + failed + skipped == inputs``."""

    inputs: int = 0
    answered: int = 0
    failed: int = 0
    skipped: int = 0
    violations_stripped: int = 0
    seconds: float = 0.0
    output: str = ""
    interrupted: bool = False

    def line(self) -> str:
        text = (
            f"{self.answered} answered, {self.failed} failed, {self.skipped} skipped of {self.inputs}; "
            f"{self.violations_stripped} violations stripped; {self.seconds:.1f}s -> {self.output}"
        )
        return text + (" (interrupted)" if self.interrupted else "")


def answer_record(result: Answer, prompt: str) -> dict[str, Any]:
    """Return one line of a batch's output for an answer; ``prompt`` (the raw text) lets it be
    evaluated on its own."""
    return {
        "id": result.id,
        "markdown": result.markdown,
        "draft": result.draft,
        "violations": [violation.model_dump(mode="json") for violation in result.validation.violations],
        "cited": result.cited,
        "meta": result.meta.model_dump(mode="json"),
        "prompt": prompt,
        "error": None,
    }


def failure_record(record_id: str, origin: str, exc: BaseException) -> dict[str, Any]:
    """Return one line of a batch's output for a prompt that has no answer (``origin``: where it was read)."""
    return {"id": record_id, "error": one_line(exc), "error_type": type(exc).__name__, "origin": origin}


def open_output(path: Path) -> TextIO:
    """Return the JSONL output opened for appending."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        # A kill during a write can leave a partial last line: cut it so every line is JSON.
        with path.open("rb+") as file:
            data = file.read()
            if not data.endswith(b"\n"):
                file.truncate(data.rfind(b"\n") + 1)
    return path.open("a", encoding="utf-8")


def done_ids(path: Path) -> set[str]:
    """Return the ids already recorded in a JSONL output (answered or failed)."""
    if not path.exists():
        return set()
    text = path.read_bytes().decode("utf-8", errors="replace")
    return {str(value["id"]) for _, value, _ in json_lines(text) if isinstance(value, dict) and "id" in value}


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """While active, an OS error (no permission, a file where a folder should be) is a ConfigError."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write there ({exc.strerror or exc})") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


@contextlib.contextmanager
def claimed(out_path: Path, on_note: Callable[[str], None] | None = None) -> Iterator[None]:
    """Mark ``out_path`` as being written by this process (``OUTPUT.running``, its pid) while the block runs.

    A marker left by a process that no longer exists means that run was killed, or crashed inside
    the native model library (which prints nothing): ``on_note`` gets a note that says so. A marker
    of a live process means another batch is appending to the same file, which is refused.
    """
    marker = out_path.with_name(out_path.name + ".running")
    try:
        pid = int(marker.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        pid = None
    if pid is not None and pid != os.getpid():
        if _pid_alive(pid):
            raise ConfigError(
                f"{out_path}: another batch (pid {pid}) is writing to it",
                hint=f"wait for it, or remove {marker} if that process is not a batch",
            )
        if on_note is not None:
            on_note(
                f"the last run on {out_path} (pid {pid}) stopped without finishing: it was killed, "
                "or the model crashed (a native crash prints only 'Segmentation fault'); "
                "run `cnaps-rag doctor` to check"
            )
    with _writing(out_path):
        marker.parent.mkdir(parents=True, exist_ok=True)  # a new folder for the output
        # Whole or not at all: an empty marker, left by a kill mid-write, would read as no run.
        write_whole(marker, f"{os.getpid()}\n")
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def _safe_name(record_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._#-]+", "_", record_id).strip("._") or "prompt"
    if len(name) > MD_NAME_CHARS:  # cut, and kept apart from other ids cut alike
        digest = hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:12]
        name = f"{name[:MD_NAME_CHARS]}-{digest}"
    return name


def answer_batch(
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    backend: str | Backend = "local",
    model: str | None = None,
    base_url: str | None = None,
    strategy: str | None = None,
    max_tokens: int | None = None,
    workers: int = 1,
    resume: bool = True,
    md_dir: str | Path | None = None,
    id_field: str = "id",
    prompt_field: str = "prompt",
    progress: bool | None = None,
    attempts: int = 4,
    max_wait: float = 30.0,
    on_note: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Answer every prompt in ``inputs`` (see :func:`cnaps_rag.inputs.iter_inputs`) into the JSONL ``output``.

    ``workers`` > 1 sends that many prompts at once (a hosted backend; the local model answers one
    at a time). ``resume`` skips ids already in the output; without it the output is started afresh.
    ``attempts`` and ``max_wait`` bound each generation's retries (:func:`cnaps_rag.pipeline.answer`).
    ``progress`` defaults to a bar when stderr is a terminal. ``on_note`` gets a note on a previous
    run that died, before any prompt is answered.
    """
    started = time.perf_counter()
    strategy = check_options(strategy, max_tokens)  # once, not as the same failure on every prompt
    out_path = Path(output)
    if out_path.is_dir():
        raise ConfigError(f"{out_path}: is a folder, expected a JSONL file path")
    chosen = resolve_backend(backend, model=model, base_url=base_url)
    with claimed(out_path, on_note):
        if not resume and out_path.exists():
            with _writing(out_path):
                out_path.unlink()  # only once this run owns the file
        if chosen.in_process:
            workers = 1  # one model in one process: requests would only queue on its lock
        markdown_dir = Path(md_dir) if md_dir else None
        if markdown_dir:
            with _writing(markdown_dir):
                markdown_dir.mkdir(parents=True, exist_ok=True)

        records = list(iter_inputs(inputs, id_field=id_field, prompt_field=prompt_field))
        summary = BatchSummary(inputs=len(records), output=str(out_path))
        with _writing(out_path):
            already = done_ids(out_path) if resume else set()
            out = open_output(out_path)

        def write(line: dict[str, Any]) -> None:  # whole, flushed and fsynced: a kill loses no line written
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())

        todo: list[InputRecord] = []
        for record in records:
            if record.id in already:
                summary.skipped += 1
                continue
            already.add(record.id)
            if record.exception is not None:
                write(failure_record(record.id, record.origin, record.exception))
                summary.failed += 1
                continue
            todo.append(record)

        from tqdm import tqdm

        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=len(todo), unit="prompt", file=sys.stderr, disable=not show)

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
                if markdown_dir:
                    (markdown_dir / f"{_safe_name(record.id)}.md").write_text(
                        result.markdown, encoding="utf-8"
                    )
            except Exception as exc:  # one prompt's failure, even an unforeseen one, must not end the batch
                return failure_record(record.id, record.origin, exc)
            return answer_record(result, record.spec.raw)

        def finish(line: dict[str, Any]) -> None:
            write(line)
            if line["error"] is not None:
                summary.failed += 1
            else:
                summary.answered += 1
                summary.violations_stripped += len(line["violations"])
            bar.update(1)

        try:
            if workers <= 1:
                for record in todo:
                    finish(run_one(record))
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    pending: set[Future[dict[str, Any]]] = set()
                    for record in todo:
                        pending.add(pool.submit(run_one, record))
                        if len(pending) >= workers * 2:  # a bounded queue: an interrupt waits on few
                            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                            for future in finished:
                                finish(future.result())
                    for future in pending:
                        finish(future.result())
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            out.close()
            bar.close()
            summary.seconds = round(time.perf_counter() - started, 3)
        return summary
