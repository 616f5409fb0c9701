"""Several workers of a distributed job write into one output folder (crawler/output.py,
crawler/_output_folder.py, crawler/_output_runjson.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.output import OutputLockedError, RunWriter, read_decisions, read_records

from .test_output import decision as _decision
from .test_output import record as _record


def record(i: int) -> dict[str, Any]:
    row = _record(i)
    del row["crawl_id"]  # the writer's own crawl_id
    return row


def decision(i: int) -> dict[str, Any]:
    row = _decision(i)
    del row["crawl_id"]
    return row


def test_workers_share_a_folder_with_their_own_part_names(tmp_path: Path) -> None:
    one = RunWriter(tmp_path, "c1", worker_id="w1", job="job", part_max_rows=2)
    two = RunWriter(tmp_path, "c2", worker_id="w2", job="job", part_max_rows=2)
    for i in range(3):
        one.write_record(record(i))
        one.write_decision(decision(i))
    for i in range(3, 5):
        two.write_record(record(i))
        two.write_decision(decision(i))
    one.close({"counts": {"considered": 3, "kept": 3, "excluded": 0}, "started_at": "2026-01-02"})
    two.close(
        {
            "counts": {"considered": 2, "kept": 1, "excluded": 1},
            "counts_by_reason": {"robots.disallow": 1},
            "started_at": "2026-01-01",
        }
    )
    names = sorted(p.name for p in (tmp_path / "records").glob("*.parquet"))
    assert names == [
        "part-c1-w1-00000.parquet",
        "part-c1-w1-00001.parquet",
        "part-c2-w2-00000.parquet",
    ]
    assert read_records(tmp_path).num_rows == 5
    assert read_decisions(tmp_path).num_rows == 5
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["job"] == "job" and info["crawl_id"] == "job"
    assert info["counts"] == {"considered": 5, "kept": 4, "excluded": 1}
    assert info["counts_by_reason"] == {"robots.disallow": 1}
    assert info["records_written"] == 5 and info["decisions_written"] == 5
    assert info["started_at"] == "2026-01-01"
    assert sorted(w["worker_id"] for w in info["workers"]) == ["w1", "w2"]
    assert len(info["parts"]["records"]) == 3
    assert sorted(p.name for p in (tmp_path / "workers").iterdir()) == ["w1.json", "w2.json"]


def test_a_rerun_worker_adds_its_counts(tmp_path: Path) -> None:
    RunWriter(tmp_path, "c1", worker_id="w1", job="j").close({"counts": {"considered": 4}})
    RunWriter(tmp_path, "c2", worker_id="w1", job="j").close({"counts": {"considered": 6}})
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["counts"]["considered"] == 10
    assert [w["crawl_id"] for w in info["workers"]] == ["c1", "c2"]
    own = json.loads((tmp_path / "workers" / "w1.json").read_text())
    assert [r["crawl_id"] for r in own["previous_runs"]] == ["c1"]


def test_a_single_process_run_before_the_job_is_kept(tmp_path: Path) -> None:
    RunWriter(tmp_path, "solo").close({"counts": {"considered": 1}})
    RunWriter(tmp_path, "c1", worker_id="w1", job="j").close({"counts": {"considered": 2}})
    info = json.loads((tmp_path / "run.json").read_text())
    assert [r["crawl_id"] for r in info["previous_runs"]] == ["solo"]
    assert info["counts"]["considered"] == 2


def test_same_worker_id_twice_and_single_writer_beside_workers_are_refused(
    tmp_path: Path,
) -> None:
    one = RunWriter(tmp_path, "c1", worker_id="w1")
    with pytest.raises(OutputLockedError, match="w1"):
        RunWriter(tmp_path, "c2", worker_id="w1")
    with pytest.raises(OutputLockedError):
        RunWriter(tmp_path, "c3")
    two = RunWriter(tmp_path, "c4", worker_id="w2")  # another id joins
    one.close({})
    two.close({})
    RunWriter(tmp_path, "c5").close({})  # every worker gone: a single run may write again


def test_single_writer_keeps_workers_out(tmp_path: Path) -> None:
    solo = RunWriter(tmp_path, "solo")
    with pytest.raises(OutputLockedError):
        RunWriter(tmp_path, "c1", worker_id="w1")
    solo.close({})


def test_only_dead_workers_temporaries_are_removed(tmp_path: Path) -> None:
    live = RunWriter(tmp_path, "c1", worker_id="live")
    live.write_record(record(0))
    live.flush()
    live.write_record(record(1))
    (tmp_path / ".heed-worker-dead.lock").write_bytes(b"")
    records = tmp_path / "records"
    dead_tmp = records / ".part-c9-dead-00000.parquet.tmp"
    dead_tmp.write_bytes(b"PAR1 torn")
    live_tmp = records / ".part-c1-live-00042.parquet.tmp"
    live_tmp.write_bytes(b"PAR1 being written")
    other = RunWriter(tmp_path, "c2", worker_id="other")
    assert not dead_tmp.exists()
    assert live_tmp.exists()  # its worker holds its lock
    other.close({})
    live.close({})


@pytest.mark.parametrize("bad", ["a-b", "", "w/1", "-x", "x" * 49])
def test_bad_worker_id_is_refused(tmp_path: Path, bad: str) -> None:
    if not bad:
        RunWriter(tmp_path, "c1", worker_id=bad).close({})  # "": a single-process run
        return
    with pytest.raises(ValueError, match="worker_id"):
        RunWriter(tmp_path, "c1", worker_id=bad)


def test_a_failing_publish_hook_discards_the_part_and_fails_the_writer(tmp_path: Path) -> None:
    from filters import HeedError

    def gone() -> None:
        raise HeedError("Redis at 127.0.0.1:1/0 is unreachable")

    failures: list[str] = []
    writer = RunWriter(tmp_path, "c1", worker_id="w1", before_publish=gone)
    writer.on_failure = failures.append
    writer.write_record(record(0))
    writer.write_decision(decision(0))
    writer.close({"counts": {"considered": 1}})
    assert failures and "unreachable" in failures[0]
    assert not list(tmp_path.rglob("*.parquet"))  # nothing published without its done-set
    assert not list(tmp_path.rglob(".part-*"))  # and no temporary left behind
    info = json.loads((tmp_path / "run.json").read_text())
    assert "unreachable" in info["write_error"] and info["rows_lost"] == 2


_KILLED_WORKER = """
import os, signal, sys
from tests.crawler.test_output_workers import decision, record
from crawler.output import RunWriter

