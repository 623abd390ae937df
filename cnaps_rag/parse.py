"""Parse dataset prompts into :class:`PromptSpec`: the question and the sources it allows.

Two formats (:data:`cnaps_rag.spec.PromptFormat`). The second carries debris: a copy of an older
prompt with every line commented out by ``#``, and a stray ``#`` after ``Answer:``; debris is
dropped before parsing and never counts as a second prompt.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

from .errors import PromptError
from .files import read_bytes
from .markdown import PROMPT_HEADING, PROMPT_SECTION_HEADING
from .spec import SECTIONS3, WORKFLOW_SECTIONS, PromptFormat, PromptSpec, Section, Source
from .text import normalize_newlines, trim_url_tail

_START = re.compile(r"^[ \t]*You are an (?:expert )?AI scientist", re.M | re.I)
_END = re.compile(r"^[ \t]*Answer:[ \t]*$", re.M | re.I)
_QUESTION_MARKER = re.compile(r"asked the following question\s*:?", re.I)
_ASKS_MARKER = re.compile(r"^[ \t]*A user asks[ \t]*:?", re.M | re.I)
# A line commented out with a single '#' (markdown headings have two or more): debris.
_DEBRIS = re.compile(r"^[ \t]*#(?!#)(?:[ \t].*)?$")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+\*\*(.+?)\*\*[ \t]*:?[ \t]*$")
_RULE = re.compile(r"^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$")
# Opening quote -> closing quotes that may end the question.
_QUOTES = {'"': '"”', "“": '”"', "„": '“”"', "«": "»", "「": "」", "『": "』", "'": "'’"}
_INSTRUCTION = re.compile(r"^[ \t]*(\d+)[.)][ \t]+(.+?)\s*$")
_FIELD = re.compile(r"^[ \t]*(Model|Paper|GitHub|Github|Code|Summary)[ \t]*:[ \t]?(.*)$", re.I)


def _split_prompts(text: str) -> list[str]:
    """Return the prompts of a dump: they start at 'You are an AI scientist' or follow 'Answer:'."""
    cuts = {0, len(text)}
    cuts.update(m.start() for m in _START.finditer(text))
    cuts.update(m.end() for m in _END.finditer(text))
    chunks: list[str] = []
    for start, end in itertools.pairwise(sorted(cuts)):
        chunk = text[start:end]
        if not chunk.strip():
            continue
        if not _without_debris(chunk).strip():
            # A stray '#' after 'Answer:' belongs to the prompt before; it is not a prompt of its own.
            if chunks:
                chunks[-1] += chunk
            continue
        chunks.append(chunk)
    return chunks


def _without_debris(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _DEBRIS.match(line))


def _clean_url(value: str) -> str | None:
    value = value.strip()
    if value.startswith("<") and ">" in value:
        value = value[1 : value.index(">")]
    value = trim_url_tail(value.strip())
    if not value or value.lower() in {"none", "n/a", "-", "null"}:
        return None
    return value


def _question(text: str, prompt_format: PromptFormat = "sections3") -> str:
    marker = _QUESTION_MARKER.search(text) or _ASKS_MARKER.search(text)
    line = "A user asks:" if prompt_format == "workflow" else "A user has asked the following question:"
    if marker is None:
        raise PromptError(
            f"no question: the prompt has no line '{line}'",
            hint="each prompt needs the user's question in quotes after that line",
        )
    rest = text[marker.end() :].lstrip()
    paragraph = rest.split("\n\n", 1)[0].strip()
    quoted = bool(paragraph) and paragraph[0] in _QUOTES
    if quoted:
        end = max(paragraph.rfind(closer) for closer in _QUOTES[paragraph[0]])
        question = paragraph[1:end] if end > 0 else paragraph[1:]
    else:
        question = paragraph
    question = " ".join(question.split())
    # An unquoted paragraph is the question only if it is not the prompt's next part.
    if (
        not question
        or _INSTRUCTION.match(question)
        or question.startswith("#")
        or (not quoted and (question.endswith(":") or question.lower().startswith("based on the following")))
        # The second format's next part is a bold instruction or a rule line.
        or (not quoted and prompt_format == "workflow" and question.startswith(("**", "---")))
    ):
        raise PromptError(
            f"no question: nothing follows '{line}'",
            hint="put the user's question in quotes on the next line",
        )
    return question


def _sources(lines: list[str], bullets: bool) -> list[Source]:
    """Return the sources listed in ``lines``: ``Model:`` blocks, or ``- **NAME**`` bullets if ``bullets``."""
    sources: list[dict[str, str | None]] = []
    role = "recommended"
    field: str | None = None  # the field of the last source that a plain line continues
    for line in lines:
        bullet = _BULLET.match(line) if bullets else None
        heading = PROMPT_HEADING.match(line)
        match = _FIELD.match(line)
        key, value = (match.group(1).lower(), match.group(2).strip()) if match else ("", "")
        if bullet or key == "model":
            sources.append({"role": role, "name": bullet.group(1).strip() if bullet else value})
            field = "name"
        elif heading:
            title = heading.group(1).lower()
            if "related" in title or "paper" in title:
                role = "related"
            elif "recommend" in title or "model" in title:
                role = "recommended"
            field = None
        elif _END.match(line):
            field = None
        elif match and sources:
            field = {"paper": "paper_url", "github": "github_url", "code": "github_url"}.get(key, "summary")
            sources[-1][field] = value
        elif sources and field == "summary" and line.strip():
            sources[-1]["summary"] = f"{sources[-1]['summary']}\n{line.strip()}".strip()
    result = []
    for number, fields in enumerate(sources, start=1):
        name = " ".join((fields.get("name") or "").split())
        if not name:
            what = "'- **NAME**' bullet" if bullets else "'Model:' line"
            raise PromptError(f"source {number} has an empty {what}")
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


_WORKFLOW_INSTRUCTIONS = {
    "modules": "Define each module's input and output.",
    "justification": "Justify the design with references to the provided papers and tools, with their links.",
}


def _prompt_format(text: str) -> PromptFormat:
    live = _without_debris(text)
    if _ASKS_MARKER.search(live):
        return "workflow"
    for line in live.split("\n"):
        if PROMPT_HEADING.match(line) and "recommend" in line.lower():
            break
        if PROMPT_SECTION_HEADING.match(line):
            return "workflow"
    return "sections3"


def _workflow_instructions(lines: list[str], debris: list[str]) -> tuple[list[Section], list[str]]:
    found: dict[str, tuple[str, list[str]]] = {}
    current: list[str] | None = None
    for line in lines:
        heading = PROMPT_SECTION_HEADING.match(line)
        if heading:
            title = re.sub(r"\s*\([^)]*\)\s*$", "", heading.group(3)).strip().rstrip(":")
            current = []
            found[heading.group(2).upper()] = (title, current)
        elif current is not None and line.strip() and not _RULE.match(line):
            current.append(line.strip())
    # The third instruction survives only in the commented-out copy of the older prompt.
    for line in debris:
        match = re.match(r"^[ \t]*#[ \t]*3[.)][ \t]*(.+?)\s*$", line)
        if match and "3" not in found:
            found["3"] = ("", [match.group(1).replace("**", "")])
    sections, instructions = [], []
    for section in WORKFLOW_SECTIONS:
        title, body = found.get(section.number, ("", []))
        if body and body[-1].endswith(":"):
            body = body[:-1]  # "Use this style:" introduces an example the dataset's prompts lost
        if title:
            section = section.model_copy(update={"title": title})
        sections.append(section)
        text = " ".join(body) or _WORKFLOW_INSTRUCTIONS.get(section.key, "")
        instructions.append(f"{section.number}. {section.title}: {text}".rstrip(": "))
    return sections, instructions


def _no_sources(prompt_format: PromptFormat) -> PromptError:
    workflow = prompt_format == "workflow"
    what = "'- **NAME**' bullets" if workflow else "'Model:' lines"
    fields = "'- **NAME**' bullets and Paper: lines" if workflow else "Model:/Paper:/GitHub: lines"
    return PromptError(
        f"no sources: the prompt lists no {what}",
        hint=f"a prompt needs '### Recommended AI Models:' with {fields}",
    )


def _parse_one(text: str, prompt_id: str | None, warnings: list[str]) -> PromptSpec:
    prompt_format = _prompt_format(text)
    live = _without_debris(text) if prompt_format == "workflow" else text
    question = _question(live, prompt_format)
    lines = [line.rstrip() for line in live.split("\n")]
    # Bullets are sources only in prompts without 'Model:' lines, where a summary cannot hold one.
    bullets = not any((m := _FIELD.match(line)) and m.group(1).lower() == "model" for line in lines)
    first_source = next(
        (i for i, line in enumerate(lines) if _FIELD.match(line) or (bullets and _BULLET.match(line))), None
    )
    sources_start = next(
        (i for i, line in enumerate(lines) if PROMPT_HEADING.match(line) and "recommend" in line.lower()),
        first_source,
    )
    if first_source is None or sources_start is None:
        raise _no_sources(prompt_format)
    if prompt_format == "workflow":
        debris = [line for line in text.split("\n") if _DEBRIS.match(line)]
        sections, instructions = _workflow_instructions(lines[:sources_start], debris)
    else:
        sections = list(SECTIONS3)
        instructions = [m.group(2) for line in lines[:sources_start] if (m := _INSTRUCTION.match(line))]
    sources = _sources(lines[sources_start:], bullets)
    if not sources:  # Paper: or GitHub: lines, but no source that they belong to
        raise _no_sources(prompt_format)
    return PromptSpec(
        id=prompt_id or hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16],
        question=question,
        instructions=instructions,
        sources=sources,
        raw=text,
        warnings=warnings,
        format=prompt_format,
        sections=sections,
    )


def _as_text(data: str | bytes) -> tuple[str, list[str]]:
    """Return the prompt as text (bytes: UTF-8, else cp1252, else latin-1, said in a warning)."""
    warnings: list[str] = []
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            encoding = "cp1252"
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                encoding, text = "latin-1", data.decode("latin-1")  # latin-1 decodes every byte
            warnings.append(f"not UTF-8 (first bad byte at offset {exc.start}); decoded as {encoding}")
    text = normalize_newlines(text).lstrip("\ufeff")
    if not text.strip():
        raise PromptError("the prompt is empty", hint="give a file holding a dataset prompt")
    if "\x00" in text:
        raise PromptError("the prompt is binary data (it holds NUL bytes), not text")
    sample = text[:4096]
    if sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t\f\v") / len(sample) > 0.05:
        raise PromptError("the prompt is binary data, not text")
    return text, warnings


def parse_prompt(text: str | bytes, *, prompt_id: str | None = None) -> PromptSpec:
    """Return the :class:`PromptSpec` of one dataset prompt (its id a hash of its content unless given).

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
    """Return every prompt in ``text``, a dump of prompts back to back; with ``id_prefix`` the ids are
    ``{id_prefix}`` for a single prompt and ``{id_prefix}#{n}`` (n from 1) for several."""
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
