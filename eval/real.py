"""Measure the validator on real frontier-model answers, against labels made by reading them.

The answers are the development set in ``../shared/real-answers/`` (read at run time, never
copied); the labels are ``fixtures/labelled_real/labels.jsonl`` (how they were made:
``fixtures/labelled_real/README.md``). Per system it reports:

- recall: unsourced items (URLs and model names) whose every occurrence is gone;
- false strips: sourced items the validator reported as violations (and, apart, words that
  are not model names, such as a painter or a dataset, that it reported);
- collateral: sourced items it did not report but that lost an occurrence with a removed
  sentence or item;
- broken markdown: answers whose fences, tables, lists, mermaid diagrams or links the
  validator left broken (checked with markdown-it-py, independently of the validator);
- prompts that do not parse (their answers are counted there and nowhere else).

Run: ``python -m eval.real [--json] [--untrusted-summaries] [--details]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from cnaps_rag import validate
from cnaps_rag.errors import PromptError
from cnaps_rag.links import url_key
from cnaps_rag.names import name_key
from cnaps_rag.parse import parse_prompt

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "fixtures" / "labelled_real" / "labels.jsonl"
REAL = Path(os.environ.get("CNAPS_RAG_REAL_ANSWERS", ROOT.parent / "shared" / "real-answers"))
SYSTEMS = ("claude", "gemini", "gpt-4o", "llm_a", "llm_b", "llm_c")

# Occurrences of a name are counted outside links, as whole tokens ("MSSNet" in
# "MSSNet-RealBlurR" is the other item's occurrence); "-like", "-based" ... are prose.
_URLISH = re.compile(
    r"(?:https?://|www\.)[^\s<>\]\)\"'`|\[]+"
    r"|(?<![\w/.@-])(?:[a-z0-9-]+\.)+(?:com|org|io|ai|net|edu|dev|cc)/[^\s<>\]\)\"'`|\[]*",
    re.I,
)
_PROSE_SUFFIX = r"(?:like|based|style|guided|trained|optimized|level)\b"


def occurrences(text: str, kind: str, value: str) -> int:
    """Return how many times ``value`` stands in ``text`` as a whole URL or a whole name."""
    if kind == "url":
        return len(re.findall(r"(?<![\w/.-])" + re.escape(value) + r"(?!\.?[\w/-])", text))
    blank = _URLISH.sub(lambda m: " " * len(m.group(0)), text)
    pattern = r"(?<![\w-])" + re.escape(value) + rf"(?![\w]|-(?!{_PROSE_SUFFIX})[\w])"
    return len(re.findall(pattern, blank))


def _key(kind: str, value: str) -> str:
    return url_key(value) if kind == "url" else name_key(value)


# ---------------------------------------------------------------- broken markdown


def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def _blocks(parser: Any, text: str) -> dict[str, Any]:
    """Return what a reader sees of a text's block structure."""
    tokens = parser.parse(text)
    lines = text.split("\n")
    fences = [t.info.strip().split(" ")[0].lower() for t in tokens if t.type == "fence"]
    # An open fence runs to the end: a final newline the validator adds is no change to its code.
    fence_lines = [t.content.rstrip("\n").count("\n") for t in tokens if t.type == "fence"]
    table_rows = [t.map[1] - t.map[0] for t in tokens if t.type == "table_open" and t.map]
    fence_marks = sum(1 for line in lines if re.match(r"^\s{0,3}(```|~~~)", line))
    bad_tables = 0
    for token in tokens:
        if token.type == "table_open" and token.map:
            rows = [lines[i] for i in range(*token.map) if lines[i].strip()]
            cells = [row for row in rows if not re.match(r"^\s*\|?[\s:|-]+$", row)]
            widths = {row.strip().strip("|").count("|") for row in cells}
            bad_tables += len(widths) > 1
    empty_items = 0
    for index, token in enumerate(tokens):
        if token.type == "list_item_open":
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            empty = following is None or following.type == "list_item_close"
            if following is not None and following.type == "paragraph_open":
                empty = not tokens[index + 2].content.strip(" *_:.,;")
            empty_items += empty
    bad_mermaid = 0
    for token in tokens:
        if token.type == "fence" and token.info.strip().lower().startswith("mermaid"):
            for line in token.content.split("\n"):
                stripped = line.strip()
                dangling = re.search(r"(-->|---|==>|-\.->)\s*$|^(-->|==>|-\.->)", stripped)
                unbalanced = any(stripped.count(a) != stripped.count(b) for a, b in ("[]", "{}", "()"))
                bad_mermaid += bool(dangling or unbalanced)
    return {
        "fences": fences,
        "fence_lines": fence_lines,
        "table_rows": table_rows,
        "unclosed_fence": fence_marks % 2,
        "tables": sum(1 for t in tokens if t.type == "table_open"),
        "bad_tables": bad_tables,
        "empty_items": empty_items,
        "bad_mermaid": bad_mermaid,
        "headings": sum(1 for t in tokens if t.type == "heading_open"),
        "dangling_links": len(re.findall(r"\]\(\s*\)|\[\s*\]\(|\]\([^)\s]*$", text, re.M)),
    }


