"""Model verdicts kept on disk (the rubric judge's, the claim checker's): one JSON file per key.

A file is written whole and then renamed, so a killed run never leaves a torn one; a file that is
torn or foreign reads as absent (the verdict is asked again and overwrites it); a cache that cannot
be written costs a rerun, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .backends import Backend, Request
from .draft.caller import Caller
from .errors import one_line
from .files import write_whole

GIVE_UP_AFTER = 5
"""Failures in a row after which a model is asked no more in this run (a dead server, a bad key)."""
Reply = TypeVar("Reply", bound=BaseModel)
Value = TypeVar("Value")


def cache_key(*parts: str) -> str:
    """Return the cache key of a verdict: SHA-256 of what decides it (what is shown, model, version)."""
    data = json.dumps(list(parts), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class AskedModel:
    """A model asked for verdicts kept under ``cache_dir`` (``ab/abcdef….json``; None caches
    nothing), counting what it did.

    The counters are shared by the threads that ask. A failure is counted and not cached; after
    :data:`GIVE_UP_AFTER` in a row no more is asked in this run (:meth:`given_up`).
    """

    def __init__(self, backend: Backend, cache_dir: str | Path | None, attempts: int, max_wait: float):
        self.backend = backend
        self.model = backend.model
        self.folder = Path(cache_dir) if cache_dir is not None else None
        self.attempts = attempts
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self.requests = 0  # sent to the backend, retries included
        self.cache_hits = 0
        self.failures = 0
        self.failed_in_a_row = 0
        self.last_error = ""

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / key[:2] / f"{key}.json"

    def cached(self, key: str, read: Callable[[dict[str, Any]], Value]) -> Value | None:
        """Return what ``read`` makes of the object under ``key`` (a hit), or None when there is none
        or it is torn or foreign (``read`` raises): ask again and overwrite it."""
        path = self._path(key)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                return None
            value = read(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with self._lock:
            self.cache_hits += 1
        return value

    def store(self, key: str, data: dict[str, Any]) -> None:
        path = self._path(key)
        if path is None:
            return
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_whole(path, json.dumps(data, sort_keys=True, ensure_ascii=False))

    def given_up(self) -> bool:
        return self.failed_in_a_row >= GIVE_UP_AFTER

    def ask(self, request: Request, reply_type: type[Reply]) -> tuple[Reply | None, str | None]:
        """Return the backend's reply parsed, or None and why not."""
        # A caller per request: its counters are this request's alone, whatever runs beside it.
        caller = Caller(self.backend, attempts=self.attempts, max_wait=self.max_wait)
        try:
            reply, error = caller.parsed(request, reply_type), None
        except Exception as exc:
            reply, error = None, one_line(exc)
        with self._lock:
            self.requests += caller.generations
            if error is None:
                self.failed_in_a_row = 0
            else:
                self.failures += 1
                self.failed_in_a_row += 1
                self.last_error = error
        return reply, error
