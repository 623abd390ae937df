"""What a GGUF file says about itself: its chat template, and whether it is instruction-tuned.

Read from the file's header, without loading the weights or importing llama-cpp-python.
A GGUF converted without ``tokenizer.chat_template`` makes llama-cpp-python fall back to the
llama-2 chat format without a word, and the model then continues the prompt instead of
answering it: :func:`check_chat_template` stops that before the first generation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConfigError

TEMPLATE_KEY = "tokenizer.chat_template"
FORMAT_HINT = "pass --chat-format NAME (llama-cpp-python's names: chatml, gemma, llama-3, mistral-instruct)"
BASE_HINT = f"use an instruction-tuned GGUF; for one converted without its template, {FORMAT_HINT}"

_MAGIC = b"GGUF"
# GGUF value types: their struct code (fixed size), or None for a string (8) and an array (9).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_INSTRUCT_WORDS = ("instruct", "chat", "-it", " it", "sft", "dpo", "rlhf")  # in a fine-tune or model name


@dataclass(frozen=True)
class ModelCard:
    """What a GGUF's metadata says about how to prompt the model (read by ``cnaps-rag doctor``)."""

    name: str | None
    finetune: str | None  # general.finetune: Instruct, it... absent for a base (pretrained) model
    has_chat_template: bool
    base_model: bool  # nothing in the metadata marks the model as instruction-tuned

    def fix(self) -> str:
        return BASE_HINT if self.base_model else FORMAT_HINT

    def lines(self, chat_format: str | None = None) -> list[str]:
        if chat_format is not None:
            template = f"chat template: chat format {chat_format!r} (--chat-format)"
        elif self.has_chat_template:
            template = "chat template: in the GGUF metadata"
        else:
            template = f"chat template: NONE in the GGUF metadata (it would echo the prompt): {FORMAT_HINT}"
        lines = [template]
        if self.base_model:
            named = f", name {self.name!r}" if self.name else ""
            lines.append(
                f"model type: a base model (metadata has no fine-tune name{named}): it continues text "
                "instead of answering, whatever the chat format; use an instruction-tuned GGUF"
            )
        else:
            lines.append(f"model type: instruction-tuned ({self.finetune or self.name})")
        return lines


def _read(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ValueError("the file ends inside its header")
    return data


def _string(file: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", _read(file, 8))
    return _read(file, length).decode("utf-8", errors="replace")


def _value(file: BinaryIO, kind: int) -> Any:
    if kind == _STRING:
        return _string(file)
    if kind == _ARRAY:
        item, count = struct.unpack("<IQ", _read(file, 12))
        if item in _SCALARS:  # skipped: no key this module reads is a numeric array
            file.seek(count * struct.calcsize("<" + _SCALARS[item]), 1)
        else:
            for _ in range(count):  # strings (a vocabulary) have no fixed size: each is walked
                _value(file, item)
        return None
    if kind not in _SCALARS:
        raise ValueError(f"unknown GGUF value type {kind}")
    code = "<" + _SCALARS[kind]
    return struct.unpack(code, _read(file, struct.calcsize(code)))[0]


def read_metadata(path: Path) -> dict[str, Any]:
    """Return the GGUF header's key-value metadata (arrays as None); raise ConfigError if not a GGUF."""
    try:
        with path.open("rb") as file:
            if _read(file, 4) != _MAGIC:
                raise ValueError("no GGUF magic number")
            _version, _tensors, count = struct.unpack("<IQQ", _read(file, 20))
            metadata: dict[str, Any] = {}
            for _ in range(count):
                key = _string(file)
                (kind,) = struct.unpack("<I", _read(file, 4))
                metadata[key] = _value(file, kind)
            return metadata
    except (OSError, ValueError, struct.error) as exc:
        raise ConfigError(f"cannot read model {path}: {exc}", hint="is it a GGUF file?") from None


def model_card(path: Path) -> ModelCard:
    metadata = read_metadata(path)
    name = metadata.get("general.name")
    finetune = metadata.get("general.finetune")
    words = f" {finetune or ''} {name or ''} {Path(path).stem}".lower().replace("_", "-")
    return ModelCard(
        name=str(name) if name else None,
        finetune=str(finetune) if finetune else None,
        has_chat_template=bool(metadata.get(TEMPLATE_KEY)),
        # The issue-21 signal: a base model's metadata has no fine-tune name. Some converters
        # leave it out of instruction-tuned models too, whose name then says so ("Instruct").
        base_model=not finetune and not any(word in words for word in _INSTRUCT_WORDS),
    )


def check_chat_template(path: Path, chat_format: str | None) -> ModelCard:
    """Return the model's card; raise ConfigError when it has no chat template and no format is given."""
    card = model_card(path)
    if not card.has_chat_template and chat_format is None:
        if card.base_model:
            raise ConfigError(
                f"{path.name} has no chat template in its GGUF metadata, and its metadata marks a base "
                "model (no fine-tune name), which continues the prompt instead of answering it",
                hint=BASE_HINT,
            )
        raise ConfigError(f"{path.name} has no chat template in its GGUF metadata", hint=FORMAT_HINT)
    return card
