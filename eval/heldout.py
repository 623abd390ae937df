"""Leave one system out: does a knob of the claim check, picked without a system, hold on it?

Run from the repository's root::

    python -m eval.heldout ../shared/faithfulness/dev_labels.jsonl \\
        --knob cnaps_rag.support.SUPPORT_THRESHOLD=0.6,0.7,0.75,0.8 [--knob ...] [--by flags_right]

Each ``--knob MODULE.NAME=V1,V2,…`` is a module constant and the values to try (Python literals;
``on,off`` switches a rule written as a pattern: as it is, or matching nothing); with several knobs
every combination is tried. For each system,
the combination that does best on the *other* systems' units pooled (by ``--by``: balanced
accuracy by default, ties to flags right, then to the first listed) is applied to it; the table
shows that system's figures under the combination picked on all systems (*dev*) beside those under
the one picked without it (*held out*), and the held-out rows pooled. A knob that the held-out
systems pick as the dev labels do, with held-out figures close to the dev ones, is no fit to
these answers; a rule kept only because the dev pick likes it is.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import itertools
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eval.faithfulness import Tally, read_labels, tally

MODULES = ("cnaps_rag.words", "cnaps_rag.profiles", "cnaps_rag.claims", "cnaps_rag.support")
"""Modules whose cached functions are cleared when a knob changes (their results may depend on it)."""
ON, OFF = "on", "off"
"""Values that switch a rule written as a pattern (``_FLOW=on,off``): as it is, or matching nothing."""
NEVER = re.compile(r"(?!)")
FIGURES = (
    ("BA", "balanced_accuracy"),
    ("caught", "unsupported_caught"),
    ("kept", "supported_kept"),
    ("flags right", "flags_right"),
    ("mis caught", "misattribution_caught"),
    ("mis precision", "misattribution_precision"),
)


def parse_knob(text: str) -> tuple[str, str, list[Any]]:
    """Return the module, the constant's name and the values of ``MODULE.NAME=V1,V2``."""
    path, _, values = text.partition("=")
    module, _, name = path.rpartition(".")
    if not module or not values:
        raise ValueError(f"{text!r}: expected MODULE.NAME=V1,V2,…")
    literals: list[Any] = []
    for value in values.split(","):
        if value in (ON, OFF):
            literals.append(value)
            continue
        try:
            literals.append(ast.literal_eval(value))
        except (ValueError, SyntaxError):
            raise ValueError(
                f"{text!r}: {value!r} is no Python literal (a number, True, a string in quotes)"
            ) from None
    return module, name, literals


def _clear_caches() -> None:
    for name in MODULES:
        for value in vars(importlib.import_module(name)).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _value(current: Any, value: Any, where: str) -> Any:
    """Return what a knob's ``value`` sets a constant that is now ``current`` to."""
    if value not in (ON, OFF):
        return value
    if not isinstance(current, re.Pattern):
        raise ValueError(f"{where} is no pattern: it has no on and off")
    return current if value == ON else NEVER


@contextmanager
def knobs(setting: dict[tuple[str, str], Any]) -> Iterator[None]:
    """Set module constants for the duration (and clear the caches that may hold their effect)."""
    old = {}
    try:
        for (module, name), value in setting.items():
            target = importlib.import_module(module)
            if not hasattr(target, name):
                raise ValueError(f"{module} has no {name}")
            old[module, name] = getattr(target, name)
            setattr(target, name, _value(old[module, name], value, f"{module}.{name}"))
        _clear_caches()
        yield
    finally:
        for (module, name), value in old.items():
            setattr(importlib.import_module(module), name, value)
        _clear_caches()


def pooled(systems: dict[str, Tally], names: list[str]) -> dict[str, float | None]:
    total = Tally()
    for name in names:
        total.add(systems[name])
    return total.row()


def _rank(row: dict[str, float | None], by: str) -> tuple[float, float]:
    return (row[by] or 0.0, row["flags_right"] or 0.0)


def held_out(
    records: list[dict[str, Any]], grid: list[dict[tuple[str, str], Any]], by: str = "balanced_accuracy"
) -> dict[str, Any]:
    """Return, per system, the setting picked on all systems and on the others, with its figures."""
    runs = []
    for setting in grid:
        with knobs(setting):
            runs.append(tally(records)[0])
    names = sorted(runs[0])

    def best(among: list[str]) -> int:
        # max keeps the first of equals: the grid's order breaks ties.
        return max(range(len(grid)), key=lambda i: _rank(pooled(runs[i], among), by))

    dev = best(names)
    rows = {}
    total = Tally()
    for name in names:
        pick = best([n for n in names if n != name])
        total.add(runs[pick][name])
        rows[name] = {
            "dev_pick": grid[dev], "dev": runs[dev][name].row(),
            "held_out_pick": grid[pick], "held_out": runs[pick][name].row(),
        }  # fmt: skip
    return {"systems": rows, "dev": pooled(runs[dev], names), "held_out": total.row(), "dev_pick": grid[dev]}


def _setting(setting: dict[tuple[str, str], Any]) -> str:
    return " ".join(f"{name}={value!r}" for (_, name), value in setting.items())


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def print_report(report: dict[str, Any]) -> None:
    print(f"picked on all systems: {_setting(report['dev_pick'])}")
    print()
    titles = " | ".join(f"{title} dev → held out" for title, _ in FIGURES)
    print(f"| held-out system | picked without it | {titles} |")
    print("| --- | --- |" + " ---: |" * len(FIGURES))
    for name, row in report["systems"].items():
        cells = [f"{_fmt(row['dev'][key])} → {_fmt(row['held_out'][key])}" for _, key in FIGURES]
        print(f"| {name} | {_setting(row['held_out_pick'])} | " + " | ".join(cells) + " |")
    cells = [f"{_fmt(report['dev'][key])} → {_fmt(report['held_out'][key])}" for _, key in FIGURES]
    print("| all (pooled) | | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path, help="a labels file (JSON lines)")
    parser.add_argument("--knob", action="append", required=True, help="MODULE.NAME=V1,V2,… (repeatable)")
    parser.add_argument("--by", default="balanced_accuracy", choices=[key for _, key in FIGURES])
    args = parser.parse_args(argv)
    try:
        knob_values = [parse_knob(text) for text in args.knob]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    grid = [
        {(module, name): value for (module, name, _), value in zip(knob_values, values, strict=True)}
        for values in itertools.product(*(values for _, _, values in knob_values))
    ]
    records = read_labels(args.labels)
    if records is None:
        return 2
    try:
        report = held_out(records, grid, args.by)
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
