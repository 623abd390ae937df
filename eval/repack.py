"""Speed with llama.cpp's weight repacking on and off, as a ratio in one run.

``python -m eval.repack [--repeat N] [--json]`` loads the embedded model twice (repacking
on, repacking off) and, for comparison, a Q4_0 copy of it (made in a temporary folder
with llama.cpp's own quantizer: Q4_0 is a type llama.cpp repacks on AVX2 CPUs, Q4_1 is
not). Each pair answers the same ~300-token prompt, alternating which goes first, from
an emptied KV cache; each side keeps its fastest repetition. The ratio off/on is the
figure to read: above 1 means repacking off is slower.

On a CPU with AMX, repacking on crashes a native build: this script then only measures
"off" unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cnaps_rag.backends.local import embedded_model_path
from cnaps_rag.backends.native import AMX_FLAGS, cpu_flags, model_params, system_info

PROMPT = " ".join(
    ["A user wants to upscale a blurry photograph by a factor of two and remove the motion blur first."] * 15
)


def quantize_q4_0(source: Path, folder: Path) -> Path:
    """Return a Q4_0 copy of the GGUF ``source``, written into ``folder``."""
    import llama_cpp.llama_cpp as native

    target = folder / "model-q4_0.gguf"
    params = native.llama_model_quantize_default_params()
    params.ftype = native.LLAMA_FTYPE_MOSTLY_Q4_0
    params.allow_requantize = True
    if native.llama_model_quantize(str(source).encode(), str(target).encode(), params) != 0:
        raise RuntimeError(f"llama_model_quantize failed for {source}")
    return target


def _load(path: Path, repack: bool) -> Any:
    from llama_cpp import Llama

    with model_params(repack):
        return Llama(model_path=str(path), n_ctx=1024, n_batch=512, verbose=False, seed=0)


def _timed(llama: Any, max_tokens: int) -> tuple[float, int, int]:
    llama.reset()
    started = time.perf_counter()
    out = llama(PROMPT, max_tokens=max_tokens, temperature=0.0)
    seconds = time.perf_counter() - started
    return seconds, out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"]


def measure(path: Path, repeat: int, max_tokens: int, sides: tuple[bool, ...]) -> dict[str, Any]:
    """Return the fastest seconds per side (repacking on/off) for ``path``, interleaved."""
    models = {repack: _load(path, repack) for repack in sides}
    best: dict[bool, float] = {}
    tokens: dict[bool, tuple[int, int]] = {}
    for index in range(repeat):
        order = sides if index % 2 == 0 else tuple(reversed(sides))
        for repack in order:
            seconds, prompt_tokens, completion_tokens = _timed(models[repack], max_tokens)
            best[repack] = min(best.get(repack, seconds), seconds)
            tokens[repack] = (prompt_tokens, completion_tokens)
    for llama in models.values():
        llama.close()
    row: dict[str, Any] = {"model": path.name, "bytes": path.stat().st_size}
    for repack in sides:
        label = "on" if repack else "off"
        row[f"seconds_{label}"] = round(best[repack], 4)
        row[f"tokens_{label}"] = tokens[repack]
    if len(sides) == 2:
        row["ratio_off_over_on"] = round(best[False] / best[True], 3)
    return row


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table (or JSON); return 0."""
    parser = argparse.ArgumentParser(prog="python -m eval.repack", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per side (default 7)")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens generated per run (default 32)")
    parser.add_argument("--force", action="store_true", help="measure repacking on even on an AMX CPU")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    amx = sorted(cpu_flags() & AMX_FLAGS)
    sides = (False,) if amx and not args.force else (True, False)
    embedded = embedded_model_path()
    rows = [measure(embedded, args.repeat, args.max_tokens, sides)]
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(measure(quantize_q4_0(embedded, Path(tmp)), args.repeat, args.max_tokens, sides))
    report = {"system_info": system_info(), "amx": amx, "repeat": args.repeat, "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"llama.cpp: {report['system_info']}")
    print("| model | repacking on, s | repacking off, s | off / on |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        on = row.get("seconds_on", "-")
        print(f"| {row['model']} | {on} | {row['seconds_off']} | {row.get('ratio_off_over_on', '-')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
