"""Crawl throughput: heed against plain Scrapy on the same local web (crawl issue targets:
heed ≥ 1.0× plain Scrapy's pages/s while doing all its checks; peak RSS ≤ 300 MB for a
10,000-page crawl).

Generates ``--hosts`` × ``--pages`` static pages (``bench/_web.py``: one nginx, one loopback
address per host, a robots.txt with a small disallowed area, no ai.txt), then crawls it from
one seed per host, in separate processes and one after the other:

- heed: ``heed crawl --config RUN.toml --json`` with every check on and Parquet output;
- plain Scrapy: ``bench/_plain_scrapy.py``, a CrawlSpider with ``ROBOTSTXT_OBEY = True``;
- heed distributed (``--workers 1,2``): ``heed crawl --workers N --redis URL`` on a throwaway
  redis-server on 127.0.0.1, N local worker processes of one job (docs/distributed.md), one
  row per N, with the ratio of each N to one worker's pages/s;
- with ``--split``: two embedded heed processes at once, each crawling half the hosts into its
  own folder (no Redis, nothing shared): what two heed processes reach on this machine
  without any coordination, the ceiling the two workers' ratio is measured against.

All get the same ``--concurrency`` and ``--per-host`` concurrency (per worker) and run with
AutoThrottle off (heed's default is on; with it on the figure would measure AutoThrottle).
Wall time runs from process start to exit (interpreter start-up and imports included);
pages/s = pages fetched and handed to the spider / wall seconds. nginx's access log splits
each wall time into start-up (to the first answer), crawl (first to last answer) and tail
(last answer to exit); "crawl pages/s" is pages / crawl seconds, the rate once under way.
Peak RSS is the child's ``ru_maxrss`` from ``wait4``. ``--profile`` runs heed a second time
under cProfile and prints its top functions by own time.

    .venv/bin/python bench/crawl.py [--hosts 50] [--pages 200] [--concurrency 32]
                                    [--per-host 2] [--repeat 1] [--keep] [--profile]
                                    [--workers 1,2] [--split]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import Measured, heed_config, keep_or_delete, spawn
from _redis import cpu_seconds, flush, start_redis, stop_redis, used_bytes
from _web import Web, free_port, generate, request_times, start_nginx, stop_nginx

ROOT = Path(__file__).resolve().parents[1]
PLAIN = Path(__file__).resolve().parent / "_plain_scrapy.py"


@dataclass(frozen=True, slots=True)
class Run:
    """One crawler process: what it fetched, how long it took, how much memory it held."""

    name: str
    pages: int  # pages fetched and handed to the spider (robots.txt etc. not counted)
    considered: int  # heed: URLs decided (fetched or refused); Scrapy: same as pages
    wall_s: float
    cpu_s: float  # user + system CPU of the process (less sensitive to a busy machine)
    peak_rss_mb: float
    returncode: int
    extra: dict[str, Any]

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def pages_per_cpu_s(self) -> float:
        return self.pages / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def phases(self) -> str:
        """``start-up/crawl/tail`` seconds, and pages per crawl second."""
        p = self.extra.get("phases")
        if not p:
            return "-"
        rate = self.pages / p["crawl_s"] if p["crawl_s"] > 0 else 0.0
        return f"{p['startup_s']:.2f}/{p['crawl_s']:.2f}/{p['tail_s']:.2f} {rate:7.1f}"


def _since(web: Web) -> int:
    """Where nginx's access log ends now (the next run's answers start there)."""
    return request_times(web, 0)[1]


def _phases(web: Web, since: int, m: Measured) -> dict[str, float]:
    """Start-up, crawl and tail seconds of one measured run from nginx's answer times."""
    times, _ = request_times(web, since)
    times = [t for t in times if m.started_at <= t <= m.ended_at]
    if not times:
        return {}
    first, last = min(times), max(times)
    return {
        "startup_s": first - m.started_at,
        "crawl_s": last - first,
        "tail_s": m.ended_at - last,
        "answers": float(len(times)),
    }


