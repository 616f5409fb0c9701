"""The ``--progress`` option the long-running commands (``crawl``, ``recheck``) share."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_progress_option", "wants_progress"]


def add_progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live progress on stderr (default: when stderr is a terminal)",
    )


def wants_progress(args: argparse.Namespace) -> bool:
    """``--progress``/``--no-progress`` as given, else on when stderr is a terminal and the
    output is not ``--json``."""
    if args.progress is not None:
        return bool(args.progress)
    return not args.json and sys.stderr.isatty()
