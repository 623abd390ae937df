"""A dataset team's results read as they are, and its judges as a panel: agreement and blind spots.

The fixtures are written here (the project's own prompt and answers made up for the test), in the
layout the public CNAPS evaluation repositories use: one JSON file per prompt.
"""

from __future__ import annotations

import json

import pytest
from conftest import PROMPTS

from cnaps_rag import ConfigError, validate
from cnaps_rag.cli import main
from cnaps_rag.evaluation import ResultsFields, evaluate, report_json, report_markdown, write_report
from cnaps_rag.evaluation.models import RecordedVerdicts, StrippedItem
from cnaps_rag.evaluation.panel import fleiss_kappa, judge_panel, majority, pairwise_agreement

UPSCALE = "000_d18f79af084974a4"
SKELETON = "## 1. Task\n\n{one}\n\n## 2. Workflow\n\n{two}\n\n## 3. Papers\n\n{three}\n"
# Two outside items (a name and a URL), one outside name, none.
LEAKY = SKELETON.format(
    one="Upscaling on a low-end phone.",
    two="Input → MSSNet → output. SwinIR is another choice.",
    three="- https://github.com/kky7/MSSNet\n- https://github.com/xinntao/Real-ESRGAN",
)
SLIGHTLY = SKELETON.format(
    one="Upscaling on a low-end phone.",
    two="Input → MSSNet → output. SwinIR is another choice.",
    three="- https://github.com/kky7/MSSNet",
)


# Two answers shown to a comparing judge (the golden file's), and its reply picking the second.
COMPARED = [("x", LEAKY), ("y", SLIGHTLY)]
COMPARE_REPLY = json.dumps({"reason": "cleaner", "best": "B"})


