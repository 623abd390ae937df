from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import pytest
from conftest import FIXTURES, PROMPTS

from cnaps_rag import ConfigError, PromptError, validate
from cnaps_rag.evaluation import evaluate, load_prompt_index, write_report
from cnaps_rag.evaluation.report import iter_report_html, report_markdown

UPSCALE = "000_d18f79af084974a4"
SKELETON = "## 1. Task\n\n{one}\n\n## 2. Workflow\n\n{two}\n\n## 3. Papers\n\n{three}\n"
# Draft: one sourced and one unsourced URL, one sourced and one unsourced name.
DRAFT = SKELETON.format(
    one="Upscaling on a low-end phone.",
    two="Input → MSSNet → output. SwinIR is another choice.",
    three="- https://github.com/kky7/MSSNet\n- https://github.com/xinntao/Real-ESRGAN",
)
HOSTILE = SKELETON.format(
    one="<script>alert(1)</script> & <img src=x onerror=alert(2)>",
    two="Input → MSSNet → output.",
    three="- https://evil.example.com/x\n- https://github.com/kky7/MSSNet",
)


def write_jsonl(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def final_text():
    from conftest import prompt

    return validate(DRAFT, prompt(UPSCALE)).text


@pytest.fixture
def answers(tmp_path, final_text):
    shutil.copy(PROMPTS / "v04_no_related.txt", tmp_path / "own_prompt.txt")
    inline_prompt = (PROMPTS / "004_3b145cd2937caf5f.txt").read_text(encoding="utf-8")
    return write_jsonl(
        tmp_path / "answers.jsonl",
        [
            {"id": UPSCALE, "markdown": final_text, "draft": DRAFT},
            "",
            "{not json",
            "[1, 2]",
            {"id": "gone", "error": "backend timed out"},
            {"id": "nowhere", "markdown": "## 1. Task\nx\n"},
            {"id": "inline", "prompt": inline_prompt, "markdown": "## 1. Task\nLIIF upscales.\n"},
            {"id": "by-path", "prompt_path": "own_prompt.txt", "markdown": "## 1. Task\nLow light.\n"},
            {"id": "hostile", "prompt": f"{UPSCALE}.txt", "markdown": HOSTILE},
        ],
    )


# --------------------------------------------------------------------------- evaluation


def test_rows_statuses_and_broken_lines(answers):
    report = evaluate(answers, load_prompt_index(PROMPTS))
    assert [(r.id, r.status, r.line) for r in report.rows] == [
        (UPSCALE, "scored", 1),
        ("gone", "failed", 5),
        ("nowhere", "unscorable", 6),
        ("inline", "scored", 7),
        ("by-path", "scored", 8),
        ("hostile", "scored", 9),
    ]
    assert [(b.line, b.reason) for b in report.broken_lines] == [
        (3, "not JSON: Expecting property name enclosed in double quotes at column 2"),
        (4, "not a JSON object but list"),
    ]
    assert report.counts == {
        "records": 6,
        "scored": 4,
        "failed": 1,
        "unscorable": 1,
        "with_draft": 1,
        "broken_lines": 2,
    }
    rows = {r.id: r for r in report.rows}
    assert rows["gone"].reason == "backend timed out" and rows["gone"].final_scores is None
    assert "no prompt for id 'nowhere'" in (rows["nowhere"].reason or "")
    assert rows["inline"].prompt_id == "inline"
    assert rows["by-path"].prompt_id == "own_prompt"
    assert rows["hostile"].prompt_id == UPSCALE


def test_draft_and_final_side_by_side(answers):
    report = evaluate(answers, load_prompt_index(PROMPTS))
    row = report.rows[0]
    assert row.draft_scores is not None and row.final_scores is not None
    # Draft: 1 of 2 URLs and 1 of 2 names sourced; the validator leaves only the sourced ones.
    assert (row.draft_scores.url_precision, row.final_scores.url_precision) == (0.5, 1.0)
    assert (row.draft_scores.model_precision, row.final_scores.model_precision) == (0.5, 1.0)
    assert row.draft_scores.violations == {"url": 1, "model": 1}
    assert [(v.kind, v.value) for v in row.draft_stripped] == [
        ("url", "https://github.com/xinntao/Real-ESRGAN"),
        ("model", "SwinIR"),
    ]
    urls = report.metric("url_precision")
    # Final over 4 scored answers (the hostile one cites 1 of 2 allowed): (1 + 1 + 1 + 0.5) / 4.
    assert urls.final.mean == 0.875 and urls.final.minimum == 0.5 and urls.final.perfect == 0.75
    # Draft only where there is one; the difference is over those same answers.
    assert urls.draft.mean == 0.5 and urls.draft.answers == 1
    assert urls.difference == 0.5
    assert report.violations == {"final": {"url": 1, "model": 0}, "draft": {"url": 1, "model": 1}}


def test_evaluate_never_raises_on_bad_records():
    not_a_prompt = "You are an AI scientist.\nModel: X\n"
    report = evaluate(
        [
            {"markdown": 3},
            {},
            {"id": "x", "markdown": "text"},
            {"id": 7, "error": {"code": 1}},
            {"id": "y", "prompt": not_a_prompt, "markdown": "text"},
            {"id": "z", "prompt_path": "/nonexistent/p.txt", "markdown": "text"},
        ]
    )
    assert [(r.id, r.status) for r in report.rows] == [
        ("#1", "unscorable"),
        ("#2", "unscorable"),
        ("x", "unscorable"),
        ("7", "failed"),
        ("y", "unscorable"),
        ("z", "unscorable"),
    ]
    assert report.rows[0].reason == "no string field 'markdown'"
    assert report.rows[3].reason == '{"code": 1}'
    assert (report.rows[4].reason or "").startswith("no question")
    assert (report.rows[5].reason or "").startswith("no prompt for id 'z'")
    assert report.metric("grounding").final.mean is None


def test_labelled_answers(tmp_path):
    labelled = [
        json.loads(line) for line in (FIXTURES / "labelled" / "answers.jsonl").read_text().splitlines()
    ]
    records = [{"id": r["id"], "prompt": r["prompt"], "markdown": r["answer"]} for r in labelled]
    report = evaluate(records, load_prompt_index(PROMPTS))
    assert report.counts["scored"] == len(labelled) == 46
    urls = report.metric("url_precision").final
    planted_urls = sum(any(p["kind"] == "url" for p in r["planted"]) for r in labelled)
    # Every answer with a planted URL loses URL precision; the others keep 1.0.
    assert urls.perfect == pytest.approx(1 - planted_urls / 46, abs=1e-6)
    assert urls.minimum is not None and urls.minimum < 1.0


# --------------------------------------------------------------------------- prompt index


def test_prompt_index_of_a_folder():
    index = load_prompt_index(PROMPTS)
    assert {UPSCALE, "multi#1", "multi#2", "multi#3", "v10_chinese"} <= set(index)
    # Subfolders are read, as the batch reads them; binary.bin is no prompt file.
    assert set(index.problems) == {"empty", "no_question", "no_sources"}


def test_prompt_index_records_files_that_do_not_parse(tmp_path):
    shutil.copy(PROMPTS / f"{UPSCALE}.txt", tmp_path)
    shutil.copy(PROMPTS / "bad" / "no_question.txt", tmp_path)
    index = load_prompt_index(tmp_path)
    assert list(index) == [UPSCALE]
    assert "no question" in index.problems["no_question"]
    report = evaluate([{"id": "no_question", "markdown": "x"}], index)
    assert report.rows[0].status == "unscorable"
    assert "its prompt does not parse" in (report.rows[0].reason or "")


def test_prompt_index_of_a_dataset_jsonl(tmp_path):
    text = (PROMPTS / f"{UPSCALE}.txt").read_text(encoding="utf-8")
    path = write_jsonl(
        tmp_path / "prompts.jsonl", [{"id": "a", "prompt": text}, "oops", {"id": "b", "prompt": "junk"}]
    )
    index = load_prompt_index(path)
    assert list(index) == ["a"] and index["a"].sources[0].name == "Deblur-MSSNet-GoPro"
    assert set(index.problems) == {"prompts.jsonl:2", "b"}


def test_prompt_index_of_a_json_dataset(tmp_path):
    text = (PROMPTS / "multi.txt").read_text(encoding="utf-8")
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps({"prompts": [{"id": "dump", "prompt": text}, 3]}))
    index = load_prompt_index(path)
    assert list(index) == ["dump#1", "dump#2", "dump#3"]
    assert index.problems == {"prompts.json:2": "not a JSON object"}


