"""Batch control flow (fake backend) and one real batch with the embedded model."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import PROMPTS, QueueBackend

from cnaps_rag import BackendError, answer_batch
from cnaps_rag.batch import done_ids, open_output
from cnaps_rag.inputs import iter_inputs

GOOD = ["000_d18f79af084974a4.txt", "004_3b145cd2937caf5f.txt", "v04_no_related.txt"]


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(PROMPTS / name, folder / name)
    return folder


def test_folder_batch_writes_one_record_per_prompt(dataset, tmp_path):
    out = tmp_path / "answers.jsonl"
    summary = answer_batch([dataset], out, backend=QueueBackend(), md_dir=tmp_path / "md")
    records = lines(out)
    assert [r["id"] for r in records] == [n.removesuffix(".txt") for n in GOOD]
    assert summary.answered == 3 and summary.failed == 0 and summary.inputs == 3
    for record in records:
        assert record["error"] is None and record["markdown"].startswith("## 1.")
        assert set(record) >= {"id", "markdown", "draft", "violations", "cited", "meta", "prompt"}
        assert (tmp_path / "md" / f"{record['id']}.md").read_text() == record["markdown"]


def test_resume_skips_ids_already_answered(dataset, tmp_path):
    out = tmp_path / "answers.jsonl"
    answer_batch([dataset / GOOD[0]], out, backend=QueueBackend())
    backend = QueueBackend()
    summary = answer_batch([dataset], out, backend=backend)
    assert (summary.skipped, summary.answered) == (1, 2)
    assert sorted(r["id"] for r in lines(out)) == sorted(n.removesuffix(".txt") for n in GOOD)
    fresh = answer_batch([dataset], out, backend=QueueBackend(), resume=False)
    assert fresh.answered == 3 and len(lines(out)) == 3


def test_broken_records_are_recorded_and_the_batch_goes_on(dataset, tmp_path):
    data = tmp_path / "data.jsonl"
    good = (PROMPTS / GOOD[0]).read_text(encoding="utf-8")
    data.write_text(
        json.dumps({"id": "a", "prompt": good}) + "\n{broken json\n"
        + json.dumps({"id": "b", "text": "x"}) + "\n"
        + json.dumps({"id": "c", "prompt": "not a prompt"}) + "\n" + json.dumps([1]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    inputs = [data, PROMPTS / "bad" / "binary.bin", tmp_path / "missing.txt", dataset / GOOD[1]]
    out = tmp_path / "answers.jsonl"
    summary = answer_batch(inputs, out, backend=QueueBackend())
    records = {r["id"]: r for r in lines(out)}
    assert records["a"]["error"] is None and records[GOOD[1].removesuffix(".txt")]["error"] is None
    errors = {rid: r["error"] for rid, r in records.items() if r["error"]}
    assert set(errors) == {"data:2", "b", "c", "data:5", "binary", "missing"}
    assert (
        "broken JSON" in errors["data:2"]
        and "'prompt'" in errors["b"]
        and "no such file" in errors["missing"]
    )
    assert all("\n" not in e for e in errors.values())
    assert summary.answered + summary.failed + summary.skipped == summary.inputs == 8
    assert (summary.answered, summary.failed) == (2, 6)


def test_backend_failure_is_a_record_not_a_crash(dataset, tmp_path):
    backend = QueueBackend([BackendError("server said no")])
    out = tmp_path / "answers.jsonl"
    summary = answer_batch([dataset / GOOD[0], dataset / GOOD[1]], out, backend=backend)
    records = lines(out)
    assert records[0]["error"] == "server said no" and records[0]["error_type"] == "BackendError"
    assert records[1]["error"] is None
    assert (summary.answered, summary.failed) == (1, 1)


def test_an_unforeseen_error_is_a_record_and_a_long_id_a_short_file_name(dataset, tmp_path):
    backend = QueueBackend([KeyError("unforeseen")])
    out, md = tmp_path / "answers.jsonl", tmp_path / "md"
    data = tmp_path / "set.jsonl"
    text = (dataset / GOOD[0]).read_text(encoding="utf-8")
    data.write_text(
        "".join(json.dumps({"id": i * 300, "prompt": text}) + "\n" for i in "ab"), encoding="utf-8"
    )
    summary = answer_batch([data], out, backend=backend, md_dir=md)
    records = lines(out)
    assert records[0]["error_type"] == "KeyError" and "unforeseen" in records[0]["error"]
    assert records[1]["error"] is None and (summary.answered, summary.failed) == (1, 1)
    [written] = md.iterdir()
    assert len(written.name) < 255 and written.name.startswith("b" * 100)


def test_the_output_may_go_into_a_new_folder(dataset, tmp_path):
    out = tmp_path / "new" / "folder" / "answers.jsonl"
    summary = answer_batch([dataset / GOOD[0]], out, backend=QueueBackend())
    assert summary.answered == 1 and len(lines(out)) == 1


def test_retryable_errors_are_retried(dataset, tmp_path):
    backend = QueueBackend([BackendError("busy", retryable=True)] * 2)
    summary = answer_batch([dataset / GOOD[0]], tmp_path / "a.jsonl", backend=backend)
    assert summary.answered == 1
    assert lines(tmp_path / "a.jsonl")[0]["meta"]["retries"] == 2


def test_workers_answer_every_prompt_once(dataset, tmp_path):
    out = tmp_path / "answers.jsonl"
    summary = answer_batch([dataset, dataset / GOOD[0]], out, backend=QueueBackend(), workers=3)
    ids = [r["id"] for r in lines(out)]
    assert sorted(ids) == sorted(n.removesuffix(".txt") for n in GOOD) and len(ids) == len(set(ids))
    assert summary.skipped == 1, "a duplicate id in the input is answered once"


def test_torn_last_line_is_cut_before_appending(tmp_path):
    out = tmp_path / "answers.jsonl"
    out.write_text('{"id": "x", "error": null}\n{"id": "y", "mark', encoding="utf-8")
    open_output(out).close()
    assert out.read_text(encoding="utf-8") == '{"id": "x", "error": null}\n'
    assert done_ids(out) == {"x"}


def test_multi_prompt_file_and_json_dataset(tmp_path):
    data = tmp_path / "set.json"
    good = (PROMPTS / GOOD[1]).read_text(encoding="utf-8")
    data.write_text(json.dumps({"rows": [{"key": "k1", "text": good}]}), encoding="utf-8")
    records = list(iter_inputs([PROMPTS / "multi.txt", data], id_field="key", prompt_field="text"))
    assert [r.id for r in records] == ["multi#1", "multi#2", "multi#3", "k1"]
    assert all(r.spec is not None for r in records)


def test_a_dataset_id_of_zero_is_kept(tmp_path):
    data = tmp_path / "set.jsonl"
    good = (PROMPTS / GOOD[1]).read_text(encoding="utf-8")
    rows = [{"id": 0, "prompt": good}, {"id": 1, "prompt": good}, {"id": "", "prompt": good}]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert [r.id for r in iter_inputs([data])] == ["0", "1", "set:3"]


def test_cli_batch_exit_codes(dataset, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "answers.jsonl"
    command = [
        sys.executable,
        "-m",
        "cnaps_rag.cli",
        "batch",
        str(PROMPTS / "bad" / "empty.txt"),
        "-o",
        str(out),
    ]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, "some prompts failed"
    assert json.loads(result.stdout)["failed"] == 1
    assert "1 failed" in result.stderr


@pytest.mark.model
def test_real_batch_with_the_embedded_model(dataset, tmp_path, local_backend):
    out = tmp_path / "answers.jsonl"
    summary = answer_batch([dataset], out, backend=local_backend)
    assert summary.answered == 3 and summary.failed == 0
    for record in lines(out):
        assert record["meta"]["strategy"] == "scaffold" and record["cited"]


def _dead_pid():
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(child.stdout)


def test_a_run_that_died_is_noted_and_a_live_one_refused(dataset, tmp_path):
    import os

    from cnaps_rag import ConfigError

    out = tmp_path / "answers.jsonl"
    marker = tmp_path / "answers.jsonl.running"
    marker.write_text(f"{_dead_pid()}\n")
    notes = []
    summary = answer_batch([dataset], out, backend=QueueBackend(), on_note=notes.append)
    assert summary.answered == 3 and len(notes) == 1
    assert "stopped without finishing" in notes[0] and "cnaps-rag doctor" in notes[0]
    assert not marker.exists(), "a run that ends removes its marker"

    marker.write_text(f"{os.getppid()}\n")  # a live process: another batch on the same file
    with pytest.raises(ConfigError, match="another batch") as info:
        answer_batch([dataset], out, backend=QueueBackend(), resume=False)
    assert str(marker) in (info.value.hint or "")
    assert len(lines(out)) == 3, "the refused run touched nothing"


@pytest.mark.model
def test_cli_says_when_the_last_batch_was_killed(dataset, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "answers.jsonl"
    command = [sys.executable, "-m", "cnaps_rag.cli", "batch", str(dataset), "-o", str(out), "-q"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = tmp_path / "answers.jsonl.running"
    deadline = time.monotonic() + 120
    while not marker.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the batch marks its output while it runs"
    os.kill(first.pid, signal.SIGKILL)  # as a native crash would end it: no chance to clean up
    first.wait()
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "stopped without finishing" in second.stderr and "cnaps-rag doctor" in second.stderr
    assert len(lines(out)) == 3 and not marker.exists()


def test_a_dataset_record_holding_a_line_separator_is_one_record(tmp_path):
    """U+2028, U+2029 and NEL inside a JSON string are text, not line ends (str.splitlines cut them)."""
    from cnaps_rag.files import json_lines

    record = {"id": "a", "prompt": "one\u2028two\u2029three\x85four"}
    text = json.dumps(record, ensure_ascii=False) + "\n" + json.dumps({"id": "b"}) + "\n"
    assert [(number, value) for number, value, _ in json_lines(text)] == [(1, record), (2, {"id": "b"})]
