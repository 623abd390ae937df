"""Measure the grounding score against claim-level labels made by careful readers.

Run from the repository's root::

    python -m eval.faithfulness ../shared/faithfulness/dev_labels.jsonl [--strict] [--json]
        [--claim-model NAME --claim-base-url URL]

The labels file (read at run time, never copied into the project) holds one record per real
answer: ``system``, ``prompt``, ``markdown`` and ``units``, the answer cut into short units (a
sentence, a list item, a table row, a diagram line, in order, each verbatim in ``markdown``), each
labelled ``N`` (no claim), ``S`` (supported), ``G`` (general knowledge) or ``U`` (unsupported), and
``misattributed`` where it credits a claim to a source that does not say it.

Each answer is scored with :func:`cnaps_rag.scores` against its parsed prompt. A unit counts as
*flagged* when the spans the score flags (``.unsupported``) cover at least half of its characters,
and as *flagged misattributed* when ``.misattributed`` spans do. Per system and over all it prints:

- unsupported caught: flagged ``U`` / ``U``; supported kept: unflagged ``S`` / ``S``; balanced
  accuracy: their mean; flags right: flagged ``U`` / flagged ``S`` or ``U``. With ``--strict`` a
  ``G`` unit counts as ``U`` (general knowledge is a claim the prompt does not make) and the
  score runs in its strict mode; by default ``G`` units count on neither side;
- no-claim flagged: flagged ``N`` / ``N``;
- misattribution caught: flagged-misattributed labelled-misattributed units / labelled
  misattributed units, and its precision: / flagged-misattributed units;
- per system, the mean ``grounding`` over its answers beside its labelled supported share
  (``S`` / (``S`` + ``U``), with ``--strict`` ``S`` / (``S`` + ``G`` + ``U``)), and the Spearman rank
  correlation between the two over the systems.

It also says how many ``G`` units the score reports as ``.general``, and that report's precision.
``--systems`` measures a subset (e.g. one prompt format); ``--details`` lists the units the score
gets wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnaps_rag import PromptError, parse_prompt, score
from cnaps_rag.evaluation.panel import spearman
from cnaps_rag.support import ClaimReader

HALF = 0.5
"""A unit is flagged when flagged spans cover at least this share of its characters (the issue's rule)."""


@dataclass
class Tally:
    """Counts of one system (or all) over its units."""

    labels: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    flagged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    mis_labelled: int = 0
    mis_flagged: int = 0
    mis_both: int = 0
    general_labelled: int = 0
    general_reported: int = 0
    general_both: int = 0
    groundings: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for key, value in other.labels.items():
            self.labels[key] += value
        for key, value in other.flagged.items():
            self.flagged[key] += value
        self.mis_labelled += other.mis_labelled
        self.mis_flagged += other.mis_flagged
        self.mis_both += other.mis_both
        self.general_labelled += other.general_labelled
        self.general_reported += other.general_reported
        self.general_both += other.general_both
        self.groundings += other.groundings

    def row(self) -> dict[str, float | None]:
        def share(num: int, den: int) -> float | None:
            return num / den if den else None

        caught = share(self.flagged["U"], self.labels["U"])
        kept = share(self.labels["S"] - self.flagged["S"], self.labels["S"])
        balanced = (caught + kept) / 2 if caught is not None and kept is not None else None
        claims = self.labels["S"] + self.labels["U"]
        return {
            "unsupported_caught": caught,
            "supported_kept": kept,
            "balanced_accuracy": balanced,
            "flags_right": share(self.flagged["U"], self.flagged["S"] + self.flagged["U"]),
            "no_claim_flagged": share(self.flagged["N"], self.labels["N"]),
            "general_flagged": share(self.flagged["G"], self.labels["G"]),
            "misattribution_caught": share(self.mis_both, self.mis_labelled),
            "misattribution_precision": share(self.mis_both, self.mis_flagged),
            "general_caught": share(self.general_both, self.general_labelled),
            "general_precision": share(self.general_both, self.general_reported),
            "mean_grounding": sum(self.groundings) / len(self.groundings) if self.groundings else None,
            "labelled_supported": share(self.labels["S"], claims),
        }


def unit_spans(markdown: str, texts: list[str]) -> list[tuple[int, int] | None]:
    """Return each unit's span in ``markdown``, found in order (None for a unit not found)."""
    spans: list[tuple[int, int] | None] = []
    position = 0
    for text in texts:
        start = markdown.find(text, position)
        if start < 0:
            start = markdown.find(text)
        if start < 0:
            spans.append(None)
            continue
        spans.append((start, start + len(text)))
        position = start + len(text)
    return spans


def covered(span: tuple[int, int], flagged: list[tuple[int, int]]) -> float:
    """Return the share of ``span``'s characters that the (possibly overlapping) ``flagged`` spans cover."""
    start, end = span
    marks = bytearray(end - start)
    for f_start, f_end in flagged:
        lo, hi = max(start, f_start), min(end, f_end)
        if hi > lo:
            marks[lo - start : hi - start] = b"\x01" * (hi - lo)
    return sum(marks) / max(1, end - start)


LABELS = ("N", "S", "G", "U")


def _malformed(record: Any) -> str | None:
    """Return why ``record`` cannot be measured, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for name, kind in (("system", str), ("prompt", str), ("markdown", str), ("units", list)):
        if not isinstance(record.get(name), kind):
            return f"no {name} ({kind.__name__})"
    for unit in record["units"]:
        if not (isinstance(unit, dict) and isinstance(unit.get("text"), str) and unit.get("label") in LABELS):
            return "a unit without a text or with a label other than N, S, G, U"
    return None


def tally(
    records: list[dict[str, Any]], *, strict: bool = False, checker: ClaimReader | None = None
) -> tuple[dict[str, Tally], list[str], list[dict[str, Any]]]:
    """Return the counts of each system, the records that could not be measured and why, and the
    units the score gets wrong."""
    systems: dict[str, Tally] = defaultdict(Tally)
    errors: list[str] = []
    misses: list[dict[str, Any]] = []
    for record in records:
        problem = _malformed(record)
        if problem:
            name = record.get("id") if isinstance(record, dict) else json.dumps(record)[:40]
            errors.append(f"{name}: {problem}")
            continue
        try:
            spec = parse_prompt(record["prompt"], prompt_id=record.get("id"))
        except PromptError as exc:
            errors.append(f"{record.get('id')}: {exc.one_line()}")
            continue
        markdown = record["markdown"]
        scores = score(markdown, spec, strict=strict, checker=checker)
        flagged = [(item.start, item.end) for item in scores.unsupported]
        misattributed = [(item.start, item.end) for item in scores.misattributed]
        general = [(item.start, item.end) for item in scores.general]
        counts = systems[record["system"]]
        counts.groundings.append(scores.grounding)
        units = record["units"]
        for unit, span in zip(units, unit_spans(markdown, [u["text"] for u in units]), strict=True):
            label = unit["label"]
            if strict and label == "G":
                label = "U"
            counts.labels[label] += 1
            is_flagged = span is not None and covered(span, flagged) >= HALF
            counts.flagged[label] += is_flagged
            mis_flag = span is not None and covered(span, misattributed) >= HALF
            counts.mis_labelled += bool(unit.get("misattributed"))
            counts.mis_flagged += mis_flag
            counts.mis_both += mis_flag and bool(unit.get("misattributed"))
            reported_general = span is not None and covered(span, general) >= HALF
            counts.general_labelled += unit["label"] == "G"
            counts.general_reported += reported_general
            counts.general_both += reported_general and unit["label"] == "G"
            wrong = (label == "U" and not is_flagged) or (label in ("S", "N") and is_flagged)
            if wrong:
                misses.append({"id": record.get("id"), "system": record["system"], "label": label,
                               "text": unit["text"], "flagged": is_flagged})  # fmt: skip
    return systems, errors, misses


def measure(
    records: list[dict[str, Any]], *, strict: bool = False, checker: ClaimReader | None = None
) -> dict[str, Any]:
    """Return per-system and overall agreement of :func:`cnaps_rag.scores` with the labels
    (``checker``: a model that reads the flagged claims, :mod:`cnaps_rag.claim_check`)."""
    systems, errors, misses = tally(records, strict=strict, checker=checker)
    total = Tally()
    for counts in systems.values():
        total.add(counts)
    rows = {name: systems[name].row() for name in sorted(systems)}
    means = [rows[name]["mean_grounding"] for name in rows]
    labelled = [rows[name]["labelled_supported"] for name in rows]
    rho = None
    if all(v is not None for v in means + labelled):
        rho = spearman(
            [float(v) for v in means if v is not None], [float(v) for v in labelled if v is not None]
        )
    return {"systems": rows, "all": total.row(), "spearman": rho, "errors": errors, "misses": misses}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def print_report(report: dict[str, Any], *, details: bool = False) -> None:
    """Print the report as markdown tables."""
    columns = [
        ("unsupported caught", "unsupported_caught"),
        ("supported kept", "supported_kept"),
        ("balanced accuracy", "balanced_accuracy"),
        ("flags right", "flags_right"),
        ("no-claim flagged", "no_claim_flagged"),
        ("misattribution caught", "misattribution_caught"),
        ("its precision", "misattribution_precision"),
        ("mean grounding", "mean_grounding"),
        ("labelled supported", "labelled_supported"),
    ]
    print("| system | " + " | ".join(title for title, _ in columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name, row in [*report["systems"].items(), ("all", report["all"])]:
        print(f"| {name} | " + " | ".join(_fmt(row[key]) for _, key in columns) + " |")
    print()
    every = report["all"]
    print(f"general statements reported as general: {_fmt(every['general_caught'])} of the G units, "
          f"precision {_fmt(every['general_precision'])}")  # fmt: skip
    print(f"Spearman (mean grounding vs labelled supported share, {len(report['systems'])} systems): "
          f"{_fmt(report['spearman'])}")  # fmt: skip
    for error in report["errors"]:
        print(f"not scored: {error}", file=sys.stderr)
    if details:
        for miss in report["misses"]:
            kind = "flagged" if miss["flagged"] else "missed"
            print(f"  {kind} {miss['label']} [{miss['system']}] {miss['text'][:140]!r}")


def read_labels(path: Path) -> list[Any] | None:
    """Return the records of a labels file (saying on stderr which lines are no JSON), or None
    when it cannot be read."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            print(f"error: {path}:{number}: not JSON ({exc.msg})", file=sys.stderr)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "labels", type=Path, help="a labels file (JSON lines), e.g. ../shared/faithfulness/dev_labels.jsonl"
    )
    parser.add_argument("--strict", action="store_true", help="count general knowledge as unsupported")
    parser.add_argument("--systems", nargs="*", help="measure only these systems")
    parser.add_argument("--details", action="store_true", help="list the units the score gets wrong")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--claim-model", help="a model reads each flagged claim (cnaps_rag.claim_check)")
    parser.add_argument("--claim-base-url", help="its OpenAI-compatible server (default: $OPENAI_BASE_URL)")
    parser.add_argument("--claim-check", choices=["flagged", "all"], default="flagged")
    args = parser.parse_args(argv)
    checker = None
    if args.claim_model or args.claim_base_url:
        from cnaps_rag import CnapsRagError
        from cnaps_rag.backends import resolve_backend
        from cnaps_rag.claim_check import ClaimChecker

        try:
            backend = resolve_backend("openai", model=args.claim_model, base_url=args.claim_base_url)
        except CnapsRagError as exc:
            print(f"error: {exc.one_line()}", file=sys.stderr)
            return 2
        checker = ClaimChecker(backend, which=args.claim_check)
    records = read_labels(args.labels)
    if records is None:
        return 2
    records = [r for r in records if not args.systems or r.get("system") in args.systems]
    report = measure(records, strict=args.strict, checker=checker)
    if checker is not None:
        print(checker.line(), file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, details=args.details)
    # Nothing measurable is bad input, like an unreadable file.
    return 0 if report["systems"] else 2


if __name__ == "__main__":
    sys.exit(main())
