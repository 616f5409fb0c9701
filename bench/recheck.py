"""Recheck throughput: ``heed recheck`` over a 1,000,000-row dataset of 10,000 origins (recheck
issue targets: ≥ 2,000,000 rows/min with a warm document cache on 2 cores; peak RSS ≤ 500 MB).

Generates the world (``bench/_recheck_web.py``): ``--origins`` origins on their own loopback
addresses served by one nginx (robots.txt on every origin, some with a GPTBot group, a
tdmrep.json on some, an ai.txt on others, no Crawl-delay), and a Parquet dataset of ``--rows``
rows (``url``, ``text``) in a seeded random order. Then, for each repeat, with a fresh document
cache:

- **cold**: ``heed recheck DATA --config C --out OUT1 --json --cache CACHE`` with the cache
  empty: every origin's documents are fetched from nginx;
- **warm**: the same into OUT2: inside ``signal_ttl`` nothing should be fetched.

Wall time runs from process start to exit (interpreter start-up and imports included);
rows/min = rows / wall. CPU s is user + system of the process and every child it waited for,
peak RSS the largest ``ru_maxrss`` among them (both from ``wait4``); "tree RSS" is the largest
sum of the resident sizes of the process and its descendants, sampled from /proc every 0.2 s
(it differs from peak RSS only when heed runs worker processes). nginx requests are lines of
its access log written during the run. Each run's counts are checked against the generated
world: kept + removed + flagged = rows, removed = the rows the world opts out, no request in
the warm run.

``--profile`` runs one more warm pass (``--profile cold``: one with a fresh cache) under
cProfile with ``--workers 1`` (cProfile sees only its own process) and prints the top functions
by own time. ``--workers`` passes heed's own option (default: heed's default).

    .venv/bin/python bench/recheck.py [--rows 1000000] [--origins 10000] [--repeat 1]
                                      [--concurrency 128] [--refetch none] [--workers N]
                                      [--profile [warm|cold]]
                                      [--keep] [--heed-root CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from _measure import heed_config, keep_or_delete, spawn
from _recheck_web import World, access_log_lines, free_port, generate, start_nginx, stop_nginx
from crawl import print_profile

ROOT = Path(__file__).resolve().parents[1]

TARGET_ROWS_PER_MIN = 2_000_000
TARGET_RSS_MB = 500.0


@dataclass(slots=True)
class Run:
    """One ``heed recheck`` process: its counts, its time and its memory."""

    name: str
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    tree_rss_mb: float
    requests: int
    summary: dict[str, Any] = field(default_factory=dict)
    records: int = -1  # rows read back from OUT/records (-1: not readable)
    removed_urls: int = -1  # lines of OUT/removed-urls.txt (-1: missing)
    stderr_tail: str = ""

    @property
    def rows(self) -> int:
        return int(self.summary.get("rows", 0))

    @property
    def rows_per_min(self) -> float:
        return 60 * self.rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def rows_per_cpu_min(self) -> float:
        return 60 * self.rows / self.cpu_s if self.cpu_s > 0 else 0.0


def _spawn(argv: list[str], log: Path, cwd: Path) -> tuple[int, float, float, float, float, str]:
    """Run ``argv``; returns (exit code, wall s, CPU s, peak RSS MB, tree RSS MB, stdout)."""
    m = spawn(argv, log, cwd, tree=True)
    return m.returncode, m.wall_s, m.cpu_s, m.peak_rss_mb, m.tree_rss_mb, m.stdout


def write_config(world: World, tmp: Path, args: argparse.Namespace) -> Path:
    sections = {
        "identity": ['contact_url = "http://127.0.0.1/contact"'],
        "network": [
            "allow_private_networks = true",
            f"concurrency = {args.concurrency}",
            f"per_host_concurrency = {args.per_host}",
            "autothrottle = false",
        ],
    }
    return heed_config(tmp / "recheck.toml", sections, args.heed_option)


def _count_records(out: Path) -> int:
    try:
        return sum(
            pq.ParquetFile(p).metadata.num_rows
            for p in sorted((out / "records").rglob("*.parquet"))
        )
    except (OSError, ValueError):
        return -1


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return -1


def run_recheck(
    world: World,
    config: Path,
    cache: Path,
    out: Path,
    args: argparse.Namespace,
    *,
    name: str,
    profile: Path | None = None,
    workers: int | None = None,
) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    pre = ["-m", "cProfile", "-o", str(profile), "-m"] if profile else ["-m"]
    argv = [sys.executable, *pre, "crawler.cli", "recheck", str(world.data)]
    argv += ["--config", str(config), "--out", str(out), "--json", "--cache", str(cache)]
    argv += ["--refetch", args.refetch, "--no-progress"]
    workers = workers if workers is not None else args.workers
    if workers is not None:
        argv += ["--workers", str(workers)]
    before = len(access_log_lines(world))
    log = out.parent / f"{out.name}.log"
    code, wall, cpu, rss, tree, stdout = _spawn(argv, log, args.heed_root)
    requests = len(access_log_lines(world)) - before
    try:
        summary = json.loads(stdout) if stdout.strip() else {}
    except ValueError:
        summary = {}
    err = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return Run(
        name=name,
        returncode=code,
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=rss,
        tree_rss_mb=tree,
        requests=requests,
        summary=summary if isinstance(summary, dict) else {},
        records=_count_records(out),
        removed_urls=_count_lines(out / "removed-urls.txt"),
        stderr_tail="\n".join(err[-15:]),
    )


def check(run: Run, world: World, *, warm: bool, refetch: str = "none") -> list[str]:
    """What is wrong with ``run`` against the generated world (empty: nothing)."""
    problems = []
    s = run.summary
    if run.returncode != 0:
        problems.append(f"exit code {run.returncode}; stderr ends:\n{run.stderr_tail}")
    if s.get("fatal"):
        problems.append(f"fatal: {s['fatal']}")
    if not s:
        return problems or ["no JSON summary on stdout"]
    kept, removed = int(s.get("kept", 0)), int(s.get("removed", 0))
    if run.rows != world.rows:
        problems.append(f"rows {run.rows} != {world.rows} in the dataset")
    if kept + removed != run.rows:
        problems.append(f"kept {kept} + removed {removed} != rows {run.rows}")
    if removed != world.expected_removed:
        problems.append(f"removed {removed}, the world opts out {world.expected_removed} rows")
    if run.records not in (-1, kept):
        problems.append(f"records/ holds {run.records} rows, the summary says {kept} kept")
    if run.records == -1:
        problems.append("records/ is not readable")
    if run.removed_urls != removed:
        problems.append(f"removed-urls.txt has {run.removed_urls} lines, removed {removed}")
    # The world serves no page: with --refetch headers/full every kept row's page is asked
    # for once (a 404, flagged "gone" and kept by default).
    pages = 0 if refetch == "none" else world.rows
    if warm and run.requests > pages:
        problems.append(f"{run.requests} requests with a warm cache (expected {pages})")
    if not warm and not 0 < run.requests <= world.documents + pages:
        problems.append(f"{run.requests} requests, expected 1..{world.documents + pages}")
    return problems


def _median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rows_per_min)[len(runs) // 2]


def report(world: World, cold: list[Run], warm: list[Run], args: argparse.Namespace) -> None:
    print(
        f"dataset: {world.rows:,} rows over {world.origins:,} origins "
        f"({world.pages_per_origin} pages each, random order), {args.files} Parquet files, "
        f"row groups of {args.row_group:,}; nginx on 127.1.0.1-{world.addresses[-1]}"
    )
    print(f"--refetch {args.refetch}, concurrency {args.concurrency}, per host {args.per_host}")
    head = (
        f"{'run':<5} {'rows':>9} {'kept':>9} {'removed':>8} {'wall s':>7} {'rows/min':>11} "
        f"{'CPU s':>7} {'rows/CPU min':>13} {'peak RSS MB':>12} {'tree RSS MB':>12} "
        f"{'requests':>9}  rows/min of each run"
    )
    print(head)
    for runs in (cold, warm):
        if not runs:
            continue
        r = _median(runs)
        s = r.summary
        each = ", ".join(f"{x.rows_per_min:,.0f}" for x in runs)
        print(
            f"{r.name:<5} {r.rows:>9,} {int(s.get('kept', 0)):>9,} {int(s.get('removed', 0)):>8,} "
            f"{r.wall_s:>7.1f} {r.rows_per_min:>11,.0f} {r.cpu_s:>7.1f} "
            f"{r.rows_per_cpu_min:>13,.0f} {r.peak_rss_mb:>12.1f} {r.tree_rss_mb:>12.1f} "
            f"{r.requests:>9,}  [{each}]"
        )
    if warm:
        w = _median(warm)
        met = "met" if w.rows_per_min >= TARGET_ROWS_PER_MIN else "NOT met"
        print(f"warm rows/min: {w.rows_per_min:,.0f} (target ≥ {TARGET_ROWS_PER_MIN:,}: {met})")
    runs = cold + warm
    if runs:
        peak = max(max(r.peak_rss_mb, r.tree_rss_mb) for r in runs)
        met = "met" if peak <= TARGET_RSS_MB else "NOT met"
        print(f"peak RSS of any run: {peak:.1f} MB (target ≤ {TARGET_RSS_MB:.0f} MB: {met})")
        r = runs[-1]
        print(f"by reason: {r.summary.get('by_reason', {})}; flags: {r.summary.get('flags', {})}")
        print(f"inside the process: cold {[x.summary.get('elapsed_s') for x in cold]} s, "
              f"warm {[x.summary.get('elapsed_s') for x in warm]} s")  # fmt: skip
    print(f"the world opts out {world.expected_removed:,} rows", flush=True)
    for r in runs:
        for problem in check(r, world, warm=r.name == "warm", refetch=args.refetch):
            print(f"WARNING: {r.name}: {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="dataset rows (default 1,000,000)")
    ap.add_argument("--origins", type=int, default=10_000, help="origins (default 10,000)")
    ap.add_argument("--files", type=int, default=4, help="Parquet files (default 4)")
    ap.add_argument("--row-group", type=int, default=10_000, help="rows per row group")
    ap.add_argument("--concurrency", type=int, default=128, help="requests in flight")
    ap.add_argument("--per-host", type=int, default=2, help="requests in flight per host")
    ap.add_argument("--refetch", choices=("none", "headers", "full"), default="none")
    ap.add_argument(
        "--workers", type=int, help="heed recheck --workers (default: heed's own default)"
    )
    ap.add_argument("--repeat", type=int, default=1, help="cold + warm pairs (median shown)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--profile",
        nargs="?",
        const="warm",
        choices=("warm", "cold"),
        help="also profile one run (default warm; cold: with a fresh cache) in one process",
    )
    ap.add_argument("--top", type=int, default=15, help="functions shown by --profile")
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
        help="extra heed config, e.g. network.signal_ttl=3600 (repeatable)",
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="heed-recheck-bench-"))
    started = time.perf_counter()
    world = generate(
        tmp / "world", args.origins, args.rows, free_port(), files=args.files,
        row_group=args.row_group,
    )  # fmt: skip
    print(f"generated in {time.perf_counter() - started:.1f} s: {tmp}")
    nginx = start_nginx(world)
    config = write_config(world, tmp, args)
    cold: list[Run] = []
    warm: list[Run] = []
    try:
        for i in range(args.repeat):
            cache = tmp / f"cache-{i}" / "documents.sqlite"
            for name, runs in (("cold", cold), ("warm", warm)):
                out = tmp / f"out-{i}-{name}"
                runs.append(run_recheck(world, config, cache, out, args, name=name))
            if not args.keep:  # the outputs are checked; free the disk before the next pair
                for r in ("cold", "warm"):
                    shutil.rmtree(tmp / f"out-{i}-{r}", ignore_errors=True)
        report(world, cold, warm, args)
        if args.profile:
            # --workers 1: cProfile sees only its own process, so the deciding must happen there
            prof = tmp / "recheck.prof"
            warm_run = args.profile == "warm"
            cache = tmp / (f"cache-{args.repeat - 1}" if warm_run else "cache-profile")
            profiled = run_recheck(
                world, config, cache / "documents.sqlite", tmp / "out-profile", args,
                name=args.profile, profile=prof, workers=1,
            )  # fmt: skip
            print(
                f"\nprofiled {args.profile} run (--workers 1, under cProfile): "
                f"{profiled.wall_s:.1f} s wall, {profiled.cpu_s:.1f} s CPU"
            )
            for problem in check(profiled, world, warm=warm_run, refetch=args.refetch):
                print(f"WARNING: profiled run: {problem}", file=sys.stderr)
            if prof.exists():
                print_profile(prof, args.heed_root, top=args.top)
    finally:
        stop_nginx(nginx)
        keep_or_delete(tmp, args.keep)
    bad = [r for r in cold + warm if check(r, world, warm=r.name == "warm", refetch=args.refetch)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
