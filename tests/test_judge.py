"""The optional judge: mechanics with a fake backend, then against the real llama.cpp server on loopback."""

from __future__ import annotations

import json

import pytest
from conftest import PROMPTS, QueueBackend, prompt

from cnaps_rag import BackendError, ConfigError, validate
from cnaps_rag.cache import cache_key
from cnaps_rag.evaluation import Judge, evaluate, load_prompt_index, report_markdown
from cnaps_rag.evaluation.models import CRITERIA, JudgeReply
from cnaps_rag.evaluation.panel import ranks, spearman

UPSCALE = "000_d18f79af084974a4"
LIIF = "004_3b145cd2937caf5f"
ANSWER = (
    "## 1. Task\n\nThe user wants to upscale images by 2x on a low-end phone.\n\n"
    "## 2. Workflow\n\nInput image → MSSNet → sharper output image.\n\n"
    "## 3. Papers\n\n- https://github.com/kky7/MSSNet\n"
)


def reply(scores=(4, 3, 2, 5, 3), unsupported=(2,), asked=True) -> str:
    """A well-formed judge reply."""
    data = {c: {"reason": f"reason for {c}", "score": s} for c, s in zip(CRITERIA, scores, strict=True)}
    data |= {"unsupported_sentences": list(unsupported), "does_what_was_asked": asked, "asked_reason": "yes"}
    return json.dumps(data)


def records(n: int = 3) -> list[dict]:
    """``n`` answers to the upscaling prompt, each a little different (a different cache key)."""
    return [
        {"id": f"a{i}", "prompt": f"{UPSCALE}.txt", "markdown": ANSWER + f"\nNote {i}.\n", "system": "s"}
        for i in range(n)
    ]


# --------------------------------------------------------------------------- fake backend: control flow


def test_verdicts_are_recorded_and_a_rerun_asks_nothing(tmp_path):
    backend = QueueBackend([reply(), reply((1, 1, 1, 1, 1), (), False), reply((5, 5, 5, 5, 5))])
    judge = Judge(backend, cache_dir=tmp_path / "cache")
    report = evaluate(records(), load_prompt_index(PROMPTS), judge=judge)
    assert len(backend.history) == 3 and judge.requests == 3 and judge.cache_hits == 0
    first = report.rows[0].judgment
    assert first is not None and first.scores == dict(zip(CRITERIA, (4, 3, 2, 5, 3), strict=True))
    assert first.rubric_version == judge.rubric_version == "judge-rubric-1"
    assert first.model == "fake-model" and first.reasons["clarity"] == "reason for clarity"
    # The judge was shown the answer's sentences, numbered; sentence 2 is the unsupported one.
    shown = backend.history[0].messages[-1]["content"]
    assert "\n## 1. Task\n[1] The user wants to upscale" in shown and "[2] Input image" in shown
    assert first.unsupported_sentences == [2] and first.supported_share == pytest.approx(
        1 - 1 / first.sentences
    )
    assert report.rows[1].judgment is not None and report.rows[1].judgment.does_what_was_asked is False
    assert report.judge is not None and report.judge.judged == 3 and report.judge.failed == 0
    summary = report.system("s").judge
    assert summary is not None and summary.criteria["clarity"] == pytest.approx((4 + 1 + 5) / 3, abs=1e-6)
    # The request asks for the schema's structured output.
    assert backend.history[0].schema == judge.schema
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 3

    again = QueueBackend()
    rejudge = Judge(again, cache_dir=tmp_path / "cache")
    rerun = evaluate(records(), load_prompt_index(PROMPTS), judge=rejudge)
    assert again.history == [] and rejudge.requests == 0 and rejudge.cache_hits == 3
    assert [r.judgment for r in rerun.rows] == [r.judgment for r in report.rows]
    assert rerun.run is not None and "judge: 0 requests, 3 cache hits" in rerun.run.line()


