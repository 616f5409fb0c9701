"""End-to-end: a crawl that cannot write its output stops promptly, says so once, loses nothing.

Two real failures, both reproducible as root (which ignores permission bits):

- **A full disk**: the crawl runs with ``RLIMIT_FSIZE`` set (as ``ulimit -f`` does), so the
  kernel refuses to grow any file past the limit (``EFBIG``, "File too large"): a records part
  that reaches it fails exactly as a part on a full file system does (``ENOSPC``), through the
  same ``OSError`` path. Root is not exempt from the limit.
- **An unwritable folder**: ``records/`` is replaced by a plain file while the crawl runs, so
  the next part can be neither created nor renamed into place (``ENOTDIR``).

Either way the crawl must end with exit 1, ``fatal`` set in the ``--json`` summary and in
``run.json``, one clear message on stderr and no page content in it, only complete parts on
disk, and a rerun after the cause is fixed must resume and finish the job.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

from .crawlrun import ROOT, CrawlRun, crawl, write_config

PAGES = 60
#: Bytes of text per page; random letters, so zstd cannot shrink a part below the limit.
PAGE_TEXT = 24 * 1024
LIMIT = 256 * 1024
MARKER = "UNIQUE-BODY-MARKER"


def _text(seed: int, size: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choices(string.ascii_letters + " ", k=size))


def _site(delay: float = 0.0) -> SiteSpec:
    links = "".join(f'<li><a href="/article/{i}">Article {i}</a></li>' for i in range(PAGES))
    pages = {"/": PageSpec(body=f"<!doctype html><html><body><ul>{links}</ul></body></html>")}
    for i in range(PAGES):
        body = (
            f"<!doctype html><html><head><title>Article {i}</title></head><body><article>"
            f"<h1>{MARKER} {i}</h1><p>{_text(i, PAGE_TEXT)}</p></article></body></html>"
        )
        pages[f"/article/{i}"] = PageSpec(body=body, delay=delay)
    return SiteSpec(pages=pages)


SECTIONS = {
    "crawl": {"max_pages": 1000},
    "output": {"part_max_rows": 3, "row_group_rows": 1, "flush_interval": 3600.0},
    "network": {"concurrency": 4, "per_host_concurrency": 2},
}


def _limited_crawl(tmp: Path, seed: str, limit: int) -> CrawlRun:
    sections = {
        **SECTIONS,
        "crawl": {**SECTIONS["crawl"], "seeds": [seed], "out": str(tmp / "out")},
    }
    config = write_config(tmp / "run.toml", sections)

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        preexec_fn=limit_file_size,
    )
    return CrawlRun(proc.returncode, proc.stdout, proc.stderr, tmp / "out")


def _assert_complete_parts(out: Path) -> list[str]:
    assert not list(out.rglob("*.tmp")), "a torn temporary part was left behind"
    urls = []
    for table in ("records", "decisions"):
        for part in sorted((out / table).glob("*.parquet")):
            rows = pq.read_table(part)  # raises if the file is torn
            assert rows.num_rows > 0
            if table == "records":
                urls += rows.column("url").to_pylist()
    return urls


def _assert_one_clear_message(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert MARKER not in stderr  # no page body, no item in the log
    assert "Operation on closed file" not in stderr
    assert stderr.count("cannot write") == 1, stderr


def test_a_full_disk_stops_the_crawl_with_exit_1_and_a_rerun_resumes(tmp_path: Path) -> None:
    # One page (its record alone is over the limit) makes the disk "full" partway through.
    site = _site()
    site.pages["/article/30"] = PageSpec(
        body=f"<html><body><p>{MARKER} big {_text(99, 2 * LIMIT)}</p></body></html>"
    )
    with LoopbackWeb({"s": site}) as web:
        seed = web.url("s")
        run = _limited_crawl(tmp_path, seed, LIMIT)
        requested = len(web.requests("s"))
        info = json.loads((run.out / "run.json").read_text(encoding="utf-8"))
        kept_before = _assert_complete_parts(run.out)
        rerun = crawl(tmp_path, {**SECTIONS, "crawl": {**SECTIONS["crawl"], "seeds": [seed]}})
    assert run.returncode == 1, run.stderr
    fatal = run.summary["fatal"]
    assert fatal and "cannot write records/" in fatal and "File too large" in fatal
    assert info["fatal"] == fatal and info["write_error"] and info["rows_lost"] >= 1
    _assert_one_clear_message(run.stderr)
    assert kept_before, "no part was published before the failure"
    assert requested < PAGES + 2, "the crawl went on fetching after the failure"
    # Fixed (no limit): the rerun resumes the job and finishes it, nothing written twice.
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.summary["resumed"] and rerun.summary["fatal"] is None
    kept = _assert_complete_parts(rerun.out)
    assert len(kept) == len(set(kept)) == PAGES + 1
    assert set(kept_before) <= set(kept)


def test_records_folder_replaced_by_a_file_mid_run_stops_the_crawl(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with LoopbackWeb({"s": _site(delay=0.05)}) as web:
        seed = web.url("s")
        sections = {**SECTIONS, "crawl": {**SECTIONS["crawl"], "seeds": [seed], "out": str(out)}}
        config = write_config(tmp_path / "run.toml", sections)
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((out / "records").glob("*.parquet")):
            time.sleep(0.02)
        os.rename(out / "records", tmp_path / "records.moved")
        (out / "records").write_text("an operator's mistake\n", encoding="utf-8")
        stdout, stderr = proc.communicate(timeout=120)
        run = CrawlRun(proc.returncode, stdout, stderr, out)
        requested = len(web.requests("s"))
        info = json.loads((out / "run.json").read_text(encoding="utf-8"))
        # The operator puts the folder back; the rerun resumes.
        (out / "records").unlink()
        os.rename(tmp_path / "records.moved", out / "records")
        for stale in (out / "records").glob(".part-*.tmp"):
            stale.unlink()  # the part that was open when the folder was moved away
        rerun = crawl(tmp_path, {**SECTIONS, "crawl": {**SECTIONS["crawl"], "seeds": [seed]}})
    assert run.returncode == 1, run.stderr
    assert "cannot write records/" in run.summary["fatal"]
    assert info["fatal"] == run.summary["fatal"]
    _assert_one_clear_message(run.stderr)
    assert requested < PAGES + 2, "the crawl went on fetching after the failure"
    assert rerun.returncode == 0, rerun.stderr
    kept = _assert_complete_parts(out)
    assert len(kept) == len(set(kept)) == PAGES + 1
    shutil.rmtree(tmp_path / "records.moved", ignore_errors=True)
