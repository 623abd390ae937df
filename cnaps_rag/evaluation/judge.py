"""An optional judge: a model scores each answer on a versioned rubric, for what rules cannot see.

The rubric (``prompts/judge_rubric.txt``) asks for five criteria scored 1 to 5 with a reason each,
the answer's sentences the sources do not support, and whether it does what was asked; a panel's
judge also picks the best of several answers (``prompts/judge_compare.txt``). Verdicts are cached
by (prompt, answer, model, template version): a change to a template or to what the judge is
shown (:meth:`Judge._shown`) bumps its ``#version:``. A failure is one line for the answer's row,
not cached; after :data:`~cnaps_rag.cache.GIVE_UP_AFTER` in a row the judge asks no more in this
run (a dead server costs seconds, not hours).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..backends import Backend, Request
from ..cache import AskedModel, cache_key
from ..markdown import is_heading
from ..schemas import json_schema
from ..spec import PromptSpec
from ..templates import load_template
from ..text import CHARS_PER_TOKEN, sentences, shorten
from .models import CRITERIA, CompareReply, JudgeReply, Judgment

DEFAULT_CACHE_DIR = Path(".cnaps-rag-cache") / "judge"
JUDGE_MAX_TOKENS = 600  # five short reasons, a list of numbers, a verdict and its reason
COMPARE_MAX_TOKENS = 200  # a one-line reason and a letter
RUBRIC_TOKENS = 1000  # what the template and its schema take besides the prompt and the answer
MIN_INPUT_CHARS = 2000  # the least room prompt and answer get together, however small the context
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Judge(AskedModel):
    """Judges answers with a model on the rubric, caching every verdict on disk.

    ``backend`` is any backend; its ``n_ctx`` decides how much of a long prompt and answer fit.
    ``cache_dir`` None caches nothing. Retryable backend errors are tried ``attempts`` times in all.
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
        super().__init__(backend, cache_dir, attempts, max_wait)
        self.template = load_template("judge_rubric")
        self.rubric_version = self.template.version
        self.max_tokens = max_tokens
        # Closed at every level (cnaps_rag.schemas); OpenAIBackend makes it OpenAI-strict on sending.
        self.schema = json_schema(JudgeReply)

    def _prompt(self, spec: PromptSpec, max_tokens: int) -> tuple[str, int]:
        """Return the prompt as shown (at most half the room) and the room left for the answers."""
        budget = max(MIN_INPUT_CHARS, (self.backend.n_ctx - max_tokens - RUBRIC_TOKENS) * CHARS_PER_TOKEN)
        prompt = shorten(spec.raw.strip(), budget // 2)
        return prompt, budget - len(prompt)

    def _shown(self, spec: PromptSpec, answer: str) -> tuple[str, str, int, bool]:
        """Return the prompt and the answer as shown (sentences numbered), how many, whether cut.

        Headings are shown as they are, unnumbered; every other line is split into sentences,
        each on a line of its own as ``[n] sentence``. What does not fit the context is left out.
        """
        prompt, room = self._prompt(spec, self.max_tokens)
        lines: list[str] = []
        numbered = 0
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
        return prompt, "\n".join(lines), numbered, prompt != spec.raw.strip()

    def judge(self, spec: PromptSpec, answer: str) -> tuple[Judgment | None, str | None]:
        """Return the verdict on ``answer`` to ``spec`` (from the cache where it is), or None and why not."""
        key = cache_key(spec.raw, answer, self.model, self.rubric_version)
        cached = self.cached(key, lambda data: Judgment.model_validate(data["judgment"]))
        if cached is not None:
            return cached, None
        if self.given_up():
            # Each answer still gets its line; the cache keeps what was judged, so a rerun resumes.
            with self._lock:
                self.failures += 1
            reason = f"the judge failed on {self.failed_in_a_row} answers in a row ({self.last_error})"
            return None, f"not asked: {reason}"
        prompt, shown, count, shortened = self._shown(spec, answer)
        messages = self.template.messages(
            schema=json.dumps(self.schema), prompt=prompt, sentences=shown or "(an empty answer)"
        )
        reply, error = self.ask(
            Request(messages=messages, max_tokens=self.max_tokens, schema=self.schema), JudgeReply
        )
        if reply is None:
            return None, error
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
        self.store(key, {"key": key, "judgment": judgment.model_dump(mode="json")})
        return judgment, None

    def compare(self, spec: PromptSpec, answers: Sequence[tuple[str, str]]) -> tuple[str | None, str | None]:
        """Return the system whose answer the judge picks among ``answers`` ((system, text), shown in
        that order as A, B, ...), or None and why not. Cached like verdicts, the order in the key."""
        shown = list(answers)[: len(LETTERS)]
        letters = list(LETTERS[: len(shown)])
        template = load_template("judge_compare")
        key = cache_key(spec.raw, json.dumps([text for _, text in shown]), self.model, template.version)
        picked = self.cached(key, lambda data: letters.index(data["pick"]))
        if picked is not None:
            return shown[picked][0], None
        prompt, room = self._prompt(spec, COMPARE_MAX_TOKENS)
        room = max(200, room // max(1, len(shown)) - 40)
        blocks = [
            f"ANSWER {letter}:\n<<<\n{shorten(text.strip(), room)}\n>>>"
            for letter, (_, text) in zip(letters, shown, strict=True)
        ]
        schema = json_schema(CompareReply)
        schema["properties"]["best"]["enum"] = letters
        messages = template.messages(schema=json.dumps(schema), prompt=prompt, answers="\n\n".join(blocks))
        reply, error = self.ask(
            Request(messages=messages, max_tokens=COMPARE_MAX_TOKENS, schema=schema), CompareReply
        )
        if reply is None:
            return None, error
        if reply.best not in letters:
            with self._lock:
                self.failures += 1
            return None, f"ValueError: picked {reply.best!r}, not one of {', '.join(letters)}"
        self.store(key, {"key": key, "pick": reply.best, "reason": reply.reason})
        return shown[letters.index(reply.best)][0], None
