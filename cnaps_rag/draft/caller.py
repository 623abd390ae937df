"""Call a backend with retries, parse its JSON reply, and add up what the calls cost.

A reply that breaks the schema is answered with the parse error (``prompts/format_retry.txt``),
so the model is told what was wrong; once the budget is spent, the last error is raised built
again with how many attempts were made and the last reply (:meth:`BackendError.after`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_random_exponential

from ..backends import Backend, Completion, Request
from ..errors import BackendError, CnapsRagError, DraftFormatError
from ..templates import load_template
from ..text import first_line, strip_code_fence

Model = TypeVar("Model", bound=BaseModel)

BACKOFF_MULTIPLIER = 0.5
"""Seconds: the first retry waits up to this, each next one up to twice as long (full jitter)."""
FORMAT_ATTEMPTS = 2
"""A reply that breaks the schema is asked for this many times in all."""


def parse_json(text: str, model: type[Model]) -> Model:
    """Return the first JSON object in a model's reply as ``model``; raise DraftFormatError if none fits."""
    body = strip_code_fence(text)
    start, end = body.find("{"), body.rfind("}")
    if start == -1 or end <= start:
        raise DraftFormatError("the model's reply holds no JSON object")
    try:
        return model.model_validate(json.loads(body[start : end + 1]))
    except (ValueError, ValidationError) as exc:
        raise DraftFormatError(
            f"the model's JSON does not match the schema of {model.__name__}: {first_line(str(exc))}"
        ) from None


class Caller:
    """Calls a backend with tenacity retries, and adds up what the calls cost."""

    def __init__(self, backend: Backend, attempts: int, max_wait: float):
        self.backend = backend
        self.attempts = attempts
        self.max_wait = max_wait
        self.prompt_tokens = self.completion_tokens = self.generations = self.retries = 0
        self.mode: str | None = None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, BackendError) else None
        # Exponential backoff with full jitter; a server's Retry-After wins when it asks for longer.
        backoff = wait_random_exponential(multiplier=BACKOFF_MULTIPLIER, max=self.max_wait)(state)
        return min(self.max_wait, max(float(retry_after), backoff)) if retry_after is not None else backoff

    def _should_retry(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, DraftFormatError):
            # The next attempt sends the parse error back: even a deterministic backend may answer otherwise.
            return state.attempt_number < FORMAT_ATTEMPTS
        return isinstance(exc, CnapsRagError) and exc.retryable

    def complete(self, request: Request) -> Completion:
        """Return one completion of ``request`` (no retry), counting its cost."""
        self.generations += 1
        completion: Completion = self.backend.complete(request)
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.mode = completion.mode
        return completion

    def _call(self, request: Request, model: type[BaseModel] | None) -> Any:
        tries = 0
        last_reply: str | None = None
        current = request

        def once() -> Any:
            nonlocal tries, last_reply, current
            tries += 1
            last_reply = self.complete(current).text
            if model is None:
                return last_reply
            try:
                return parse_json(last_reply, model)
            except DraftFormatError as exc:
                current = format_retry(request, last_reply, exc.message)
                raise

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=self._should_retry,
            reraise=True,
            before_sleep=lambda _state: setattr(self, "retries", self.retries + 1),
        )
        try:
            return retrying(once)
        except BackendError as exc:
            raise exc.after(tries, last_reply) from None

    def text(self, request: Request) -> str:
        """Return the model's reply to ``request`` as text; retry retryable backend errors."""
        return str(self._call(request, None))

    def parsed(self, request: Request, model: type[Model]) -> Model:
        """Return the reply parsed as ``model``; a reply that does not parse is asked for again."""
        result: Model = self._call(request, model)
        return result


def format_retry(request: Request, reply: str, error: str) -> Request:
    """Return ``request`` followed by the model's unusable ``reply`` and what was wrong with it."""
    turns = [{"role": "assistant", "content": reply}, *load_template("format_retry").messages(error=error)]
    return replace(request, messages=[*request.messages, *turns])
