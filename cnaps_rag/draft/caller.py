"""Call a backend with retries, parse its JSON reply, and add up what the calls cost."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_random_exponential

from ..backends import Backend, Completion, Request
from ..errors import CnapsRagError, DraftFormatError
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
            f"the model's JSON does not match the draft schema: {first_line(str(exc))}"
        ) from None


class Caller:
    """Calls a backend with tenacity retries, and adds up what the calls cost."""

    def __init__(self, backend: Backend, attempts: int, max_wait: float):
        self.backend = backend
        self.attempts = attempts
        self.max_wait = max_wait
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.generations = 0
        self.retries = 0
        self.mode: str | None = None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        # Exponential backoff with full jitter; a server's Retry-After wins when it asks for longer.
        backoff = wait_random_exponential(multiplier=BACKOFF_MULTIPLIER, max=self.max_wait)(state)
        return min(self.max_wait, max(float(retry_after), backoff)) if retry_after is not None else backoff

    def _should_retry(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, DraftFormatError):
            # Asking again helps only where the same request can get another reply.
            return not self.backend.deterministic and state.attempt_number < FORMAT_ATTEMPTS
        return isinstance(exc, CnapsRagError) and exc.retryable

    def parsed(self, request: Request, model: type[Model]) -> Model:
        """Return the reply parsed as ``model``; retry what :meth:`_should_retry` allows."""

        def once() -> Model:
            self.generations += 1
            completion: Completion = self.backend.complete(request)
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            self.mode = completion.mode
            return parse_json(completion.text, model)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=self._should_retry,
            reraise=True,
            before_sleep=lambda _state: setattr(self, "retries", self.retries + 1),
        )
        return retrying(once)
