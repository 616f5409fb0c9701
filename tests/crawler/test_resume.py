"""Unit tests of crawler/resume.py and crawler/frontier.py, and the writer's publication order
they rely on."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from crawler.config import RunConfig
from crawler.frontier import FRONTIER_NAME, FrontierLog, read_frontier
from crawler.output import RunWriter, read_decisions
from crawler.resume import has_output, load_resume
from filters import ConfigError, HeedError, Purpose

from .test_output import decision, record

CFG = RunConfig()


def test_publishing_decisions_publishes_records_first_after_the_hook(tmp_path: Path) -> None:
    events: list[str] = []

    def hook() -> None:
        events.append(
            f"hook records={len(list((tmp_path / 'records').glob('*.parquet')))}"
            f" decisions={len(list((tmp_path / 'decisions').glob('*.parquet')))}"
        )

    writer = RunWriter(tmp_path, "run1", part_max_rows=2, row_group_rows=2, before_publish=hook)
    writer.write_record(record(0))  # buffered, part not full
    writer.write_decision(decision(0, url=record(0)["url"], allowed=True, reasons=[]))
    assert events == []
    writer.write_decision(decision(1))  # decisions part full: records are published first
    assert [p.name for p in (tmp_path / "records").glob("*.parquet")] == ["part-run1-00000.parquet"]
    assert events == ["hook records=0 decisions=0", "hook records=1 decisions=0"]
    writer.close({})


def _folder(tmp_path: Path) -> Path:
    """Earlier output: an excluded URL, a kept page with both rows, a record whose decision
    was lost, and a 'kept' decision whose record was lost."""
    with RunWriter(tmp_path, "run1") as writer:
        writer.write_record(record(1))
        writer.write_record(record(2))
        writer.write_decision(decision(9))
        writer.write_decision(decision(1, url=record(1)["url"], allowed=True, reasons=[]))
        writer.write_decision(decision(3, url=record(3)["url"], allowed=True, reasons=[]))
    return tmp_path


def test_done_set_and_rebuilt_decisions(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = _folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="crawler.resume"):
        state = load_resume(out, CFG, fresh=False)
    assert state.resumed
    done = set(state.done_urls())
    assert done == {decision(9)["url"], record(1)["url"], record(2)["url"]}
    assert record(3)["url"] not in done  # crawled again: its record was lost
    assert state.done_count == 3
    assert "1 URL(s) have a 'kept' decision but no record" in caplog.text
    (rebuilt,) = state.rebuilt
    assert rebuilt["url"] == record(2)["url"] and rebuilt["allowed"] is True
    assert rebuilt["decided_at"] == record(2)["fetched_at"]
    with RunWriter(out, "run2") as writer:
        writer.write_decision(rebuilt)  # the rebuilt row is a valid decision row
    assert record(2)["url"] in read_decisions(out).column("url").to_pylist()
    assert state.index is not None
    scratch = state.index.scratch
    assert scratch.is_dir()
    state.release()  # the index on disk goes; the counts stay
    assert not scratch.exists() and list(state.done_urls()) == [] and state.done_count == 3


def test_the_scan_reads_parts_a_batch_at_a_time_with_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.resume as resume_module

    with RunWriter(tmp_path, "run1", part_max_rows=7, row_group_rows=3) as writer:
        for n in range(40):  # even: kept with a record; odd: excluded; 13: record, no decision
            url = record(n)["url"]
            if n % 2 == 0 or n == 13:
                writer.write_record(record(n))
            if n != 13:
                extra: dict[str, Any] = {"allowed": True, "reasons": []} if n % 2 == 0 else {}
                writer.write_decision(decision(n, url=url, **extra))
    monkeypatch.setattr(resume_module, "_BATCH_ROWS", 2)
    state = load_resume(tmp_path, CFG, fresh=False)
    assert set(state.done_urls()) == {record(n)["url"] for n in range(40)}
    assert [r["url"] for r in state.rebuilt] == [record(13)["url"]]
    state.release()


def test_frontier_entries_minus_done_with_their_smallest_depth(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    lines = [
        {"url": record(1)["url"], "depth": 1},  # done
        {"url": "https://example.org/a", "depth": 2},
        {"url": "https://example.org/b", "depth": 1},
        {"url": "https://example.org/a", "depth": 1},
    ]
    (out / FRONTIER_NAME).write_text("".join(json.dumps(x) + "\n" for x in lines))
    state = load_resume(out, CFG, fresh=False)
    entries = list(state.frontier_entries())  # in the order first logged
    assert entries == [("https://example.org/a", 1), ("https://example.org/b", 1)]
    assert state.frontier_ignored_lines == 0 and state.frontier_count == 2
    state.release()


def test_empty_folder_is_a_fresh_start_and_fresh_refuses_output(tmp_path: Path) -> None:
    assert not has_output(tmp_path)
    assert load_resume(tmp_path, CFG, fresh=True).resumed is False
    (tmp_path / FRONTIER_NAME).write_text("")
    assert not has_output(tmp_path)  # an empty log is no output
    _folder(tmp_path)
    assert has_output(tmp_path)
    with pytest.raises(ConfigError, match="--fresh"):
        load_resume(tmp_path, CFG, fresh=True)
    assert len(list((tmp_path / "records").glob("*.parquet"))) == 1  # nothing deleted


def test_only_a_frontier_log_counts_as_output(tmp_path: Path) -> None:
    (tmp_path / FRONTIER_NAME).write_text('{"url": "https://example.org/", "depth": 0}\n')
    assert has_output(tmp_path)
    with pytest.raises(ConfigError):
        load_resume(tmp_path, CFG, fresh=True)


def test_other_purpose_in_records_or_mode_in_run_json_is_refused(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    with pytest.raises(ConfigError, match="purpose train-ai"):
        load_resume(out, RunConfig(purpose=Purpose.SEARCH), fresh=False)
    (out / "run.json").write_text(json.dumps({"purpose": "train-ai", "mode": "opt-in"}))
    with pytest.raises(ConfigError, match="mode opt-in"):
        load_resume(out, CFG, fresh=False)


def test_unreadable_part_stops_the_resume_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.resume as resume_module

    made: list[Any] = []

    class Index(resume_module.ResumeIndex):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(resume_module, "ResumeIndex", Index)
    out = _folder(tmp_path)
    (out / "decisions" / "part-x-00099.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(HeedError, match=r"part-x-00099\.parquet"):
        load_resume(out, CFG, fresh=False)
    assert len(made) == 1 and not made[0].scratch.exists()  # the half-built index is gone


def test_read_frontier_ignores_bad_lines_one_by_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / FRONTIER_NAME
    good = '{"url": "https://example.org/", "depth": 0}\n'
    bad = [
        "not json\n",
        '["https://example.org/x", 1]\n',
        '{"url": "ftp://example.org/", "depth": 1}\n',
        '{"url": "https://example.org/y", "depth": -1}\n',
        '{"url": "https://example.org/y", "depth": true}\n',
        "\n",
    ]
    path.write_bytes((good + "".join(bad) + good).encode() + b"\xff\xfe\n" + b'{"url": "ht')
    with caplog.at_level(logging.WARNING, logger="crawler.frontier"):
        entries, ignored = read_frontier(path)
    assert entries == [("https://example.org/", 0)] * 2
    assert ignored == len(bad) + 2
    assert "ignored 8 line(s)" in caplog.text and "line 2, 3, 4, 5, 6, 7, 9, 10" in caplog.text


@pytest.mark.parametrize(
    ("tail", "kept"),
    [
        ('{"url": "https://example.org/t", "de', False),  # torn: cut off
        ('{"url": "https://example.org/t", "depth": 1}', True),  # complete: finished
    ],
)
def test_log_appends_on_a_line_boundary(tmp_path: Path, tail: str, kept: bool) -> None:
    path = tmp_path / FRONTIER_NAME
    path.write_text('{"url": "https://example.org/", "depth": 0}\n' + tail)
    log = FrontierLog(path)
    log.add("https://example.org/new", 2)
    log.close()
    entries, ignored = read_frontier(path)
    assert ignored == 0
    assert (("https://example.org/t", 1) in entries) is kept
    assert len(entries) == 2 + kept
    assert entries[-1] == ("https://example.org/new", 2)


def test_log_is_synced_on_its_interval_and_on_sync(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / FRONTIER_NAME
    log = FrontierLog(path, sync_interval=1.0, clock=lambda: now[0])
    log.add("https://example.org/a", 1)
    assert read_frontier(path)[0] == []  # buffered in the process
    now[0] = 1.5
    log.add("https://example.org/b", 1)  # the interval has passed: both are on disk
    assert len(read_frontier(path)[0]) == 2
    log.add("https://example.org/c", 1)
    log.sync()
    assert len(read_frontier(path)[0]) == 3
    log.close()
    log.close()  # idempotent