w = RunWriter(sys.argv[1], "c1", worker_id="w1", job="j", part_max_rows=2)
for i in range(5):  # two decisions parts published (2 + 2 rows), the fifth row unpublished
    if i % 2 == 0:
        w.write_record(record(i))
    kept = {"allowed": True, "reasons": []} if i % 2 == 0 else {}
    w.write_decision({**decision(i), **kept})
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_worker(folder: Path) -> None:
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER, str(folder)], cwd=root, capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_a_killed_workers_published_counts_reach_run_json(tmp_path: Path) -> None:
    _killed_worker(tmp_path)
    snapshot = json.loads((tmp_path / "workers" / "w1.running.json").read_text())
    assert snapshot["counts"] == {"considered": 4, "kept": 2, "excluded": 2}
    assert snapshot["counts_by_reason"] == {"robots.ai-agent": 2, "robots.disallow": 2}
    assert snapshot["ended_at"] is None and snapshot["decisions_written"] == 4
    assert read_decisions(tmp_path).num_rows == 4  # the unpublished row died with it
    two = RunWriter(tmp_path, "c2", worker_id="w2", job="j")
    two.write_decision(decision(9))
    two.close({"counts": {"considered": 1, "kept": 0, "excluded": 1}})
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["counts"] == {"considered": 5, "kept": 2, "excluded": 3}
    assert info["counts"]["considered"] == read_decisions(tmp_path).num_rows
    assert info["decisions_written"] == 5 and info["records_written"] == 2
    assert info["unfinished_workers"] == ["w1"]
    w1 = [w for w in info["workers"] if w["worker_id"] == "w1"]
    assert len(w1) == 1 and w1[0]["ended_at"] is None and w1[0]["crawl_id"] == "c1"
    assert len(info["parts"]["decisions"]) == 3
    # w1 starts again under its id: the killed run becomes an earlier run of its own file
    again = RunWriter(tmp_path, "c3", worker_id="w1", job="j")
    assert not (tmp_path / "workers" / "w1.running.json").exists()
    again.close({"counts": {"considered": 0, "kept": 0, "excluded": 0}})
    own = json.loads((tmp_path / "workers" / "w1.json").read_text())
    assert [r["crawl_id"] for r in own["previous_runs"]] == ["c1"]
    assert "killed" in own["previous_runs"][0]["fatal"]
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["counts"]["considered"] == 5 and info["unfinished_workers"] == []
    assert sorted(w["crawl_id"] for w in info["workers"]) == ["c1", "c2", "c3"]
    assert sorted(p.name for p in (tmp_path / "workers").iterdir()) == ["w1.json", "w2.json"]


