"""``heed recheck``: the command line of a recheck (``crawler/recheck/run.py``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from filters import ConfigError

from .._cli_progress import add_progress_option, wants_progress
from .._stdout import print_out

__all__ = ["register"]

EXIT_OK, EXIT_FATAL = 0, 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "recheck",
        help="decide a collected dataset again against today's signals",
        description="Recheck every row of DATASET (a heed output folder, or a Parquet file or "
        "folder, or a JSON Lines file with a URL column) against today's robots.txt, ai.txt, "
        "TDMRep, RSL and consent registry, and with --refetch against the pages themselves. "
        "Writes to --out: records/ (the rows still permitted, in the input's own schema), "
        "removals/, flags/, changes/, removed-urls.txt and run.json. DATASET is never "
        "modified. A rerun into the same --out continues where a killed run stopped. Exit 0 "
        "when the recheck completes, 1 on a fatal error, 2 on a usage or configuration error.",
    )
    p.add_argument("dataset", metavar="DATASET", help="heed output folder, Parquet or JSON Lines")
    p.add_argument("--config", required=True, help="TOML run config, as for heed crawl")
    p.add_argument("--out", required=True, help="output folder (new, or an earlier recheck's)")
    p.add_argument(
        "--refetch",
        choices=("none", "headers", "full"),
        default="none",
        help="none (default): site documents and registry only, no page is requested; "
        "headers: read each page's headers again (HEAD); full: download each page again and "
        "decide it as a crawl would",
    )
    p.add_argument("--url-column", default="url", help="the column holding URLs (default: url)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes deciding rows, each owning a share of the hosts (default: the "
        "number of CPUs, at most 8; one for a dataset known to hold under 100,000 rows)",
    )
    p.add_argument(
        "--batch-rows",
        type=int,
        default=None,
        help="rows decided and written per batch (default 8192; a resumed run must use the "
        "same value)",
    )
    cache = p.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        metavar="PATH",
        help="document cache file (default: [network] document_cache, else "
        "~/.cache/heed/documents.sqlite)",
    )
    cache.add_argument("--no-cache", action="store_true", help="fetch every document again")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    add_progress_option(p)
    p.set_defaults(func=_cmd_recheck)


def _cache_path(args: argparse.Namespace, configured: str) -> str:
    if args.no_cache:
        return ""
    if args.cache:
        return str(Path(args.cache).expanduser())
    if configured:
        return configured
    from ..doccache import default_cache_path

    return str(default_cache_path())


def _default_workers(rows: int | None) -> int:
    if rows is not None and rows < SMALL_DATASET:
        return 1  # starting processes would cost more than they save
    return max(1, min(os.cpu_count() or 1, 8))


#: Rows under which a recheck runs in one process by default.
SMALL_DATASET = 100_000


def _cmd_recheck(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from ..config import load_config
    from ..context import new_crawl_id
    from .dataset import DEFAULT_BATCH_ROWS, open_dataset
    from .output import RecheckWriter
    from .run import RecheckOptions, recheck

    # The system allocator gives freed batch memory back; jemalloc's arenas kept ~50 MB more
    # over a long recheck (measured on 300,000 rows), and a recheck streams batch after batch.
    pa.set_memory_pool(pa.system_memory_pool())
    cfg = load_config(args.config)
    cfg = cfg.with_overrides(document_cache=_cache_path(args, cfg.document_cache))
    dataset = open_dataset(args.dataset, url_column=args.url_column)
    progress = wants_progress(args)
    batch_rows = DEFAULT_BATCH_ROWS if args.batch_rows is None else args.batch_rows
    if not 1 <= batch_rows <= 1_000_000:
        raise ConfigError("--batch-rows must be from 1 to 1,000,000")
    workers = args.workers if args.workers is not None else _default_workers(dataset.num_rows)
    if not 1 <= workers <= 64:
        raise ConfigError("--workers must be from 1 to 64")
    options = RecheckOptions(
        refetch=args.refetch, progress=bool(progress), batch_rows=batch_rows, workers=workers
    )
    out = Path(args.out)
    with RecheckWriter(
        out, dataset, run_id=new_crawl_id(), batch_rows=options.batch_rows
    ) as writer:
        try:
            summary = recheck(cfg, dataset, writer, options)
        except ConfigError:
            raise
        except Exception as e:  # a failure mid-run: the completed batches stay, exit 1
            summary = {"fatal": f"{type(e).__name__}: {e}"[:500]}
            writer.close({"fatal": summary["fatal"], "config": cfg.as_dict()})
            _print(summary, args.json)
            return EXIT_FATAL
        info = {**summary, "config": cfg.as_dict(), "input": str(args.dataset)}
        writer.close(info)
    summary["out"] = str(out)
    _print(summary, args.json)
    return EXIT_FATAL if summary.get("fatal") else EXIT_OK


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_out(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return
    if summary.get("fatal"):
        print(f"FATAL: {summary['fatal']}", file=sys.stderr)
        return
    rows = [
        ("rows", summary["rows"]),
        ("kept", summary["kept"]),
        ("removed", summary["removed"]),
    ]
    rows += [(f"  {reason}", n) for reason, n in summary["by_reason"].items()]
    rows.append(("flagged", summary["flagged"]))
    rows += [(f"  {flag}", n) for flag, n in summary["flags"].items()]
    rows.append(("origins", summary["origins"]))
    if summary.get("batches_done_earlier"):
        rows.append(("batches done earlier", summary["batches_done_earlier"]))
    width = max(len(r[0]) for r in rows)
    lines = [f"recheck ({summary['refetch']}) → {summary.get('out', '')}"]
    lines += [f"{name:<{width}}  {n:>9}" for name, n in rows]
    rate = f"({summary['rows_per_s']:,.0f} rows/s)"
    lines.append(f"{'elapsed':<{width}}  {summary['elapsed_s']:>9.1f} s  {rate}")
    print_out("\n".join(lines))
