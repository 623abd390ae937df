"""Measure the validator on the labelled answers in fixtures/labelled/answers.jsonl.

Each record plants unsourced URLs and model names (which must be stripped) and
uses sourced ones (which must survive). Prints strip recall per kind and the false
strips of sourced items. Run: ``python -m eval.labelled [--json]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cnaps_rag import load_prompt_file, validate
from cnaps_rag.links import url_key
from cnaps_rag.names import name_key

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "fixtures" / "labelled" / "answers.jsonl"
PROMPTS = ROOT / "fixtures" / "prompts"


def _key(kind: str, value: str) -> str:
    return url_key(value) if kind == "url" else name_key(value)


def measure(path: Path = LABELLED) -> dict:
    """Return recall per kind, false strips, and the misses, over the labelled set."""
    totals = {"url": [0, 0], "model": [0, 0]}
    legit = {"url": [0, 0], "model": [0, 0]}
    misses: list[dict] = []
    false_strips: list[dict] = []
    collateral = {"url": 0, "model": 0}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        spec = load_prompt_file(PROMPTS / record["prompt"])[0]
        result = validate(record["answer"], spec)
        flagged_keys = {(v.kind, _key(v.kind, v.value)) for v in result.violations}
        for item in record["planted"]:
            totals[item["kind"]][1] += 1
            if item["value"] not in result.text:
                totals[item["kind"]][0] += 1
            else:
                misses.append({"id": record["id"], **item})
        for item in record["legit"]:
            legit[item["kind"]][1] += 1
            if (item["kind"], _key(item["kind"], item["value"])) in flagged_keys:
                legit[item["kind"]][0] += 1
                false_strips.append({"id": record["id"], **item})
            elif item["value"] not in result.text:
                collateral[item["kind"]] += 1
    return {
        "answers": sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()),
        "url_strip_recall": totals["url"][0] / max(1, totals["url"][1]),
        "model_strip_recall": totals["model"][0] / max(1, totals["model"][1]),
        "planted": {k: v[1] for k, v in totals.items()},
        "false_strips": {k: v[0] for k, v in legit.items()},
        "sourced_items": {k: v[1] for k, v in legit.items()},
        "collateral": collateral,
        "misses": misses,
        "false_strip_items": false_strips,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = measure()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"answers: {report['answers']}")
    print(f"URL strip recall:        {report['url_strip_recall']:.3f} of {report['planted']['url']}")
    print(f"model-name strip recall: {report['model_strip_recall']:.3f} of {report['planted']['model']}")
    print(f"false strips of sourced items: {report['false_strips']} of {report['sourced_items']}")
    print(f"sourced items removed with a stripped sentence (not flagged): {report['collateral']}")
    for miss in report["misses"]:
        print(f"  missed {miss['kind']} {miss['value']!r} in {miss['id']}")
    for item in report["false_strip_items"]:
        print(f"  false strip {item['kind']} {item['value']!r} in {item['id']}")


if __name__ == "__main__":
    main()