def test_failures_are_recorded_per_answer_and_not_cached(tmp_path):
    backend = QueueBackend(
        [
            reply(),
            BackendError("the judge server is down"),
            "not JSON at all",
            "still not JSON",
            reply(),
        ]
    )
    judge = Judge(backend, cache_dir=tmp_path / "cache", attempts=2, max_wait=0.01)
    report = evaluate(records(4), load_prompt_index(PROMPTS), judge=judge)
    errors = [r.judge_error for r in report.rows]
    assert errors[0] is None and errors[3] is None
    assert "the judge server is down" in (errors[1] or "")
    assert "holds no JSON object" in (errors[2] or "")
    # Every answer is scored all the same.
    assert [r.status for r in report.rows] == ["scored"] * 4
    assert report.judge is not None and (report.judge.judged, report.judge.failed) == (2, 2)
    assert judge.failures == 2
    markdown = report_markdown(report)
    assert "Judge failures" in markdown and "the judge server is down" in markdown
    # Failures were not cached: a rerun asks for those two only.
    again = QueueBackend([reply(), reply()])
    rejudge = Judge(again, cache_dir=tmp_path / "cache")
    evaluate(records(4), load_prompt_index(PROMPTS), judge=rejudge)
    assert len(again.history) == 2 and rejudge.cache_hits == 2


def test_after_five_failures_in_a_row_the_judge_stops_asking():
    backend = QueueBackend([BackendError("refused") for _ in range(8)])
    judge = Judge(backend, cache_dir=None, attempts=1)
    report = evaluate(records(8), load_prompt_index(PROMPTS), judge=judge)
    assert len(backend.history) == 5 and judge.failures == 8
    errors = [r.judge_error or "" for r in report.rows]
    assert all("refused" in e for e in errors[:5])
    assert all(e.startswith("not asked: the judge failed on 5 answers in a row (refused") for e in errors[5:])
    assert [r.status for r in report.rows] == ["scored"] * 8


def test_a_missing_file_is_found_before_anything_is_judged(tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(r) + "\n" for r in records(2)), encoding="utf-8")
    backend = QueueBackend([reply(), reply()])
    with pytest.raises(ConfigError, match=r"missing\.jsonl: no such answers file"):
        evaluate(
            [answers, tmp_path / "missing.jsonl"],
            load_prompt_index(PROMPTS),
            judge=Judge(backend, cache_dir=None),
        )
    assert backend.history == []


def test_cache_key_and_a_damaged_cache_file(tmp_path):
    spec = prompt(UPSCALE)
    base = cache_key(spec.raw, ANSWER, "m", "v1")
    assert base != cache_key(spec.raw, ANSWER, "m", "v2")
    assert base != cache_key(spec.raw, ANSWER, "other", "v1")
    assert base != cache_key(spec.raw, ANSWER + " ", "m", "v1")
    backend = QueueBackend([reply(), reply()])
    judge = Judge(backend, cache_dir=tmp_path)
    assert judge.judge(spec, ANSWER)[0] is not None
    (cached,) = tmp_path.rglob("*.json")
    cached.write_text("{torn", encoding="utf-8")
    again = Judge(backend, cache_dir=tmp_path)
    assert again.judge(spec, ANSWER)[0] is not None and again.requests == 1
    assert json.loads(cached.read_text(encoding="utf-8"))["judgment"]["rubric_version"] == "judge-rubric-1"


def test_judge_limit_and_no_cache(tmp_path):
    backend = QueueBackend([reply()] * 4)
    judge = Judge(backend, cache_dir=None)
    rows = records(3) + [dict(r, system="t", id=f"t{i}") for i, r in enumerate(records(3))]
    report = evaluate(rows, load_prompt_index(PROMPTS), judge=judge, judge_limit=2)
    judged = [(r.system, r.id) for r in report.rows if r.judgment is not None]
    assert judged == [("s", "a0"), ("s", "a1"), ("t", "t0"), ("t", "t1")]
    assert all(r.judge_error is None for r in report.rows)
    assert not list(tmp_path.iterdir())


