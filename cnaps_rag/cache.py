"""Model verdicts kept on disk (the rubric judge's, the claim checker's): one JSON file per key.

A file is written whole and then renamed, so a killed run never leaves a torn one; a file that is
torn or foreign reads as absent (the verdict is asked again and overwrites it); a cache that cannot
be written costs a rerun, nothing else.
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

    def read(self, key: str) -> dict[str, Any] | None:
        """Return the object kept under ``key``; None when there is none or it cannot be read."""
        if self.folder is None:
            return None
        try:
            data = json.loads((self.folder / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, key: str, data: dict[str, Any]) -> bool:
        """Keep ``data`` under ``key``; return False when it could not be written (or nothing is cached)."""
        if self.folder is None:
            return False
        path = self.folder / key[:2] / f"{key}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as file:
                json.dump(data, file, sort_keys=True, ensure_ascii=False)
            os.replace(file.name, path)
        except OSError:
            return False
        return True