def test_prompt_index_of_one_file():
    assert list(load_prompt_index(PROMPTS / "multi.txt")) == ["multi#1", "multi#2", "multi#3"]
    with pytest.raises(PromptError, match="no question"):
        load_prompt_index(PROMPTS / "bad" / "no_question.txt")
    with pytest.raises(ConfigError, match="no such prompt file or folder"):
        load_prompt_index(PROMPTS / "missing.txt")


# --------------------------------------------------------------------------- errors


def test_missing_or_unreadable_answers_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.jsonl: no such answers file"):
        evaluate(tmp_path / "missing.jsonl")
    # A folder is read as a dataset team's results (one .json file per prompt).
    with pytest.raises(ConfigError, match=r"no \.json results files in this folder"):
        evaluate(tmp_path)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"id": "é"}\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        evaluate(latin1)


def test_a_record_holding_unicode_line_separators_is_one_record(tmp_path, final_text):
    # JSON text may hold U+2028, U+2029 and NEL unescaped (a batch's output holds them so);
    # they do not end a JSONL line.
    markdown = final_text.replace("\n\n", "\n\u2028\n", 1) + "\u2029 and\x85 more\n"
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps({"id": UPSCALE, "markdown": markdown}, ensure_ascii=False) + "\n{broken\n")
    report = evaluate(path, load_prompt_index(PROMPTS))
    assert report.counts["scored"] == 1
    assert [(b.line, b.reason[:9]) for b in report.broken_lines] == [(2, "not JSON:")]
    assert "\u2029 and\x85 more" in "".join(iter_report_html(report))