def run_heed_workers(web: Web, tmp: Path, args: argparse.Namespace, n: int, port: int) -> Run:
    """``heed crawl --workers n`` on the benchmark's Redis (emptied first); CPU s and peak RSS
    cover the workers (the waited-for children); peak RSS is the largest worker's."""
    _clear(tmp / "heed-out")
    flush(port)
    config = _heed_config(web, tmp, args)
    argv = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"]
    argv += ["--redis", f"redis://127.0.0.1:{port}/0", "--job", f"bench{n}", "--workers", str(n)]
    before, cpu_before = used_bytes(port), cpu_seconds(port)
    since = _since(web)
    m = spawn(argv, tmp / f"heed-w{n}.log", args.heed_root, tree=True)
    redis_bytes, redis_cpu = used_bytes(port) - before, cpu_seconds(port) - cpu_before
    summary = json.loads(m.stdout) if m.returncode == 0 and m.stdout.strip() else {}
    return Run(
        name=f"heed×{n}",
        pages=int(summary.get("kept", 0)),
        considered=int(summary.get("considered", 0)),
        wall_s=m.wall_s,
        cpu_s=m.cpu_s,
        peak_rss_mb=m.peak_rss_mb,
        returncode=m.returncode,
        extra={
            "by_reason": summary.get("by_reason", {}),
            "crawl_elapsed_s": summary.get("elapsed_s"),
            "tree_rss_mb": m.tree_rss_mb,
            "workers": n,
            "redis_bytes": redis_bytes,
            "redis_cpu_s": redis_cpu,
            "phases": _phases(web, since, m),
        },
    )


def _heed_config(web: Web, tmp: Path, args: argparse.Namespace) -> Path:
    seeds = ", ".join(json.dumps(s) for s in web.seeds)
    sections = {
        "crawl": [
            f"seeds = [{seeds}]",
            f"out = {json.dumps(str(tmp / 'heed-out'))}",
            f"max_pages = {web.total_pages}",
            f"max_depth = {web.pages}",
        ],
        "identity": ['contact_url = "http://127.0.0.1/contact"'],
        "network": [
            "allow_private_networks = true",
            f"concurrency = {args.concurrency}",
            f"per_host_concurrency = {args.per_host}",
            "autothrottle = false",
        ],
    }
    return heed_config(tmp / "heed.toml", sections, args.heed_option)


def run_heed(web: Web, tmp: Path, args: argparse.Namespace, *, profile: Path | None) -> Run:
    _clear(tmp / "heed-out")  # each run starts from an empty output folder
    config = _heed_config(web, tmp, args)
    pre = ["-m", "cProfile", "-o", str(profile), "-m"] if profile else ["-m"]
    argv = [sys.executable, *pre, "crawler.cli", "crawl", "--config", str(config), "--json"]
    since = _since(web)
    m = spawn(argv, tmp / "heed.log", args.heed_root)
    summary = json.loads(m.stdout) if m.returncode == 0 and m.stdout.strip() else {}
    return Run(
        name="heed",
        pages=int(summary.get("kept", 0)),
        considered=int(summary.get("considered", 0)),
        wall_s=m.wall_s,
        cpu_s=m.cpu_s,
        peak_rss_mb=m.peak_rss_mb,
        returncode=m.returncode,
        extra={
            "by_reason": summary.get("by_reason", {}),
            "crawl_elapsed_s": summary.get("elapsed_s"),
            "phases": _phases(web, since, m),
        },
    )


def run_plain(web: Web, tmp: Path, args: argparse.Namespace) -> Run:
    argv = [sys.executable, str(PLAIN), "--concurrency", str(args.concurrency)]
    argv += ["--per-host", str(args.per_host), *web.seeds]
    since = _since(web)
    m = spawn(argv, tmp / "plain.log", ROOT)
    stats = json.loads(m.stdout) if m.returncode == 0 and m.stdout.strip() else {}
    pages = int(stats.get("bench/pages", 0))
    return Run(
        name="scrapy",
        pages=pages,
        considered=pages,
        wall_s=m.wall_s,
        cpu_s=m.cpu_s,
        peak_rss_mb=m.peak_rss_mb,
        returncode=m.returncode,
        extra={
            "robots_forbidden": stats.get("robotstxt/forbidden", 0),
            "finish_reason": stats.get("finish_reason"),
            "phases": _phases(web, since, m),
        },
    )


