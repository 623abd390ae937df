"""Where each hosted provider or serving engine is, which key it takes, and what JSON it can hold to.

Every one of them speaks the OpenAI chat API, so one backend (:class:`~cnaps_rag.backends.openai.
OpenAIBackend`) drives them all; ``--provider NAME`` picks the row, and ``--base-url`` still wins
over the row's URL (a server on another host or port).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .base import StructuredMode


@dataclass(frozen=True)
class Provider:
    """One row of :data:`PROVIDERS`."""

    name: str
    base_url: str
    key_env: str
    """The environment variable holding the API key."""
    needs_key: bool
    """False for servers on your own machine, which take a key only when started with one."""
    structured_modes: tuple[StructuredMode, ...]
    """The ``response_format`` forms it holds a reply to, tried in this order (``plain_json``:
    the schema in the instructions only; a reply that is no JSON is re-asked by the caller)."""
    default_model: str | None = None
    """The model asked for when none is given; None where the user must name one."""


_ROWS = (
    Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", True, ("json_schema", "plain_json"),
             default_model="gpt-4o-mini"),
    # Anthropic's OpenAI-compatible endpoint ignores response_format: instructions only.
    Provider("anthropic", "https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY", True, ("plain_json",)),
    Provider("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", True,
             ("json_schema", "plain_json")),
    Provider("ollama", "http://localhost:11434/v1", "OLLAMA_API_KEY", False, ("json_schema", "plain_json")),
    Provider("vllm", "http://localhost:8000/v1", "VLLM_API_KEY", False, ("json_schema", "plain_json")),
    # llama.cpp's llama-server and llama-cpp-python's server both take a json_object with a schema
    # (a grammar); llama-cpp-python's refuses json_schema. Neither checks the model's name.
    Provider("llamacpp", "http://localhost:8080/v1", "LLAMA_API_KEY", False,
             ("json_object_schema", "json_schema", "plain_json"), default_model="local"),
)  # fmt: skip
PROVIDERS: dict[str, Provider] = {row.name: row for row in _ROWS}


def provider(name: str) -> Provider:
    """Return the provider called ``name``; raise ConfigError for an unknown one."""
    try:
        return PROVIDERS[name]
    except KeyError:
        choices = ", ".join(PROVIDERS)
        raise ConfigError(f"unknown provider {name!r}", hint=f"choose one of {choices}") from None
