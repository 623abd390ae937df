"""Model verdicts kept on disk: one JSON file per key (a hash), so a rerun asks nothing again.

The rubric judge and the claim checker both cache here. A file is written whole and then renamed,
so a killed run never leaves a torn one; a file that is torn or foreign reads as absent (the
verdict is asked again and overwrites it); a cache that cannot be written costs a rerun, nothing
else.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class VerdictCache:
    """JSON objects by key under ``folder`` (``folder/ab/abcdef….json``); None caches nothing."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None

    def path(self, key: str) -> Path | None:
        """Return where ``key`` is kept (None when nothing is cached)."""
        return self.folder / key[:2] / f"{key}.json" if self.folder is not None else None

    def read(self, key: str) -> dict[str, Any] | None:
        """Return the object kept under ``key``; None when there is none or it cannot be read."""
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, key: str, data: dict[str, Any]) -> bool:
        """Keep ``data`` under ``key``; return False when it could not be written (or nothing is cached)."""
        path = self.path(key)
        if path is None:
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as file:
                json.dump(data, file, sort_keys=True, ensure_ascii=False)
            os.replace(file.name, path)
        except OSError:
            return False
        return True
