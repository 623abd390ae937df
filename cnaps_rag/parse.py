"""Parse dataset prompts into :class:`PromptSpec`: the question and the sources it allows."""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

from .errors import PromptError
from .files import read_bytes
from .spec import PromptSpec, Source

_START = re.compile(r"^[ \t]*You are an AI scientist", re.M | re.I)
_END = re.compile(r"^[ \t]*Answer:[ \t]*$", re.M | re.I)
_QUESTION_MARKER = re.compile(r"asked the following question\s*:?", re.I)
# Opening quote -> closing quotes that may end the question.
_QUOTES = {'"': '"”', "“": '”"', "„": '“”"', "«": "»", "「": "」", "『": "』", "'": "'’"}
_INSTRUCTION = re.compile(r"^[ \t]*(\d+)[.)][ \t]+(.+?)\s*$")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*(.*?)[ \t]*:?[ \t]*$")
_FIELD = re.compile(r"^[ \t]*(Model|Paper|GitHub|Github|Code|Summary)[ \t]*:[ \t]?(.*)$", re.I)
_TRAILING_URL_PUNCT = ".,;:!?\"'"


def read_prompt_bytes(data: bytes) -> tuple[str, list[str]]:
    """Return ``data`` decoded as text plus warnings about how it was decoded.

    UTF-8 (with or without BOM) first; bytes that are not UTF-8 fall back to
    cp1252, then latin-1, and say so. Binary data raises :class:`PromptError`.
    """
    if not data.strip():
        raise PromptError("the prompt is empty", hint="give a file holding a dataset prompt")
    if b"\x00" in data:
        raise PromptError("the prompt is binary data (it holds NUL bytes), not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        where = exc.start
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, [f"not UTF-8 (first bad byte at offset {where}); decoded as {encoding}"]
    raise PromptError("the prompt is not decodable text")  # pragma: no cover - latin-1 decodes all


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t\f\v")
    return controls / len(sample) > 0.05


def _split_prompts(text: str) -> list[str]:
    """Return the prompts of a dump: they start at 'You are an AI scientist' or follow 'Answer:'."""
    cuts = {0, len(text)}
    cuts.update(m.start() for m in _START.finditer(text))
    cuts.update(m.end() for m in _END.finditer(text))
    bounds = sorted(cuts)
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    return [c for c in chunks if c.strip()]


def _clean_url(value: str) -> str | None:
    value = value.strip()
    if value.startswith("<") and ">" in value:
        value = value[1 : value.index(">")]
    value = value.strip().rstrip(_TRAILING_URL_PUNCT)
    if value.endswith(")") and value.count("(") < value.count(")"):
        value = value[:-1]
    if not value or value.lower() in {"none", "n/a", "-", "null"}:
        return None
    return value


def _question(text: str) -> str:
    marker = _QUESTION_MARKER.search(text)
    if marker is None:
        raise PromptError(
            "no question: the prompt has no line 'A user has asked the following question:'",
            hint="each prompt needs the user's question in quotes after that line",
        )
    rest = text[marker.end() :].lstrip()
    paragraph = rest.split("\n\n", 1)[0].strip()
    if paragraph and paragraph[0] in _QUOTES:
        closers = _QUOTES[paragraph[0]]
        end = max(paragraph.rfind(c) for c in closers)
        question = paragraph[1:end] if end > 0 else paragraph[1:]
    else:
        question = paragraph
    question = " ".join(question.split())
    quoted = bool(paragraph) and paragraph[0] in _QUOTES
    # An unquoted paragraph is the question only if it is not the prompt's next part.
    if (
        not question
        or _INSTRUCTION.match(question)
        or question.startswith("#")
        or (not quoted and (question.endswith(":") or question.lower().startswith("based on the following")))
    ):
        raise PromptError(
            "no question: nothing follows 'A user has asked the following question:'",
            hint="put the user's question in quotes on the next line",
        )
    return question


def _sources(lines: list[str]) -> list[Source]:
    sources: list[dict[str, str | None]] = []
    role = "recommended"
    current: dict[str, str | None] | None = None
    field: str | None = None
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(1).lower()
            if "related" in title or "paper" in title:
                role = "related"
            elif "recommend" in title or "model" in title:
                role = "recommended"
            field = None
            continue
        if _END.match(line):
            field = None
            continue
        match = _FIELD.match(line)
        if match:
            key, value = match.group(1).lower(), match.group(2).strip()
            if key == "model":
                current = {"role": role, "name": value}
                sources.append(current)
                field = "name"
            elif current is not None:
                field = {"paper": "paper_url", "github": "github_url", "code": "github_url"}.get(
                    key, "summary"
                )
                current[field] = value
            continue
        if current is not None and field == "summary" and line.strip():
            current["summary"] = f"{current['summary']}\n{line.strip()}".strip()
    result = []
    for number, fields in enumerate(sources, start=1):
        name = " ".join((fields.get("name") or "").split())
        if not name:
            raise PromptError(f"source {number} has an empty 'Model:' line")
        summary = fields.get("summary")
        result.append(
            Source(
                id=f"S{number}",
                role=fields["role"],  # type: ignore[arg-type]
                name=name,
                paper_url=_clean_url(fields.get("paper_url") or ""),
                github_url=_clean_url(fields.get("github_url") or ""),
                summary=summary.strip() or None if summary else None,
            )
        )
    return result


def _content_id(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


def _parse_one(text: str, prompt_id: str | None, warnings: list[str]) -> PromptSpec:
    question = _question(text)
    lines = [line.rstrip() for line in text.split("\n")]
    first_source = next((i for i, line in enumerate(lines) if _FIELD.match(line)), None)
    sources_start = next(
        (i for i, line in enumerate(lines) if _HEADING.match(line) and "recommend" in line.lower()),
        first_source,
    )
    if first_source is None or sources_start is None:
        raise PromptError(
            "no sources: the prompt lists no 'Model:' lines",
            hint="a prompt needs '### Recommended AI Models:' with Model:/Paper:/GitHub: lines",
        )
    instructions = [m.group(2) for line in lines[:sources_start] if (m := _INSTRUCTION.match(line))]
    sources = _sources(lines[sources_start:])
    return PromptSpec(
        id=prompt_id or _content_id(text),
        question=question,
        instructions=instructions,
        sources=sources,
        raw=text,
        warnings=warnings,
    )


def _as_text(text: str | bytes) -> tuple[str, list[str]]:
    if isinstance(text, bytes):
        decoded, warnings = read_prompt_bytes(text)
    else:
        decoded, warnings = text, []
    decoded = _normalise_newlines(decoded)
    if not decoded.strip():
        raise PromptError("the prompt is empty", hint="give a file holding a dataset prompt")
    if "\x00" in decoded or _looks_binary(decoded):
        raise PromptError("the prompt is binary data, not text")
    return decoded, warnings


def parse_prompt(text: str | bytes, *, prompt_id: str | None = None) -> PromptSpec:
    """Return the :class:`PromptSpec` of one dataset prompt.

    ``prompt_id`` names it; without one the id is a hash of its content.
    Raises :class:`PromptError` when the text is not such a prompt, or holds several.
    """
    decoded, warnings = _as_text(text)
    chunks = _split_prompts(decoded)
    if len(chunks) > 1:
        raise PromptError(
            f"the text holds {len(chunks)} prompts, expected one",
            hint="use parse_prompts() or `cnaps-rag batch` for a file of several prompts",
        )
    return _parse_one(chunks[0] if chunks else decoded, prompt_id, warnings)


def parse_prompts(text: str | bytes, *, id_prefix: str | None = None) -> list[PromptSpec]:
    """Return every prompt in ``text``, a dump of prompts back to back.

    With ``id_prefix`` the ids are ``{id_prefix}`` for a single prompt and
    ``{id_prefix}#{n}`` (n from 1) for several; otherwise content hashes.
    """
    decoded, warnings = _as_text(text)
    chunks = _split_prompts(decoded)
    if not chunks:
        raise PromptError("the text holds no prompt")
    specs = []
    for number, chunk in enumerate(chunks, start=1):
        prompt_id = None
        if id_prefix is not None:
            prompt_id = id_prefix if len(chunks) == 1 else f"{id_prefix}#{number}"
        try:
            specs.append(_parse_one(chunk, prompt_id, list(warnings)))
        except PromptError as exc:
            if len(chunks) == 1:
                raise
            raise PromptError(f"prompt {number} of {len(chunks)}: {exc.message}", hint=exc.hint) from exc
    return specs


def load_prompt_file(path: str | Path) -> list[PromptSpec]:
    """Return the prompts in a file; ids come from the file name (``name`` or ``name#n``)."""
    path = Path(path)
    data = read_bytes(path)
    try:
        return parse_prompts(data, id_prefix=path.stem)
    except PromptError as exc:
        raise PromptError(f"{path}: {exc.message}", hint=exc.hint) from None