def test_a_prompt_file_named_by_many_records_is_read_once(tmp_path, monkeypatch, final_text):
    import cnaps_rag.evaluation.answers as answers_module

    shutil.copy(PROMPTS / f"{UPSCALE}.txt", tmp_path / "prompt.txt")
    load, reads = answers_module.load_prompt_file, []
    monkeypatch.setattr(answers_module, "load_prompt_file", lambda path: reads.append(path) or load(path))
    records = [{"id": s, "prompt_path": "prompt.txt", "markdown": final_text, "system": s} for s in "abc"]
    path = write_jsonl(tmp_path / "answers.jsonl", records)
    before = evaluate(path)
    assert before.counts["scored"] == 3 and len(reads) == 1
    # A changed file is read again: another prompt, other scores.
    shutil.copy(PROMPTS / f"{LIIF}.txt", tmp_path / "prompt.txt")
    after = evaluate(path)
    assert len(reads) == 2 and after.counts["scored"] == 3
    assert after.metric("url_precision").final.mean != before.metric("url_precision").final.mean


def test_missing_second_file_and_unwritable_output(answers, tmp_path):
    with pytest.raises(ConfigError, match="no such answers file"):
        evaluate([answers, tmp_path / "other.jsonl"], load_prompt_index(PROMPTS))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write the report"):
        write_report(evaluate(answers, load_prompt_index(PROMPTS)), blocker)


# --------------------------------------------------------------------------- report files


