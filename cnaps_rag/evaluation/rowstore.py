"""Rows on disk: an evaluation's rows go to a temporary file as they are made and are read back.

A scored row holds its scores, what the validator stripped and the text of its unsupported
sentences: a few KB for a real answer, 29 KB as Python objects. Kept in memory, a million
answers would take tens of GB; written here as JSON lines, an evaluation keeps 8 bytes per row
(its offset), and :class:`RowStore` is a read-only sequence of the rows that parses each one
again when it is asked for (the report files read them in order, once per pass).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import weakref
from array import array
from collections.abc import Iterator, Sequence
from typing import overload

from .models import Row


class RowStore(Sequence[Row]):
    """The rows of one evaluation, appended in order and read back from a temporary file."""

    def __init__(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="cnaps-rag-rows-", suffix=".jsonl")
        self._file = os.fdopen(handle, "w+b")
        # The file goes when the store does (or when the interpreter exits).
        self._finalizer = weakref.finalize(self, _cleanup, self._file, self._path)
        self._offsets = array("q")
        self._end = 0
        self._lock = threading.Lock()

    def append(self, row: Row) -> None:
        """Add ``row`` after the others."""
        data = row.model_dump_json().encode("utf-8") + b"\n"
        with self._lock:
            self._file.seek(self._end)
            self._file.write(data)
            self._offsets.append(self._end)
            self._end += len(data)

    def __len__(self) -> int:
        return len(self._offsets)

    def _read(self, index: int) -> Row:
        with self._lock:
            self._file.seek(self._offsets[index])
            line = self._file.readline()
        return Row.model_validate_json(line)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self._read(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("row index out of range")
        return self._read(index)

    def __iter__(self) -> Iterator[Row]:
        # Its own handle: a reader that also asks for single rows meanwhile does not move it.
        with self._lock:
            self._file.flush()
        count = len(self)
        with open(self._path, "rb") as file:
            for _ in range(count):
                yield Row.model_validate_json(file.readline())

    def __repr__(self) -> str:
        return f"RowStore({len(self)} rows)"


def _cleanup(file: object, path: str) -> None:
    close = getattr(file, "close", None)
    if close is not None:
        close()
    with contextlib.suppress(OSError):
        os.unlink(path)
