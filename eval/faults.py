"""Run a batch through the fault proxy and tabulate what each fault did.

Each prompt of the fixtures meets one fault on its first request (and ``server_error``
on every request for one prompt, to show a fault that outlasts the retry budget of 3
tries). Answers use the scaffold strategy: five short requests a prompt.
Run: ``python -m eval.faults`` (starts llama.cpp's server on loopback; about a minute).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnaps_rag import BatchSummary, answer_batch
from cnaps_rag.backends import OpenAIBackend, embedded_model_path

from .faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "fixtures" / "prompts"

# prompt file -> fault on its first request; "always:" -> on every request. Each question but
# v08's has two sentences, so the scaffold strategy sends a request for it (the choice of one).
PLAN = {
    "000_d18f79af084974a4": "rate_limit",
    "v09_latin1": "server_error",
    "v01_crlf_bom": "unavailable",
    "v02_github_angle": "hang",
    "v03_missing_lines": "drop",
    "v04_no_related": "truncated",
    "v05_three_models": "not_json",
    "v10_chinese": "bad_schema",
    "v07_german": "always:server_error",
    "v08_trailing_ws": None,
}


@dataclass
class FaultRow:
    """One line of the fault table."""

    prompt: str
    fault: str
    requests: int
    faults_injected: int
    retries: int
    outcome: str


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(log: Path | None = None, startup_seconds: float = 90) -> Iterator[str]:
    """Run llama-cpp-python's server with the embedded model on loopback; yield its /v1 URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "cnaps_rag.backends.serve", "--model", str(embedded_model_path()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
    ]  # fmt: skip
    with serving("llama_cpp.server", command, port, log, startup_seconds, "/v1/models") as url:
        yield url


@contextmanager
def serving(
    name: str, command: list[str], port: int, log: Path | None, startup_seconds: float, ready_path: str
) -> Iterator[str]:
    """Run the server ``name`` (``command``, on ``port``); yield its /v1 URL once ``ready_path`` answers."""
    with open(log or os.devnull, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-2000:] if log else ""
                    if process.returncode is not None and process.returncode < 0:
                        crash = signal.Signals(-process.returncode).name
                        message = (
                            f"the llama.cpp server crashed ({crash}) while starting: run `cnaps-rag doctor`"
                        )
                        raise RuntimeError(f"{message} {tail}") from None
                    raise RuntimeError(f"{name} did not start {tail}") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # uvicorn waits for lingering connections
            process.kill()
            process.wait()


def _question_owner(body: dict[str, Any], questions: dict[str, str]) -> str | None:
    # Scaffold sends the question sentence by sentence, so its first sentence identifies it; the
    # few-shot turns never hold it, and a re-ask keeps it in an earlier turn.
    turns = [str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"]
    return next((name for name, first in questions.items() if any(first in t for t in turns)), None)


def run_faults(
    upstream: str, workdir: Path, api_key: str = "sk-test-not-a-real-key"
) -> tuple[BatchSummary, list[FaultRow], list[dict[str, Any]]]:
    """Run the fault plan through a proxy in front of ``upstream``; return the summary, table and records."""
    from cnaps_rag import load_prompt_file
    from cnaps_rag.text import sentences

    questions = {name: sentences(load_prompt_file(PROMPTS / f"{name}.txt")[0].question)[0] for name in PLAN}
    seen: Counter[str] = Counter()
    injected: Counter[str] = Counter()

    def plan(number: int, body: dict[str, Any]) -> str | None:
        owner = _question_owner(body, questions)
        if owner is None:
            return None
        seen[owner] += 1
        fault = PLAN[owner]
        if fault is None:
            return None
        if fault.startswith("always:"):
            injected[owner] += 1
            return fault.split(":", 1)[1]
        if seen[owner] == 1:
            injected[owner] += 1
            return fault
        return None

    inputs = [PROMPTS / f"{name}.txt" for name in PLAN]
    output = workdir / "answers.jsonl"
    # Scaffold slots are short, so a healthy request ends well within the timeout; a hang outlasts it.
    with FaultProxy(upstream, plan=plan, hang_seconds=12.0, retry_after=1.0) as proxy:
        # The llamacpp row asks in the server's own mode first, so a prompt's first request is the
        # one the plan's fault hits (without a provider, that would be a json_schema the server refuses).
        backend = OpenAIBackend(
            model="smollm2", base_url=proxy.url, api_key=api_key, timeout=10.0, provider="llamacpp"
        )
        summary = answer_batch(
            inputs, output, backend=backend, strategy="scaffold", attempts=3, max_wait=1.0, progress=False
        )
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    by_id = {record["id"]: record for record in records}
    rows = []
    for name, fault in PLAN.items():
        record = by_id[name]
        if record.get("error"):
            retries, outcome = seen[name] - 1, f"error: {record['error']}"
        else:
            retries, outcome = record["meta"]["retries"], "answered"
        rows.append(FaultRow(name, fault or "none", seen[name], injected[name], retries, outcome))
    return summary, rows, records


def table(rows: list[FaultRow]) -> str:
    """Return the fault table in markdown."""
    lines = [
        "| fault | prompt | requests seen | faults injected | retries | outcome |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [row.fault, row.prompt, row.requests, row.faults_injected, row.retries, row.outcome]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    with llama_server() as upstream, tempfile.TemporaryDirectory() as tmp:
        summary, rows, _ = run_faults(upstream, Path(tmp))
    print(table(rows))
    print()
    print(summary.line())


if __name__ == "__main__":
    main()
