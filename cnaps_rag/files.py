"""Reading the user's files, with every failure turned into the package's one-line errors; writing a
file whole."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import CnapsRagError, PromptError


@contextlib.contextmanager
def _user_file(path: Path, what: str, error: type[CnapsRagError]) -> Iterator[None]:
    """While active, an OS error on ``path`` becomes ``error`` saying why (``what`` it should be)."""
    article = "an" if what[:1].lower() in "aeiou" else "a"
    try:
        yield
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected {article} {what}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None


def read_bytes(path: str | Path, what: str = "file", error: type[CnapsRagError] = PromptError) -> bytes:
    path = Path(path)
    with _user_file(path, what, error):
        return path.read_bytes()


def open_binary(path: Path, what: str = "file", error: type[CnapsRagError] = PromptError) -> BinaryIO:
    with _user_file(path, what, error):
        return path.open("rb")


def data_lines(filename: str) -> list[str]:
    """Return the entries of a list in ``cnaps_rag/data/``, one a line (``DALL-E 2`` is one entry).

    ``#`` at the start of a line or after white space starts a comment (``C#`` is no comment).
    """
    from importlib.resources import files

    text = files("cnaps_rag").joinpath("data", filename).read_text(encoding="utf-8")
    return [
        entry
        for line in text.splitlines()
        if (entry := re.split(r"(?:^|(?<=\s))#", line, maxsplit=1)[0].strip())
    ]


def data_words(filename: str) -> list[str]:
    return [word for entry in data_lines(filename) for word in entry.split()]


def json_lines(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, the JSON value, None) or (line number, None, why not) per non-blank line.

    Lines end at ``\n`` only: ``str.splitlines`` would also cut at U+2028, U+2029 or NEL, which a
    JSON string may hold raw (our own writer keeps them).
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc.msg} at column {exc.colno}"


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` aside and rename it into place: a reader, or a process killed while
    writing, never sees the file half written (OSError as raised)."""
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
    ) as file:
        file.write(text)
    os.replace(file.name, path)
