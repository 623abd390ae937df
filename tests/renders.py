"""What the model and the judge are sent for example prompts: the renders the golden files pin.

``tests/test_templates.py`` and ``tests/test_judge.py`` compare each render with its file in
``tests/golden/``; the tests never write them. After a reviewed change to a prompt template,
rewrite them with ``python tests/renders.py`` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
EXAMPLES = {"000": "000_d18f79af084974a4", "004": "004_3b145cd2937caf5f"}
# scaffold asks the model only to choose among a question's sentences: 000's question has two.
PROMPT_RENDERS = (("scaffold", "000"), ("capable", "004"), ("fields", "004"))


def _dump(value: object) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"


def prompts_sent(strategy: str, example: str) -> str:
    """Return every request the pipeline sends for an example prompt under ``strategy``."""
    from conftest import QueueBackend, prompt

    from cnaps_rag import answer

    backend = QueueBackend()
    answer(prompt(EXAMPLES[example]), backend=backend, strategy=strategy)
    return _dump(
        [{"messages": r.messages, "max_tokens": r.max_tokens, "schema": r.schema} for r in backend.history]
    )


def rubric_sent(answer_text: str, reply: str) -> str:
    """Return the one request the rubric judge sends for example 000 and ``answer_text``."""
    from conftest import QueueBackend, prompt

    from cnaps_rag.evaluation import Judge

    backend = QueueBackend([reply])
    Judge(backend, cache_dir=None).judge(prompt(EXAMPLES["000"]), answer_text)
    (request,) = backend.history
    return _dump({"messages": request.messages, "max_tokens": request.max_tokens, "schema": request.schema})


def compare_sent(answers: list[tuple[str, str]], reply: str) -> str:
    """Return the one request a judge comparing ``answers`` ((system, text), in order) sends for 000."""
    from conftest import QueueBackend, prompt

    from cnaps_rag.evaluation import Judge

    backend = QueueBackend([reply])
    Judge(backend, cache_dir=None).compare(prompt(EXAMPLES["000"]), answers)
    (request,) = backend.history
    return _dump({"messages": request.messages, "max_tokens": request.max_tokens, "schema": request.schema})


CLAIM = "MSSNet relies on wavelet attention."
CLAIM_REPLY = '{"reason": "The identifier says nothing about attention.", "supported": false}'


def claim_sent() -> str:
    """Return the one request the claim checker sends for example 000's first source and :data:`CLAIM`."""
    from conftest import QueueBackend, prompt

    from cnaps_rag.claim_check import ClaimChecker

    backend = QueueBackend([CLAIM_REPLY])
    spec = prompt(EXAMPLES["000"])
    ClaimChecker(backend, cache_dir=None).verdict(CLAIM, spec, [spec.sources[0].id])
    (request,) = backend.history
    return _dump({"messages": request.messages, "max_tokens": request.max_tokens, "schema": request.schema})


def main() -> int:
    sys.path.insert(0, str(HERE))
    import test_judge

    for strategy, example in PROMPT_RENDERS:
        (GOLDEN / f"{strategy}_{example}.json").write_text(prompts_sent(strategy, example), encoding="utf-8")
    judge = rubric_sent(test_judge.ANSWER, test_judge.reply())
    (GOLDEN / "judge_000.json").write_text(judge, encoding="utf-8")
    import test_panel

    compare = compare_sent(test_panel.COMPARED, test_panel.COMPARE_REPLY)
    (GOLDEN / "judge_compare_000.json").write_text(compare, encoding="utf-8")
    (GOLDEN / "claim_check_000.json").write_text(claim_sent(), encoding="utf-8")
    print(f"rewrote {len(PROMPT_RENDERS) + 3} files in {GOLDEN}: review the diff")
    return 0


if __name__ == "__main__":
    sys.exit(main())