def test_long_inputs_are_cut_to_the_context(tmp_path):
    spec = prompt(LIIF)
    long_answer = "\n".join(f"Sentence {i} says LIIF upscales images." for i in range(2000))
    backend = QueueBackend([reply()])
    backend.n_ctx = 2048
    judgment, error = Judge(backend, cache_dir=None).judge(spec, long_answer)
    assert error is None and judgment is not None and judgment.shortened
    assert 0 < judgment.sentences < 2000
    assert len(backend.history[0].messages[-1]["content"]) < 2048 * 3


def test_agreement_is_spearman_per_judge_measure_and_metric(tmp_path):
    # Grounding falls from answer to answer; the judge's clarity rises: rho = -1.
    answers = [
        {"id": "good", "prompt": f"{UPSCALE}.txt", "markdown": ANSWER},
        {"id": "mixed", "prompt": f"{UPSCALE}.txt", "markdown": ANSWER + "\nQuantum bananas orbit Saturn.\n"},
        {
            "id": "bad",
            "prompt": f"{UPSCALE}.txt",
            "markdown": "Quantum bananas orbit Saturn. Purple elephants sing opera loudly.\n",
        },
    ]
    backend = QueueBackend([reply((1, 1, 1, 1, 1)), reply((3, 3, 3, 3, 3)), reply((5, 5, 5, 5, 5))])
    report = evaluate(answers, load_prompt_index(PROMPTS), judge=Judge(backend, cache_dir=None))
    grounding = [r.final_scores.grounding for r in report.rows if r.final_scores]
    assert grounding[0] > grounding[1] > grounding[2]
    assert report.judge is not None
    pairs = {(a.judge, a.metric): a for a in report.judge.agreement}
    assert pairs[("clarity", "grounding")].rho == -1.0 and pairs[("clarity", "grounding")].answers == 3
    assert pairs[("overall", "grounding")].rho == -1.0
    # URL precision is 1.0 everywhere: a constant side has no rank correlation.
    assert pairs[("clarity", "url_precision")].rho is None


