"""A draft that repeats the prompt, the rules or itself is never an answer (issue 21).

The limits are pinned against the 115 real answers of hosted models in ../shared/real-answers
(none may be caught) and against echoes of the capable prompt (each must be). Control flow uses
the queue fake; the stop while generating and the capable strategy's re-ask use the real model.
"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, QueueBackend, prompt

from cnaps_rag import answer, answer_batch
from cnaps_rag.backends import LocalBackend, Request
from cnaps_rag.draft.render import sources_text
from cnaps_rag.errors import NotAnAnswerError
from cnaps_rag.repetition import (
    LOOP_SHARE,
    MIN_WORDS,
    PROMPT_SHARE,
    RULES_SHARE,
    WATCH_MIN_WORDS,
    RepetitionCheck,
)
from cnaps_rag.templates import load_template

REAL = ROOT.parent / "shared" / "real-answers"
MARGIN = 0.15
"""Each limit stands at least this far from the real answers it must let through."""

RIVER = [
    "The river rises in the hills and runs west through farmland before it reaches the sea.",
    "Along its banks stand old mills that once ground wheat for the towns nearby.",
    "In spring the water is high and fast, and in late summer it slows to a narrow stream.",
    "Fishermen come at dawn for trout, and walkers follow the path that runs beside it for miles.",
    "The council repaired the stone bridge last year after a flood damaged two of its arches.",
    "Children learn to swim in the shallow pools below the weir when the weather is warm.",
    "Herons nest in the tall trees on the island in the middle of the river.",
    "At night the lights of the village shine on the water and the only sound is the current.",
    "Every autumn the town holds a festival on the meadow where the river bends to the south.",
    "Boats are rented by the hour from the boathouse near the old railway station.",
]


def capable_messages(name: str = "000_d18f79af084974a4") -> list[dict[str, str]]:
    spec = prompt(name)
    return load_template("capable").messages(
        headings="\n".join(section.heading for section in spec.sections),
        question=spec.question,
        instructions="\n".join(f"- {line}" for line in spec.instructions) or "- (none given)",
        sources=sources_text(spec, 100_000)[0],
        fit_note="",
    )


def real_answers() -> list[dict[str, str]]:
    if not REAL.is_dir():
        pytest.skip("../shared/real-answers is not here")
    return [
        json.loads(line)
        for name in ("format1_dev.jsonl", "format2_dev.jsonl")
        for line in (REAL / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_no_real_answer_is_caught_and_each_limit_keeps_its_margin():
    records = real_answers()
    assert len(records) >= 100
    shares = [
        RepetitionCheck([{"role": "user", "content": r["prompt"]}]).shares(r["markdown"]) for r in records
    ]
    caught = [
        r["id"] for r in records if RepetitionCheck([{"role": "user", "content": r["prompt"]}])(r["markdown"])
    ]
    assert caught == []
    most_copied = max(prompt_share for _, prompt_share, _ in shares)
    most_repeated = max(loop for _, _, loop in shares)
    assert 0.3 < most_copied < PROMPT_SHARE - MARGIN  # measured 0.46: summaries and links quoted
    assert most_repeated < LOOP_SHARE - MARGIN  # measured 0.08


def test_echoes_of_the_capable_prompt_are_caught():
    messages = capable_messages()
    system, user = messages[0]["content"], messages[1]["content"]
    check = RepetitionCheck(messages)
    assert "system rules" in str(check(system))
    assert "repeats the prompt" in str(check(user))
    assert "repeats the prompt" in str(check((user + "\n") * 3))  # the Gemma reply
    assert check.shares((user + "\n") * 3)[2] > 0.6  # three times over: it also repeats itself
    line = "The model takes the image and makes it sharper for the user.\n"
    assert "repeats itself" in str(check(line * 12))
    assert check(line * 2) is None, f"under {MIN_WORDS} words nothing is judged"
    assert min(RULES_SHARE, PROMPT_SHARE, LOOP_SHARE) >= 0.5


def test_an_answer_that_quotes_the_question_is_an_answer_but_may_be_stopped_only_later():
    messages = capable_messages()
    spec = prompt("000_d18f79af084974a4")
    opening = f'## 1. What the user is trying to do\n\nThe user asks: "{spec.question}"\n'
    check = RepetitionCheck(messages)
    # Judged alone, the opening "repeats the prompt"; while generating it is too short to judge.
    assert "repeats the prompt" in str(check(opening)) and check.while_generating(opening) is None
    answer_text = opening + "\n" + " ".join(RIVER)  # then words of its own
    assert len(answer_text.split()) > WATCH_MIN_WORDS
    assert check(answer_text) is None and check.while_generating(answer_text) is None
    assert check.shares(answer_text)[1] > 0.15  # the quote is a good part of it


def test_an_echo_is_asked_for_once_more_and_never_kept():
    spec = prompt("000_d18f79af084974a4")
    echo = lambda request: request.messages[1]["content"]  # noqa: E731 - the prompt, sent back
    backend = QueueBackend([echo])  # then a well-formed draft (the fake's default)
    result = answer(spec, backend=backend)
    first, second = result.meta.drafts
    assert "repeats the prompt" in str(first.not_an_answer) and not first.kept
    assert first.problems[0].startswith("the reply is no answer: it repeats the prompt")
    assert second.not_an_answer is None and second.kept and result.draft == second.markdown
    assert "the reply is no answer" in backend.history[1].messages[-1]["content"]  # the model is told


def test_two_echoes_are_that_prompts_error_and_the_batch_goes_on(tmp_path):
    spec = prompt("000_d18f79af084974a4")
    echo = lambda request: request.messages[1]["content"]  # noqa: E731
    with pytest.raises(NotAnAnswerError, match="no answer in 2 draft") as info:
        answer(spec, backend=QueueBackend([echo, echo]))
    assert len(info.value.reasons) == 2 and "doctor" in (info.value.hint or "")
    # A batch: the first prompt meets two echoes, the second a good draft.
    backend = QueueBackend([echo, echo])
    out = tmp_path / "answers.jsonl"
    inputs = [
        ROOT / "fixtures" / "prompts" / f"{name}.txt"
        for name in ("000_d18f79af084974a4", "004_3b145cd2937caf5f")
    ]
    summary = answer_batch(inputs, out, backend=backend)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert (summary.answered, summary.failed) == (1, 1)
    failed = next(r for r in records if r["error"])
    assert failed["error_type"] == "NotAnAnswerError" and "repeats the prompt" in failed["error"]


@pytest.mark.model
def test_the_local_model_is_stopped_once_it_copies_the_prompt(local_backend):
    passage = " ".join(RIVER * 2)
    messages = [
        {"role": "system", "content": "Copy the user's text exactly, word for word, and nothing else."},
        {"role": "user", "content": passage},
    ]
    completion = local_backend.complete(Request(messages=messages, max_tokens=700))
    assert "repeats the prompt" in str(RepetitionCheck(messages)(completion.text))
    # Stopped at the first look past WATCH_MIN_WORDS words, long before the passage or the budget ends.
    assert len(completion.text.split()) < len(passage.split()) / 2 and completion.completion_tokens < 300


class Copying:
    """The real local model, told to copy the user's turn instead of answering it (a model that echoes)."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend
        self.name, self.model, self.n_ctx = backend.name, backend.model, backend.n_ctx
        self.in_process, self.is_embedded = True, False

    def complete(self, request):
        user = next(m for m in request.messages if m["role"] == "user")
        rule = {"role": "system", "content": "Copy the user's text exactly, word for word, and nothing else."}
        return self.backend.complete(Request(messages=[rule, user], max_tokens=request.max_tokens))


@pytest.mark.model
def test_a_real_echo_is_never_emitted(local_backend):
    with pytest.raises(NotAnAnswerError, match="no answer in 2 draft") as info:
        answer(prompt("000_d18f79af084974a4"), backend=Copying(local_backend), max_tokens=600)
    # SmolLM2 copies a few lines of the prompt, then loops on one of them; told so, it does again.
    assert len(info.value.reasons) == 2 and all("it repeats" in reason for reason in info.value.reasons)
