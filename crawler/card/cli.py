"""``heed card``: the command line of a dataset card (``crawler/card/``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from filters import ConfigError

from .._stdout import print_out

__all__ = ["register"]

EXIT_OK, EXIT_DIFFERENT = 0, 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "card",
        help="write a dataset card and the EU training-content summary for heed output",
        description="Describe one or more heed output folders (crawls and rechecks; several "
        "merge, the latest decision of a URL counting once) in --out: README.md (a Hugging "
        "Face dataset card), eu-summary.json and eu-summary.md (what a crawl can fill of the "
        "EU template for the public summary of training content), card.html (one "
        "self-contained page with charts) and card.json (every number); with --crawler-page "
        "also crawler.html and crawler.atom, the page a crawler operator publishes at its "
        "contact URL. With --check, recompute everything from the Parquet and compare with the "
        "card in --out instead of writing. Exit 0 when written (or, with --check, equal), 1 "
        "when --check finds differences, 2 on a usage error or a folder that is not heed "
        "output.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="heed output folder (crawl or recheck)")
    p.add_argument("--out", required=True, metavar="CARD", help="card folder to write or check")
    p.add_argument("--name", help="the dataset's name (default: the first DIR's name)")
    p.add_argument(
        "--check", action="store_true", help="compare --out with a fresh computation; write nothing"
    )
    p.add_argument(
        "--crawler-page",
        action="store_true",
        help="also write crawler.html and crawler.atom (the crawler information page and the "
        "feed of its changes) into --out",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_card)


def _cmd_card(args: argparse.Namespace) -> int:
    from .check import check_card
    from .render import render_all, write_card
    from .stats import collect

    stats = collect([Path(d) for d in args.dirs], name=args.name)
    out = Path(args.out)
    if args.check:
        if not out.is_dir():
            raise ConfigError(f"--out {out}: no card folder to check")
        differences = check_card(out, stats)
        if args.json:
            print_out(json.dumps({"equal": not differences, "differences": differences}, indent=2))
        elif differences:
            print(f"heed card --check: {out} differs from the data:", file=sys.stderr)
            for line in differences:
                print(f"  {line}", file=sys.stderr)
        else:
            print_out(f"{out}: every number matches the data")
        return EXIT_DIFFERENT if differences else EXIT_OK
    written = write_card(out, render_all(stats))
    if args.crawler_page:
        from .crawler_page import write_crawler_page

        write_crawler_page(stats.sources, out)
        written += [out / "crawler.html", out / "crawler.atom"]
    t = stats.totals
    if args.json:
        summary = {
            "out": str(out),
            "files": [p.name for p in written],
            "urls": t["urls"],
            "kept": t["kept"],
            "excluded": t["excluded"],
        }
        print_out(json.dumps(summary, indent=2))
    else:
        print_out(
            f"card of {t['kept']:,} kept / {t['urls']:,} URLs → {out} "
            f"({', '.join(p.name for p in written)})"
        )
    return EXIT_OK