class _Page(HTMLParser):
    """Collects tags, attributes and the text outside <pre> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.outside_pre: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        self.depth += tag == "pre"

    def handle_endtag(self, tag):
        self.depth -= tag == "pre"

    def handle_data(self, data):
        if not self.depth:
            self.outside_pre.append(data)


def test_report_files(answers, tmp_path):
    out = tmp_path / "report"
    report = evaluate(answers, load_prompt_index(PROMPTS))
    write_report(report, out)
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]
    text = (out / "report.json").read_text(encoding="utf-8")
    # Written a row at a time, the same text as the whole report dumped at once.
    dumped = json.dumps(report.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False)
    assert text == dumped + "\n" and len(report.rows) > 1
    data = json.loads(text)
    assert data["counts"] == report.counts
    assert [m["metric"] for m in data["metrics"]] == [
        "url_precision",
        "source_recall",
        "model_precision",
        "structure",
        "grounding",
    ]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| URL precision | 0.875 | 0.500 | 0.750 | 0.500 | +0.500 |" in markdown
    assert "- line 3: not JSON" in markdown and "`gone` (line 5): backend timed out" in markdown


def test_a_partial_structure_is_a_share_and_says_why(answers, tmp_path):
    # 'inline' has the first of its prompt's three sections: structure 1/3, not a pass.
    report = evaluate(answers, load_prompt_index(PROMPTS))
    inline = next(r for r in report.rows if r.id == "inline")
    assert inline.final_scores is not None and 0 < inline.final_scores.structure < 1
    markdown = report_markdown(report)
    assert "### `inline`\n\nStructure: numbered sections [1]." in markdown
    assert (
        "<p>Numbered sections found: [1].</p>"
        in "".join(iter_report_html(report)).split('id="answer-', 3)[-1]
    )


def test_html_is_self_contained_and_escaped(answers, tmp_path):
    write_report(evaluate(answers, load_prompt_index(PROMPTS)), tmp_path / "report")
    page_text = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(page_text)
    # Nothing that loads or runs anything: no script, no external style sheet, image or frame.
    assert page.tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "table", "thead",
        "tbody", "tr", "th", "td", "svg", "rect", "line", "text", "pre", "mark", "section", "span", "ul",
        "li", "b", "code",
    }  # fmt: skip
    assert "script" not in page.tags and "img" not in page.tags
    # Only presentational attributes; a URL may stand in a title (a source's link, as text).
    names = {name for _, name, _ in page.attributes}
    assert names <= {
        "lang", "charset", "class", "id", "title", "width", "height", "viewbox", "role", "aria-label",
        "x", "y", "x1", "y1", "x2", "y2", "text-anchor",
    }, names  # fmt: skip
    assert not any(
        "http" in (v or "") for _, name, v in page.attributes if name not in {"title", "aria-label"}
    )
    assert "@import" not in page_text and "url(" not in page_text
    # URLs appear only inside the answers' own text.
    assert not any("http" in data for data in page.outside_pre)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in page_text
    # Marks: a stripped URL in the hostile answer, stripped items in the draft, unsupported text.
    assert '<mark class="stripped-url" title="stripped url (removed_url)' in page_text
    assert 'class="stripped-model' in page_text
    assert '<mark class="unsupported"' in page_text
    # The summary has the draft column and the chart has draft and final bars.
    assert "<th>draft mean</th><th>final − draft</th>" in page_text
    assert 'class="bar-draft"' in page_text and 'class="bar-final"' in page_text


def test_same_input_gives_the_same_bytes(answers, tmp_path):
    write_report(evaluate(answers, load_prompt_index(PROMPTS)), tmp_path / "one")
    write_report(evaluate(answers, load_prompt_index(PROMPTS)), tmp_path / "two")
    for name in ("report.json", "report.md", "report.html"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_two_runs_side_by_side(tmp_path, final_text):
    """Two runs are compared as two systems: each metric's mean and rank, the better one marked."""
    finals = write_jsonl(tmp_path / "finals.jsonl", [{"id": UPSCALE, "markdown": final_text}])
    drafts = write_jsonl(tmp_path / "drafts.jsonl", [{"id": UPSCALE, "markdown": DRAFT}])
    report = evaluate([finals, drafts], load_prompt_index(PROMPTS))
    means = [report.system(name).metric("url_precision").final.mean for name in ("finals", "drafts")]
    assert means == [1.0, 0.5] and report.ranking["url_precision"] == ["finals", "drafts"]
    assert "| finals | 1 | **1.000 (1)** |" in report_markdown(report)


# --------------------------------------------------------------------------- batch and eval agree


def test_batch_and_eval_read_a_folder_alike(tmp_path):
    from cnaps_rag.inputs import iter_inputs

    shutil.copy(PROMPTS / f"{UPSCALE}.txt", tmp_path / "A.TXT")
    assert [r.id for r in iter_inputs([tmp_path])] == ["A"]
    assert list(load_prompt_index(tmp_path)) == ["A"]


