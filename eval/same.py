"""Show that a change leaves cnaps-rag's outputs as they were, byte for byte.

``python -m eval.same snapshot OUT.json`` writes what the package gives on the real dev set
(``../shared/real-answers/``, read at run time): the guided markdown of its 40 prompts (the
embedded model; ``--no-model`` leaves it out), ``validate``'s text and violations and
``score``'s JSON for all 115 answers, and the eval report (``report.json``, ``report.md`` and
``report.html`` of ``cnaps-rag eval`` on both files and on ``results_dev/``, with the run's own
timings taken out). Take a snapshot before a change and one after, then
``python -m eval.same compare BEFORE.json AFTER.json``:
it prints each output that differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("CNAPS_RAG_REAL_ANSWERS", ROOT.parent / "shared" / "real-answers"))
FILES = ("format1_dev.jsonl", "format2_dev.jsonl")
# What a run measures about itself (seconds, answers per second, dates), not what it reports.
_RUN_FIGURES = re.compile(r'("(?:seconds|elapsed|answers_per_second|generated|created)[a-z_]*":\s*)[^,}\n]+')
_SPEED_LINE = re.compile(r"^.*(?:answers/s|answers per second|generated on|in \d+\.\d+ s).*$", re.M)


def _records() -> list[dict]:
    return [
        json.loads(line) for name in FILES for line in (REAL / name).read_text(encoding="utf-8").splitlines()
    ]


def snapshot(model: bool) -> dict[str, str]:
    """Return every output, each as text, by a stable name."""
    import cnaps_rag

    out: dict[str, str] = {}
    records = _records()
    prompts: dict[str, str] = {}
    for record in records:
        key = f"{record['id']}/{record['system']}"
        prompts.setdefault(record["id"], record["prompt"])
        try:
            spec = cnaps_rag.parse_prompt(record["prompt"])
        except cnaps_rag.CnapsRagError as error:
            out[f"parse {key}"] = str(error)
            continue
        checked = cnaps_rag.validate(record["markdown"], spec)
        out[f"validate {key}"] = checked.model_dump_json()
        out[f"score {key}"] = cnaps_rag.score(record["markdown"], spec).model_dump_json()
    if model:
        for prompt_id, prompt in sorted(prompts.items()):
            try:
                out[f"guided {prompt_id}"] = cnaps_rag.answer(prompt).markdown
            except cnaps_rag.CnapsRagError as error:
                out[f"guided {prompt_id}"] = f"error: {error}"
    runs = {"": [str(REAL / n) for n in FILES], "results_dev ": [str(REAL / "results_dev")]}
    for label, inputs in runs.items():
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "cnaps_rag.cli", "eval", *inputs, "-o", folder]
            subprocess.run(command, check=True, capture_output=True)
            for name in ("report.json", "report.md", "report.html"):
                text = (Path(folder) / name).read_text(encoding="utf-8").replace(folder, "OUT")
                out[f"eval {label}{name}"] = _SPEED_LINE.sub("", _RUN_FIGURES.sub(r"\1_", text))
    return out


def compare(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Return a line for each output that differs between two snapshots."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            lines.append(f"differs: {key}" if key in before and key in after else f"only in one: {key}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    take = sub.add_parser("snapshot")
    take.add_argument("out")
    take.add_argument("--no-model", action="store_true")
    check = sub.add_parser("compare")
    check.add_argument("before")
    check.add_argument("after")
    args = parser.parse_args(argv)
    if args.command == "snapshot":
        outputs = snapshot(model=not args.no_model)
        Path(args.out).write_text(json.dumps(outputs, indent=0, sort_keys=True), encoding="utf-8")
        print(f"{len(outputs)} outputs written to {args.out}")
        return 0
    before = json.loads(Path(args.before).read_text(encoding="utf-8"))
    after = json.loads(Path(args.after).read_text(encoding="utf-8"))
    differs = compare(before, after)
    print("\n".join(differs) or f"all {len(before)} outputs identical")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
