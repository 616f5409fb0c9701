"""The distributed scheduler in real Scrapy crawls (child processes) on a real redis-server:
two workers share the work, a worker killed with SIGKILL loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec

ROOT = Path(__file__).resolve().parents[2]


def _web(sites: int = 3, pages: int = 40, delay: float = 0.02) -> LoopbackWeb:
    spec = {}
    for s in range(sites):
        pages_of = {
            f"/{i}": PageSpec(
                body="".join(f'<a href="/{j}">{j}</a>' for j in range(i + 1, min(i + 4, pages))),
                content_type="text/html",
                delay=delay,
            )
            for i in range(pages)
        }
        spec[f"s{s}"] = SiteSpec(pages=pages_of)
    return LoopbackWeb(spec)


def _start(
    redis_url: str, job: str, worker: str, out: Path, seeds: list[str], mode: str = "claim"
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "tests.distributed.minicrawl", redis_url, job, worker, str(out)]
    return subprocess.Popen([*argv, mode, *seeds], cwd=ROOT, stderr=subprocess.PIPE, text=True)


def _lines(folder: Path) -> Counter[str]:
    c: Counter[str] = Counter()
    for f in folder.glob("*.txt"):
        c.update(line for line in f.read_text().splitlines() if line)
    return c


@pytest.mark.parametrize("mode", ["claim", "filter"])
def test_two_workers_share_one_job_and_decide_each_url_once(
    redis_url: str, job: str, tmp_path: Path, mode: str
) -> None:
    with _web(delay=0.25) as web:  # one worker alone would take 8 s: both start well before
        seeds = [web.url(s, "/0") for s in web.sites]
        procs = [
            _start(redis_url, job, w, tmp_path / f"{w}.txt", seeds, mode) for w in ("w1", "w2")
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        counts = _lines(tmp_path)
        assert set(counts) == {web.url(s, f"/{i}") for s in web.sites for i in range(40)}
        assert max(counts.values()) == 1
        sizes = {w: len((tmp_path / f"{w}.txt").read_text().split()) for w in ("w1", "w2")}
        assert min(sizes.values()) > 0, sizes  # both worked
        pages = Counter((r.site, r.path) for r in web.requests())
        assert max(pages.values()) == 1  # no page requested twice


def _decided(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_worker_killed_with_sigkill_loses_nothing(
    redis_url: str, job: str, tmp_path: Path
) -> None:
    with _web(pages=80, delay=0.25) as web:  # tens of seconds of work for one worker
        seeds = [web.url(s, "/0") for s in web.sites]
        victim = _start(redis_url, job, "w2", tmp_path / "w2.txt", seeds)
        _wait_until(lambda: _decided(tmp_path / "w2.txt") >= 2, "w2 decided nothing")
        others = [_start(redis_url, job, w, tmp_path / f"{w}.txt", seeds) for w in ("w1", "w3")]
        _wait_until(lambda: _decided(tmp_path / "w2.txt") >= 6, "w2 stopped deciding")
        os.kill(victim.pid, signal.SIGKILL)  # with links claimed, requests leased, rows noted
        for p in others:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        victim.wait()
        assert victim.returncode == -signal.SIGKILL
        counts = _lines(tmp_path)
        assert set(counts) == {web.url(s, f"/{i}") for s in web.sites for i in range(80)}
        assert [u for u, n in counts.items() if n > 1] == []
