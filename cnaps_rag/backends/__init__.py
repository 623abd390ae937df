"""Model backends: one small interface (:class:`Backend`), two implementations, imported lazily.

``local`` runs a GGUF file in-process with llama-cpp-python (the embedded SmolLM2-135M by
default); ``openai`` talks to any OpenAI-compatible server. ``llama_cpp`` and ``openai`` are
imported only when a backend of that kind is built or used.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Backend, Completion, Request, StructuredMode
from .local import LocalBackend, embedded_model_path
from .openai import OpenAIBackend

BACKENDS: dict[str, type] = {"local": LocalBackend, "openai": OpenAIBackend}

__all__ = ["BACKENDS", "Backend", "Completion", "LocalBackend", "OpenAIBackend", "Request", "StructuredMode"]
__all__ += ["embedded_model_path", "make_backend", "resolve_backend"]


def resolve_backend(
    backend: str | Backend,
    *,
    model: str | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    chat_format: str | None = None,
    timeout: float | None = None,
) -> Backend:
    """Return ``backend`` itself, or a new one by registry name, refusing the other backend's options.

    ``model`` is a GGUF path for ``local`` and a model name for ``openai``.
    """
    if not isinstance(backend, str):
        return backend
    if backend == "local":
        if provider is not None:
            raise ConfigError(
                f"--provider {provider} is for the openai backend", hint="pass --backend openai"
            )
        return make_backend(backend, model_path=model, chat_format=chat_format, timeout=timeout)
    if chat_format is not None:
        hint = "a server applies its own model's chat template"
        raise ConfigError("--chat-format is for a local GGUF model", hint=hint)
    return make_backend(backend, model=model, base_url=base_url, provider=provider, timeout=timeout)


def make_backend(name: str = "local", **options: Any) -> Backend:
    """Return a backend by registry name, built with ``options`` (None values are dropped)."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}", hint=f"choose one of {', '.join(BACKENDS)}")
    backend: Backend = BACKENDS[name](**{k: v for k, v in options.items() if v is not None})
    return backend
