"""Memory of a resume: peak RSS of ``heed crawl`` starting in a folder of many earlier pages.

A rerun into an output folder reads every earlier decision, record URL and frontier entry
(crawler/resume.py) before it crawls. This measures that start on a big folder: ``--pages``
synthesized pages (each a kept decision with its record, one page in ten an excluded one
instead, and ``--links`` frontier entries per page, written with heed's own ``RunWriter``), or
an existing folder (``--folder``, e.g. a copy of bench/million.py's output). Each run copies
nothing and changes nothing in the folder: the config's ``max_pages`` is 1, so the resumed
crawl has no budget left and only loads the folder (it writes a new ``run.json``; the bench
keeps the original aside and puts it back).

Runs each ``--heed-root`` (default: this checkout; give a ``git worktree`` of another commit
to compare) one after the other, alternating over ``--repeat`` rounds, and prints for each
its peak RSS (``ru_maxrss``), wall time and the done count it reported.

    .venv/bin/python bench/resume.py [--pages 1000000] [--links 10] [--folder DIR]
                                     [--heed-root DIR ...] [--repeat 1] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _measure import heed_config, keep_or_delete, spawn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.output import RunWriter  # noqa: E402 (after the path)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def synthesize(out: Path, pages: int, links: int) -> None:
    """``pages`` pages of 20 hosts into ``out``: decisions, records, frontier.jsonl."""
    body = b"<html><title>t</title><p>resume benchmark page</p></html>"
    sha256 = hashlib.sha256(body).hexdigest()
    with (
        RunWriter(out, "synth", part_max_rows=100_000, row_group_rows=10_000) as writer,
        (out / "frontier.jsonl").open("w", encoding="utf-8") as frontier,
    ):
        for n in range(pages):
            host = f"h{n % 20}.example"
            url = f"http://{host}/p/{n}.html"
            at = T0 + timedelta(milliseconds=n)
            excluded = n % 10 == 9
            writer.write_decision(
                {
                    "url": url,
                    "host": host,
                    "decided_at": at,
                    "stage": "pre-fetch" if excluded else "post-fetch",
                    "allowed": not excluded,
                    "reasons": ["robots.disallow"] if excluded else [],
                    "license": None,
                    "crawl_id": "synth",
                    "final_url": None if excluded else url,
                    "http_status": None if excluded else 200,
                }
            )
            if not excluded:
                writer.write_record(
                    {
                        "url": url,
                        "final_url": url,
                        "host": host,
                        "fetched_at": at,
                        "http_status": 200,
                        "content_type": "text/html",
                        "body": body,
                        "text": "resume benchmark page",
                        "sha256": sha256,
                        "license": None,
                        "license_url": None,
                        "license_source": None,
                        "license_conflict": False,
                        "purpose": "train-ai",
                        "evidence": "[]",
                        "crawl_id": "synth",
                        "engine_version": "bench",
                        "depth": 1,
                        "title": "t",
                    }
                )
            frontier.write(json.dumps({"url": url, "depth": 1}) + "\n")
            for k in range(1, links):  # links to pages, and beyond the crawl's pages
                target = (n * 7 + k * 104_729) % (pages * 2)
                line = {"url": f"http://{host}/p/{target}.html", "depth": 2}
                frontier.write(json.dumps(line) + "\n")
        writer.close({"purpose": "train-ai", "mode": "opt-out"})


def resume_once(root: Path, folder: Path, tmp: Path, tag: str) -> dict[str, float | int | str]:
    config = heed_config(
        tmp / "resume.toml",
        {
            "crawl": ['seeds = ["http://h0.example/p/0.html"]', "max_pages = 1"],
            "identity": ['contact_url = "http://127.0.0.1/contact"'],
        },
        [],
    )
    kept = tmp / "run.json.orig"
    if (folder / "run.json").exists():
        shutil.copy2(folder / "run.json", kept)
    argv = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config)]
    argv += ["--out", str(folder), "--json", "--no-progress"]
    m = spawn(argv, tmp / f"resume-{tag}.log", root)
    if kept.exists():
        shutil.copy2(kept, folder / "run.json")
    summary = json.loads(m.stdout) if m.returncode == 0 and m.stdout.strip() else {}
    return {
        "root": str(root),
        "code": m.returncode,
        "wall_s": m.wall_s,
        "peak_rss_mb": m.peak_rss_mb,
        "skipped_done": int(summary.get("skipped_done", 0)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1_000_000, help="pages to synthesize")
    ap.add_argument("--links", type=int, default=10, help="frontier entries per page")
    ap.add_argument("--folder", type=Path, help="an existing output folder instead")
    ap.add_argument("--heed-root", type=Path, action="append", default=[], metavar="DIR")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the synthesized folder")
    args = ap.parse_args(argv)
    roots = args.heed_root or [ROOT]
    tmp = Path(tempfile.mkdtemp(prefix="heed-bench-resume-"))
    try:
        folder = args.folder
        if folder is None:
            folder = tmp / "out"
            started = time.perf_counter()
            synthesize(folder, args.pages, args.links)
            print(
                f"synthesized {args.pages:,} pages, {args.pages * args.links:,} frontier lines "
                f"in {time.perf_counter() - started:.0f} s"
            )
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"folder {folder}: {size / 1e6:.0f} MB")
        print(f"{'heed checkout':<40} {'exit':>4} {'wall s':>7} {'peak RSS MB':>12} {'done':>10}")
        for i in range(args.repeat):
            order = roots if i % 2 == 0 else roots[::-1]
            for k, root in enumerate(order):
                r = resume_once(root, folder, tmp, f"{i}-{k}")
                print(
                    f"{str(r['root'])[-40:]:<40} {r['code']:>4} {r['wall_s']:>7.1f} "
                    f"{r['peak_rss_mb']:>12.1f} {r['skipped_done']:>10,}"
                )
    finally:
        keep_or_delete(tmp, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
