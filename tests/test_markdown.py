from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnaps_rag.markdown import Layout

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-answers"

ANSWER = """Intro line.

## 1. Task

- item one
  - nested
- item two

| a | b |
|---|---|
| 1 | 2 |

```mermaid
graph TD
  A --> B
```

**2. Workflow**

1. What task the user wants
"""


def test_lines_are_classified():
    layout = Layout(ANSWER)
    kinds = [line.kind for line in layout.lines]
    assert kinds[:3] == ["text", "blank", "heading"]
    assert kinds.count("table") == 3
    assert [line.fence for line in layout.lines if line.kind == "code"] == ["mermaid", "mermaid"]
    assert layout.in_code(ANSWER.index("A --> B"))
    assert not layout.in_code(ANSWER.index("item one"))


def test_item_block_takes_its_nested_lines():
    layout = Layout(ANSWER)
    first = next(i for i, line in enumerate(layout.lines) if line.kind == "item")
    assert layout.item_block_end(first) == first + 2


def test_numbered_headings_in_every_form():
    found = [(h.number, h.title, h.level) for h in Layout(ANSWER).numbered_headings()]
    assert found == [("1", "Task", 2), ("2", "Workflow", 7), ("1", "What task the user wants", 8)]


def _markdown_it_blocks(text):
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    fences = [tuple(t.map) for t in tokens if t.type == "fence"]
    tables = sorted(line for t in tokens if t.type == "table_open" for line in range(*t.map))
    headings = [t.map[0] for t in tokens if t.type == "heading_open"]
    return fences, tables, headings


def test_agrees_with_markdown_it_on_the_real_answers():
    if not REAL.is_dir():
        pytest.skip("no real answers beside the repository")
    texts = [
        json.loads(line)["markdown"]
        for name in ("format1_dev.jsonl", "format2_dev.jsonl")
        for line in (REAL / name).read_text(encoding="utf-8").splitlines()
    ]
    for text in texts:
        layout = Layout(text.replace("\r\n", "\n"))
        marks = [i for i, line in enumerate(layout.lines) if line.kind == "fence"]
        fences = [(marks[k], marks[k + 1] + 1) for k in range(0, len(marks) - 1, 2)]
        if len(marks) % 2:  # a fence left open runs to the end of the text
            fences.append((marks[-1], len(layout.lines)))
        tables = [i for i, line in enumerate(layout.lines) if line.kind == "table"]
        headings = [i for i, line in enumerate(layout.lines) if line.kind == "heading"]
        assert (fences, tables, headings) == _markdown_it_blocks(text.replace("\r\n", "\n"))
