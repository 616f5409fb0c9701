"""End-to-end: several ``heed crawl`` workers on one real Redis share one job (docs/distributed.md).

- Three workers crawl the demo web (every signal of SPEC.md §3, plus a paced site with a
  Crawl-delay) and their union equals a single-process crawl of the same web: the same URLs
  decided, the same kept URLs, the same reasons, no URL twice; the server's log shows each
  origin's signal documents requested once in total and the Crawl-delay held across workers.
- A worker killed with SIGKILL mid-crawl: the others finish the job, every URL is decided
  exactly once.
- Redis stopped mid-crawl: the workers stop with a clear error (exit 1) and complete parts;
  a rerun once Redis is back resumes the job and every URL ends decided exactly once.
- ``heed crawl --workers 3``: one summary and one run.json for the job.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from crawler.demo import LoopbackWeb, demo_sites
from crawler.demo.web import PageSpec, SiteSpec
from crawler.demo_run import _seed_registry, demo_config

from .crawlrun import ROOT, heed, write_config
from .redisproc import RedisServer

TEXT = "text/plain; charset=utf-8"
#: The paced site's Crawl-delay, and the timer slack allowed on each gap (correctness, not speed).
DELAY, TOLERANCE = 0.5, 0.010
DOCUMENTS = ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json")


def _paced() -> SiteSpec:
    pages = {
        f"/p/{i}": PageSpec(
            body="<html><body>"
            + "".join(f'<a href="/p/{j}">{j}</a>' for j in range(8) if j != i)
            + "</body></html>"
        )
        for i in range(8)
    }
    pages["/"] = PageSpec(body='<html><body><a href="/p/0">start</a></body></html>')
    pages["/robots.txt"] = PageSpec(
        body=f"User-agent: *\nCrawl-delay: {DELAY}\nAllow: /\n", content_type=TEXT
    )
    return SiteSpec(pages=pages)


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in sorted(folder.glob("*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    return rows


def _config(tmp: Path, name: str, seeds: list[str], **sections: dict[str, Any]) -> Path:
    body: dict[str, dict[str, Any]] = {
        "crawl": {"seeds": seeds, "out": str(tmp / name), "max_pages": 5000, "max_depth": 50}
    }
    for key, values in sections.items():
        body.setdefault(key, {}).update(values)
    return write_config(tmp / f"{name}.toml", body)


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_worker_left() -> Iterator[None]:
    """A failed test does not leave its workers running (they would crawl on for minutes)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _worker(config: Path, redis_url: str, worker_id: str, job: str) -> subprocess.Popen[str]:
    """A ``heed crawl`` worker of ``job``; its stderr goes to a file beside the config (a pipe
    nobody reads would block a chatty worker, and the job would wait for its leases)."""
    argv = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"]
    argv += ["--redis", redis_url, "--job", job, "--worker-id", worker_id]
    log = config.with_name(f"{config.stem}-{worker_id}-{time.monotonic_ns()}.log")
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True
    )
    proc.log = log  # type: ignore[attr-defined]
    _STARTED.append(proc)
    return proc


def _finish(procs: list[subprocess.Popen[str]], timeout: float = 300) -> list[tuple[int, str]]:
    deadline = time.monotonic() + timeout
    out = []
    for proc in procs:
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        out.append((code, proc.log.read_text()))  # type: ignore[attr-defined]
    return out


def _by_url(rows: list[dict[str, Any]]) -> dict[str, tuple[bool, tuple[str, ...]]]:
    return {r["url"]: (r["allowed"], tuple(sorted(r["reasons"]))) for r in rows}


# --- three workers against one process, on the demo web ---------------------------------------


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("distributed-demo")
    cfg = demo_config()
    sites = {**demo_sites(), "paced": _paced()}
    with LoopbackWeb(sites) as web, RedisServer(tmp / "redis") as server:
        registry = tmp / "registry.db"
        _seed_registry(registry, web)
        sections: dict[str, dict[str, Any]] = {
            "identity": {"product_token": cfg.product_token},
            "policy": {
                "purpose": cfg.purpose.value,
                "mode": cfg.mode.value,
                "on_signal_error": cfg.on_signal_error,
            },
            "registry": {"url": f"sqlite:///{registry}"},
            "limits": {"max_page_bytes": cfg.max_page_bytes, "max_crawl_delay": 30.0},
            "output": {"part_max_rows": 10},
        }
        seeds = [web.url(s, "/") for s in web.sites]
        single_cfg = _config(tmp, "single", seeds, **sections)
        single = heed("crawl", "--config", str(single_cfg), "--json", timeout=300)
        mark = len(web.requests())
        multi_cfg = _config(tmp, "multi", seeds, **sections)
        procs = [_worker(multi_cfg, server.url, f"w{k}", "demo3") for k in (1, 2, 3)]
        results = _finish(procs)
        requests = web.requests()
        return {
            "single": single,
            "workers": results,
            "single_requests": requests[:mark],
            "worker_requests": requests[mark:],
            "single_out": tmp / "single",
            "multi_out": tmp / "multi",
        }


