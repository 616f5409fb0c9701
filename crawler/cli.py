"""``heed``: the command line, a thin layer over ``crawler`` and ``filters``.

Exit codes: 0 the run completed (for ``check``: every URL would be kept); 1 a fatal error
during the run (``check``: some URL would be excluded); 2 a usage or configuration error.
A reader that closes stdout early (``heed … | head``) changes nothing: the rest of the output
is dropped and the command ends quietly with its usual code (``crawler/_stdout.py``).

Building the parser imports every subcommand's ``cli`` module, so those import what they run
(Scrapy, the HTTP client, the checking core) only when their command runs: ``heed --help``,
``heed registry …`` and the parent of ``heed crawl --workers N`` start without them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from filters import ConfigError, HeedError, __version__

from ._cli_progress import add_progress_option, wants_progress
from ._stdout import print_out, silence_stdout

__all__ = ["main"]

EXIT_OK, EXIT_FATAL, EXIT_USAGE = 0, 1, 2


def _add_crawl(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "crawl",
        help="crawl seeds into Parquet, keeping only permitted pages",
        description="Crawl the seed list of a TOML config and write records/, decisions/ and "
        "run.json to the output folder. Exit 0 when the run completes, 1 on a fatal error, "
        "2 on a configuration error.",
    )
    p.add_argument("--config", required=True, help="TOML run config (see configs/example.toml)")
    p.add_argument("--seeds", help="file of seed URLs, one per line (adds to [crawl] seeds)")
    p.add_argument("--out", help="output folder (overrides [crawl] out)")
    p.add_argument("--max-pages", type=int, help="stop after this many URLs (overrides config)")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start a new job: refuse an output folder that already holds output (by default "
        "a run resumes the job in its folder, skipping URLs already decided)",
    )
    add_progress_option(p)
    from .distributed.cli import add_options as add_distributed_options

    add_distributed_options(p)
    p.set_defaults(func=_cmd_crawl)


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="serve the bundled demo web on 127.0.0.1 and crawl it",
        description="Start the built-in multi-host demo web on loopback, seed the embedded "
        "SQLite registry, crawl it with configs/demo.toml's policy and show what was kept, "
        "what was excluded and why.",
    )
    p.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--serve",
        action="store_true",
        help="then serve the site-owner page (check, opt out, look up) next to the demo web "
        "on 127.0.0.1 until Ctrl-C",
    )
    p.add_argument(
        "--port", type=int, default=0, help="the page's port with --serve (default: a free one)"
    )
    p.set_defaults(func=_cmd_demo)


def _load(args: argparse.Namespace) -> Any:
    from .config import MAX_PAGES, load_config

    cfg = load_config(args.config)
    if getattr(args, "max_pages", None) is not None:
        if not 1 <= args.max_pages <= MAX_PAGES:
            raise ConfigError(f"--max-pages must be from 1 to {MAX_PAGES:,}")
        cfg = cfg.with_overrides(max_pages=args.max_pages)
    return cfg


def _cmd_crawl(args: argparse.Namespace) -> int:
    from .config import collect_seeds
    from .distributed.cli import apply_options, run_local_workers

    out = args.out or None
    cfg = _load(args)
    out = out or cfg.out
    cfg = apply_options(cfg, args, out)
    seeds = collect_seeds(cfg, args.seeds)
    if args.workers is not None:  # the parent of N local workers: it crawls nothing itself
        summary, code = run_local_workers(args, cfg, out, progress=wants_progress(args))
        _print_summary(summary, as_json=args.json)
        return code
    from .runner import run_crawl  # Scrapy and the crawl: not needed by the workers' parent

    summary = run_crawl(cfg, seeds, out=out, progress=wants_progress(args), fresh=args.fresh)
    _print_summary(summary, as_json=args.json)
    return EXIT_FATAL if summary.get("fatal") else EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo_run import run_demo

    if not 0 <= args.port <= 65535:
        raise ConfigError("--port must be from 0 to 65535")
    return run_demo(out=args.out, as_json=args.json, serve=args.serve, port=args.port)


def _print_summary(summary: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print_out(json.dumps(summary, indent=2, sort_keys=True))
        return
    lines = [f"crawl {summary['crawl_id']} → {summary['out']}"]
    rows = [
        ("considered", summary["considered"]),
        ("kept", summary["kept"]),
        ("excluded", summary["excluded"]),
    ]
    rows += [(f"  {reason}", n) for reason, n in summary["by_reason"].items()]
    if summary.get("resumed"):
        rows += [
            ("skipped (done earlier)", summary["skipped_done"]),
            ("frontier restored", summary["frontier_restored"]),
        ]
        if summary.get("frontier_ignored_lines"):
            rows.append(("frontier lines ignored", summary["frontier_ignored_lines"]))
    width = max(len(r[0]) for r in rows)
    lines += [f"{name:<{width}}  {n:>7}" for name, n in rows]
    rate = f"({summary['pages_per_s']:.1f} pages/s)"
    lines.append(f"{'elapsed':<{width}}  {summary['elapsed_s']:>7.1f} s  {rate}")
    print_out("\n".join(lines))
    if summary.get("fatal"):
        print(f"FATAL: {summary['fatal']}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heed",
        description="A crawler for training corpora that keeps only pages whose owners have "
        "not said no (robots.txt, ai.txt, TDMRep, X-Robots-Tag, aipref, Content-Signal, RSL and "
        "a consent registry).",
    )
    parser.add_argument("--version", action="version", version=f"heed {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_crawl(sub)
    _add_demo(sub)
    from .card import cli as card_cli
    from .check import cli as check_cli
    from .recheck import cli as recheck_cli
    from .registry import cli as registry_cli

    check_cli.register(sub)
    recheck_cli.register(sub)
    card_cli.register(sub)
    registry_cli.register(sub)
    return parser


def _setup_logging(level: int) -> None:
    # The level goes on the handler: Scrapy sets its own loggers to DEBUG, so a root-level
    # threshold alone would let its debug lines through.
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    code: int | None = None
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe is reported
    except BrokenPipeError:  # stdout's reader went away (``heed … | head``): not an error
        silence_stdout()
    return EXIT_OK if code is None else code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(logging.WARNING - 10 * min(args.verbose, 2))
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"heed: configuration error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HeedError as e:
        print(f"heed: error: {e}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print("heed: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