def broken(parser: Any, before: str, after: str) -> list[str]:
    """Return how ``after`` (the validated text) breaks the block structure ``before`` had."""
    a, b = _blocks(parser, before), _blocks(parser, after)
    problems = []
    if a["fences"] != b["fences"]:
        problems.append("fence lost or changed")
    if b["unclosed_fence"] > a["unclosed_fence"]:
        problems.append("fence left open")
    elif a["fence_lines"] != b["fence_lines"]:
        problems.append("lines removed inside a fence")
    if b["tables"] < a["tables"]:
        problems.append("table lost")
    elif a["table_rows"] != b["table_rows"]:
        problems.append("table rows removed")
    for name in ("bad_tables", "empty_items", "bad_mermaid", "dangling_links"):
        if b[name] > a[name]:
            problems.append(name.replace("_", " "))
    if b["headings"] < a["headings"]:
        problems.append("heading lost")
    return problems


# ---------------------------------------------------------------- measure


def _rows() -> dict[str, list[dict[str, Any]]]:
    return {
        name: [json.loads(line) for line in (REAL / name).read_text(encoding="utf-8").splitlines() if line]
        for name in ("format1_dev.jsonl", "format2_dev.jsonl")
    }


def measure(labels: Path = LABELS, *, untrusted_summaries: bool = False) -> dict[str, Any]:
    """Return the figures per system and in total, with the items behind each miss."""
    rows = _rows()
    parser = _markdown_parser()
    stats: dict[str, Counter[str]] = {system: Counter() for system in SYSTEMS}
    details: list[dict[str, Any]] = []
    for line in labels.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        row = rows[record["file"]][record["line"]]
        count = stats.setdefault(record["system"], Counter())
        markdown = row["markdown"]
        if hashlib.sha1(markdown.encode()).hexdigest()[:12] != record["sha1"]:
            raise SystemExit(f"{record['file']}:{record['line']}: the answer changed since it was labelled")
        count["answers"] += 1
        try:
            spec = parse_prompt(row["prompt"])
        except PromptError:
            count["prompt does not parse"] += 1
            continue
        options = {"untrusted_summaries": True} if untrusted_summaries else {}
        result = validate(markdown, spec, **options)
        flagged = {(v.kind, _key(v.kind, v.value)) for v in result.violations}
        flagged_names = {name_key(v.value) for v in result.violations if v.kind == "model"}
        where = {"file": record["file"], "line": record["line"], "system": record["system"]}
        for item in record["items"]:
            kind, value, verdict = item["kind"], item["value"], item["verdict"]
            if untrusted_summaries and item["why"] == "summary-link":
                verdict = "-"
            before = occurrences(markdown, kind, value)
            after = occurrences(result.text, kind, value)
            if verdict == "-":
                count["unsourced"] += 1
                if after == 0:
                    count["stripped"] += 1
                else:
                    details.append({**where, "miss": value, "kind": kind})
            elif verdict == "+":
                count["sourced"] += 1
                if (kind, _key(kind, value)) in flagged:
                    count["false strips"] += 1
                    details.append({**where, "false strip": value, "kind": kind})
                elif after < before:
                    count["collateral"] += 1
                    details.append({**where, "collateral": value, "kind": kind})
            else:
                count["not names"] += 1
                if name_key(value) in flagged_names:
                    count["not names flagged"] += 1
                    details.append({**where, "not-a-name flagged": value})
        problems = broken(parser, markdown, result.text)
        if problems:
            count["broken markdown"] += 1
            details.append({**where, "broken": problems})
        count["citation debris"] += len(re.findall(r"\[cite_start\]|\[cite:[^\]]*\]", markdown))
    total: Counter[str] = Counter()
    for count in stats.values():
        total.update(count)
    return {"systems": {s: dict(c) for s, c in stats.items()}, "total": dict(total), "details": details}


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:6.1%} ({part}/{whole})" if whole else "     - (0/0)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--details", action="store_true", help="list every miss, false strip and break")
    parser.add_argument("--untrusted-summaries", action="store_true", help="summary links allowed nothing")
    args = parser.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"no real answers at {REAL} (set CNAPS_RAG_REAL_ANSWERS)")
    report = measure(untrusted_summaries=args.untrusted_summaries)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    header = f"{'system':8} {'answers':>7} {'recall':>18} {'false strips':>18} {'collateral':>18}"
    print(header + f" {'not-names hit':>13} {'broken md':>9} {'no parse':>8}")
    for name, count in [*report["systems"].items(), ("total", report["total"])]:
        print(
            f"{name:8} {count.get('answers', 0):>7} "
            f"{_ratio(count.get('stripped', 0), count.get('unsourced', 0)):>18} "
            f"{_ratio(count.get('false strips', 0), count.get('sourced', 0)):>18} "
            f"{_ratio(count.get('collateral', 0), count.get('sourced', 0)):>18} "
            f"{count.get('not names flagged', 0):>6}/{count.get('not names', 0):<6} "
            f"{count.get('broken markdown', 0):>9} {count.get('prompt does not parse', 0):>8}"
        )
    if args.details:
        for detail in report["details"]:
            print("  ", json.dumps(detail, ensure_ascii=False))


if __name__ == "__main__":
    main()
