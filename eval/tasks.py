"""Measure prompt parsing and model tasks on the real dev prompts, and the tasks answers state.

Run from the repository's root::

    python -m eval.tasks [--answers ANSWERS.jsonl ...] [--json]

It reads the dev prompts from ``../shared/real-answers/format{1,2}_dev.jsonl`` at run time
(never copied into the project; each file holds several answers per prompt, so prompts are
deduplicated by file and id) and prints:

- **parse**: how many prompts of each file parse with :func:`cnaps_rag.parse_prompt`;
- **model tasks**: for every recommended model of the parsed prompts, whether
  :func:`cnaps_rag.tasks.model_task` gives the task labelled in ``eval/labels/model_tasks.json``
  (right), no task (unknown), or another task (wrong);
- **answers** (for each ``--answers`` file, a ``cnaps-rag batch`` output): whether each answer
  states each recommended model's task right, not at all (unknown), or wrong, per model and per
  answer (an answer is wrong if it gets any model wrong, right if it gets all right);
- **layout** (second-format answers): whether the prompt's sections and parts A, B, C come in
  order, part B holds a fenced text diagram, and its boxes are exactly the models section C uses;
- **slots**: the labels in ``eval/labels/slots.json`` (right / vague / wrong) of the answers'
  sentences on how a source serves the question ("Relevance:" in the first format, "Used for"
  in the second), matched by answer id, source and a hash of the sentence.

How an answer's stated task is found: the lines of the model's own block (a line that starts
with the model's name in bold, ``**NAME**``, up to the next blank line or heading; without
one, the lines that name the model), with every source's name removed, are searched for the
lexicon's task names and title terms (``cnaps_rag/data/tasks.json``); where the block has
cnaps-rag's ``- **Task:**`` or ``- **Model:**`` line, only that line is read. A block that says
the sources do not give the task, or names no task, is "unknown". The judge is made for
cnaps-rag's answers; on free-form answers it reads more text and is rougher.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from cnaps_rag import PromptError, parse_prompt
from cnaps_rag.spec import PromptSpec, Source
from cnaps_rag.tasks import TASKS, Task, model_task

TASKS_BY_KEY = {task.key: task for task in TASKS}

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "real-answers"
DEV_FILES = ("format1_dev.jsonl", "format2_dev.jsonl")
LABELS = ROOT / "eval" / "labels"
_UNKNOWN = re.compile(r"do(?:es)? not say which task|task (?:is )?unknown|unknown task", re.I)
_HEADING = re.compile(r"^\s*#{1,6}\s")
_TASK_LINE = re.compile(r"^\s*-\s*\*\*(?:Task|Model):\*\*")
_READ_FROM = re.compile(r"\(read from [^)]*\)")
# First format: "- Relevance: ..."; second format: "- Used for ..." under a source in section 3.
_GOAL = re.compile(r"^(?:In the user's words: “(.+)”|(The user wants .+))\s*$")
"""The line of section 1 that says what the user wants: quoted (now) or generated (before issue 11)."""
_RELEVANCE = re.compile(r"^\s*-\s*(?:Relevance:\s*|(?=Used for ))(.+?)\s*$")


def dev_prompts(dev: Path = DEV) -> list[tuple[str, str, str]]:
    """Return (file, id, prompt) for every distinct prompt of the dev files, in file order."""
    found: dict[tuple[str, str], str] = {}
    for name in DEV_FILES:
        path = dev / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                found.setdefault((name, record["id"]), record["prompt"])
    return [(name, prompt_id, prompt) for (name, prompt_id), prompt in found.items()]


def load_model_labels(path: Path = LABELS / "model_tasks.json") -> dict[str, list[str]]:
    """Return each labelled model's acceptable task keys (an empty list: no task of the lexicon fits)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    labels = {}
    for name, value in data["labels"].items():
        keys = [] if value is None else [value] if isinstance(value, str) else list(value)
        for key in keys:
            TASKS_BY_KEY[key]  # a typo in a label is an error, not a silent "wrong"
        labels[name] = keys
    return labels


def _accepts(keys: list[str], task: Task) -> bool:
    return any(task.key == key or task.family == TASKS_BY_KEY[key].family for key in keys)


def _term(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<![^\W_])" + re.escape(term), re.I)


_TASK_TERMS = [(task, [_term(t) for t in (task.name, *task.title_terms)]) for task in TASKS]