def test_eval_reads_a_dataset_with_the_batch_field_names(tmp_path, final_text, capsys):
    from cnaps_rag.cli import main

    text = (PROMPTS / f"{UPSCALE}.txt").read_text(encoding="utf-8")
    dataset = write_jsonl(tmp_path / "set.jsonl", [{"key": "k1", "text": text}])
    answers = write_jsonl(tmp_path / "answers.jsonl", [{"id": "k1", "markdown": final_text}])
    index = load_prompt_index(dataset, id_field="key", prompt_field="text")
    assert list(index) == ["k1"]
    code = main(
        [
            "eval",
            str(answers),
            "--prompts",
            str(dataset),
            "--id-field",
            "key",
            "--prompt-field",
            "text",
            "--json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["counts"]["scored"] == 1


# --------------------------------------------------------------------------- many systems side by side

LIIF = "004_3b145cd2937caf5f"
LIIF_ANSWER = SKELETON.format(one="LIIF upscales images.", two="Input → LIIF → output.", three="None.")


@pytest.fixture
def three_systems(tmp_path, final_text):
    """Three answers files to the same two prompts: good, one that cites an unsourced link, one weak."""
    good = write_jsonl(
        tmp_path / "good.jsonl",
        [{"id": UPSCALE, "markdown": final_text}, {"id": LIIF, "markdown": LIIF_ANSWER}],
    )
    leaky = write_jsonl(
        tmp_path / "leaky.jsonl",
        [{"id": UPSCALE, "markdown": DRAFT}, {"id": LIIF, "markdown": LIIF_ANSWER}, "{broken"],
    )
    weak = write_jsonl(
        tmp_path / "weak.jsonl",
        [{"id": UPSCALE, "markdown": "Just use any upscaler."}, {"id": LIIF, "error": "timed out"}],
    )
    return good, leaky, weak


def test_three_files_side_by_side_through_the_api(three_systems):
    import cnaps_rag

    good, leaky, weak = three_systems
    report = cnaps_rag.evaluate([good, leaky, weak], load_prompt_index(PROMPTS))
    assert [s.name for s in report.systems] == ["good", "leaky", "weak"]
    assert report.system("good").sources == [str(good)]
    assert report.counts == {
        "records": 6,
        "scored": 5,
        "failed": 1,
        "unscorable": 0,
        "with_draft": 0,
        "broken_lines": 1,
    }
    assert [(b.source, b.line) for b in report.broken_lines] == [(str(leaky), 3)]
    urls = {s.name: s.metric("url_precision").final for s in report.systems}
    assert (urls["good"].mean, urls["leaky"].mean, urls["leaky"].minimum) == (1.0, 0.75, 0.5)
    assert urls["leaky"].perfect == 0.5 and urls["weak"].answers == 1
    # Ranked per metric, best first; ties share the better rank.
    assert report.ranking["url_precision"] == ["good", "weak", "leaky"]
    assert {s.name: s.ranks["url_precision"] for s in report.systems} == {"good": 1, "weak": 1, "leaky": 3}
    # Per prompt: each system's score, the best marked where some system scored lower.
    upscale = next(p for p in report.prompts if p.prompt_id == UPSCALE)
    assert upscale.scores["leaky"]["url_precision"] == 0.5
    assert upscale.best["url_precision"] == ["good", "weak"]
    assert upscale.stripped == {"good": 0, "leaky": 2, "weak": 0}
    liif = next(p for p in report.prompts if p.prompt_id == LIIF)
    assert set(liif.scores) == {"good", "leaky"} and "url_precision" not in liif.best
    # What the validator strips from each, most often first.
    assert [(v.kind, v.value, v.answers) for v in report.system("leaky").stripped] == [
        ("model", "SwinIR", 1),
        ("url", "https://github.com/xinntao/Real-ESRGAN", 1),
    ]
    assert report.system("leaky").violations["final"] == {"url": 1, "model": 1}
    assert report.run is not None and report.run.answers == 6 and "answers/s" in report.run.line()


def test_rows_keep_scores_not_answer_texts(three_systems, tmp_path):
    report = evaluate(list(three_systems), load_prompt_index(PROMPTS))
    assert "markdown" not in type(report.rows[0]).model_fields
    data = json.loads(report_json_text(report))
    assert "Just use any upscaler." not in json.dumps(data)
    # The page reads each answer back from the run's file on disk.
    write_report(report, tmp_path / "out")
    assert "Just use any upscaler." in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_a_file_changed_after_scoring_still_gives_the_page_of_what_was_scored(three_systems, tmp_path):
    good = three_systems[0]
    report = evaluate(good, load_prompt_index(PROMPTS))
    good.write_text("", encoding="utf-8")
    write_report(report, tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    # The run kept the texts it scored (on disk, beside the rows), not where to read them again.
    assert page.count('<section class="answer"') == 2 and page.count("<h4>Final answer</h4>") == 2


def report_json_text(report):
    from cnaps_rag.evaluation import report_json

    return report_json(report)


def test_report_json_streamed_is_the_plain_dump(three_systems):
    """Written key by key and a row at a time, the file is what one json.dumps of the report gives."""
    for report in (evaluate(list(three_systems), load_prompt_index(PROMPTS)), evaluate([], name="none")):
        plain = json.dumps(report.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False)
        assert report_json_text(report) == plain + "\n"


def test_memory_does_not_grow_with_the_answers_texts(tmp_path):
    import tracemalloc

    text = (PROMPTS / f"{UPSCALE}.txt").read_text(encoding="utf-8")
    # Long answers made of the prompt's own words: no unsupported sentence is kept in the scores.
    answer = "## 1. Task\n\n" + "The user wants to upscale images on a phone.\n" * 2000

    def answers(name, count):
        return write_jsonl(tmp_path / name, [{"id": "p", "prompt": text, "markdown": answer}] * count)

    evaluate([answers("warm.jsonl", 2)])  # imports, caches and the parsed prompt are not the point
    path = answers("big.jsonl", 20)
    tracemalloc.start()
    try:
        report = evaluate([path])
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.counts["scored"] == 20
    assert report.metric("grounding").final.minimum == 1.0
    # The report holds every row's scores but none of the 1.8 MB of answers (a few KB a row).
    assert kept < 20 * len(answer) / 5, kept


def test_one_file_of_several_systems_splits_by_system(tmp_path, final_text):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"id": UPSCALE, "markdown": final_text, "system": "a"},
            {"id": UPSCALE, "markdown": DRAFT, "system": "b"},
            {"id": LIIF, "markdown": LIIF_ANSWER, "system": "a"},
            {"id": LIIF, "markdown": LIIF_ANSWER},
        ],
    )
    report = evaluate(path, load_prompt_index(PROMPTS))
    assert [(s.name, s.counts["scored"]) for s in report.systems] == [("a", 2), ("b", 1), ("mixed", 1)]
    assert report.ranking["model_precision"][-1] == "b"
    # Another field name for the system.
    renamed = write_jsonl(
        tmp_path / "renamed.jsonl",
        [{"id": UPSCALE, "markdown": final_text, "who": "x"}, {"id": UPSCALE, "markdown": DRAFT, "who": "y"}],
    )
    assert [s.name for s in evaluate(renamed, load_prompt_index(PROMPTS), system_field="who").systems] == [
        "x",
        "y",
    ]


