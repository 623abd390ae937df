"""An OpenAI-compatible chat server on loopback that replies with recorded answers, and a measure.

The long answers in ``fixtures/recorded/`` were written for these tests (issue 13), one per
example prompt of ``fixtures/prompts/`` with the same stem, in the prompt's own format: the
prompt's sections, ``[S#]`` markers, a diagram in a code block, a table, typed URLs and model
names the sources do not name (``fixtures/recorded/planted.json`` lists the planted items).
:class:`RecordedServer` answers ``POST /v1/chat/completions`` from a reply function and
records every request body, so tests drive the real openai client and the whole pipeline.

Run ``python -m eval.recorded`` to send each recorded answer through ``cnaps-rag``'s capable
strategy over the server and print how much of it the pipeline kept (``--json`` for data,
``--markdown FILE`` to write a before/after report). ``--real`` checks the real dev answers of
``../shared/real-answers/`` as if a capable model had written them (how often, and why, the
strategy would ask once more).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "fixtures" / "recorded"
PROMPTS = ROOT / "fixtures" / "prompts"

Reply = Callable[[dict[str, Any]], str]
"""Given a request body, the reply's message content."""


class RecordedServer:
    """A loopback OpenAI-compatible chat server; ``reply(body)`` gives each answer's text.

    ``requests`` holds every request body received, in order. Use as a context manager:
    ``with RecordedServer(reply) as server: ... server.url``.
    """

    def __init__(self, reply: Reply):
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    text = server.reply(body)
                except LookupError as exc:
                    self._send(400, {"error": {"message": str(exc)}})
                    return
                self._send(200, _completion(body, text))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read self.requests instead

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> RecordedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-recorded",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "recorded"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        # Rough counts (4 characters a token): the pipeline records them, nothing checks them.
        "usage": {
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(text) // 4,
            "total_tokens": (prompt_chars + len(text)) // 4,
        },
    }


def by_question(answers: dict[str, str]) -> Reply:
    """Return a reply function: the answer whose key (a prompt's question) the request's messages hold."""

    def reply(body: dict[str, Any]) -> str:
        sent = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        for question, text in answers.items():
            if question in sent:
                return text
        raise LookupError("no recorded answer for this request's question")

    return reply


