"""Model backends: one small interface (:class:`Backend`) and a registry of two.

``local`` runs a GGUF file in-process with llama-cpp-python; ``openai`` talks to any
OpenAI-compatible server. ``llama_cpp`` and ``openai`` are imported only when one is built.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Backend, Completion, Request, StructuredMode
from .local import LocalBackend, embedded_model_path
from .openai import OpenAIBackend

BACKENDS: dict[str, type] = {"local": LocalBackend, "openai": OpenAIBackend}

__all__ = ["BACKENDS", "Backend", "Completion", "LocalBackend", "OpenAIBackend", "Request", "StructuredMode"]
__all__ += ["embedded_model_path", "resolve_backend"]


def resolve_backend(
    backend: str | Backend,
    *,
    model: str | None = None,
    base_url: str | None = None,
    provider: str | None = None,
    chat_format: str | None = None,
    timeout: float | None = None,
    n_ctx: int | None = None,
) -> Backend:
    """Return ``backend`` itself, or a new one by registry name, refusing the other backend's options.

    ``model`` is a GGUF path for ``local`` and a model name for ``openai``; None means the default.
    """
    if not isinstance(backend, str):
        return backend
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}", hint=f"choose one of {', '.join(BACKENDS)}")
    options: dict[str, Any] = {"timeout": timeout, "n_ctx": n_ctx}
    if backend == "local":
        for flag, value in (("--provider", provider), ("--base-url", base_url)):
            if value is not None:
                raise ConfigError(f"{flag} {value} is for the openai backend", hint="pass --backend openai")
        options.update(model_path=model, chat_format=chat_format)
    else:
        if chat_format is not None:
            hint = "a server applies its own model's chat template"
            raise ConfigError("--chat-format is for a local GGUF model", hint=hint)
        options.update(model=model, base_url=base_url, provider=provider)
    chosen: Backend = BACKENDS[backend](**{k: v for k, v in options.items() if v is not None})
    return chosen