def test_a_running_workers_snapshot_is_superseded_when_it_closes(tmp_path: Path) -> None:
    one = RunWriter(tmp_path, "c1", worker_id="w1", job="j", part_max_rows=1)
    two = RunWriter(tmp_path, "c2", worker_id="w2", job="j")
    one.write_decision(decision(0))
    assert (tmp_path / "workers" / "w1.running.json").exists()  # a part is out
    two.close({"counts": {"considered": 0}})
    assert json.loads((tmp_path / "run.json").read_text())["unfinished_workers"] == ["w1"]
    one.close({"counts": {"considered": 1, "kept": 0, "excluded": 1}})
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["unfinished_workers"] == [] and info["counts"]["considered"] == 1
    assert len(info["workers"]) == 2
    assert not (tmp_path / "workers" / "w1.running.json").exists()


def test_a_part_published_after_the_killed_workers_snapshot_is_counted(tmp_path: Path) -> None:
    _killed_worker(tmp_path)
    path = tmp_path / "workers" / "w1.running.json"
    snapshot = json.loads(path.read_text())
    # as if the kill fell between the second part's rename and the snapshot that lists it
    last = snapshot["parts"]["decisions"].pop()
    snapshot.update(counts={"considered": 2, "kept": 1, "excluded": 1}, decisions_written=2)
    snapshot["counts_by_reason"] = {"robots.ai-agent": 1, "robots.disallow": 1}
    path.write_text(json.dumps(snapshot))
    RunWriter(tmp_path, "c2", worker_id="w2", job="j").close({"counts": {"considered": 0}})
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["counts"] == {"considered": 4, "kept": 2, "excluded": 2}
    assert info["counts_by_reason"] == {"robots.ai-agent": 2, "robots.disallow": 2}
    assert info["decisions_written"] == 4 and last in info["parts"]["decisions"]
    # w1 starts again: its killed run goes into its own file with that part counted too
    RunWriter(tmp_path, "c3", worker_id="w1", job="j").close({"counts": {"considered": 0}})
    killed = json.loads((tmp_path / "workers" / "w1.json").read_text())["previous_runs"][0]
    assert killed["counts"]["considered"] == 4 and last in killed["parts"]["decisions"]


def test_a_damaged_snapshot_does_not_stop_the_merge(tmp_path: Path) -> None:
    running = RunWriter(tmp_path, "c9", worker_id="w9", job="j", part_max_rows=1)
    running.write_decision(decision(0))  # one part out, and w9's snapshot
    damaged = {"crawl_id": "c9", "worker_id": "w9", "counts": {"considered": "many"}}
    damaged.update(counts_by_reason=["x"], parts="none")
    (tmp_path / "workers" / "w9.running.json").write_text(json.dumps(damaged))
    (tmp_path / "workers" / "w8.running.json").write_text("{torn")
    RunWriter(tmp_path, "c2", worker_id="w2", job="j").close({"counts": {"considered": 3}})
    info = json.loads((tmp_path / "run.json").read_text())
    # the damaged counts count as nothing; w9's part, listed nowhere, is counted from its rows
    assert info["counts"]["considered"] == 3 + 1
    assert info["unfinished_workers"] == ["w9"]  # the unreadable file is left out
    running.close({"counts": {"considered": 1}})