def recorded_answers() -> dict[str, str]:
    """Return each recorded answer by the stem of its prompt file."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(RECORDED.glob("*.md"))}


def planted() -> dict[str, dict[str, list[str]]]:
    """Return the planted items of each recorded answer: ``names`` and ``urls``."""
    data: dict[str, dict[str, list[str]]] = json.loads(
        (RECORDED / "planted.json").read_text(encoding="utf-8")
    )
    return {key: value for key, value in data.items() if not key.startswith("_")}


def measure() -> list[dict[str, Any]]:
    """Return, per recorded answer, what the capable pipeline kept of it over the loopback server."""
    from cnaps_rag import answer, load_prompt_file
    from cnaps_rag.draft.capable import render_capable

    specs = {stem: load_prompt_file(PROMPTS / f"{stem}.txt")[0] for stem in recorded_answers()}
    texts = recorded_answers()
    rows = []
    with RecordedServer(by_question({specs[s].question: texts[s] for s in texts})) as server:
        for stem, text in texts.items():
            spec = specs[stem]
            result = answer(spec, backend="openai", base_url=server.url, model="recorded")
            rendered, _cited, _unknown = render_capable(text, spec)
            # Characters of the model's own text kept: the rendered draft's lines found unchanged
            # in the final answer, against all of the rendered draft (links and the list included).
            final_lines = result.markdown.splitlines()
            matcher = difflib.SequenceMatcher(None, rendered.splitlines(), final_lines, autojunk=False)
            kept_lines = sum(block.size for block in matcher.get_matching_blocks())
            kept_chars = sum(
                len(line) + 1
                for block in matcher.get_matching_blocks()
                for line in rendered.splitlines()[block.a : block.a + block.size]
            )
            # Characters kept anywhere (a line that lost one sentence keeps the others).
            chars = difflib.SequenceMatcher(None, rendered, result.markdown, autojunk=False)
            kept_anywhere = sum(block.size for block in chars.get_matching_blocks())
            removed = [
                rendered[i1:i2] for op, i1, i2, _j1, _j2 in chars.get_opcodes() if op != "equal" and i2 > i1
            ]
            rows.append(
                {
                    "id": stem,
                    "format": spec.format,
                    "recorded_chars": len(text),
                    "rendered_chars": len(rendered),
                    "final_chars": len(result.markdown),
                    "lines": len(rendered.splitlines()),
                    "lines_kept_unchanged": kept_lines,
                    "chars_in_unchanged_lines": kept_chars,
                    "share_unchanged": round(kept_chars / len(rendered), 4),
                    "chars_kept": kept_anywhere,
                    "share_kept": round(kept_anywhere / len(rendered), 4),
                    "chars_removed": len(rendered) - kept_anywhere,
                    "removed_text": removed,
                    "share_of_length": round(len(result.markdown) / len(rendered), 4),
                    "stripped": [(v.kind, v.value, v.action) for v in result.validation.violations],
                    "generations": result.meta.generations,
                    "drafts": [(d.score, len(d.problems), d.kept) for d in result.meta.drafts],
                    "before": text,
                    "after": result.markdown,
                }
            )
    return rows


REAL = ROOT.parent / "shared" / "real-answers"


def real_check(directory: Path = REAL) -> list[dict[str, Any]]:
    """Return, per file of real dev answers, what the capable check would say of them as drafts.

    Each real answer (``../shared/real-answers/``, read at run time, never copied) is taken as a
    capable model's reply to its prompt: rendered, checked (:func:`cnaps_rag.draft.capable.check_draft`)
    and validated. The real models were not given the capable rules, so this is an upper bound on
    how often the strategy would ask once more, and on why.
    """
    from cnaps_rag import AllowList, CnapsRagError, parse_prompt, validate
    from cnaps_rag.draft.capable import check_draft, render_capable

    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        counts = {"answers": 0, "unparsed": 0, "would_reask": 0, "missing_section": 0, "unknown_id": 0,
                  "typed_url": 0, "unsourced_model": 0, "chars": 0, "chars_kept": 0}  # fmt: skip
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            counts["answers"] += 1
            try:
                spec = parse_prompt(record["prompt"])
            except CnapsRagError:
                counts["unparsed"] += 1
                continue
            allow = AllowList.for_spec(spec)
            rendered, _cited, unknown = render_capable(record["markdown"], spec)
            problems = check_draft(record["markdown"], rendered, unknown, spec, allow)
            counts["would_reask"] += bool(problems)
            counts["missing_section"] += any("section" in p for p in problems)
            counts["unknown_id"] += any("cites no source" in p for p in problems)
            counts["typed_url"] += any(p.startswith("a URL was typed") for p in problems)
            counts["unsourced_model"] += any("no source names it" in p for p in problems)
            final = validate(rendered, allow).text
            matcher = difflib.SequenceMatcher(None, rendered, final, autojunk=False)
            counts["chars"] += len(rendered)
            counts["chars_kept"] += sum(block.size for block in matcher.get_matching_blocks())
        rows.append({"file": path.name, **counts})
    return rows


def _report(rows: list[dict[str, Any]]) -> str:
    out = ["# Recorded long answers before and after the capable pipeline", ""]
    out.append("Command: `python -m eval.recorded --markdown FILE` (loopback server, `fixtures/recorded/`).")
    for row in rows:
        out += [
            "",
            f"## {row['id']} ({row['format']})",
            "",
            f"- recorded answer: {row['recorded_chars']} characters; rendered (markers as links, sources "
            f"cited listed): {row['rendered_chars']}; final after validation: {row['final_chars']}",
            f"- lines kept byte for byte: {row['lines_kept_unchanged']} of {row['lines']}; "
            f"characters in them: {row['chars_in_unchanged_lines']} of {row['rendered_chars']} "
            f"({row['share_unchanged']:.1%}); "
            f"final length / rendered length: {row['share_of_length']:.1%}",
            f"- characters kept (in order, anywhere): {row['chars_kept']} of {row['rendered_chars']} "
            f"({row['share_kept']:.1%}); removed: {row['chars_removed']}",
            f"- generations: {row['generations']}; drafts (score, problems, kept): {row['drafts']}",
            "- stripped:",
            *[f"  - {kind} `{value}` ({action})" for kind, value, action in row["stripped"]],
            "- the text removed, piece by piece:",
            *[f"  - `{piece!r}`" for piece in row["removed_text"]],
            "",
            "### Before (the recorded reply)",
            "",
            "````markdown",
            row["before"].rstrip("\n"),
            "````",
            "",
            "### After (the answer)",
            "",
            "````markdown",
            row["after"].rstrip("\n"),
            "````",
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.recorded", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--markdown", help="also write a before/after report to this file")
    parser.add_argument(
        "--real",
        action="store_true",
        help="instead: check the real dev answers in ../shared/real-answers/ as if they were capable drafts",
    )
    args = parser.parse_args(argv)
    if args.real:
        if not REAL.is_dir():
            print(f"no real answers at {REAL}", file=sys.stderr)
            return 2
        real = real_check()
        if args.json:
            print(json.dumps(real, indent=1))
        for row in real:
            share = row["chars_kept"] / max(1, row["chars"])
            print(
                f"{row['file']}: {row['answers']} answers ({row['unparsed']} unparsed); "
                f"the check would ask once more for {row['would_reask']}: "
                f"a section missing in {row['missing_section']}, an unknown ID in {row['unknown_id']}, "
                f"a typed URL stripped in {row['typed_url']}, "
                f"an unsourced model in {row['unsourced_model']}; "
                f"characters kept by the validator {row['chars_kept']}/{row['chars']} ({share:.1%})"
            )
        return 0
    rows = measure()
    if args.markdown:
        Path(args.markdown).write_text(_report(rows), encoding="utf-8")
    if args.json:
        print(
            json.dumps([{k: v for k, v in r.items() if k not in ("before", "after")} for r in rows], indent=1)
        )
    else:
        for row in rows:
            print(
                f"{row['id']} ({row['format']}): {row['chars_kept']}/{row['rendered_chars']} characters kept "
                f"({row['share_kept']:.1%}); {row['lines_kept_unchanged']}/{row['lines']} lines "
                f"byte for byte ({row['share_unchanged']:.1%} of the characters); "
                f"stripped {len(row['stripped'])}: "
                + "; ".join(f"{kind} {value!r}" for kind, value, _action in row["stripped"])
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