def _median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda r: r.pages_per_s)
    return ordered[len(ordered) // 2]


def report_workers(runs: dict[int, list[Run]], plain: list[Run]) -> None:
    """The distributed rows: one per worker count, with each one's ratio to one worker."""
    if not runs:
        return
    print(
        f"\n{'heed on Redis':<13} {'pages':>7} {'wall s':>8} {'pages/s':>9} {'CPU s':>8} "
        f"{'max RSS MB':>11} {'all RSS MB':>11}  ×1 worker  {'start/crawl/tail s':>18} "
        f"{'crawl pages/s':>7}  pages/s of each run"
    )
    medians = {n: _median_run(r) for n, r in sorted(runs.items())}
    one = medians.get(1)
    for n, r in medians.items():
        ratio = f"{r.pages_per_s / one.pages_per_s:.2f}×" if one and one.pages_per_s else "-"
        rates = " ".join(f"{x.pages_per_s:.0f}" for x in runs[n])
        print(
            f"{n:>2} worker{'s' if n > 1 else ' '}    {r.pages:>7} {r.wall_s:>8.2f} "
            f"{r.pages_per_s:>9.1f} {r.cpu_s:>8.1f} {r.peak_rss_mb:>11.1f} "
            f"{r.extra['tree_rss_mb']:>11.1f}  {ratio:>9}  {r.phases:>26}  [{rates}]"
        )
    for n, r in medians.items():
        per_url = r.extra["redis_bytes"] / r.considered if r.considered else 0.0
        print(
            f"Redis with {n} worker(s): {r.extra['redis_bytes'] / 1e6:.1f} MB for "
            f"{r.considered} URLs decided ({per_url:.0f} bytes per URL, the job's keys kept), "
            f"{r.extra['redis_cpu_s']:.1f} CPU s of the server"
        )
    p = _median_run(plain) if plain else None
    if p and p.pages_per_s:
        for n, r in medians.items():
            print(f"ratio heed×{n}/scrapy pages/s: {r.pages_per_s / p.pages_per_s:.2f}×")
    if one and 2 in medians and one.pages_per_s:
        ratio = medians[2].pages_per_s / one.pages_per_s
        print(f"2 workers / 1 worker: {ratio:.2f}× (target ≥ 1.80×)")


def run_heed_split(web: Web, tmp: Path, args: argparse.Namespace) -> Run:
    """Two embedded ``heed crawl`` processes started together, each on half the hosts (its
    own config and output folder); wall time until both have exited, CPU s of both, peak
    RSS the larger one's."""
    halves = [web.hosts[: len(web.hosts) // 2], web.hosts[len(web.hosts) // 2 :]]
    procs = []
    start = time.perf_counter()
    for i, hosts in enumerate(halves):
        folder = tmp / f"split{i}"
        _clear(folder / "heed-out")
        folder.mkdir(parents=True, exist_ok=True)
        config = _heed_config(dataclasses.replace(web, hosts=hosts), folder, args)
        argv = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"]
        out = (folder / "heed.out").open("wb")
        err = (folder / "heed.log").open("wb")
        procs.append((subprocess.Popen(argv, cwd=args.heed_root, stdout=out, stderr=err), out))
    cpu, rss, codes, pages, considered = 0.0, 0.0, [], 0, 0
    for (proc, out), i in zip(procs, range(2), strict=True):
        _, status, usage = os.wait4(proc.pid, 0)
        out.close()
        codes.append(os.waitstatus_to_exitcode(status))
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss / 1024)
        text = (tmp / f"split{i}" / "heed.out").read_text(encoding="utf-8")
        summary = json.loads(text) if codes[-1] == 0 and text.strip() else {}
        pages += int(summary.get("kept", 0))
        considered += int(summary.get("considered", 0))
    wall = time.perf_counter() - start
    return Run("heed÷2", pages, considered, wall, cpu, rss, max(codes, key=abs), {})


def report_split(split: list[Run], heed: list[Run], distributed: dict[int, list[Run]]) -> None:
    """Two uncoordinated embedded processes against one, and the two workers against them."""
    if not split:
        return
    r = _median_run(split)
    rates = " ".join(f"{x.pages_per_s:.0f}" for x in split)
    print(
        f"\n2 embedded processes, half the hosts each, nothing shared: {r.pages} pages, "
        f"{r.wall_s:.2f} s, {r.pages_per_s:.1f} pages/s, {r.cpu_s:.1f} CPU s  [{rates}]"
    )
    if heed and _median_run(heed).pages_per_s:
        one = _median_run(heed).pages_per_s
        print(f"  2 embedded (half each) / 1 embedded: {r.pages_per_s / one:.2f}×")
    two = distributed.get(2)
    if two and r.pages_per_s:
        print(
            f"  2 workers on Redis / 2 embedded (half each): "
            f"{_median_run(two).pages_per_s / r.pages_per_s:.2f}×"
        )


def report(web: Web, heed: list[Run], plain: list[Run]) -> None:
    print(
        f"web: {len(web.hosts)} hosts × {web.pages} page URLs = {web.total_pages} "
        f"({web.fetchable} allowed by robots.txt), nginx on 127.0.0.2-{len(web.hosts) + 1}"
    )
    print(
        f"{'crawler':<8} {'pages':>7} {'wall s':>8} {'pages/s':>9} {'CPU s':>8} "
        f"{'pages/CPU s':>12} {'peak RSS MB':>12}  {'start/crawl/tail s':>18} "
        f"{'crawl pages/s':>7}  pages/s of each run"
    )
    medians = {}
    for runs in (heed, plain):
        if not runs:
            continue
        r = medians[runs[0].name] = _median_run(runs)
        rates = " ".join(f"{x.pages_per_s:.0f}" for x in runs)
        print(
            f"{r.name:<8} {r.pages:>7} {r.wall_s:>8.2f} {r.pages_per_s:>9.1f} {r.cpu_s:>8.1f} "
            f"{r.pages_per_cpu_s:>12.1f} {r.peak_rss_mb:>12.1f}  {r.phases:>26}  [{rates}]"
        )
    h, p = medians.get("heed"), medians.get("scrapy")
    if h and p and p.pages_per_s and p.pages_per_cpu_s:
        print(f"ratio heed/scrapy pages/s: {h.pages_per_s / p.pages_per_s:.2f}× (target ≥ 1.00×)")
        print(
            f"ratio heed/scrapy pages per CPU second: {h.pages_per_cpu_s / p.pages_per_cpu_s:.2f}×"
        )
    if h:
        print(f"heed peak RSS: {h.peak_rss_mb:.1f} MB (target ≤ 300 MB for 10,000 pages)")
        print(f"heed considered {h.considered}, excluded by reason: {h.extra['by_reason']}")
        print(f"heed crawl time inside the process: {h.extra['crawl_elapsed_s']} s")
    if p:
        print(f"scrapy robots.txt refusals: {p.extra['robots_forbidden']}")
    check(web, heed + plain)


def check(web: Web, runs: list[Run]) -> None:
    for r in runs:
        if r.returncode != 0:
            print(f"WARNING: {r.name} exited with {r.returncode} (see its .log)", file=sys.stderr)
        if r.pages != web.fetchable:
            print(f"WARNING: {r.name} fetched {r.pages} of {web.fetchable} pages", file=sys.stderr)


def print_profile(path: Path, heed_root: Path = ROOT, top: int = 25) -> None:
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_cc, _nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tt, ct, f"{_short(file, heed_root)}:{line}:{func}"))
    print(f"\nheed under cProfile: {total:.1f} s of CPU in Python; top {top} by own time")
    print(f"{'own %':>6} {'cum %':>6}  function")
    for tt, ct, name in sorted(rows, reverse=True)[:top]:
        print(f"{100 * tt / total:>6.1f} {100 * ct / total:>6.1f}  {name}")
    print(f"\nheed's own functions (crawler/, filters/): top {top} by cumulative time")
    print(f"{'own %':>6} {'cum %':>6}  function")
    own = [r for r in rows if r[2].startswith(("crawler/", "filters/"))]
    for tt, ct, name in sorted(own, key=lambda r: r[1], reverse=True)[:top]:
        print(f"{100 * tt / total:>6.1f} {100 * ct / total:>6.1f}  {name}")


