"""The optional claim check: a model reads flagged claims against the sources they credit.

Control flow with a queue of replies (what is asked, what a verdict does, the cache); the plumbing
end to end against the real llama.cpp server on loopback, where the 135M model is a weak checker:
what is tested there is that verdicts come from the server and are cached, not that they are right.
"""

from __future__ import annotations

import json

import pytest
from conftest import QueueBackend
from test_claims import PROMPT

from cnaps_rag import BackendError, parse_prompt, score
from cnaps_rag.cache import GIVE_UP_AFTER
from cnaps_rag.claim_check import ClaimChecker
from cnaps_rag.cli import main

ANSWER = "## 2. Workflow\n\nNAFNet deblurs the photos.\nNAFNet relies on wavelet attention.\n"
FLAGGED = "NAFNet relies on wavelet attention."


def reply(supported: bool, reason: str = "The sources say so.") -> str:
    return json.dumps({"reason": reason, "supported": supported})


@pytest.fixture(scope="module")
def spec():
    return parse_prompt(PROMPT)


def test_off_by_default_and_a_supported_verdict_clears_the_flag(spec, tmp_path):
    assert [s.text for s in score(ANSWER, spec).unsupported] == [FLAGGED]
    backend = QueueBackend([reply(True)])
    checker = ClaimChecker(backend, cache_dir=tmp_path)
    result = score(ANSWER, spec, checker=checker)
    assert result.unsupported == [] and result.misattributed == [] and result.grounding == 1.0
    # Only the flagged claim was asked about, against the source it credits.
    [request] = backend.history
    shown = request.messages[-1]["content"]
    assert FLAGGED in shown and "Deblur-NAFNet-GoPro" in shown and "Lumen" not in shown
    assert (checker.requests, checker.cache_hits) == (1, 0)


def test_a_verdict_that_agrees_keeps_the_flag_and_says_who_checked(spec):
    checker = ClaimChecker(QueueBackend([reply(False, "Nothing about wavelets.")]), cache_dir=None)
    [item] = score(ANSWER, spec, checker=checker).misattributed
    assert item.text == FLAGGED and item.why.endswith("checked by fake-model: Nothing about wavelets.")


def test_checking_all_claims_can_flag_what_the_words_support(spec):
    backend = QueueBackend([reply(False, "Not said."), reply(False, "Not said either.")])
    result = score(ANSWER, spec, checker=ClaimChecker(backend, which="all", cache_dir=None))
    assert [s.text for s in result.misattributed] == ["NAFNet deblurs the photos.", FLAGGED]
    assert len(backend.history) == 2 and result.grounding == 0.0
    assert result.misattributed[0].why == "read S1 (Deblur-NAFNet-GoPro); checked by fake-model: Not said."


def test_verdicts_are_cached_by_claim_sources_model_and_prompt(spec, tmp_path):
    first = ClaimChecker(QueueBackend([reply(True)]), cache_dir=tmp_path)
    score(ANSWER, spec, checker=first)
    assert len(list(tmp_path.rglob("*.json"))) == 1
    again = ClaimChecker(QueueBackend([]), cache_dir=tmp_path)  # an empty queue: any request fails
    assert score(ANSWER, spec, checker=again).unsupported == []
    assert (again.requests, again.cache_hits) == (0, 1)
    other = ClaimChecker(QueueBackend([reply(False)], model="another"), cache_dir=tmp_path)
    assert len(score(ANSWER, spec, checker=other).unsupported) == 1 and other.requests == 1


def test_a_failure_keeps_the_word_verdict_and_is_not_cached(spec, tmp_path):
    failing = QueueBackend([BackendError("down")] * (GIVE_UP_AFTER + 1))
    checker = ClaimChecker(failing, cache_dir=tmp_path, attempts=1)
    answer = ANSWER + "".join(f"NAFNet relies on wavelet attention {n}.\n" for n in range(GIVE_UP_AFTER + 2))
    result = score(answer, spec, checker=checker)
    assert len(result.unsupported) == GIVE_UP_AFTER + 3  # every flag stays
    assert all("checked by" not in s.why for s in result.unsupported)
    # After GIVE_UP_AFTER failures in a row it asks no more.
    assert checker.failures == checker.requests == GIVE_UP_AFTER
    assert "down" in checker.line() and not list(tmp_path.rglob("*.json"))


def test_a_stripped_name_stays_unsupported_whatever_the_model_says(spec):
    backend = QueueBackend([reply(True)])
    checker = ClaimChecker(backend, cache_dir=None)
    result = score("## 2. Workflow\n\nReal-ESRGAN sharpens the photos.\n", spec, checker=checker)
    assert len(result.unsupported) == 1 and backend.history == []


def test_what_the_checker_is_sent_matches_its_golden_file():
    """The rendered claim check for an example (``python tests/renders.py`` rewrites the file)."""
    from renders import GOLDEN, claim_sent

    assert claim_sent() == (GOLDEN / "claim_check_000.json").read_text(encoding="utf-8")


def test_an_unknown_choice_of_claims_is_a_config_error():
    from cnaps_rag import ConfigError

    with pytest.raises(ConfigError, match="claims to check"):
        ClaimChecker(QueueBackend(), which="some")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the real server


@pytest.mark.server
def test_claim_check_against_the_llama_cpp_server(llama_server, spec, tmp_path):
    from cnaps_rag.backends import OpenAIBackend

    backend = OpenAIBackend(model="smollm2", base_url=llama_server, n_ctx=2048, timeout=600)
    checker = ClaimChecker(backend, cache_dir=tmp_path)
    result = score(ANSWER, spec, checker=checker)
    if checker.failures:
        pytest.fail(f"the real server gave no verdict: {checker.last_error}")
    # Whatever the 135M model says, the verdict is its own: the flag is cleared, or kept with its reason.
    assert checker.requests >= 1 and len(list(tmp_path.rglob("*.json"))) == 1
    assert all("checked by smollm2: " in s.why for s in result.unsupported)
    cached = json.loads(next(tmp_path.rglob("*.json")).read_text(encoding="utf-8"))
    assert cached["model"] == "smollm2" and cached["version"] == checker.version
    assert (not result.unsupported) == cached["supported"]
    rerun = ClaimChecker(OpenAIBackend(model="smollm2", base_url="http://127.0.0.1:9/v1"), cache_dir=tmp_path)
    assert score(ANSWER, spec, checker=rerun) == result  # from the cache: the server at :9 is not there
    assert (rerun.requests, rerun.cache_hits) == (0, 1)


@pytest.mark.server
def test_the_eval_command_asks_the_server_about_flagged_claims(llama_server, tmp_path, capsys):
    prompt = tmp_path / "prompts" / "lumen.txt"
    prompt.parent.mkdir()
    prompt.write_text(PROMPT, encoding="utf-8")
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"id": "lumen", "markdown": ANSWER}) + "\n", encoding="utf-8")
    arguments = ["eval", str(answers), "--prompts", str(prompt.parent), "--json", "--claim-model", "smollm2"]
    arguments += ["--claim-base-url", llama_server, "--claim-cache", str(tmp_path / "c")]
    assert main(arguments) == 0
    first = capsys.readouterr()
    assert "claim check (smollm2): 1 requests, 0 cache hits" in first.err, first.err
    assert len(list((tmp_path / "c").rglob("*.json"))) == 1
    assert main(arguments) == 0
    second = capsys.readouterr()
    assert "claim check (smollm2): 0 requests, 1 cache hits" in second.err
    assert json.loads(second.out)["rows"] == json.loads(first.out)["rows"]