def test_files_with_the_same_name_are_told_apart_by_path(tmp_path, final_text):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_jsonl(tmp_path / "one" / "answers.jsonl", [{"id": UPSCALE, "markdown": final_text}])
    second = write_jsonl(tmp_path / "two" / "answers.jsonl", [{"id": UPSCALE, "markdown": DRAFT}])
    report = evaluate([first, second], load_prompt_index(PROMPTS))
    assert [s.name for s in report.systems] == [str(first), str(second)]


def test_three_files_through_the_cli(three_systems, tmp_path, capsys):
    from cnaps_rag.cli import main

    out = tmp_path / "report"
    code = main(["eval", *map(str, three_systems), "--prompts", str(PROMPTS), "-o", str(out), "--json"])
    assert code == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert [s["name"] for s in data["systems"]] == ["good", "leaky", "weak"]
    assert data["ranking"]["url_precision"] == ["good", "weak", "leaky"]
    assert "run" not in data
    assert "scored 6 answers in" in captured.err and "answers/s" in captured.err
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Systems" in markdown and "## Per prompt" in markdown
    assert "| good | 2 | **1.000 (1)** |" in markdown
    assert "| leaky | 1 URLs, 1 model names |" in markdown
    page = (out / "report.html").read_text(encoding="utf-8")
    # A chart per metric, a bar per system in each, and the best marked per prompt.
    assert page.count('<figure class="chart">') == 5
    assert page.count('class="sys-0"') == page.count('class="sys-1"') == 5
    assert '<td class="best">' in page
    # Lines of several files are named by file and line, alike in both reports.
    _, leaky, weak = three_systems
    assert (
        f"- `{leaky}` line 3: not JSON" in markdown and f"`{LIIF}` (`{weak}` line 2): timed out" in markdown
    )
    assert f"<li><code>{leaky}</code> line 3: not JSON" in page
    assert f"<code>{LIIF}</code> (<code>{weak}</code> line 2): timed out" in page
    # Structure is a share, printed as one per prompt (not yes/no).
    structure = markdown.split("### structure")[2].split("###")[0]
    assert f"| {UPSCALE} | **1.000** | **1.000** | 0.000 |" in structure
    # Each per-prompt score links to that system's answer further down the page.
    assert '<a href="#answer-1">' in page and '<section class="answer" id="answer-1">' in page