def stated_tasks(text: str) -> list[Task]:
    """Return the tasks that ``text`` names (by task name or title term), in lexicon order."""
    return [task for task, terms in _TASK_TERMS if any(term.search(text) for term in terms)]


def model_block(markdown: str, source: Source, spec: PromptSpec) -> str:
    """Return the lines of ``markdown`` that describe ``source``, every source's name removed."""
    lines = markdown.split("\n")
    block: list[str] = []
    bold = f"**{source.name}**"
    for i, line in enumerate(lines):
        if line.lstrip().startswith(bold):
            block.append(line)
            for follow in lines[i + 1 :]:
                if not follow.strip() or _HEADING.match(follow) or follow.lstrip().startswith("**"):
                    break
                block.append(follow)
    if not block:
        block = [line for line in lines if source.name in line]
    text = "\n".join(block)
    for other in sorted(spec.sources, key=lambda s: -len(s.name)):
        text = text.replace(other.name, " ")
    return text


def judge(markdown: str, source: Source, spec: PromptSpec, expected: list[str]) -> tuple[str, list[str]]:
    """Return the verdict (right, unknown, wrong) on the task an answer states for ``source``."""
    block = model_block(markdown, source, spec)
    if not block.strip() or _UNKNOWN.search(block):
        return "unknown", []
    # Where the block names the task on its own line (cnaps-rag's "Task:" / "Model:" lines), that
    # line is the statement; the processing steps may mention other tasks' words ("denoise").
    # "(read from its task code Denoise)" names where the task was read, not the task.
    # A "Model:" line goes on with the processing steps after "): ", which are not the statement.
    named = [
        _READ_FROM.sub("", line).split("): ", 1)[0] for line in block.split("\n") if _TASK_LINE.match(line)
    ]
    # "— not used: it does X, which the question does not ask for (Y)": Y is the question's task.
    named += [line.split(", which", 1)[0] for line in block.split("\n") if "— not used:" in line]
    stated = stated_tasks("\n".join(named) if named else block)
    keys = [t.key for t in stated]
    if not stated:
        return "unknown", keys
    if expected and any(_accepts(expected, task) for task in stated):
        return "right", keys
    return "wrong", keys