def test_every_worker_completes(demo_runs: dict[str, Any]) -> None:
    assert demo_runs["single"].returncode == 0, demo_runs["single"].stderr
    for code, err in demo_runs["workers"]:
        assert code == 0, err


def test_the_union_of_the_workers_equals_one_process(demo_runs: dict[str, Any]) -> None:
    single = _rows(demo_runs["single_out"] / "decisions")
    multi = _rows(demo_runs["multi_out"] / "decisions")
    counts = Counter(r["url"] for r in multi)
    assert [u for u, n in counts.items() if n > 1] == []  # no URL decided twice
    assert _by_url(multi) == _by_url(single)  # same URLs, same decisions, same reasons
    kept_single = [r["url"] for r in _rows(demo_runs["single_out"] / "records")]
    kept_multi = [r["url"] for r in _rows(demo_runs["multi_out"] / "records")]
    assert len(kept_multi) == len(set(kept_multi))
    assert set(kept_multi) == set(kept_single) and kept_single
    writers = {r["crawl_id"] for r in multi}
    assert len(writers) >= 2  # the work was shared, not done by one worker


def test_each_origins_documents_are_requested_once_in_total(demo_runs: dict[str, Any]) -> None:
    def documents(log: list[Any]) -> Counter[tuple[str, str]]:
        return Counter((e.site, e.path) for e in log if e.path in DOCUMENTS)

    multi = documents(demo_runs["worker_requests"])
    assert [k for k, n in multi.items() if n > 1] == []
    assert set(multi) == set(documents(demo_runs["single_requests"]))
    assert ("paced", "/robots.txt") in multi


def test_crawl_delay_holds_across_workers(demo_runs: dict[str, Any]) -> None:
    times = sorted(e.time for e in demo_runs["worker_requests"] if e.site == "paced")
    assert len(times) >= 9  # robots.txt, /, /p/0 … /p/7
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= DELAY - TOLERANCE, gaps


def test_run_json_merges_the_workers(demo_runs: dict[str, Any]) -> None:
    out = demo_runs["multi_out"]
    info = json.loads((out / "run.json").read_text())
    assert info["job"] == "demo3"
    assert sorted({w["worker_id"] for w in info["workers"]}) == ["w1", "w2", "w3"]
    assert info["counts"]["considered"] == len(_rows(out / "decisions"))
    assert info["records_written"] == len(_rows(out / "records"))
    assert sorted(p.name for p in (out / "workers").iterdir()) == ["w1.json", "w2.json", "w3.json"]


# --- failures: a worker killed, Redis stopped ---------------------------------------------------


#: The path of page ``i``'s link that cannot be requested (over 2,083 characters in all).
def _too_long(i: int) -> str:
    return f"/{i}/" + "x" * 2100


def _big_web(
    sites: int = 4, pages: int = 60, delay: float = 0.02, *, unrequestable: bool = False
) -> dict[str, SiteSpec]:
    """``unrequestable``: each page also links to an over-long URL (``fetch.invalid-url``)."""
    web = {}
    for s in range(sites):
        specs = {
            f"/{i}": PageSpec(
                body="<html><body>"
                + "".join(f'<a href="/{j}">{j}</a>' for j in range(i + 1, min(i + 4, pages)))
                + (f'<a href="{_too_long(i)}">long</a>' if unrequestable else "")
                + "</body></html>",
                delay=delay,
            )
            for i in range(pages)
        }
        specs["/robots.txt"] = PageSpec(body="User-agent: *\nAllow: /\n", content_type=TEXT)
        web[f"s{s}"] = SiteSpec(pages=specs)
    return web


def _all_pages(web: LoopbackWeb, pages: int = 60) -> set[str]:
    return {web.url(s, f"/{i}") for s in web.sites for i in range(pages)}


def _wait_for_parts(out: Path, pattern: str, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list((out / "decisions").glob(pattern))) < n:
        assert time.monotonic() < deadline, f"no {pattern} parts in {out}"
        time.sleep(0.05)


def _assert_decided_once(out: Path, expected: set[str]) -> None:
    rows = _rows(out / "decisions")
    counts = Counter(r["url"] for r in rows)
    assert [u for u, n in counts.items() if n > 1] == []
    assert set(counts) == expected


