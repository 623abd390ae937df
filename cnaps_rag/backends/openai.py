"""The hosted backend: any OpenAI-compatible chat server, through the openai client.

``openai`` is imported only when a backend is built. Provider exceptions become the
package's errors in one place (:func:`normalize_provider_errors`), each saying whether
trying again can help.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import BackendError, ConfigError, TimeLimitError
from ..schemas import openai_strict
from ..text import shorten
from .base import Completion, Request, StructuredMode, check_timeout
from .providers import Provider, provider

DEFAULT_N_CTX = 8192
DEFAULT_TIMEOUT = 600.0
"""Seconds one request may take: the openai client's own default. A capable answer of 2,000
tokens from a CPU server takes minutes (the embedded model on llama.cpp's server: 78 s on 2 cores
under load), so the 60 s this once was timed out every attempt."""
DEFAULT_MODES: tuple[StructuredMode, ...] = ("json_schema", "json_object_schema", "plain_json")
"""The structured output modes tried, in order, on a server of no known provider."""
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")
OPTIONAL_PARAMETERS = ("temperature", "seed")
_REFUSED_PARAMETER = re.compile(r"[Uu]nsupported (?:parameter|value): '(\w+)'")
"""OpenAI's wording when a model refuses a parameter ("Unsupported parameter: 'max_tokens' is
not supported with this model. Use 'max_completion_tokens' instead.") or a value of it
("Unsupported value: 'temperature' does not support 0 with this model...")."""


@contextlib.contextmanager
def normalize_provider_errors(
    base_url: str | None,
    secret: str | None = None,
    *,
    key_env: str = "OPENAI_API_KEY",
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[None]:
    """Turn the openai client's exceptions into BackendError / ConfigError with hints.

    Rate limits, server errors, timeouts, dropped connections and unreadable replies
    are retryable; a bad key or a bad request is not. ``secret`` (the API key) is
    removed from every message, since some servers echo the credentials they got.
    ``key_env`` is the variable a refused key came from, ``timeout`` the request's limit.
    """
    import openai

    where = _display_url(base_url) if base_url else "the OpenAI API"

    def clean(text: str, limit: int = 400) -> str:
        return shorten(" ".join(redact(str(text), secret).split()), limit, "…")

    try:
        yield
    except openai.AuthenticationError as exc:
        raise ConfigError(
            f"{where} refused the API key ({exc.status_code}): {clean(exc.message, 160)}",
            hint=f"set {key_env} to a valid key",
        ) from None
    except openai.RateLimitError as exc:
        raise BackendError(
            f"{where} is rate limiting (429)",
            retryable=True,
            status_code=429,
            retry_after=_retry_after(exc.response),
        ) from None
    except openai.APITimeoutError:
        raise TimeLimitError(
            f"{where} sent no reply within {timeout:g} s", seconds=timeout, retryable=True
        ) from None
    except openai.APIConnectionError:
        raise BackendError(
            f"cannot reach {where} (connection failed or dropped)",
            retryable=True,
            hint="is the server running? check --base-url",
        ) from None
    except openai.APIStatusError as exc:
        retryable = exc.status_code >= 500 or exc.status_code == 408
        raise BackendError(
            f"{where} answered {exc.status_code}: {clean(exc.message)}",
            retryable=retryable,
            status_code=exc.status_code,
            retry_after=_retry_after(exc.response),
        ) from None
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


def _bad_base_url(base_url: str | None, why: str) -> ConfigError:
    return ConfigError(
        f"not a server URL: {_display_url(base_url or '')!r} ({_display_url(why)})",
        hint="pass --base-url http://HOST:PORT/v1 (also $OPENAI_BASE_URL)",
    )


def _check_base_url(base_url: str | None) -> None:
    """Raise ConfigError for a base URL that is no http(s) address: no request could reach it."""
    if base_url is None:
        return
    try:
        parts = urlsplit(base_url)
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


@dataclass
class OpenAIBackend:
    """Any OpenAI-compatible chat server, through the openai client.

    The client's own retries are off (``max_retries=0``): tenacity, in the pipeline,
    decides on ``BackendError.retryable`` so the two do not multiply. The structured output
    modes are decided when the backend is made (:attr:`structured_modes`): a ``provider``
    (:data:`~cnaps_rag.backends.providers.PROVIDERS`) says which it accepts, its URL and its key;
    without one, ``json_schema``, else ``json_object`` with a ``schema`` (llama.cpp's server),
    else plain JSON instructions. Each request walks them in order, so batch worker threads
    sharing the backend never see one another's half-made choice.
    ``timeout`` is the most seconds one request may take (a retryable :class:`TimeLimitError`).
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
    """The ``response_format`` forms a request with a schema tries, in order (set from ``provider``)."""
    n_ctx: int = DEFAULT_N_CTX
    """The server model's context window; servers do not report it, so it is a setting."""
    token_field: str | None = None
    """The request field that caps the reply: ``max_completion_tokens`` for OpenAI's own API
    (its reasoning models refuse ``max_tokens``), else ``max_tokens`` (llama.cpp's server
    ignores the newer name). A server that refuses one gets the other from then on."""
    refused: set[str] = field(default_factory=set)
    """Optional request parameters (temperature, seed) the server refused; left out from then on.
    What a server refuses is learned under a lock and judged against what each request sent,
    so two threads refused at once make one change, not two."""
    _learning: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    provider: str | None = None
    """A row of :data:`~cnaps_rag.backends.providers.PROVIDERS` (``openai``, ``vllm``, ...), or None:
    ``$OPENAI_BASE_URL``, else OpenAI, with ``$OPENAI_API_KEY``."""

    def __post_init__(self) -> None:
        row = provider(self.provider) if self.provider is not None else None
        check_timeout(self.timeout)
        self.base_url = self.base_url or (row.base_url if row else os.environ.get("OPENAI_BASE_URL")) or None
        default_model = row.default_model if row else "gpt-4o-mini"
        self.model = self.model or os.environ.get("CNAPS_RAG_OPENAI_MODEL", "") or default_model or ""
        if not self.model:
            raise ConfigError(f"the {self.provider} provider needs a model name", hint="pass --model NAME")
        if self.client is None:
            _check_base_url(self.base_url)
            key = self.api_key or os.environ.get(self._key_env(row))
            if not key:
                if row is not None and row.needs_key:
                    raise ConfigError(f"the {row.name} provider needs an API key", hint=f"set {row.key_env}")
                if row is None and self.base_url is None:
                    raise ConfigError(
                        "the openai backend needs an API key",
                        hint="set OPENAI_API_KEY, or pass --base-url for a local server",
                    )
                key = "not-needed"  # local servers ignore the key, the client insists on one
            try:
                import openai
            except ImportError:
                raise ConfigError("the openai package is not installed", hint="pip install openai") from None
            try:
                self.client = openai.OpenAI(
                    api_key=key, base_url=self.base_url, max_retries=0, timeout=self.timeout
                )
            except Exception as exc:  # httpx's InvalidURL (not a ValueError) for a bad host or port
                raise _bad_base_url(self.base_url, str(exc)) from None
        if not self.structured_modes:
            self.structured_modes = row.structured_modes if row else DEFAULT_MODES
        if self.token_field is None:
            official = self.base_url is None or "api.openai.com" in self.base_url
            self.token_field = "max_completion_tokens" if official else "max_tokens"

    @staticmethod
    def _key_env(row: Provider | None) -> str:
        return row.key_env if row else "OPENAI_API_KEY"

    def _row(self) -> Provider | None:
        return provider(self.provider) if self.provider is not None else None

    def _secret(self) -> str | None:
        return (
            self.api_key
            or getattr(self.client, "api_key", None)
            or os.environ.get(self._key_env(self._row()))
        )

    def _create(self, request: Request, response_format: dict[str, Any] | None) -> Any:
        # A server that refuses a parameter by name is asked again without it, once per parameter.
        for _ in range(len(OPTIONAL_PARAMETERS) + 2):
            token_field, refused = str(self.token_field), set(self.refused)
            kwargs: dict[str, Any] = {"model": self.model, "messages": request.messages}
            kwargs[token_field] = request.max_tokens
            optional = {"temperature": request.temperature, "seed": request.seed}
            kwargs.update({k: v for k, v in optional.items() if k not in refused})
            if response_format is not None:
                kwargs["response_format"] = response_format
            try:
                with normalize_provider_errors(
                    self.base_url, self._secret(), key_env=self._key_env(self._row()), timeout=self.timeout
                ):
                    return self.client.chat.completions.create(**kwargs)
            except BackendError as exc:
                if not self._adapt(exc, kwargs):
                    raise
        raise BackendError(f"{self.model} refused every form of the request", hint="check --model")

    def _adapt(self, exc: BackendError, sent: dict[str, Any]) -> bool:
        """Return whether ``sent`` can be sent again without what the server refused in ``exc``."""
        if exc.status_code != 400:
            return False
        refused = _REFUSED_PARAMETER.search(exc.message)
        if refused is None or refused.group(1) not in sent:
            return False
        name = refused.group(1)
        with self._learning:
            if name in TOKEN_FIELDS:
                if self.token_field == name:
                    self.token_field = next(f for f in TOKEN_FIELDS if f != name)
                return True
            if name in OPTIONAL_PARAMETERS:
                self.refused.add(name)
                return True
        return False

    def _formats(self, schema: dict[str, Any]) -> list[tuple[StructuredMode, dict[str, Any] | None]]:
        """Return each of :attr:`structured_modes` with the ``response_format`` it sends for ``schema``."""
        formats: dict[StructuredMode, dict[str, Any] | None] = {
            # OpenAI's strict mode refuses some keywords (maxLength) and needs closed objects.
            "json_schema": {
                "type": "json_schema",
                "json_schema": {"name": "draft", "schema": openai_strict(schema), "strict": True},
            },
            "json_object_schema": {"type": "json_object", "schema": schema},
            "plain_json": None,
        }
        return [(mode, formats[mode]) for mode in self.structured_modes]

    def complete(self, request: Request) -> Completion:
        if request.schema is None:
            return self._completion(self._create(request, None), "text")
        formats = self._formats(request.schema)
        for number, (mode, response_format) in enumerate(formats, 1):
            try:
                response = self._create(request, response_format)
            except BackendError as exc:
                if number < len(formats) and _rejects_format(exc):
                    continue  # the server refused this form: the next one may do
                raise
            # A plain_json reply that is no JSON is re-asked by the caller (draft/caller.py), as any is.
            return self._completion(response, mode)
        raise BackendError("the server accepted no structured output mode")

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
    status = exc.status_code
    if status in (400, 422):
        return True
    return status == 500 and ("response_format" in exc.message or "json_schema" in exc.message)
