"""What every backend shares: the request, the completion, and the interface (whose attributes
say what a backend can do, so the pipeline asks the backend instead of checking its class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from ..errors import ConfigError

StructuredMode = Literal["grammar", "json_schema", "json_object_schema", "plain_json", "text"]


@dataclass
class Request:
    messages: list[dict[str, str]]
    max_tokens: int = 128
    temperature: float = 0.0
    schema: dict[str, Any] | None = None  # the JSON schema the reply must match; None for free text
    seed: int = 0


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mode: StructuredMode = "text"


class Backend(Protocol):
    name: ClassVar[str]
    in_process: ClassVar[bool]  # the model runs in this process: parallel requests would only queue
    model: str
    n_ctx: int  # the context window in tokens (prompt and reply together)
    is_embedded: bool  # the embedded 135M model, which gets the scaffold strategy by default

    def complete(self, request: Request) -> Completion:
        """Return the model's reply to ``request``; raise BackendError on failure."""
        ...


def check_timeout(seconds: float | None) -> None:
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"timeout must be above 0 seconds, not {seconds:g}", hint="pass --timeout SECONDS")
