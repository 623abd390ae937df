from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


_NUMBERED_PIECES = [
    "## ",
    "**",
    "__",
    "1",
    "12",
    "A",
    ".",
    ")",
    ":",
    " ",
    "\t",
    "Part ",
    "Title",
    "*",
    "_",
    "- ",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_NUMBERED_PIECES), min_size=1, max_size=10).map("".join))
def test_numbered_titles_are_what_one_whole_line_pattern_gives(line):
    import re

    whole = re.compile(
        r"^[ \t]*(?P<hashes>#{1,6}[ \t]*)?(?P<bold>\*\*|__)?[ \t]*(?:Part[ \t]+|Section[ \t]+)?"
        r"(?P<number>\d{1,2}|[A-H])(?P<dot>[.):])[ \t]*(?P<title>.*?)[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*$"
    )
    from cnaps_rag.markdown import _NUMBERED, _title

    expected = whole.match(line)
    start = _NUMBERED.match(line)
    assert (start is None) == (expected is None)
    if start is not None:
        assert start.group("hashes", "bold", "number", "dot") == expected.group(
            "hashes", "bold", "number", "dot"
        )
        assert _title(line, start.end()) == expected.group("title")


@settings(max_examples=400)
@given(st.text(alphabet=" \t#*_19ABHPSxa.):-Partection", max_size=30))
def test_numbered_lines_need_an_opening_character(raw):
    # numbered_headings skips a line whose first character after spaces is not one of these;
    # the pattern it skips cannot match there.
    from cnaps_rag.markdown import _NUMBERED, _NUMBERED_FIRST

    if raw.lstrip(" \t")[:1] not in _NUMBERED_FIRST:
        assert _NUMBERED.match(raw) is None