def _short(file: str, heed_root: Path) -> str:
    for marker in ("site-packages/", f"{heed_root.resolve()}/", f"{heed_root}/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=50, help="number of hosts (default 50)")
    ap.add_argument("--pages", type=int, default=200, help="page URLs per host (default 200)")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    ap.add_argument("--per-host", type=int, default=2, help="requests in flight per host")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each crawler (median shown)")
    ap.add_argument(
        "--only", choices=("heed", "scrapy"), help="run one crawler (no ratio is printed)"
    )
    ap.add_argument(
        "--workers",
        type=_counts,
        default=[],
        metavar="N,N",
        help="also crawl with heed crawl --workers N on a local Redis, for each N (e.g. 1,2)",
    )
    ap.add_argument(
        "--split",
        action="store_true",
        help="also run two embedded heed processes at once on half the hosts each",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--profile", action="store_true", help="also profile one heed run")
    ap.add_argument(
        "--heed-root",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="run heed from this checkout (e.g. a `git worktree` of another commit)",
    )
    ap.add_argument(
        "--heed-option",
        action="append",
        default=[],
        metavar="SECTION.KEY=TOML",
        help="extra heed config, e.g. output.row_group_rows=100 (repeatable)",
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="heed-bench-"))
    web = generate(tmp, args.hosts, args.pages, free_port())
    nginx = start_nginx(web)
    heed: list[Run] = []
    plain: list[Run] = []
    distributed: dict[int, list[Run]] = {n: [] for n in args.workers}
    split: list[Run] = []
    redis_port = free_port()
    redis = start_redis(tmp / "redis", redis_port) if args.workers else None
    try:
        for i in range(args.repeat):
            # Alternate the order so neither crawler always runs on a warmer machine.
            names = ["heed", "scrapy", *(f"w{n}" for n in args.workers)]
            names += ["split"] if args.split else []
            order = names if i % 2 == 0 else names[::-1]
            for name in order:
                if args.only and name != args.only and not name.startswith("w"):
                    continue
                if name == "heed":
                    heed.append(run_heed(web, tmp, args, profile=None))
                elif name == "scrapy":
                    plain.append(run_plain(web, tmp, args))
                elif name == "split":
                    split.append(run_heed_split(web, tmp, args))
                else:
                    n = int(name[1:])
                    distributed[n].append(run_heed_workers(web, tmp, args, n, redis_port))
        report(web, heed, plain)
        report_workers(distributed, plain)
        report_split(split, heed, distributed)
        check(web, [r for runs in distributed.values() for r in runs] + split)
        if args.profile:
            prof = tmp / "heed.prof"
            profiled = run_heed(web, tmp, args, profile=prof)
            if profiled.returncode != 0 or profiled.pages != web.fetchable:
                print(f"WARNING: the profiled heed run fetched {profiled.pages} pages")
            print_profile(prof, args.heed_root)
    finally:
        stop_nginx(nginx)
        if redis is not None:
            stop_redis(redis)
        keep_or_delete(tmp, args.keep)
    return 0


def _counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of worker counts") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts must be 1 or more")
    return sorted(set(counts))


def _clear(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