def test_a_worker_killed_mid_crawl_loses_nothing(tmp_path: Path) -> None:
    with LoopbackWeb(_big_web(delay=0.05)) as web, RedisServer(tmp_path / "redis") as server:
        seeds = [web.url(s, "/0") for s in web.sites]
        config = _config(
            tmp_path, "out", seeds, output={"part_max_rows": 5}, network={"concurrency": 4}
        )
        # The worker to be killed starts first, so it holds work whatever the machine's load;
        # it is killed once the others have joined and it has published a second part.
        victim = _worker(config, server.url, "w2", "killjob")
        _wait_for_parts(tmp_path / "out", "part-*-w2-*.parquet", 1)
        others = [_worker(config, server.url, f"w{k}", "killjob") for k in (1, 3)]
        _wait_for_parts(tmp_path / "out", "part-*-w2-*.parquet", 2)
        os.kill(victim.pid, signal.SIGKILL)
        procs = [others[0], victim, others[1]]
        results = _finish(procs)
        assert results[1][0] == -signal.SIGKILL
        for code, err in (results[0], results[2]):
            assert code == 0, err
        _assert_decided_once(tmp_path / "out", _all_pages(web))
        # run.json counts every part in the folder, the killed worker's published ones too
        info = json.loads((tmp_path / "out" / "run.json").read_text())
        rows = _rows(tmp_path / "out" / "decisions")
        assert info["counts"]["considered"] == len(rows) == info["decisions_written"]
        assert info["counts"]["kept"] == sum(r["allowed"] for r in rows)
        assert info["unfinished_workers"] == ["w2"]


def _holds_unpublished(server: RedisServer, job: str, worker: str, urls: set[str]) -> bool:
    """Whether ``worker``'s leases hold a written, unpublished decision on one of ``urls``."""
    import redis

    from crawler.distributed.connection import JobKeys

    client = redis.Redis.from_url(server.url)
    try:
        lease = client.hgetall(JobKeys(job).lease(worker))
    finally:
        client.close()
    return any(v.startswith(b"D") and k.decode() in urls for k, v in lease.items())


def test_a_killed_workers_unrequestable_links_are_decided_again_never_requested(
    tmp_path: Path,
) -> None:
    # Every page links to a URL over 2,083 characters (fetch.invalid-url: recorded, never
    # requested). The victim writes its parts only at its end, so when it is killed its
    # decisions on such links are written and unpublished: a live worker records them again.
    spec = _big_web(sites=2, pages=30, delay=0.05, unrequestable=True)
    with LoopbackWeb(spec) as web, RedisServer(tmp_path / "redis") as server:
        seeds = [web.url(s, "/0") for s in web.sites]
        config = _config(tmp_path, "out", seeds, network={"concurrency": 4})
        too_long = {web.url(s, _too_long(i)) for s in web.sites for i in range(30)}
        victim = _worker(config, server.url, "w2", "longjob")
        deadline = time.monotonic() + 120
        while not _holds_unpublished(server, "longjob", "w2", too_long):
            assert victim.poll() is None and time.monotonic() < deadline, "no decision to lose"
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        ((code, err),) = _finish([_worker(config, server.url, "w1", "longjob")])
        assert code == 0, err
        assert victim.wait(timeout=30) == -signal.SIGKILL
        assert list((tmp_path / "out" / "decisions").glob("part-*-w2-*.parquet")) == []
        _assert_decided_once(tmp_path / "out", _all_pages(web, 30) | too_long)
        rows = _rows(tmp_path / "out" / "decisions")
        assert {r["url"] for r in rows if r["reasons"] == ["fetch.invalid-url"]} == too_long
        assert [e.path for e in web.requests() if len(e.path) > 2000] == []  # never requested


def test_redis_stopped_mid_crawl_stops_the_workers_and_a_rerun_resumes(tmp_path: Path) -> None:
    # Slower pages than above: the crawl must still be running when Redis is stopped.
    web_spec = _big_web(delay=0.1)
    with LoopbackWeb(web_spec) as web, RedisServer(tmp_path / "redis", persist=True) as server:
        seeds = [web.url(s, "/0") for s in web.sites]
        config = _config(
            tmp_path, "out", seeds, output={"part_max_rows": 5}, network={"concurrency": 4}
        )
        procs = [_worker(config, server.url, f"w{k}", "redisjob") for k in (1, 2)]
        _wait_for_parts(tmp_path / "out", "part-*.parquet", 2)
        server.stop()
        results = _finish(procs, timeout=120)
        for code, err in results:
            assert code == 1, err
            assert "redis" in err.lower(), err
        for table in ("records", "decisions"):
            for part in (tmp_path / "out" / table).glob("*.parquet"):
                pq.read_table(part)  # every published part is complete
        server.start()
        rerun = _finish([_worker(config, server.url, f"w{k}", "redisjob") for k in (1, 2)])
        for code, err in rerun:
            assert code == 0, err
        _assert_decided_once(tmp_path / "out", _all_pages(web))


# --- heed crawl --workers N ---------------------------------------------------------------------


def test_local_workers_give_one_summary(tmp_path: Path) -> None:
    with LoopbackWeb(_big_web(3, 20)) as web, RedisServer(tmp_path / "redis") as server:
        seeds = [web.url(s, "/0") for s in web.sites]
        config = _config(tmp_path, "out", seeds)
        proc = heed(
            "crawl", "--config", str(config), "--json", "--redis", server.url, "--workers", "3"
        )
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["considered"] == 60 and summary["fatal"] is None
        assert len(summary["workers"]) == 3
        assert summary["job"] == "out"  # the output folder's name
        info = json.loads((tmp_path / "out" / "run.json").read_text())
        assert info["counts"]["considered"] == 60
        _assert_decided_once(tmp_path / "out", _all_pages(web, 20))
