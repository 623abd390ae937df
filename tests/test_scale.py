"""Scoring at scale: a pool of processes, any executor (a local Dask cluster on loopback), rows on disk.

Speed and memory figures are measured by ``python -m eval.bench --only eval``; here only that
every way of running gives the same report, and that rows are not held in memory.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PROMPTS

from cnaps_rag.evaluation import evaluate, report_json, write_report
from cnaps_rag.evaluation.run import RowStore

UPSCALE = "000_d18f79af084974a4"
LIIF = "004_3b145cd2937caf5f"
ANSWERS = [
    "## 1. Task\n\nUpscaling on a phone.\n\n## 2. Workflow\n\nInput → MSSNet → output.\n\n"
    "## 3. Papers\n\n- https://github.com/kky7/MSSNet\n",
    "## 1. Task\n\nSwinIR upscales. Weather and football results matter here.\n\n"
    "## 2. Workflow\n\nSee https://example.com/x.\n",
    "no sections at all, a SwinIR and an ESRGAN",
]


@pytest.fixture(scope="module")
def answers_file(tmp_path_factory):
    """100 answers of two systems to two prompts, with a failed record and an unscorable one among them."""
    prompts = {name: (PROMPTS / f"{name}.txt").read_text(encoding="utf-8") for name in (UPSCALE, LIIF)}
    path = tmp_path_factory.mktemp("scale") / "answers.jsonl"
    lines = []
    for index in range(100):
        name = (UPSCALE, LIIF)[index % 2]
        record = {
            "id": f"{name}-{index // 4}",
            "system": "s1" if index % 4 < 2 else "s2",
            "prompt": prompts[name],
            "markdown": ANSWERS[index % 3] + f"\nNote {index}.\n",
        }
        if index == 17:
            record = {"id": "gone", "error": "timed out"}
        if index == 42:
            record = {"id": "nowhere", "markdown": "x"}
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def in_process(answers_file):
    return report_json(evaluate([answers_file]))


def test_a_pool_of_processes_gives_the_same_report(answers_file, in_process):
    report = evaluate([answers_file], jobs=2)
    assert report_json(report) == in_process
    assert report.counts == {
        "records": 100,
        "scored": 98,
        "failed": 1,
        "unscorable": 1,
        "with_draft": 0,
        "broken_lines": 0,
    }


def test_any_executor_gives_the_same_report(answers_file, in_process):
    with ThreadPoolExecutor(3) as executor:
        assert report_json(evaluate([answers_file], executor=executor)) == in_process


def test_a_local_dask_cluster_gives_the_same_report(answers_file, in_process, tmp_path):
    distributed = pytest.importorskip("distributed")
    # A scheduler and one worker process of their own, over TCP on loopback: the answers and
    # prompts are pickled to the worker as they would be to another machine. The dashboard on a
    # free port: None means the default 8787, and a second run on the machine then fails to start.
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=True,
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = evaluate([answers_file], executor=client.get_executor())
        assert report_json(report) == in_process
        # The page reads the answers back as it does for a local run.
        write_report(report, tmp_path)
        assert "Note 99." in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_rows_are_a_sequence_read_back_from_disk(answers_file):
    report = evaluate([answers_file])
    rows = report.rows
    assert isinstance(rows, RowStore) and len(rows) == 100
    assert rows[0].id == f"{UPSCALE}-0" and rows[-1].id == rows[99].id and rows[17].status == "failed"
    assert [r.id for r in rows[40:43]] == [r.id for r in list(rows)[40:43]]
    with pytest.raises(IndexError):
        rows[100]
    # Unsupported sentences keep their text (read back with the row) and their offsets.
    weak = next(r for r in rows if r.final_scores and r.final_scores.unsupported)
    sentence = weak.final_scores.unsupported[0]
    markdown, _ = rows.get(list(rows).index(weak))
    assert markdown is not None and markdown[sentence.start : sentence.end] == sentence.text


def test_the_cli_runs_jobs(answers_file, tmp_path, capsys, in_process):
    from cnaps_rag.cli import main

    assert main(["eval", str(answers_file), "--jobs", "2", "--json", "-q"]) == 0
    assert capsys.readouterr().out == in_process
    assert main(["eval", str(answers_file), "--jobs", "0"]) == 2
    assert "--jobs 0: give at least 1" in capsys.readouterr().err


def test_an_executor_that_fails_costs_its_answers_not_the_run(answers_file, monkeypatch):
    class Broken(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            if "Note 16." in args[0][0].final:  # the second chunk
                raise RuntimeError("the cluster went away")
            return super().submit(fn, *args, **kwargs)

    monkeypatch.delenv("CNAPS_RAG_RAISE_ERRORS", raising=False)
    with Broken(2) as executor:
        report = evaluate([answers_file], executor=executor)
    rows = list(report.rows)
    lost = [r for r in rows if (r.reason or "").startswith("scoring failed on the executor")]
    assert lost and all("the cluster went away" in (r.reason or "") for r in lost)
    assert report.counts["records"] == 100 and report.counts["scored"] == 98 - len(lost)