def measure_parse(prompts: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Return per dev file how many prompts parse, and the errors."""
    result: dict[str, Any] = {}
    for name in DEV_FILES:
        mine = [(pid, text) for f, pid, text in prompts if f == name]
        errors = []
        for pid, text in mine:
            try:
                parse_prompt(text, prompt_id=pid)
            except PromptError as exc:
                errors.append({"id": pid, "error": exc.one_line()})
        result[name] = {"prompts": len(mine), "parsed": len(mine) - len(errors), "errors": errors}
    return result


def measure_model_tasks(prompts: list[tuple[str, str, str]], labels: dict[str, list[str]]) -> dict[str, Any]:
    """Return right/unknown/wrong/unlabelled counts of :func:`model_task` over the dev prompts' models."""
    counts: Counter[str] = Counter()
    rows = []
    seen = set()
    for _, pid, text in prompts:
        try:
            spec = parse_prompt(text, prompt_id=pid)
        except PromptError:
            continue
        for source in spec.recommended:
            if source.name in seen:
                continue
            seen.add(source.name)
            found = model_task(source)
            if source.name not in labels:
                verdict = "unlabelled"
            elif found.task is None:
                verdict = "right" if not labels[source.name] else "unknown"
            else:
                verdict = "right" if _accepts(labels[source.name], found.task) else "wrong"
            counts[verdict] += 1
            rows.append(
                {
                    "model": source.name,
                    "task": found.task.key if found.task else None,
                    "basis": found.basis,
                    "label": labels.get(source.name),
                    "verdict": verdict,
                }
            )
    return {"counts": dict(counts), "models": rows}


def _spec_of(record: dict[str, Any], by_id: dict[str, str]) -> PromptSpec | None:
    text = record.get("prompt") or by_id.get(record.get("id", ""))
    if not text:
        return None
    try:
        return parse_prompt(text, prompt_id=record.get("id"))
    except PromptError:
        return None


def slot_key(record_id: str, source_id: str, sentence: str) -> str:
    """Return the key a slot label is stored under: id, source and a hash of the sentence."""
    digest = hashlib.sha1(" ".join(sentence.split()).encode("utf-8")).hexdigest()[:12]
    return f"{record_id}|{source_id}|{digest}"


def goal_lines(markdown: str) -> list[str]:
    """Return the sentences that say what the user wants (a quote of the question, or generated)."""
    return [next(g for g in m.groups() if g) for m in map(_GOAL.match, markdown.split("\n")) if m]


def relevance_slots(markdown: str, spec: PromptSpec) -> list[tuple[str, str]]:
    """Return (source id, sentence) for each line that says how a source serves the question."""
    found = []
    current: str | None = None
    for line in markdown.split("\n"):
        match = re.match(r"^\s*-\s*\*\*\[(S\d+)\]", line)
        if match:
            current = match.group(1)
        slot = _RELEVANCE.match(line)
        if slot and current:
            found.append((current, slot.group(1)))
    return found


def layout_problems(markdown: str, spec: PromptSpec) -> list[str]:
    """Return what a second-format answer lacks: a section, part, the diagram, or boxes that are
    exactly the models it uses (a model is used when section C gives its task, input and output)."""
    problems = []
    lines = markdown.split("\n")
    position = 0
    for section in spec.sections:
        found = next((i for i in range(position, len(lines)) if lines[i].strip() == section.heading), None)
        if found is None:
            problems.append(f"no '{section.heading}' after the sections before it")
        else:
            position = found + 1
    parts = re.split(r"^###? [A-Z0-9]\. ", markdown, flags=re.M)
    diagram = next((p for p in parts if p.startswith("Visual Flow Diagram")), "")
    details = next((p for p in parts if p.startswith("Module Details")), "")
    if diagram.count("```") < 2:
        problems.append("no fenced text diagram in part B")
    names = [s.name for s in spec.recommended]
    boxed = {n for n in names if re.search(r"\[ S\d+ " + re.escape(n) + r" ", diagram)}
    used = {
        n for n in names if re.search(r"^\*\*" + re.escape(n) + r"\*\* \[S\d+\]\n- \*\*Task:", details, re.M)
    }
    if boxed != used:
        problems.append(f"diagram boxes {sorted(boxed)} are not the models used {sorted(used)}")
    return problems


def measure_answers(
    path: Path, labels: dict[str, list[str]], by_id: dict[str, str], slot_labels: dict[str, str]
) -> dict[str, Any]:
    """Return the task verdicts per model and per answer, and the slot label counts, of an answers file."""
    per_model: Counter[str] = Counter()
    per_answer: Counter[str] = Counter()
    slots: Counter[str] = Counter()
    goals: Counter[str] = Counter()
    goal_labels = load_goal_labels()
    rows = []
    unlabelled_slots = []
    layout: Counter[str] = Counter()
    layout_rows: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("error") or "markdown" not in record:
            per_answer["failed"] += 1
            continue
        spec = _spec_of(record, by_id)
        if spec is None:
            per_answer["no prompt"] += 1
            continue
        if spec.format == "workflow":
            problems = layout_problems(record["markdown"], spec)
            layout["ok" if not problems else "incomplete"] += 1
            if problems:
                layout_rows.append({"id": record["id"], "problems": problems})
        verdicts = []
        for source in spec.recommended:
            expected = labels.get(source.name)
            if expected is None:
                verdicts.append("unlabelled")
                per_model["unlabelled"] += 1
                continue
            verdict, stated = judge(record["markdown"], source, spec, expected)
            verdicts.append(verdict)
            per_model[verdict] += 1
            rows.append(
                {
                    "id": record["id"],
                    "model": source.name,
                    "stated": stated,
                    "label": expected,
                    "verdict": verdict,
                }
            )
        if "wrong" in verdicts:
            per_answer["wrong"] += 1
        elif verdicts and all(v == "right" for v in verdicts):
            per_answer["right"] += 1
        else:
            per_answer["unknown"] += 1
        for sentence in goal_lines(record["markdown"]):
            key = slot_key(record["id"], "goal", sentence)
            label = goal_labels.get(key)
            goals[label or "unlabelled"] += 1
            if label is None:
                unlabelled_slots.append({"key": key, "sentence": sentence})
        for source_id, sentence in relevance_slots(record["markdown"], spec):
            key = slot_key(record["id"], source_id, sentence)
            label = slot_labels.get(key)
            slots[label or "unlabelled"] += 1
            if label is None:
                unlabelled_slots.append({"key": key, "sentence": sentence})
    labelled = slots["right"] + slots["vague"] + slots["wrong"]
    return {
        "file": str(path),
        "per_model": dict(per_model),
        "per_answer": dict(per_answer),
        "slots": dict(slots),
        "wrong_slot_share": round(slots["wrong"] / labelled, 3) if labelled else None,
        "goals": dict(goals),
        "workflow_layout": dict(layout),
        "layout_problems": layout_rows,
        "rows": rows,
        "unlabelled_slots": unlabelled_slots,
    }


def load_goal_labels() -> dict[str, str]:
    """Return goal-line key -> label (right, vague, wrong) from eval/labels/goals.json."""
    return load_slot_labels(LABELS / "goals.json")


def load_slot_labels(path: Path = LABELS / "slots.json") -> dict[str, str]:
    """Return slot key -> label (right, vague, wrong); empty when there is no label file."""
    if not path.exists():
        return {}
    return {item["key"]: item["label"] for item in json.loads(path.read_text(encoding="utf-8"))["labels"]}


def write_prompts(prompts: list[tuple[str, str, str]], folder: Path) -> None:
    """Write each dev file's distinct prompts to ``folder/formatN_prompts.jsonl`` (outside the project)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEV_FILES:
        out = folder / name.replace("_dev.jsonl", "_prompts.jsonl")
        lines = [json.dumps({"id": pid, "prompt": text}) + "\n" for f, pid, text in prompts if f == name]
        out.write_text("".join(lines), encoding="utf-8")
        print(f"{len(lines)} prompts -> {out}")


def main(argv: list[str] | None = None) -> int:
    """Print the measurements; exit 0, or 2 when the dev files are missing."""
    parser = argparse.ArgumentParser(prog="python -m eval.tasks", description=__doc__.split("\n")[0])
    parser.add_argument("--answers", nargs="*", default=[], help="cnaps-rag batch outputs to judge")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--dev", default=str(DEV), help="folder of the dev files (default: %(default)s)")
    parser.add_argument(
        "--write-prompts",
        metavar="DIR",
        help="write the distinct dev prompts to DIR/format{1,2}_prompts.jsonl for cnaps-rag batch",
    )
    args = parser.parse_args(argv)
    prompts = dev_prompts(Path(args.dev))
    if not prompts:
        print(f"no dev prompts in {args.dev}", file=sys.stderr)
        return 2
    if args.write_prompts:
        write_prompts(prompts, Path(args.write_prompts))
        return 0
    labels = load_model_labels()
    slot_labels = load_slot_labels()
    by_id = {pid: text for _, pid, text in prompts}
    result = {
        "parse": measure_parse(prompts),
        "model_tasks": measure_model_tasks(prompts, labels),
        "answers": [measure_answers(Path(a), labels, by_id, slot_labels) for a in args.answers],
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    for name, counts in result["parse"].items():
        print(f"parse {name}: {counts['parsed']}/{counts['prompts']}")
        for error in counts["errors"]:
            print(f"  {error['id']}: {error['error']}")
    counts = result["model_tasks"]["counts"]
    print(f"model_task on {len(result['model_tasks']['models'])} distinct recommended models: {counts}")
    for row in result["model_tasks"]["models"]:
        if row["verdict"] != "right":
            print(
                f"  {row['verdict']}: {row['model']} -> {row['task']} ({row['basis']}), label {row['label']}"
            )
    for answers in result["answers"]:
        print(f"answers {answers['file']}:")
        print(f"  per model: {answers['per_model']}")
        print(f"  per answer: {answers['per_answer']}")
        print(f"  relevance slots: {answers['slots']} (wrong share {answers['wrong_slot_share']})")
        print(f"  goal lines (what the user wants): {answers['goals']}")
        if answers["workflow_layout"]:
            print(
                f"  second-format layout (sections, parts A-C, diagram boxes): {answers['workflow_layout']}"
            )
        for row in answers["layout_problems"]:
            print(f"  layout: {row['id']}: {'; '.join(row['problems'])}")
        for row in answers["rows"]:
            if row["verdict"] == "wrong":
                print(f"  wrong: {row['id']}: {row['model']} stated {row['stated']}, label {row['label']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
