"""Memory of a long embedded crawl: peak RSS of one heed process at 100k, 500k and 1M pages.

Serves ``--hosts`` × 1,111 generated pages from one nginx (``bench/_million_web.py``: no files,
pages made by nginx's ``return``), crawls them with ``heed crawl`` in the embedded mode (no
Redis) with ``max_pages = --pages``, and samples every ``--interval`` seconds the RSS of the
heed process (``psutil``) and the pages nginx has served (its access log). At each mark (by
default 100,000, 500,000 and 1,000,000 pages served) it prints the
peak RSS so far, the current RSS and the crawl's pages/s since the start; at the end, heed's
summary counts and ``ru_maxrss``. The issue's target is peak RSS ≤ 300 MB throughout.

    .venv/bin/python bench/million.py [--hosts 1000] [--pages 1000000] [--concurrency 32]
                                      [--per-host 2] [--marks 100000,500000,1000000]
                                      [--keep] [--heed-option SECTION.KEY=TOML]

A full run at ~400 pages/s takes about 45 minutes; start it with ``nohup … > million.log &``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _measure import heed_config, keep_or_delete
from _million_web import hosts, nginx_conf
from _web import free_port, launch_nginx, stop_nginx

ROOT = Path(__file__).resolve().parents[1]


def _lines(path: Path, state: list[int]) -> int:
    """Lines in ``path`` so far (reads only what was appended since the last call)."""
    try:
        with path.open("rb") as f:
            f.seek(state[0])
            chunk = f.read()
    except OSError:
        return state[1]
    state[0] += len(chunk)
    state[1] += chunk.count(b"\n")
    return state[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=1_000_000, help="heed's max_pages")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--marks", default="100000,500000,1000000")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--heed-option", action="append", default=[], metavar="SECTION.KEY=TOML")
    args = ap.parse_args(argv)
    marks = sorted(int(m) for m in args.marks.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="heed-million-"))
    web = tmp / "web"
    web.mkdir()
    port = free_port()
    addresses = hosts(args.hosts)
    nginx = launch_nginx(web, nginx_conf(web, addresses, port), addresses[:1], port, timeout=30)
    seeds = ", ".join(json.dumps(f"http://{a}:{port}/") for a in addresses)
    config = heed_config(
        tmp / "heed.toml",
        {
            "crawl": [
                f"seeds = [{seeds}]",
                f"out = {json.dumps(str(tmp / 'out'))}",
                f"max_pages = {args.pages}",
                "max_depth = 3",
            ],
            "identity": ['contact_url = "http://127.0.0.1/contact"'],
            "network": [
                "allow_private_networks = true",
                f"concurrency = {args.concurrency}",
                f"per_host_concurrency = {args.per_host}",
                "autothrottle = false",
            ],
        },
        args.heed_option,
    )
    argv_heed = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"]
    print(f"web: {args.hosts} hosts x 1,111 pages on port {port}; max_pages {args.pages}")
    print(f"{'requests':>10} {'peak RSS MB':>12} {'RSS MB':>8} {'req/s':>8} {'elapsed s':>10}")
    log = tmp / "heed.log"
    state = [0, 0]
    peak = 0.0
    start = time.monotonic()
    try:
        with (tmp / "heed.out").open("wb") as out, log.open("wb") as err:
            proc = psutil.Popen(argv_heed, cwd=ROOT, stdout=out, stderr=err)
            pending = list(marks)
            next_report = start + 60
            while proc.poll() is None:
                try:
                    rss = proc.memory_info().rss / 2**20
                except psutil.Error:
                    break
                peak = max(peak, rss)
                served = _lines(web / "access.log", state)
                now = time.monotonic()
                rate = served / max(now - start, 1e-9)
                while pending and served >= pending[0]:
                    mark = pending.pop(0)
                    print(
                        f"{mark:>10,} {peak:>12.1f} {rss:>8.1f} {rate:>8.1f} {now - start:>10.0f}"
                    )
                    sys.stdout.flush()
                if now >= next_report:  # a trace line per minute (to stderr)
                    next_report += 60
                    print(
                        f"  {served:,} requests, RSS {rss:.1f} MB, peak {peak:.1f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
                time.sleep(args.interval)
            code = proc.wait()
        wall = time.monotonic() - start
        time.sleep(1.5)  # nginx flushes its log buffer every second
        served = _lines(web / "access.log", state)
        # ru_maxrss of the largest waited-for child: heed (nginx is still running).
        maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        while pending and served >= pending[0]:  # marks passed in the last second (the log
            mark = pending.pop(0)  # is buffered): the peak over the whole run
            print(f"{mark:>10,} {peak:>12.1f} {'-':>8} {served / wall:>8.1f} {wall:>10.0f}  (end)")
        summary = json.loads((tmp / "heed.out").read_text() or "{}") if code == 0 else {}
        print(
            f"end: exit {code}, {served:,} requests in {wall:.0f} s ({served / wall:.1f}/s), "
            f"considered {summary.get('considered')}, kept {summary.get('kept')}, "
            f"peak RSS (sampled) {peak:.1f} MB, ru_maxrss {maxrss:.1f} MB"
        )
        if code != 0:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
    finally:
        stop_nginx(nginx)
        keep_or_delete(tmp, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
