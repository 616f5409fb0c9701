"""``heed demo --out`` never deletes or overwrites what it did not write, and honours the lock."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pyarrow.parquet as pq

from crawler.demo_run import DEMO_MARKER

from .crawlrun import heed


def _demo(out: Path) -> tuple[int, str, str]:
    proc = heed("demo", "--out", str(out), "--json", timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_folder_with_an_unrelated_file_is_refused_and_the_file_survives(tmp_path: Path) -> None:
    out = tmp_path / "work"
    out.mkdir()
    notes = out / "thesis-notes.txt"
    notes.write_text("three years of work\n", encoding="utf-8")
    code, _, stderr = _demo(out)
    assert code == 2, stderr
    assert "thesis-notes.txt" in stderr and "Traceback" not in stderr
    assert notes.read_text(encoding="utf-8") == "three years of work\n"
    assert sorted(p.name for p in out.iterdir()) == ["thesis-notes.txt"]


def test_an_earlier_demo_output_with_a_file_of_the_users_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    (out / "records").mkdir(parents=True)
    (out / DEMO_MARKER).write_text("demo\n", encoding="utf-8")
    (out / "records" / "my-analysis.ipynb").write_text("{}", encoding="utf-8")
    code, _, stderr = _demo(out)
    assert code == 2, stderr
    assert "records/my-analysis.ipynb" in stderr
    assert (out / "records" / "my-analysis.ipynb").read_text(encoding="utf-8") == "{}"


def test_out_naming_a_file_is_refused_and_the_file_survives(tmp_path: Path) -> None:
    target = tmp_path / "demo-out"
    target.write_bytes(b"not a folder")
    code, _, stderr = _demo(target)
    assert code == 2 and "not a folder" in stderr and "Traceback" not in stderr
    assert target.read_bytes() == b"not a folder"


def test_an_earlier_demo_output_is_replaced_by_the_new_run(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    code, stdout, stderr = _demo(out)
    assert code == 0, stderr
    first = json.loads(stdout)["crawl_id"]
    assert (out / DEMO_MARKER).is_file()
    (out / DEMO_MARKER).unlink()  # a demo output from before the marker existed is accepted too
    code, stdout, stderr = _demo(out)
    assert code == 0, stderr
    second = json.loads(stdout)
    assert second["crawl_id"] != first and not second["resumed"]
    crawl_ids = set(pq.read_table(out / "decisions").column("crawl_id").to_pylist())
    assert crawl_ids == {second["crawl_id"]}  # the earlier run's parts are gone, nothing mixed
    assert "previous_runs" not in json.loads((out / "run.json").read_text(encoding="utf-8"))


def test_the_output_lock_is_honoured(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    (out / "records").mkdir(parents=True)
    (out / DEMO_MARKER).write_text("demo\n", encoding="utf-8")
    (out / "run.json").write_text('{"crawl_id": "live"}\n', encoding="utf-8")
    with open(out / ".heed-output.lock", "ab") as lock:  # a crawl writing here right now
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, stderr = _demo(out)
    assert code == 1, stderr
    assert "another heed writer" in stderr and "Traceback" not in stderr
    assert (out / "run.json").read_text(encoding="utf-8") == '{"crawl_id": "live"}\n'
    assert (out / "records").is_dir()
