"""``heed crawl --workers N`` orchestration (crawler/distributed/workers.py, cli.py, _progress.py)
and the distributed options' validation.

The orchestration runs real child processes: small Python programs that speak a worker's
protocol (counts lines on stderr, a JSON summary on stdout), so the combined display, the
summary, the exit code and the forwarding of signals are checked without a crawl.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from crawler.config import parse_config
from crawler.distributed._progress import MARKER, combined_line, parse_line
from crawler.distributed.workers import local_worker_ids, merge_summaries, run_workers
from filters import ConfigError
from tests.e2e.crawlrun import heed, write_config

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    wid = sys.argv[sys.argv.index("--worker-id") + 1]
    n = int(wid[-1])
    mode = os.environ.get("CHILD_MODE", "ok")
    stopped = []
    signal.signal(signal.SIGTERM, lambda *a: stopped.append(1))
    counts = {"considered": 10 * n, "kept": 7 * n, "excluded": 3 * n,
              "by_reason": {"robots.disallow": 3 * n}}
    sys.stderr.write(MARKER + json.dumps(counts) + "\\n")
    sys.stderr.write("WARNING some log line of " + wid + "\\n")
    sys.stderr.flush()
    if mode == "wait":
        deadline = time.monotonic() + 60
        while not stopped and time.monotonic() < deadline:
            time.sleep(0.02)
    fatal = "crawl ended: shutdown" if stopped else None
    if mode == "fail" and n == 2:
        fatal = "Redis went away"
    summary = {**counts, "fatal": fatal, "resumed": False, "stats": {"heed/kept": 7 * n}}
    print(json.dumps(summary))
    sys.exit(1 if fatal else 0)
    """
).replace("MARKER", repr(MARKER))


def _child(tmp_path: Path) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    return [sys.executable, str(script)]


def test_workers_are_combined_into_one_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, code = run_workers(
        _child(tmp_path), ["h_w1", "h_w2", "h_w3"], progress=True, job="j", out="o"
    )
    assert code == 0
    assert summary["considered"] == 60 and summary["kept"] == 42 and summary["excluded"] == 18
    assert summary["by_reason"] == {"robots.disallow": 18}
    assert summary["stats"] == {"heed/kept": 42}
    assert summary["fatal"] is None and summary["crawl_id"] == "j"
    assert [w["worker_id"] for w in summary["workers"]] == ["h_w1", "h_w2", "h_w3"]
    err = capsys.readouterr().err
    assert "[h_w2] WARNING some log line of h_w2" in err  # passed through, with the id
    assert MARKER not in err  # counts lines are consumed
    assert "60 considered" in err  # the final combined line


def test_a_failed_worker_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHILD_MODE", "fail")
    summary, code = run_workers(
        _child(tmp_path), ["a_w1", "a_w2"], progress=False, job="j", out="o"
    )
    assert code == 1
    assert summary["fatal"] == "worker a_w2: Redis went away"
    assert summary["considered"] == 30  # the failed worker's counts still count


def test_sigterm_is_forwarded_to_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHILD_MODE", "wait")
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        summary, code = run_workers(
            _child(tmp_path), ["b_w1", "b_w2"], progress=False, job="j", out="o"
        )
    finally:
        timer.cancel()
    assert code == 1
    assert [w["fatal"] for w in summary["workers"]] == ["crawl ended: shutdown"] * 2


def test_merge_summaries_reports_a_killed_worker_and_a_bad_summary() -> None:
    ok = json.dumps({"considered": 5, "kept": 5, "excluded": 0, "fatal": None})
    summary, code = merge_summaries(
        [("w1", 0, ok), ("w2", -9, ""), ("w3", 0, "not json")], job="j", out="o", elapsed_s=2.0
    )
    assert code == 1
    assert summary["fatal"] == "worker w2: killed by signal 9; worker w3: no summary"
    assert summary["considered"] == 5 and summary["pages_per_s"] == 2.5
    _, usage = merge_summaries([("w1", 2, ""), ("w2", 1, "")], job="j", out="o", elapsed_s=1)
    assert usage == 2


def test_progress_lines_round_trip() -> None:
    assert parse_line("WARNING not counts") is None
    assert parse_line(MARKER + "{broken") is None
    counts = parse_line(MARKER + json.dumps({"considered": 4, "kept": 1, "excluded": 3}))
    assert counts is not None
    line = combined_line({"w1": counts, "w2": {"considered": 6, "kept": 6}}, 2, 2.0)
    assert line.startswith("2 workers · 10 considered · 7 kept · 3 excluded")
    assert line.endswith("5.0/s")


def test_local_worker_ids_are_distinct_and_usable() -> None:
    ids = local_worker_ids(3)
    assert len(set(ids)) == 3
    assert all(i.replace("_", "").isalnum() and "-" not in i for i in ids)


BASE = {"identity": {"contact_url": "https://example.org/bot"}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"redis_url": "http://127.0.0.1:6379"}, "redis://host:port/db"),
        ({"redis_url": "redis://127.0.0.1:6379/x"}, "must be a number"),
        ({"redis_url": 6379}, "expected a string"),
        ({"job": "a/b"}, "[A-Za-z0-9._-]"),
        ({"job": ""}, "[A-Za-z0-9._-]"),
        ({"workers": 2}, "unknown key"),
    ],
)
def test_distributed_section_is_validated(body: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"\[distributed\]") as info:
        parse_config({**BASE, "distributed": body})
    assert message in str(info.value)


def test_job_name_defaults_to_the_output_folder() -> None:
    cfg = parse_config({**BASE, "crawl": {"out": "/data/crawl 2026"}})
    assert not cfg.distributed and cfg.job_name == "crawl-2026"
    cfg = parse_config({**BASE, "distributed": {"redis_url": "redis://:pw@h:1/0", "job": "J"}})
    assert cfg.distributed and cfg.job_name == "J"
    assert cfg.as_dict()["redis_url"] == "redis://***@h:1/0"  # run.json never holds it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "--workers needs a Redis URL"),
        (["--worker-id", "w1"], "--worker-id needs a Redis URL"),
        (["--job", "j"], "--job needs a Redis URL"),
        (["--redis", "redis://127.0.0.1:1/0", "--workers", "0"], "--workers must be from 1"),
        (["--redis", "redis://127.0.0.1:1/0", "--worker-id", "a-b"], "--worker-id: use"),
        (["--redis", "ftp://x", "--workers", "2"], "--redis: use redis://"),
        (["--redis", "redis://127.0.0.1:1/0", "--workers", "2", "--fresh"], "--fresh cannot"),
        (
            ["--redis", "redis://127.0.0.1:1/0", "--workers", "2", "--worker-id", "w"],
            "--worker-id names one process",
        ),
    ],
)
def test_distributed_options_are_checked_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    config = write_config(
        tmp_path / "run.toml", {"crawl": {"seeds": ["http://127.0.0.1:9/"], "out": str(tmp_path)}}
    )
    proc = heed("crawl", "--config", str(config), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "records").exists()


def test_an_unreachable_redis_is_one_clear_error(tmp_path: Path) -> None:
    from tests.e2e.redisproc import free_port

    config = write_config(
        tmp_path / "run.toml", {"crawl": {"seeds": ["http://127.0.0.1:9/"], "out": str(tmp_path)}}
    )
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    for extra in ([], ["--workers", "2"]):
        proc = heed("crawl", "--config", str(config), "--redis", redis_url, *extra)
        assert proc.returncode == 1, proc.stderr
        assert "is unreachable" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "decisions").exists()  # nothing was started
