"""The package's errors: one root, a subclass per kind of failure, each with a hint."""

from __future__ import annotations


class CnapsRagError(Exception):
    """Root of every error cnaps-rag raises on purpose.

    ``hint`` tells the user what to do about it; ``retryable`` tells the retry
    policy whether trying again can help.
    """

    retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if retryable is not None:
            self.retryable = retryable

    def one_line(self) -> str:
        """Return the message and hint on one line, for the CLI and batch records."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class PromptError(CnapsRagError):
    """The input is not a dataset prompt, or lacks a part the answer needs."""


class ConfigError(CnapsRagError):
    """A setting, option, file path or model file is missing or wrong."""


class TemplateError(ConfigError):
    """A prompt template is missing or was given the wrong variables."""


class BackendError(CnapsRagError):
    """The model backend failed: a server error, a timeout, an unusable draft."""

    attempts: int = 1
    """How many times the request was sent before this error was raised."""
    last_reply: str | None = None
    """The model's last reply, where there was one (a reply that broke the schema)."""


class TimeLimitError(BackendError):
    """A generation (local) or a request (hosted) ran past its time limit (``--timeout``)."""

    def __init__(
        self, message: str, *, seconds: float, hint: str | None = None, retryable: bool | None = None
    ):
        super().__init__(message, hint=hint, retryable=retryable)
        self.seconds = seconds


class NotAnAnswerError(BackendError):
    """Every draft the model wrote repeats the prompt, the rules or itself: there is no answer to give."""

    def __init__(self, message: str, *, reasons: list[str], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.reasons = reasons
        """Why each draft is no answer, in the order they were written."""


class DraftFormatError(BackendError):
    """The model's reply is not the JSON its schema asks for (a draft's or a judge's)."""


def one_line(exc: BaseException) -> str:
    """Return any exception as one line: the package's own with its hint, others with their type."""
    if isinstance(exc, CnapsRagError):
        return exc.one_line()
    return " ".join(f"{type(exc).__name__}: {exc}".split())
