"""The package's errors: one root, a subclass per kind of failure, each with a hint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self  # Python 3.11; the package runs on 3.10 too

EVIDENCE_CHARS = 160
"""How much of the last reply an error's message quotes (``last_reply`` holds it whole)."""


class CnapsRagError(Exception):
    """Root of every error cnaps-rag raises on purpose: ``hint`` says what to do about it,
    ``retryable`` whether trying again can help."""

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
        return text + (f" (hint: {' '.join(self.hint.split())})" if self.hint else "")


class PromptError(CnapsRagError):
    """The input is not a dataset prompt, or lacks a part the answer needs."""


class ConfigError(CnapsRagError):
    """A setting, option, file path or model file is missing or wrong."""


class TemplateError(ConfigError):
    """A prompt template is missing or was given the wrong variables."""


class BackendError(CnapsRagError):
    """The model backend failed: a server error, a timeout, an unusable draft.

    Built with the server's ``status_code`` and ``retry_after`` (seconds) where a server answered,
    and, once retries are spent, ``attempts`` and ``last_reply``, which end the message
    (``reason`` is the message without them).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retryable: bool | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        last_reply: str | None = None,
    ):
        super().__init__(message + _evidence(attempts, last_reply), hint=hint, retryable=retryable)
        self.reason = message
        self.status_code = status_code
        self.retry_after = retry_after
        self.attempts = attempts
        self.last_reply = last_reply

    def after(self, attempts: int, last_reply: str | None) -> Self:
        """Return a copy of this error built with the ``attempts`` made and the last reply."""
        spent = type(self).__new__(type(self))  # with every field a subclass carries (seconds, reasons)
        spent.__dict__.update(self.__dict__)
        spent.attempts, spent.last_reply = attempts, last_reply
        spent.message = self.reason + _evidence(attempts, last_reply)
        spent.args = (spent.message,)
        return spent


def _evidence(attempts: int, last_reply: str | None) -> str:
    if attempts == 1 and last_reply is None:
        return ""  # refused at once, no reply: the message says it all
    from .text import shorten  # here: `import cnaps_rag` loads this module and no other

    evidence = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if last_reply is not None:
        evidence += f"; last reply: {shorten(' '.join(last_reply.split()), EVIDENCE_CHARS, '…')!r}"
    return f" ({evidence})"


class TimeLimitError(BackendError):
    """A generation (local) or a request (hosted) ran past its time limit (``--timeout``)."""

    def __init__(self, message: str, *, seconds: float, **options: Any):
        super().__init__(message, **options)
        self.seconds = seconds


class NotAnAnswerError(BackendError):
    """Every draft the model wrote repeats the prompt, the rules or itself: there is no answer to give."""

    def __init__(self, message: str, *, reasons: list[str], **options: Any):
        super().__init__(message, **options)
        self.reasons = reasons  # why each draft is no answer, in the order they were written


class DraftFormatError(BackendError):
    """The model's reply is not the JSON its schema asks for (a draft's or a judge's)."""


def one_line(exc: BaseException) -> str:
    """Return any exception as one line: the package's own with its hint, others with their type."""
    return (
        exc.one_line() if isinstance(exc, CnapsRagError) else " ".join(f"{type(exc).__name__}: {exc}".split())
    )
