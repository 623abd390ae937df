"""The JSONL answer records: what ``cnaps-rag batch`` writes and ``cnaps-rag eval`` reads.

One line per prompt, written whole, flushed and fsynced (:class:`JsonlWriter`), so an
interrupted run never leaves a torn line. A record is an :class:`AnswerRecord`: an answer
(``markdown``, ``draft``, ``violations``, ``cited``, ``meta``, ``prompt``, ``error`` null) or a
failure (``error``, ``error_type``, ``origin``). The evaluation also reads other tools' JSONL,
so it streams records as plain objects (:func:`cnaps_rag.evaluation.answers.stream_records`) and
looks only for the fields it needs.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import one_line
from .files import json_lines
from .pipeline import Answer, AnswerMeta
from .spec import PromptSpec
from .validation import Violation


class AnswerRecord(BaseModel):
    """One line of a batch's output: an answer, or why there is none."""

    model_config = ConfigDict(extra="forbid")

    id: str
    markdown: str | None = None
    """The final answer, after validation."""
    draft: str | None = None
    violations: list[Violation] = []
    cited: list[str] = []
    meta: AnswerMeta | None = None
    prompt: str | None = None
    """The prompt's raw text, so that the record can be evaluated on its own."""
    error: str | None = None
    """One line saying why the prompt has no answer; null for an answer."""
    error_type: str | None = None
    origin: str | None = None
    """Where a failed prompt was read (path, or path:line)."""

    @classmethod
    def of_answer(cls, result: Answer, spec: PromptSpec) -> AnswerRecord:
        """Return the record of an answer to ``spec``."""
        return cls(
            id=result.id,
            markdown=result.markdown,
            draft=result.draft,
            violations=result.validation.violations,
            cited=result.cited,
            meta=result.meta,
            prompt=spec.raw,
        )

    @classmethod
    def failure(cls, record_id: str, origin: str, exc: BaseException) -> AnswerRecord:
        """Return the record of a prompt that could not be read or answered."""
        return cls(id=record_id, error=one_line(exc), error_type=type(exc).__name__, origin=origin)

    def to_json(self) -> dict[str, Any]:
        """Return the record as written: an answer's fields, or a failure's, and always ``error``."""
        if self.error is None:
            return self.model_dump(mode="json", exclude={"error_type", "origin"})
        return self.model_dump(mode="json", include={"id", "error", "error_type", "origin"})


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

    def write(self, record: AnswerRecord | dict[str, Any]) -> None:
        """Append one record as one line."""
        data = record.to_json() if isinstance(record, AnswerRecord) else record
        line = json.dumps(data, ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def done_ids(path: Path) -> set[str]:
    """Return the ids already recorded in a JSONL output (answered or failed)."""
    if not path.exists():
        return set()
    text = path.read_bytes().decode("utf-8", errors="replace")
    return {str(value["id"]) for _, value, _ in json_lines(text) if isinstance(value, dict) and "id" in value}