def test_the_page_in_a_real_headless_browser(three_systems, tmp_path):
    """Opens the report in Chromium: it loads nothing, runs nothing, and draws every chart."""
    import shutil as _shutil

    browser_path = next((p for p in ("chromium", "chromium-browser") if _shutil.which(p)), None)
    if browser_path is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    write_report(evaluate(list(three_systems), load_prompt_index(PROMPTS)), tmp_path / "out")
    page_path = tmp_path / "out" / "report.html"
    requests, errors = [], []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=_shutil.which(browser_path), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_path.as_uri())
            charts = page.evaluate(
                """() => [...document.querySelectorAll('figure.chart svg')].map(svg => ({
                    width: svg.getBoundingClientRect().width,
                    bars: [...svg.querySelectorAll('rect')].map(r => r.getBBox().width),
                }))"""
            )
            scripts = page.evaluate("() => document.scripts.length")
            links = page.evaluate(
                """() => [...document.querySelectorAll('a')].map(
                    a => !!document.getElementById(a.getAttribute('href').slice(1)))"""
            )
            best = page.evaluate(
                "() => getComputedStyle(document.querySelector('td.best'), '::after').content"
            )
        finally:
            browser.close()
    assert requests == [page_path.as_uri()] and errors == [] and scripts == 0
    # Every link is to an answer on the page itself, and that answer is there.
    assert links and all(links)
    assert len(charts) == 5 and all(chart["width"] > 300 for chart in charts)
    # URL precision: good and weak full bars, leaky three quarters (300 px is 1.0).
    assert charts[0]["bars"] == [300, 225, 300]
    assert best == '" ★"'


def test_untrusted_summaries_through_the_cli(tmp_path, capsys):
    from cnaps_rag.cli import main

    lines = (PROMPTS / f"{UPSCALE}.txt").read_text(encoding="utf-8").split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("Summary:"))
    lines[first] += " Code is available at https://github.com/example/scaling-code."
    answers = write_jsonl(
        tmp_path / "answers.jsonl",
        [
            {
                "id": "x",
                "prompt": "\n".join(lines),
                "markdown": "Code: https://github.com/example/scaling-code.\n",
            }
        ],
    )
    precision = []
    for options in ([], ["--untrusted-summaries"]):
        assert main(["eval", str(answers), "--json", "-q", *options]) == 0
        captured = capsys.readouterr()
        assert captured.err == ""
        precision.append(json.loads(captured.out)["metrics"][0]["final"]["mean"])
    # A link a summary gives is a sourced link, unless summaries are not trusted.
    assert precision == [1.0, 0.0]


def test_a_record_that_breaks_the_scorer_is_a_row_not_a_crash(monkeypatch, final_text):
    import importlib

    # Scoring one answer is a pure function of the run module, wherever it runs.
    evaluation = importlib.import_module("cnaps_rag.evaluation.run")
    real = evaluation.validate

    def fragile(text, allow):
        if "boom" in text:
            raise IndexError("string index out of range")
        return real(text, allow)

    monkeypatch.setattr(evaluation, "validate", fragile)
    monkeypatch.delenv("CNAPS_RAG_RAISE_ERRORS", raising=False)
    answers = [{"id": UPSCALE, "markdown": "boom"}, {"id": UPSCALE, "markdown": final_text}]
    report = evaluate(answers, load_prompt_index(PROMPTS))
    assert [r.status for r in report.rows] == ["unscorable", "scored"]
    assert report.rows[0].reason == "scoring failed: IndexError: string index out of range"
    monkeypatch.setenv("CNAPS_RAG_RAISE_ERRORS", "1")
    with pytest.raises(IndexError):
        evaluate(answers, load_prompt_index(PROMPTS))
