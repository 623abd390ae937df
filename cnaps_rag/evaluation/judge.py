"""An optional judge: a model scores each answer on a versioned rubric, for what rules cannot see.

The rubric is ``prompts/judge_rubric.txt`` (its ``#version:`` is recorded with every verdict):
five criteria scored 1 to 5 with a one-line reason each, the numbers of the answer's sentences
that the sources do not support, and whether the answer does what the prompt asked. The reply
is structured output (:class:`~cnaps_rag.evaluation.models.JudgeReply`'s JSON schema, by
:func:`cnaps_rag.schemas.json_schema`) through any backend, with the package's retrying caller.

Verdicts are cached on disk, one JSON file per key, the key being a hash of (prompt, answer,
judge model, rubric version): a rerun over the same answers makes no request. The key holds the
rubric's version, not its text: a change to the rubric or to what the judge is shown
(:meth:`Judge._inputs`) bumps the ``#version:`` line, or the old verdicts are served. A failure
(server down, a reply that is not the schema's JSON) is returned as one line for the answer's
row and never stops the evaluation; failures are not cached, so a rerun tries them again.
After :data:`GIVE_UP_AFTER` failures in a row the judge stops asking for the rest of the run
(each remaining answer records why), so a dead server or a refused key costs seconds, not hours.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..backends import Backend, Request
from ..cache import VerdictCache
from ..draft.caller import Caller
from ..errors import one_line
from ..markdown import is_heading
from ..schemas import json_schema
from ..spec import PromptSpec
from ..templates import load_template
from ..text import CHARS_PER_TOKEN, sentences, shorten
from .models import CRITERIA, CompareReply, JudgeReply, Judgment

DEFAULT_CACHE_DIR = Path(".cnaps-rag-cache") / "judge"
"""Where verdicts are cached when the caller names no folder (relative to the working folder)."""
JUDGE_MAX_TOKENS = 600
"""Token budget of one verdict: five short reasons, a list of numbers, a verdict and its reason."""
RUBRIC_TOKENS = 1000
"""Tokens the rubric and its schema take besides the prompt and the answer."""
MIN_INPUT_CHARS = 2000
"""The least room prompt and answer get together, however small the context."""
GIVE_UP_AFTER = 5
"""Failures in a row after which the judge asks no more in this run (a dead server, a bad key)."""
COMPARE_MAX_TOKENS = 200
"""Token budget of one comparison: a one-line reason and a letter."""
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def cache_key(prompt: str, answer: str, model: str, rubric_version: str) -> str:
    """Return the cache key of a verdict: SHA-256 of the prompt, the answer, the judge model, the rubric."""
    data = json.dumps([prompt, answer, model, rubric_version], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class Judge:
    """Judges answers with a model on the rubric, caching every verdict on disk.

    ``backend`` is any backend (an :class:`~cnaps_rag.backends.OpenAIBackend` for a hosted
    or local server); its ``n_ctx`` decides how much of a long prompt and answer fit.
    ``cache_dir`` None caches nothing. Retryable backend errors are retried ``attempts``
    times in all.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
        max_tokens: int = JUDGE_MAX_TOKENS,
        attempts: int = 3,
        max_wait: float = 20.0,
    ):
        self.backend = backend
        self.template = load_template("judge_rubric")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.cache = VerdictCache(self.cache_dir)
        self.max_tokens = max_tokens
        # Closed at every level (cnaps_rag.schemas); OpenAIBackend makes it OpenAI-strict on sending.
        self.schema = json_schema(JudgeReply)
        self.attempts = attempts
        self.max_wait = max_wait
        # Counters are shared by the threads of an evaluation with judge workers.
        self._lock = threading.Lock()
        self._requests = 0
        self.cache_hits = 0
        self.failures = 0
        self.cache_errors = 0
        self._failed_in_a_row = 0
        self._last_error = ""

    @property
    def model(self) -> str:
        """Return the judge model's name."""
        return self.backend.model

    @property
    def rubric_version(self) -> str:
        """Return the rubric's version."""
        return self.template.version

    @property
    def requests(self) -> int:
        """Return how many requests the judge has sent to its backend (retries included)."""
        return self._requests

    # ----------------------------------------------------------------------- cache

    def _cached(self, key: str) -> Judgment | None:
        try:
            return Judgment.model_validate(self._read(key)["judgment"])
        except (ValueError, KeyError, TypeError):
            return None  # none, or a torn or foreign file: judge again and overwrite it

    def _read(self, key: str) -> dict[str, Any]:
        """Return the cached data of ``key``; raise KeyError when there is none (or it is unreadable)."""
        data = self.cache.read(key)
        if data is None:
            raise KeyError(key)
        return data

    def _store(self, key: str, judgment: Judgment) -> None:
        self._write(key, {"key": key, "judgment": judgment.model_dump(mode="json")})

    def _write(self, key: str, data: dict[str, Any]) -> None:
        if self.cache_dir is not None and not self.cache.write(key, data):
            with self._lock:
                self.cache_errors += 1  # a cache that cannot be written costs a rerun, nothing else

    # ----------------------------------------------------------------------- judging

    def _inputs(self, spec: PromptSpec, answer: str) -> tuple[str, str, int, bool]:
        """Return the prompt text and the answer as shown (sentences numbered), how many, whether cut.

        Headings are shown as they are, unnumbered; every other line is split into
        sentences, each on a line of its own as ``[n] sentence``. What does not fit the
        context window is left out: the prompt gets at most half the room.
        """
        budget = max(
            MIN_INPUT_CHARS, (self.backend.n_ctx - self.max_tokens - RUBRIC_TOKENS) * CHARS_PER_TOKEN
        )
        prompt = shorten(spec.raw.strip(), budget // 2)
        room = budget - len(prompt)
        lines: list[str] = []
        numbered = 0
        cut = prompt != spec.raw.strip()
        for line in answer.split("\n"):
            heading = is_heading(line)
            for piece in [line.strip()] if heading else sentences(line):
                if not piece:
                    continue
                shown = piece if heading else f"[{numbered + 1}] {piece}"
                room -= len(shown) + 1
                if room < 0:
                    return prompt, "\n".join(lines), numbered, True
                lines.append(shown)
                numbered += not heading
        return prompt, "\n".join(lines), numbered, cut

    def judge(self, spec: PromptSpec, answer: str) -> tuple[Judgment | None, str | None]:
        """Return the verdict on ``answer`` to ``spec`` (from the cache where it is), or None and why not."""
        key = cache_key(spec.raw, answer, self.model, self.rubric_version)
        cached = self._cached(key)
        if cached is not None:
            with self._lock:
                self.cache_hits += 1
            return cached, None
        if self._failed_in_a_row >= GIVE_UP_AFTER:
            # Each answer still gets its line; the cache keeps what was judged, so a rerun resumes.
            with self._lock:
                self.failures += 1
            reason = f"the judge failed on {self._failed_in_a_row} answers in a row ({self._last_error})"
            return None, f"not asked: {reason}"
        prompt, shown, count, shortened = self._inputs(spec, answer)
        messages = self.template.messages(
            schema=json.dumps(self.schema), prompt=prompt, sentences=shown or "(an empty answer)"
        )
        request = Request(messages=messages, max_tokens=self.max_tokens, schema=self.schema)
        # A caller per verdict: its counters are this verdict's alone, whatever runs beside it.
        caller = Caller(self.backend, attempts=self.attempts, max_wait=self.max_wait)
        try:
            reply = caller.parsed(request, JudgeReply)
        except Exception as exc:
            with self._lock:
                self._requests += caller.generations
                self.failures += 1
                self._failed_in_a_row += 1
                self._last_error = one_line(exc)
            return None, one_line(exc)
        with self._lock:
            self._requests += caller.generations
            self._failed_in_a_row = 0
        unsupported = sorted({n for n in reply.unsupported_sentences if 1 <= n <= count})
        judgment = Judgment(
            model=self.model,
            rubric_version=self.rubric_version,
            scores={c: getattr(reply, c).score for c in CRITERIA},
            reasons={
                **{c: getattr(reply, c).reason for c in CRITERIA},
                "does_what_was_asked": reply.asked_reason,
            },
            sentences=count,
            unsupported_sentences=unsupported,
            supported_share=round(1 - len(unsupported) / count, 6) if count else 1.0,
            does_what_was_asked=reply.does_what_was_asked,
            shortened=shortened,
        )
        self._store(key, judgment)
        return judgment, None

    # ----------------------------------------------------------------------- comparing answers

    def compare(self, spec: PromptSpec, answers: Sequence[tuple[str, str]]) -> tuple[str | None, str | None]:
        """Return the system whose answer the judge picks among ``answers`` ((system, text), shown in
        that order as A, B, ...), or None and why not. Cached like verdicts, the order in the key."""
        shown = list(answers)[: len(LETTERS)]
        letters = list(LETTERS[: len(shown)])
        compare = load_template("judge_compare")
        key = cache_key(spec.raw, json.dumps([text for _, text in shown]), self.model, compare.version)
        try:
            letter = self._read(key)["pick"]
            if letter in letters:
                with self._lock:
                    self.cache_hits += 1
                return shown[letters.index(letter)][0], None
        except KeyError:
            pass
        budget = max(
            MIN_INPUT_CHARS, (self.backend.n_ctx - COMPARE_MAX_TOKENS - RUBRIC_TOKENS) * CHARS_PER_TOKEN
        )
        prompt = shorten(spec.raw.strip(), budget // 2)
        room = max(200, (budget - len(prompt)) // max(1, len(shown)) - 40)
        blocks = [
            f"ANSWER {letter}:\n<<<\n{shorten(text.strip(), room)}\n>>>"
            for letter, (_, text) in zip(letters, shown, strict=True)
        ]
        schema = json_schema(CompareReply)
        schema["properties"]["best"]["enum"] = letters
        messages = compare.messages(schema=json.dumps(schema), prompt=prompt, answers="\n\n".join(blocks))
        request = Request(messages=messages, max_tokens=COMPARE_MAX_TOKENS, schema=schema)
        caller = Caller(self.backend, attempts=self.attempts, max_wait=self.max_wait)
        try:
            reply = caller.parsed(request, CompareReply)
            if reply.best not in letters:
                raise ValueError(f"picked {reply.best!r}, not one of {', '.join(letters)}")
        except Exception as exc:
            with self._lock:
                self._requests += caller.generations
                self.failures += 1
            return None, one_line(exc)
        with self._lock:
            self._requests += caller.generations
        self._write(key, {"key": key, "pick": reply.best, "reason": reply.reason})
        return shown[letters.index(reply.best)][0], None
