"""The ``cnaps-rag`` command: argument parsing over the Python API, nothing more.

Exit codes: 0 ok; 1 the checked thing failed (violations found, some prompts
failed); 2 bad input or usage, with one line on stderr. Set
``CNAPS_RAG_RAISE_ERRORS=1`` to get the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, get_args

from . import __version__
from .backends.native import RepackSetting
from .draft import FORMER_NAMES, MAX_TOKENS, STRATEGIES
from .errors import CnapsRagError, ConfigError, PromptError
from .files import read_bytes
from .parse import load_prompt_file
from .spec import PromptSpec

if TYPE_CHECKING:
    from .backends import Backend


def _one_prompt(path: str) -> PromptSpec:
    specs = load_prompt_file(path)
    if len(specs) != 1:
        raise PromptError(
            f"{path}: holds {len(specs)} prompts, this command takes one",
            hint="use `cnaps-rag batch` for files of several prompts",
        )
    return specs[0]


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_parse(args: argparse.Namespace) -> int:
    specs = load_prompt_file(args.prompt)
    data = [spec.model_dump(exclude=set() if args.raw else {"raw"}) for spec in specs]
    _print_json(data[0] if len(data) == 1 else data)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .validation import validate

    spec = _one_prompt(args.prompt)
    text = (
        sys.stdin.read() if args.answer == "-" else read_bytes(args.answer).decode("utf-8", errors="replace")
    )
    result = validate(text, spec, untrusted_summaries=args.untrusted_summaries)
    if args.json:
        _print_json(result.model_dump())
    else:
        sys.stdout.write(result.text)
        for violation in result.violations:
            print(
                f"stripped {violation.kind} {violation.value!r} (section {violation.section}, "
                f"{violation.action}; nearest allowed: {violation.nearest!r} {violation.similarity:g})",
                file=sys.stderr,
            )
    return 1 if result.violations else 0


def _chat_format(command: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    command.add_argument(
        "--chat-format",
        metavar="NAME",
        help="local: llama-cpp-python's chat format (chatml, gemma, llama-3, ...) for a GGUF whose "
        "metadata has no chat template",
    )


def _backend_options(command: argparse.ArgumentParser) -> None:
    from .backends import BACKENDS
    from .backends.openai import PROVIDERS

    group = command.add_argument_group("model")
    group.add_argument(
        "--backend", choices=list(BACKENDS), help="default: openai with --provider, else local"
    )
    group.add_argument(
        "--model",
        help="local: path to a GGUF file (default: the embedded SmolLM2-135M, or $CNAPS_RAG_MODEL); "
        "openai: the model name",
    )
    group.add_argument(
        "--provider",
        choices=list(PROVIDERS),
        help="openai backend: the provider's URL, API key variable and structured output modes",
    )
    group.add_argument(
        "--base-url", help="openai: server URL (default: the provider's, else $OPENAI_BASE_URL, else OpenAI)"
    )
    _chat_format(group)
    group.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="most seconds one generation (local) or one request (openai; default 600) may take; "
        "a prompt past it fails with an error",
    )
    group.add_argument(
        "--strategy",
        choices=[*STRATEGIES, *FORMER_NAMES],
        metavar="{" + ",".join(STRATEGIES) + "}",
        help="scaffold: an answer built from the prompt, the model choosing one sentence (default for the "
        "embedded model); capable: the model writes the whole answer, citing sources by ID, checked and "
        "asked once more where it breaks a rule (default otherwise); fields: three short JSON fields "
        "(guided and free, the former names, still work)",
    )
    group.add_argument(
        "--max-tokens",
        type=int,
        help=f"token budget per generation ({', '.join(f'{name}: {n}' for name, n in MAX_TOKENS.items())})",
    )


def _dataset_fields(command: argparse.ArgumentParser) -> None:
    # batch and eval must read a dataset alike, or eval cannot find the prompts batch answered.
    command.add_argument("--id-field", default="id", help="dataset field holding the id (default: id)")
    command.add_argument(
        "--prompt-field", default="prompt", help="dataset field holding the prompt (default: prompt)"
    )


def _untrusted_summaries(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--untrusted-summaries",
        action="store_true",
        help="allow no link that only a summary gives (for datasets whose summaries may be hostile)",
    )


def _verdict_cache(group: argparse._ArgumentGroup, name: str, keys: str, folder: str = "") -> None:
    default = f".cnaps-rag-cache/{folder or name}"
    help_text = f"folder caching verdicts by {keys} (default: {default})"
    group.add_argument(f"--{name}-cache", default=default, help=help_text)
    group.add_argument(f"--no-{name}-cache", action="store_true", help="neither read nor write the cache")


def _backend(args: argparse.Namespace) -> Backend:
    """Return the backend the model options ask for, built (and checked) before any prompt is read."""
    from .backends import resolve_backend

    return resolve_backend(
        args.backend or ("openai" if args.provider else "local"),
        model=args.model,
        base_url=args.base_url,
        provider=args.provider,
        chat_format=args.chat_format,
        timeout=args.timeout,
    )


def cmd_answer(args: argparse.Namespace) -> int:
    from .pipeline import answer

    spec = _one_prompt(args.prompt)
    result = answer(spec, backend=_backend(args), strategy=args.strategy, max_tokens=args.max_tokens)
    if args.json:
        _print_json(result.model_dump())
    else:
        sys.stdout.write(result.markdown)
        for violation in result.validation.violations:
            print(f"stripped {violation.kind} {violation.value!r} from the draft", file=sys.stderr)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import answer_batch

    summary = answer_batch(
        args.inputs,
        args.output,
        backend=_backend(args),
        strategy=args.strategy,
        max_tokens=args.max_tokens,
        workers=args.workers,
        resume=not args.no_resume,
        md_dir=args.md_dir,
        id_field=args.id_field,
        prompt_field=args.prompt_field,
        progress=False if args.quiet else None,
        on_note=lambda note: print(f"cnaps-rag: note: {note}", file=sys.stderr),
    )
    if args.json:
        _print_json(summary.model_dump())
    if not args.quiet:
        print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .backends import resolve_backend
    from .evaluation import Judge, ResultsFields, evaluate, load_prompt_index, write_report
    from .evaluation.report import iter_report_json, iter_report_markdown

    prompts = None
    if args.prompts is not None:
        prompts = load_prompt_index(args.prompts, id_field=args.id_field, prompt_field=args.prompt_field)
    judges = []
    if args.judge or args.judge_model or args.judge_base_url:
        # Several --judge-model: a panel, each judge cached on its own (the model is in the key).
        for model in args.judge_model or [None]:
            backend = resolve_backend(
                "openai",
                model=model,
                base_url=args.judge_base_url,
                n_ctx=args.judge_n_ctx,
                timeout=args.judge_timeout,
            )
            judges.append(Judge(backend, cache_dir=None if args.no_judge_cache else args.judge_cache))
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: give at least 1")
    checker = None
    if args.claim_model or args.claim_base_url:
        from .claim_check import ClaimChecker

        backend = resolve_backend(
            "openai", model=args.claim_model, base_url=args.claim_base_url, timeout=args.claim_timeout
        )
        cache = None if args.no_claim_cache else args.claim_cache
        checker = ClaimChecker(backend, which=args.claim_check, cache_dir=cache)
    report = evaluate(
        args.answers,
        prompts,
        claim_checker=checker,
        judge=judges or None,
        jobs=args.jobs or os.cpu_count() or 1,
        results_fields=ResultsFields.parse(args.results_field or []),
        judge_limit=args.judge_limit,
        judge_workers=args.judge_workers,
        id_field=args.id_field,
        prompt_field=args.prompt_field,
        system_field=args.system_field,
        untrusted_summaries=args.untrusted_summaries,
    )
    if args.output is not None:
        write_report(report, args.output)
    # In pieces: the report of a large run is hundreds of MB as one string.
    for piece in iter_report_json(report) if args.json else iter_report_markdown(report):
        sys.stdout.write(piece)
    for line in (report.run, checker):
        if line is not None and not args.quiet:
            print(f"cnaps-rag: {line.line()}", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor

    report = doctor(model=args.model, repack=args.repack, chat_format=args.chat_format)
    if args.json:
        _print_json(report.model_dump())
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnaps-rag",
        description="Grounded answers to CNAPS-AI 'AI scientist' prompts.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parse = commands.add_parser("parse", help="print a prompt's question and sources as JSON")
    parse.add_argument("prompt", help="prompt file (may hold several prompts)")
    parse.add_argument("--raw", action="store_true", help="include the raw prompt text")
    parse.set_defaults(func=cmd_parse)

    check = commands.add_parser(
        "validate", help="strip unsourced URLs and model names from an answer (exit 1 if any)"
    )
    check.add_argument("prompt", help="prompt file")
    check.add_argument("answer", help="answer file in markdown, or - for standard input")
    check.add_argument("--json", action="store_true", help="print the full report as JSON")
    _untrusted_summaries(check)
    check.set_defaults(func=cmd_validate)

    ans = commands.add_parser(
        "answer", help="answer one prompt with a grounded three-section markdown answer"
    )
    ans.add_argument("prompt", help="prompt file")
    ans.add_argument("--json", action="store_true", help="print the whole Answer (draft, report, metadata)")
    _backend_options(ans)
    ans.set_defaults(func=cmd_answer)

    batch = commands.add_parser("batch", help="answer a dataset into a JSONL file (resumes by default)")
    batch.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="prompt files, folders, .jsonl/.json datasets"
    )
    batch.add_argument("-o", "--output", required=True, help="JSONL file to append answers to")
    batch.add_argument("--workers", type=int, default=1, help="prompts in flight at once (hosted backends)")
    batch.add_argument("--no-resume", action="store_true", help="start the output afresh")
    batch.add_argument("--md-dir", help="also write one markdown file per prompt here")
    _dataset_fields(batch)
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")
    batch.add_argument("--json", action="store_true", help="print the summary as JSON")
    _backend_options(batch)
    batch.set_defaults(func=cmd_batch)

    evaluate = commands.add_parser(
        "eval", help="score answers of one or many systems for faithfulness and write a report"
    )
    evaluate.add_argument(
        "answers",
        nargs="+",
        metavar="ANSWERS",
        help="JSONL files with id and markdown (a batch's output, or anyone's), one system each "
        "unless records name theirs in a 'system' field; or a dataset team's results: .json files "
        "of one prompt each (query_text, responses: system -> answer, the judges' votes and scores), "
        "or folders of them",
    )
    evaluate.add_argument(
        "--prompts", help="prompt file, folder or dataset, when records do not carry the prompt"
    )
    evaluate.add_argument("-o", "--output", help="folder for report.json, report.md and report.html")
    _dataset_fields(evaluate)
    evaluate.add_argument(
        "--system-field", default="system", help="record field naming the system (default: system)"
    )
    evaluate.add_argument(
        "--results-field",
        action="append",
        metavar="ROLE=NAME",
        help="a results file's field for ROLE, where a team names it otherwise (repeatable; ROLE: "
        "id=query_id, prompt=query_text, responses, votes, scores, rationales)",
    )
    evaluate.add_argument("--jobs", type=int, help="processes scoring answers at once (default: all cores)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON instead of markdown")
    _untrusted_summaries(evaluate)
    evaluate.add_argument("-q", "--quiet", action="store_true", help="no speed line on stderr")
    judging = evaluate.add_argument_group("judge (optional: a model scores each answer on a rubric)")
    judging.add_argument(
        "--judge", action="store_true", help="ask a judge model (any OpenAI-compatible server)"
    )
    judging.add_argument(
        "--judge-model",
        action="append",
        help="the judge's model name (default: $CNAPS_RAG_OPENAI_MODEL); give it several times for a "
        "panel of judges on the same server, reported with their majority and agreement",
    )
    judging.add_argument(
        "--judge-base-url", help="the judge's server URL (default: $OPENAI_BASE_URL, else OpenAI)"
    )
    judging.add_argument(
        "--judge-n-ctx",
        type=int,
        default=8192,
        help="the judge model's context window in tokens (default: 8192)",
    )
    _verdict_cache(judging, "judge", "prompt, answer, model and rubric")
    judging.add_argument(
        "--judge-limit", type=int, help="judge only the first N scored answers of each system (a judge costs)"
    )
    judging.add_argument(
        "--judge-workers",
        type=int,
        default=1,
        help="verdicts asked for at a time (a hosted judge; default: 1)",
    )
    judging.add_argument(
        "--judge-timeout",
        type=float,
        default=600.0,
        help="seconds one verdict may take (default: 600; a small local server is slow on long prompts)",
    )
    claims = evaluate.add_argument_group(
        "claim check (optional: a model reads each flagged claim against the sources it credits)"
    )
    claims.add_argument("--claim-model", help="the model's name (default: $CNAPS_RAG_OPENAI_MODEL)")
    claims.add_argument("--claim-base-url", help="its server's URL (default: $OPENAI_BASE_URL, else OpenAI)")
    claims.add_argument(
        "--claim-check",
        choices=["flagged", "all"],
        default="flagged",
        help="the claims it reads: those the word check flags (it can clear them) or all (default: flagged)",
    )
    _verdict_cache(claims, "claim", "claim, sources, model and prompt", folder="claims")
    claims.add_argument(
        "--claim-timeout", type=float, default=600.0, help="seconds one verdict may take (default: 600)"
    )
    evaluate.set_defaults(func=cmd_eval)
    checkup = commands.add_parser(
        "doctor", help="report versions, CPU, model file, and run a one-token generation in a child process"
    )
    checkup.add_argument("--model", help="a GGUF file (default: the embedded model, or $CNAPS_RAG_MODEL)")
    checkup.add_argument(
        "--repack",
        choices=get_args(RepackSetting),
        help="llama.cpp weight repacking (default: $CNAPS_RAG_REPACK or auto)",
    )
    _chat_format(checkup)
    checkup.add_argument("--json", action="store_true", help="print the report as JSON")
    checkup.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # A crash inside llama.cpp kills Python silently; this at least shows where it happened.
    with contextlib.suppress(RuntimeError, ValueError, OSError, AttributeError):  # no real stderr
        faulthandler.enable()
    try:
        return int(args.func(args))
    except CnapsRagError as exc:
        if os.environ.get("CNAPS_RAG_RAISE_ERRORS"):
            raise
        print(f"cnaps-rag: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnaps-rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