def test_ranks_and_spearman():
    assert ranks([3.0, 1.0, 2.0, 1.0]) == [4.0, 1.5, 3.0, 1.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert spearman([1, 2], [1, 2]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)


def test_the_schema_is_closed_and_openai_strict():
    from strict_schema import strict_problems

    from cnaps_rag.schemas import openai_strict

    schema = Judge(QueueBackend(), cache_dir=None).schema
    assert strict_problems(openai_strict(schema)) == []
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(JudgeReply.model_fields)
    assert schema["properties"]["clarity"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    # The reason's bound stays for llama.cpp's grammar; a longer reason from a hosted model is cut.
    assert schema["properties"]["clarity"]["properties"]["reason"]["maxLength"] == 200
    assert len(JudgeReply.model_validate_json(reply()).clarity.reason) <= 200


# --------------------------------------------------------------------------- the real server


@pytest.mark.server
def test_judge_against_the_llama_cpp_server(llama_server, tmp_path):
    from cnaps_rag.backends import OpenAIBackend

    spec = prompt(UPSCALE)
    final = validate(ANSWER, spec).text
    answers = [{"id": UPSCALE, "markdown": final, "system": "embedded"}]

    def backend():
        # A small context keeps the prompt short: the 135M model is slow on long ones.
        return OpenAIBackend(model="smollm2", base_url=llama_server, n_ctx=2048, timeout=600)

    # A reply cut at 8 tokens is no JSON: a real failure, recorded, not cached.
    cut = Judge(backend(), cache_dir=tmp_path, max_tokens=8, attempts=1)
    failed = evaluate(answers, load_prompt_index(PROMPTS), judge=cut)
    assert failed.rows[0].status == "scored" and failed.rows[0].judgment is None
    assert failed.rows[0].judge_error and cut.failures == 1 and cut.requests == 1
    assert not list(tmp_path.rglob("*.json"))

    judge = Judge(backend(), cache_dir=tmp_path, attempts=2)
    first = evaluate(answers, load_prompt_index(PROMPTS), judge=judge)
    row = first.rows[0]
    # The 135M model's verdicts are poor; what is tested is that one comes back whole or is recorded.
    assert (row.judgment is None) != (row.judge_error is None)
    if row.judgment is None:
        pytest.fail(f"the real server gave no verdict: {row.judge_error}")
    assert set(row.judgment.scores) == set(CRITERIA)
    assert all(1 <= s <= 5 for s in row.judgment.scores.values())
    assert row.judgment.model == "smollm2" and row.judgment.rubric_version == judge.rubric_version
    assert judge.requests >= 1 and len(list(tmp_path.rglob("*.json"))) == 1

    rerun_judge = Judge(backend(), cache_dir=tmp_path)
    rerun = evaluate(answers, load_prompt_index(PROMPTS), judge=rerun_judge)
    assert rerun_judge.requests == 0 and rerun_judge.cache_hits == 1
    assert rerun.rows[0].judgment == row.judgment

    # A server that is not there: every answer's failure is recorded, the run ends normally.
    gone = Judge(
        OpenAIBackend(model="smollm2", base_url="http://127.0.0.1:9/v1", timeout=5),
        cache_dir=None,
        attempts=1,
    )
    down = evaluate(answers * 2, load_prompt_index(PROMPTS), judge=gone)
    assert [r.status for r in down.rows] == ["scored", "scored"]
    assert all("cannot reach" in (r.judge_error or "") for r in down.rows)


def test_the_page_shows_the_judge_escaped(tmp_path):
    from cnaps_rag.evaluation import write_report

    hostile = json.loads(reply())
    hostile["clarity"]["reason"] = "<script>alert(1)</script> & more"
    backend = QueueBackend([json.dumps(hostile), BackendError("the <judge> fell over")])
    report = evaluate(records(2), load_prompt_index(PROMPTS), judge=Judge(backend, cache_dir=None))
    write_report(report, tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Judge: <code>fake-model</code>, rubric <code>judge-rubric-1</code></h2>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page and "<script>" not in page
    assert "the &lt;judge&gt; fell over" in page
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["judge"]["judged"] == 1 and data["judge"]["failed"] == 1
    assert data["rows"][0]["judgment"]["scores"]["clarity"] == 4


def test_judge_workers_give_the_same_report():
    import random
    import time

    from cnaps_rag.evaluation import report_json

    def by_answer(request):
        # The verdict follows the answer ("Note i."), whichever thread asks, and replies come back
        # out of order: later answers are often quicker.
        number = int(request.messages[-1]["content"].rsplit("Note ", 1)[1].split(".", 1)[0])
        time.sleep(random.random() / 50)
        return reply(
            scores=tuple(1 + (number + k) % 5 for k in range(5)), unsupported=(1,) if number % 2 else ()
        )

    reports = []
    for workers in (1, 4):
        backend = QueueBackend()
        backend.default_reply = by_answer
        judge = Judge(backend, cache_dir=None)
        rows = records(12) + [dict(r, system="t") for r in records(12)]
        reports.append(evaluate(rows, load_prompt_index(PROMPTS), judge=judge, judge_workers=workers))
        assert judge.requests == 24 and len(backend.history) == 24
    one, four = reports
    assert report_json(one) == report_json(four)
    assert [r.judgment.scores["clarity"] for r in four.rows if r.judgment] == [
        1 + i % 5 for i in range(12)
    ] * 2


def test_what_the_judge_is_sent_matches_its_golden_file():
    """The rendered rubric for an example (``python tests/renders.py`` rewrites the file)."""
    from renders import GOLDEN, rubric_sent

    assert rubric_sent(ANSWER, reply()) == (GOLDEN / "judge_000.json").read_text(encoding="utf-8")