@pytest.fixture(scope="module")
def prompt_text() -> str:
    return (PROMPTS / f"{UPSCALE}.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def clean(prompt_text) -> str:
    from conftest import prompt

    text = validate(LEAKY, prompt(UPSCALE)).text
    assert validate(text, prompt(UPSCALE)).violations == []
    return text


def result(prompt_text, responses, votes=None, scores=None, **extra):
    data = {"query_id": "Query1", "query_text": prompt_text, "responses": responses, **extra}
    if votes is not None:
        data |= {"votes": votes, "scores": scores or {}, "rationales": {j: f"{j} liked it" for j in votes}}
    return data


@pytest.fixture
def results(tmp_path, prompt_text, clean):
    """A folder of five prompts' results: three judged, one not, and one file of each way to break."""
    folder = tmp_path / "results"
    folder.mkdir()
    answers = {"sys_a": clean, "sys_b": SLIGHTLY, "sys_c": LEAKY}
    files = {
        # Everyone picks the leakiest answer: a blind spot for each judge and the majority.
        "p1": result(prompt_text, answers, {"j1": "sys_c", "j2": "sys_c", "j3": "sys_c"}),
        # j1 picks the clean one; j2 and j3 split: no majority.
        "p2": result(
            prompt_text,
            answers,
            {"j1": "sys_a", "j2": "sys_b", "j3": "sys_c"},
            {"j3": {"sys_a": 40, "sys_b": 45, "sys_c": 50}},
        ),
        # Majority for sys_b, whose single stripped name stands beside the clean answer.
        "p3": result(
            prompt_text,
            answers,
            {"j1": "sys_b", "j2": "sys_b", "j3": "sys_a"},
            {"j3": {"sys_a": 48, "sys_b": 30, "sys_c": 20}},
        ),
        "p4": result(prompt_text, answers | {"sys_d": None}),  # not judged; one system gave no answer
        "p5": result(prompt_text, answers) | {"votes": ["sys_a"], "scores": {"j1": {"sys_a": "high"}}},
        # Per-criterion scores count as their total.
        "p6": result(prompt_text, answers, {"j1": "sys_a"}, {"j1": {"sys_a": {"clarity": 9, "models": 10}}}),
    }
    for stem, data in files.items():
        (folder / f"{stem}.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "broken.json").write_text('{"query_text": "x", "responses": ', encoding="utf-8")
    (folder / "no_answers.json").write_text(json.dumps({"query_text": prompt_text}), encoding="utf-8")
    (folder / "notes.txt").write_text("not a results file", encoding="utf-8")
    return folder


def test_a_results_folder_is_read_as_it_is(results):
    report = evaluate(results)
    rows = list(report.rows)
    # Every response is an answer of its system, named by its file's stem; the rest are told apart.
    assert [(r.id, r.system) for r in rows[:3]] == [("p1", "sys_a"), ("p1", "sys_b"), ("p1", "sys_c")]
    failed = [r for r in rows if r.status != "scored"]
    assert [(r.id, r.system, r.status, r.reason) for r in failed] == [
        ("p4", "sys_d", "failed", "no answer in 'responses' (null)")
    ]
    assert len(rows) == 19
    assert all(r.line is None and r.source == str(results / f"{r.id}.json") for r in rows)
    assert [s.name for s in report.systems] == ["sys_a", "sys_b", "sys_c", "sys_d"]
    assert [s.violations["final"] for s in report.systems] == [
        {"url": 0, "model": 0},
        {"url": 0, "model": 6},
        {"url": 6, "model": 6},
        {"url": 0, "model": 0},
    ]
    broken = {(b.source or "").rsplit("/", 1)[-1]: b.reason for b in report.broken_lines}
    assert broken == {
        "broken.json": "not JSON: Expecting value at line 1 column 34",
        "no_answers.json": "no 'responses' object of system -> answer",
        "p5.json": "verdicts left out: 'votes' is not an object of judge -> system; "
        "'scores' of 'j1' is not an object of system -> score",
    }
    assert report.counts["broken_lines"] == 3
    # The page reads each answer back from its results file.
    assert report.rows.get(2)[0] == LEAKY


def test_the_recorded_panel(results):
    panel = evaluate(results).judges
    assert panel is not None and panel.source == "recorded" and panel.panel == ["j1", "j2", "j3"]
    assert [v.id for v in panel.verdicts] == ["p1", "p2", "p3", "p6"]
    assert panel.verdicts[0].rationales["j2"] == "j2 liked it"
    j1, _, j3 = panel.judges
    assert j1.picks == {"sys_a": 2, "sys_b": 1, "sys_c": 1, "sys_d": 0} and j1.judged == 4
    assert j3.mean_scores == {"sys_a": 44.0, "sys_b": 37.5, "sys_c": 35.0, "sys_d": None} and j3.scored == 2
    # p6's scores per criterion count as their total; j1 scored nothing else.
    assert j1.mean_scores == {"sys_a": 19.0, "sys_b": None, "sys_c": None, "sys_d": None} and j1.scored == 1
    # p6 has one vote: the majority of one.
    assert panel.majority.picks == {"sys_a": 1, "sys_b": 1, "sys_c": 1, "sys_d": 0} and panel.no_majority == 1
    # Pairs: p1 3 of 3 agree, p2 none of 3, p3 1 of 3.
    assert panel.pairwise_agreement == pytest.approx(4 / 9, abs=1e-6) and panel.pairs == 9
    assert panel.kappa_prompts == 3 and panel.fleiss_kappa is not None
    spots = [(s.id, s.judge, s.picked, s.cleanest, s.cleanest_stripped) for s in panel.blind_spots]
    assert spots == [
        ("p1", "j1", "sys_c", "sys_a", 0),
        ("p1", "j2", "sys_c", "sys_a", 0),
        ("p1", "j3", "sys_c", "sys_a", 0),
        ("p1", "majority", "sys_c", "sys_a", 0),
        ("p2", "j2", "sys_b", "sys_a", 0),
        ("p2", "j3", "sys_c", "sys_a", 0),
        ("p3", "j1", "sys_b", "sys_a", 0),
        ("p3", "j2", "sys_b", "sys_a", 0),
        ("p3", "majority", "sys_b", "sys_a", 0),
    ]
    assert [r.blind_spots for r in [*panel.judges, panel.majority]] == [2, 3, 2, 2]
    # What was stripped from the pick is listed with it.
    assert {(i.kind, i.value) for i in panel.blind_spots[0].stripped} == {
        ("model", "SwinIR"),
        ("url", "https://github.com/xinntao/Real-ESRGAN"),
    }


def test_the_panel_in_the_three_reports(results, tmp_path):
    report = evaluate(results)
    write_report(report, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    judges = data["judges"]
    assert judges["panel"] == ["j1", "j2", "j3"]
    assert judges["pairwise_agreement"] == pytest.approx(0.444444)
    assert set(judges["blind_spots"][0]) == {
        "id",
        "judge",
        "picked",
        "stripped",
        "cleanest",
        "cleanest_stripped",
        "claims",
        "grounded",
        "grounded_claims",
    }
    markdown = report_markdown(report)
    assert (
        "## Judges as a panel" in markdown
        and "Pairwise agreement 0.444 (the share of 9 judge pairs" in markdown
    )
    assert (
        "| p1 | majority | sys_c | url https://github.com/xinntao/Real-ESRGAN, model SwinIR | sys_a (0) |"
        in (markdown)
    )
    assert "| majority | 3 | **1** | **1** | **1** | 0 | 2 |" in markdown
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Judges as a panel</h2>" in page and "<h3>Blind spots</h3>" in page
    assert report_json(report) == report_json(evaluate(results))


def test_a_json_list_with_other_field_names(tmp_path, prompt_text, clean):
    items = [
        {"key": "first", "question": prompt_text, "answers": {"x": clean, "y": LEAKY}, "picks": {"k": "y"}},
        {"key": "second", "question": prompt_text, "answers": {"x": LEAKY, "y": clean}, "picks": {"k": "y"}},
        "not an object",
    ]
    path = tmp_path / "all.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    fields = ResultsFields.parse(["id=key", "prompt=question", "responses=answers", "votes=picks"])
    report = evaluate([path], results_fields=fields)
    assert [(r.id, r.system, r.status) for r in report.rows] == [
        ("first", "x", "scored"),
        ("first", "y", "scored"),
        ("second", "x", "scored"),
        ("second", "y", "scored"),
    ]
    assert [b.reason for b in report.broken_lines] == ["item 3: not a JSON object but str"]
    spots = [(s.id, s.judge) for s in report.judges.blind_spots] if report.judges else []
    assert spots == [("first", "k"), ("first", "majority")]  # one judge is its own majority
    assert report.judges.fleiss_kappa is None  # one judge
    # Without the field names, nothing is an answer: one line per item, no crash.
    plain = evaluate([path])
    assert plain.counts["records"] == 0 and len(plain.broken_lines) == 3
    with pytest.raises(ConfigError, match="expected ROLE=NAME"):
        ResultsFields.parse(["answer=x"])


def test_the_cli_reads_results_with_no_conversion(results, tmp_path, capsys):
    code = main(["eval", str(results), "-o", str(tmp_path / "out"), "-q", "--jobs", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "## Judges as a panel" in out and "Blind spots" in out
    assert main(["eval", str(results), "--results-field", "nonsense"]) == 2
    assert "expected ROLE=NAME" in capsys.readouterr().err


# --------------------------------------------------------------------------- the measures, by hand


def votes(*picks: str) -> RecordedVerdicts:
    return RecordedVerdicts(id="x", votes={f"j{i}": p for i, p in enumerate(picks)})


def test_fleiss_kappa_and_pairwise_agreement_by_hand():
    # Four prompts, three judges, two answers: P_i = 1, 1/3, 1, 1/3; P = 2/3; p_a = p_b = 1/2; Pe = 1/2.
    verdicts = [votes("a", "a", "a"), votes("a", "a", "b"), votes("b", "b", "b"), votes("a", "b", "b")]
    kappa, prompts = fleiss_kappa(verdicts, ["j0", "j1", "j2"])
    assert kappa == pytest.approx(1 / 3, abs=1e-6) and prompts == 4
    assert pairwise_agreement(verdicts) == (pytest.approx(8 / 12, abs=1e-6), 12)
    # Full agreement on one answer throughout: kappa is undefined, agreement is 1.
    same = [votes("a", "a"), votes("a", "a")]
    assert fleiss_kappa(same, ["j0", "j1"]) == (None, 2)
    assert pairwise_agreement(same) == (1.0, 2)
    # Perfect agreement on different answers: kappa 1; a prompt a judge skipped is left out of kappa.
    assert fleiss_kappa([votes("a", "a"), votes("b", "b"), votes("a")], ["j0", "j1"]) == (1.0, 2)
    assert majority({"j0": "a", "j1": "b"}) is None and majority({"j0": "a", "j1": "a", "j2": "b"}) == "a"


def test_a_blind_spot_needs_a_cleaner_scored_answer():
    faults = {
        ("x", "a"): [StrippedItem(kind="model", value="M")],
        ("x", "b"): [StrippedItem(kind="model", value="M")],
        ("x", "c"): [],
    }
    panel = judge_panel([votes("a", "c", "b", "d")], faults, ["a", "b", "c"])
    # j0 picked a (1 stripped, c has 0): blind. j1 picked the clean c: not. j3 picked an unscored d: not.
    assert [(s.judge, s.picked) for s in panel.blind_spots] == [("j0", "a"), ("j2", "b")]
    equal = {("x", "a"): faults[("x", "a")], ("x", "b"): faults[("x", "b")]}
    assert judge_panel([votes("a")], equal, ["a", "b"]).blind_spots == []


def test_a_pick_with_more_flagged_claims_is_a_blind_spot_too():
    claim, url = StrippedItem(kind="unsupported", value="It is fast."), StrippedItem(kind="url", value="u")
    faults = {
        # a: no stripped item but two flagged claims; b: one of each; c: neither.
        ("x", "a"): [claim, StrippedItem(kind="misattributed", value="It was trained on X.")],
        ("x", "b"): [url, claim],
        ("x", "c"): [],
    }
    panel = judge_panel([votes("a", "b", "c")], faults, ["a", "b", "c"])
    spots = {s.judge: s for s in panel.blind_spots}
    # j0's pick strips nothing but has more claims than c's; j1's has both; j2 picked the clean c.
    assert sorted(spots) == ["j0", "j1"]
    a, b = spots["j0"], spots["j1"]
    assert (a.stripped, [i.kind for i in a.claims]) == ([], ["unsupported", "misattributed"])
    assert (a.cleanest, a.cleanest_stripped, a.grounded, a.grounded_claims) == ("c", 0, "c", 0)
    assert (b.cleanest, b.cleanest_stripped, b.grounded, len(b.claims)) == ("a", 0, "c", 1)
    j0, j1, j2 = panel.judges
    assert (j0.blind_spots, j0.stripped_spots, j0.claim_spots) == (1, 0, 1)
    assert (j1.blind_spots, j1.stripped_spots, j1.claim_spots) == (1, 1, 1)
    assert j2.blind_spots == 0
    # As many claims as another answer, and no more stripped: no blind spot.
    same = {("x", "a"): [claim], ("x", "b"): [claim]}
    assert judge_panel([votes("a")], same, ["a", "b"]).blind_spots == []


def test_answer_faults_lists_stripped_items_then_flagged_claims(prompt_text):
    """On a scored answer: the stripped name, then each flagged claim once, misattributed ones so named."""
    from cnaps_rag.evaluation.panel import answer_faults

    text = SKELETON.format(
        one="Upscaling on a low-end phone.",
        two="SwinIR restores faces. MSSNet was trained on ImageNet by a team in Paris with a transformer.",
        three="- https://github.com/kky7/MSSNet",
    )
    (row,) = list(evaluate([{"id": UPSCALE, "markdown": text, "prompt": prompt_text}]).rows)
    faults = answer_faults(row)
    scores = row.final_scores
    assert scores is not None and scores.unsupported
    assert [(f.kind, f.value) for f in faults[: len(row.final_stripped)]] == [
        (v.kind, v.value) for v in row.final_stripped
    ] and row.final_stripped
    claims = faults[len(row.final_stripped) :]
    assert len(claims) == len(scores.unsupported)
    kinds = [f.kind for f in claims]
    assert kinds.count("misattributed") == len(scores.misattributed)
    assert set(kinds) <= {"unsupported", "misattributed"}


# --------------------------------------------------------------------------- a live panel


def rubric_reply(score: int) -> str:
    from cnaps_rag.evaluation.models import CRITERIA

    data = {c: {"reason": "r", "score": score} for c in CRITERIA}
    return json.dumps(data | {"unsupported_sentences": [], "does_what_was_asked": True, "asked_reason": "ok"})


def live_answers(prompt_text, clean):
    return [
        {"id": "q", "prompt": prompt_text, "markdown": clean, "system": "sys_a"},
        {"id": "q", "prompt": prompt_text, "markdown": LEAKY, "system": "sys_c"},
    ]


def test_a_live_panel_of_two_judges_with_fakes(prompt_text, clean, tmp_path):
    """Control flow only: one judge always picks the first answer shown, the other the leaky one."""
    from conftest import QueueBackend

    from cnaps_rag.evaluation import Judge

    def first_shown(request):
        if "best" in (request.schema or {}).get("properties", {}):
            return json.dumps({"reason": "first is best", "best": "A"})
        return rubric_reply(3)

    def leaky(request):
        if "best" in (request.schema or {}).get("properties", {}):
            shown = request.messages[-1]["content"]
            letter = "A" if shown.index("Real-ESRGAN") < shown.index("ANSWER B") else "B"
            return json.dumps({"reason": "more links", "best": letter})
        return rubric_reply(5 if "Real-ESRGAN" in request.messages[-1]["content"] else 2)

    backends = [QueueBackend(model="ja"), QueueBackend(model="jb")]
    backends[0].default_reply, backends[1].default_reply = first_shown, leaky
    judges = [Judge(b, cache_dir=tmp_path / "cache") for b in backends]
    report = evaluate(live_answers(prompt_text, clean), judge=judges)
    panel = report.judges
    assert panel is not None and panel.source == "live" and panel.panel == ["ja", "jb"]
    (verdict,) = panel.verdicts
    assert verdict.votes == {"ja": "sys_a", "jb": "sys_c"} and verdict.reordered == {
        "ja": "sys_c",
        "jb": "sys_c",
    }
    assert verdict.scores["jb"] == {"sys_a": 0.25, "sys_c": 1.0}
    ja, jb = panel.judges
    assert (ja.reordered, ja.changed, jb.reordered, jb.changed) == (1, 1, 1, 0)
    assert panel.pairwise_agreement == 0.0 and panel.no_majority == 1
    assert [(s.judge, s.picked, s.cleanest) for s in panel.blind_spots] == [("jb", "sys_c", "sys_a")]
    rows = list(report.rows)
    assert set(rows[0].judgments) == {"ja", "jb"} and rows[0].judgment == rows[0].judgments["ja"]
    # Two rubric verdicts and two comparisons (both orders) per judge, then all from the cache.
    assert [len(b.history) for b in backends] == [4, 4]
    again = evaluate(
        live_answers(prompt_text, clean), judge=[Judge(b, cache_dir=tmp_path / "cache") for b in backends]
    )
    assert [len(b.history) for b in backends] == [4, 4] and report_json(again) == report_json(report)
    # Verdicts and comparisons asked three at a time give the same report.
    threaded = [Judge(b, cache_dir=None) for b in backends]
    assert report_json(evaluate(live_answers(prompt_text, clean), judge=threaded, judge_workers=3)) == (
        report_json(report)
    )
    markdown = report_markdown(report)
    assert (
        "| ja | 1 | **1** | 0 | 0 | 0 | 0 | 1 | 1 |" in markdown
        and "asked again, answers reordered" in markdown
    )


@pytest.mark.server
def test_a_live_panel_against_the_llama_cpp_server(llama_server, prompt_text, clean, tmp_path):
    """Two judges (the embedded 135M model under two names) on loopback, end to end through the CLI."""
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "".join(json.dumps(r) + "\n" for r in live_answers(prompt_text, clean)), encoding="utf-8"
    )
    arguments = ["eval", str(answers), "-o", str(tmp_path / "out"), "--json", "-q", "--jobs", "1"]
    arguments += [
        "--judge-base-url",
        llama_server,
        "--judge-n-ctx",
        "2048",
        "--judge-cache",
        str(tmp_path / "c"),
    ]
    arguments += ["--judge-model", "smollm2-a", "--judge-model", "smollm2-b"]
    assert main(arguments) == 0
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    panel = data["judges"]
    assert panel["source"] == "live" and panel["panel"] == ["smollm2-a", "smollm2-b"]
    # The 135M model is a weak judge: what is tested is that verdicts came back from the server and
    # went through the panel, or that each failure is recorded where it happened.
    judged = [row for row in data["rows"] if row["judgments"]]
    failures = [row["judge_error"] for row in data["rows"] if row["judge_error"]]
    if not judged:
        pytest.fail(f"the real server gave no verdict: {failures}")
    for row in judged:
        assert set(row["judgments"]) <= {"smollm2-a", "smollm2-b"}
        assert all(j["model"] in ("smollm2-a", "smollm2-b") for j in row["judgments"].values())
    for verdict in panel["verdicts"]:
        assert set(verdict["votes"].values()) <= {"sys_a", "sys_c"}
    asked = sum(j["reordered"] for j in panel["judges"])
    assert asked + len(panel["failures"]) >= 1
    cached = len(list((tmp_path / "c").rglob("*.json")))
    assert cached >= 1  # what the server said was kept: a rerun asks again only for failures


def test_what_a_comparing_judge_is_sent_matches_its_golden_file():
    """The rendered comparison for an example (``python tests/renders.py`` rewrites the file)."""
    from renders import GOLDEN, compare_sent

    sent = compare_sent(COMPARED, COMPARE_REPLY)
    assert sent == (GOLDEN / "judge_compare_000.json").read_text(encoding="utf-8")
    assert json.loads(sent)["schema"]["properties"]["best"]["enum"] == ["A", "B"]


def test_a_comparing_judge_maps_the_letter_back_and_refuses_others():
    from conftest import QueueBackend, prompt

    from cnaps_rag.evaluation import Judge

    backend = QueueBackend([COMPARE_REPLY])
    assert Judge(backend, cache_dir=None).compare(prompt(UPSCALE), COMPARED) == ("y", None)
    # A letter outside the ones shown is a failure, recorded, not a pick.
    bad = QueueBackend([json.dumps({"reason": "?", "best": "C"})] * 3)
    pick, why = Judge(bad, cache_dir=None, attempts=1).compare(prompt(UPSCALE), COMPARED)
    assert pick is None and why


def test_recorded_and_live_judges_sit_on_one_panel(results, tmp_path):
    from conftest import QueueBackend

    from cnaps_rag.evaluation import Judge

    def first_shown(request):
        if "best" in (request.schema or {}).get("properties", {}):
            return json.dumps({"reason": "first is best", "best": "A"})
        return rubric_reply(3)

    backends = [QueueBackend(model="live1"), QueueBackend(model="live2")]
    for backend in backends:
        backend.default_reply = first_shown
    report = evaluate(results, judge=[Judge(b, cache_dir=None) for b in backends])
    panel = report.judges
    assert panel is not None and panel.source == "recorded and live"
    assert panel.panel == ["j1", "j2", "j3", "live1", "live2"]
    # Every prompt has three answers: the live judges picked the first shown, then the last.
    live1 = panel.judges[3]
    assert live1.judged == 6 and live1.picks["sys_a"] == 6 and (live1.reordered, live1.changed) == (6, 6)
    p1 = next(v for v in panel.verdicts if v.id == "p1")
    assert p1.votes == {"j1": "sys_c", "j2": "sys_c", "j3": "sys_c", "live1": "sys_a", "live2": "sys_a"}
    assert "Recorded and live verdicts of 5 judges" in report_markdown(report)
