"""The hosted backend: any OpenAI-compatible chat server, through the openai client (imported lazily).

Every provider and serving engine in :data:`PROVIDERS` speaks that API; ``--provider NAME`` picks
the row (its URL, key variable and structured output modes), and ``--base-url`` wins over its URL.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import BackendError, CnapsRagError, ConfigError, TimeLimitError
from ..schemas import openai_strict
from ..text import shorten
from .base import Completion, Request, StructuredMode, check_timeout


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    key_env: str
    needs_key: bool  # servers on your own machine take a key only when started with one
    structured_modes: tuple[StructuredMode, ...]
    """The ``response_format`` forms it holds a reply to, in the order tried (``plain_json``: the
    schema in the instructions only)."""
    default_model: str | None = None


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
DEFAULT_MODES: tuple[StructuredMode, ...] = ("json_schema", "json_object_schema", "plain_json")
"""The structured output modes tried, in order, on a server of no known provider."""
DEFAULT_TIMEOUT = 600.0
"""Seconds one request may take (the openai client's default): a capable answer of 2,000 tokens
from a CPU server takes minutes."""
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")
OPTIONAL_PARAMETERS = ("temperature", "seed")
_REFUSED_PARAMETER = re.compile(r"[Uu]nsupported (?:parameter|value): '(\w+)'")
"""OpenAI's wording when a model refuses a parameter ("Unsupported parameter: 'max_tokens' is
not supported with this model. Use 'max_completion_tokens' instead.") or a value of it
("Unsupported value: 'temperature' does not support 0 with this model...")."""


def provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise ConfigError(f"unknown provider {name!r}", hint=f"choose one of {', '.join(PROVIDERS)}")
    return PROVIDERS[name]


def redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)


def _display_url(url: str) -> str:
    # Credentials in a URL (https://user:key@host) are never shown.
    return re.sub(r"//[^/@\s]*@", "//***@", url)


def _bad_base_url(base_url: str | None, why: str) -> ConfigError:
    return ConfigError(
        f"not a server URL: {_display_url(base_url or '')!r} ({_display_url(why)})",
        hint="pass --base-url http://HOST:PORT/v1 (also $OPENAI_BASE_URL)",
    )


def _check_base_url(base_url: str | None) -> None:
    """Raise ConfigError for a base URL that is no http(s) address: no request could reach it."""
    try:
        parts = urlsplit(base_url or "http://default")
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise _bad_base_url(base_url, str(exc)) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise _bad_base_url(base_url, "it needs http:// or https:// and a host")


def _retry_after(response: Any) -> float | None:
    try:
        value = response.headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _rejects_format(exc: BackendError) -> bool:
    """Return whether a server refused the response_format itself (so the next mode may work):
    OpenAI-style servers answer 400 or 422, llama.cpp's 500 naming ``response_format``."""
    if exc.status_code in (400, 422):
        return True
    return exc.status_code == 500 and ("response_format" in exc.message or "json_schema" in exc.message)


@dataclass
class OpenAIBackend:
    """Any OpenAI-compatible chat server, through the openai client.

    The client's own retries are off (``max_retries=0``): the draft caller's tenacity decides on
    ``BackendError.retryable``, so the two do not multiply. What a server refuses (a mode, a
    parameter) is learned under a lock, since batch worker threads share the backend.
    """

    name: ClassVar[str] = "openai"
    in_process: ClassVar[bool] = False
    is_embedded: ClassVar[bool] = False
    model: str = ""
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    client: Any = None
    structured_modes: tuple[StructuredMode, ...] = ()
    n_ctx: int = 8192
    """The server model's context window; servers do not report it, so it is a setting."""
    token_field: str | None = None
    """``max_completion_tokens`` for OpenAI's own API (its reasoning models refuse ``max_tokens``),
    else ``max_tokens`` (llama.cpp's server ignores the newer name); a refused one is swapped."""
    refused: set[str] = field(default_factory=set)
    """Optional request parameters (temperature, seed) the server refused."""
    refused_modes: set[StructuredMode] = field(default_factory=set)
    """Structured modes the server refused while a later one passed on the same request."""
    provider: str | None = None
    """A row of :data:`PROVIDERS`, or None: ``$OPENAI_BASE_URL``, else OpenAI."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        row = provider(self.provider) if self.provider is not None else None
        check_timeout(self.timeout)
        self.base_url = self.base_url or (row.base_url if row else os.environ.get("OPENAI_BASE_URL")) or None
        default_model = row.default_model if row else "gpt-4o-mini"
        self.model = self.model or os.environ.get("CNAPS_RAG_OPENAI_MODEL", "") or default_model or ""
        if not self.model:
            raise ConfigError(f"the {self.provider} provider needs a model name", hint="pass --model NAME")
        self.key_env = row.key_env if row else "OPENAI_API_KEY"
        self.api_key = self.api_key or getattr(self.client, "api_key", None) or os.environ.get(self.key_env)
        if self.client is None:
            _check_base_url(self.base_url)
            if not self.api_key and row is not None and row.needs_key:
                raise ConfigError(f"the {row.name} provider needs an API key", hint=f"set {row.key_env}")
            if not self.api_key and row is None and self.base_url is None:
                raise ConfigError(
                    "the openai backend needs an API key",
                    hint="set OPENAI_API_KEY, or pass --base-url for a local server",
                )
            try:
                import openai
            except ImportError:
                raise ConfigError("the openai package is not installed", hint="pip install openai") from None
            try:
                self.client = openai.OpenAI(
                    # local servers ignore the key, the client insists on one
                    api_key=self.api_key or "not-needed",
                    base_url=self.base_url,
                    max_retries=0,
                    timeout=self.timeout,
                )
            except Exception as exc:  # httpx's InvalidURL (not a ValueError) for a bad host or port
                raise _bad_base_url(self.base_url, str(exc)) from None
        self.structured_modes = self.structured_modes or (row.structured_modes if row else DEFAULT_MODES)
        if self.token_field is None:
            official = self.base_url is None or "api.openai.com" in self.base_url
            self.token_field = "max_completion_tokens" if official else "max_tokens"

    def _error(self, exc: Exception) -> CnapsRagError:
        """Return the openai client's exception as a BackendError / ConfigError with a hint; the API
        key is removed from every message, since some servers echo the credentials they got."""
        import openai

        where = _display_url(self.base_url) if self.base_url else "the OpenAI API"

        def clean(text: str, limit: int = 400) -> str:
            return shorten(" ".join(redact(str(text), self.api_key).split()), limit, "…")

        if isinstance(exc, openai.AuthenticationError):
            return ConfigError(
                f"{where} refused the API key ({exc.status_code}): {clean(exc.message, 160)}",
                hint=f"set {self.key_env} to a valid key",
            )
        if isinstance(exc, openai.APITimeoutError):
            return TimeLimitError(
                f"{where} sent no reply within {self.timeout:g} s", seconds=self.timeout, retryable=True
            )
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(
                f"cannot reach {where} (connection failed or dropped)",
                retryable=True,
                hint="is the server running? check --base-url",
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            limited = status == 429
            return BackendError(
                f"{where} is rate limiting (429)"
                if limited
                else f"{where} answered {status}: {clean(exc.message)}",
                retryable=limited or status >= 500 or status == 408,
                status_code=status,
                retry_after=_retry_after(exc.response),
            )
        # A body that is cut short or is not JSON: the next try may be whole.
        return BackendError(f"{where} sent an unreadable reply: {clean(str(exc), 160)}", retryable=True)

    def _create(self, request: Request, response_format: dict[str, Any] | None) -> Any:
        import openai

        # A server that refuses a parameter by name is asked again without it, once per parameter.
        for _ in range(len(OPTIONAL_PARAMETERS) + 2):
            kwargs: dict[str, Any] = {"model": self.model, "messages": request.messages}
            kwargs[str(self.token_field)] = request.max_tokens
            optional = {"temperature": request.temperature, "seed": request.seed}
            kwargs.update({k: v for k, v in optional.items() if k not in self.refused})
            if response_format is not None:
                kwargs["response_format"] = response_format
            try:
                return self.client.chat.completions.create(**kwargs)
            except (openai.APIError, ValueError) as exc:
                error = self._error(exc)
            is_400 = isinstance(error, BackendError) and error.status_code == 400
            refused = _REFUSED_PARAMETER.search(error.message) if is_400 else None
            name = refused.group(1) if refused else ""
            if name not in kwargs or name not in TOKEN_FIELDS + OPTIONAL_PARAMETERS:
                raise error
            with self._lock:
                if name == self.token_field:
                    self.token_field = next(f for f in TOKEN_FIELDS if f != name)
                elif name in OPTIONAL_PARAMETERS:
                    self.refused.add(name)
        raise BackendError(f"{self.model} refused every form of the request", hint="check --model")

    def _formats(self, schema: dict[str, Any]) -> list[tuple[StructuredMode, dict[str, Any] | None]]:
        """Return each mode to try (the last always) with the ``response_format`` it sends."""
        formats: dict[StructuredMode, dict[str, Any] | None] = {
            # OpenAI's strict mode refuses some keywords (maxLength) and needs closed objects.
            "json_schema": {
                "type": "json_schema",
                "json_schema": {"name": "draft", "schema": openai_strict(schema), "strict": True},
            },
            "json_object_schema": {"type": "json_object", "schema": schema},
            "plain_json": None,
        }
        *tried, last = self.structured_modes
        modes = [mode for mode in tried if mode not in self.refused_modes] + [last]
        return [(mode, formats[mode]) for mode in modes]

    def complete(self, request: Request) -> Completion:
        if request.schema is None:
            return self._completion(self._create(request, None), "text")
        formats = self._formats(request.schema)
        for number, (_, response_format) in enumerate(formats, 1):
            try:
                response = self._create(request, response_format)
                break
            except BackendError as exc:
                if number == len(formats) or not _rejects_format(exc):
                    raise  # else the server refused this form: the next one may do
        # Remembered only now: another form of the same request passed, so those forms were refused.
        with self._lock:
            self.refused_modes.update(refused for refused, _ in formats[: number - 1])
        # A plain_json reply that is no JSON is re-asked by the caller (draft/caller.py), as any is.
        return self._completion(response, formats[number - 1][0])

    @staticmethod
    def _completion(response: Any, mode: StructuredMode) -> Completion:
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise BackendError("the server's reply has no message", retryable=True) from None
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            mode=mode,
        )
