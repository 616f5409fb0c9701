"""Progress of the local workers of ``heed crawl --workers N``: one line on stderr for all.

A worker started by ``crawler/distributed/workers.py`` gets ``HEED_WORKER_PROGRESS=1`` in its
environment; its runner then writes its counts (``RunContext.summary()``) to stderr once a
second as one line: :data:`MARKER` followed by JSON. The parent reads every worker's stderr,
keeps each worker's latest counts, passes every other line through (prefixed with the worker
id) and draws one combined line. The marker starts with a control character no log line
starts with, so a log line is never taken for counts.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from ..context import RunContext

__all__ = [
    "ENV",
    "MARKER",
    "add_counts",
    "combined_line",
    "parse_line",
    "report_progress",
    "wanted",
]

#: The environment variable that asks a worker for progress lines.
ENV = "HEED_WORKER_PROGRESS"
MARKER = "\x1eheed-progress "
#: The counts a worker reports and the parent adds up.
COUNTS = ("considered", "kept", "excluded", "skipped_done", "frontier_restored")
INTERVAL_S = 1.0


def wanted() -> bool:
    """True in a worker started by ``heed crawl --workers N``."""
    return os.environ.get(ENV) == "1"


def _write(ctx: RunContext) -> None:
    s = ctx.summary()
    counts = {k: s.get(k, 0) for k in COUNTS}
    line = json.dumps({**counts, "by_reason": s.get("by_reason", {})}, separators=(",", ":"))
    try:
        sys.stderr.write(MARKER + line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # the parent went away; the crawl goes on
        pass


def report_progress(crawler: Crawler, ctx: RunContext) -> None:
    """Have this crawl write its counts to stderr every second, and once more at the end.

    Twisted is imported when the spider opens, not here: importing ``twisted.internet.task``
    before Scrapy installs its reactor would install the default one instead.
    """
    from scrapy import signals

    loops: list[Any] = []

    def opened() -> None:
        from twisted.internet import task

        loop = task.LoopingCall(_write, ctx)
        loops.append(loop)
        loop.start(INTERVAL_S, now=True)

    def closed() -> None:
        for loop in loops:
            if loop.running:
                loop.stop()
        _write(ctx)

    crawler.signals.connect(opened, signal=signals.spider_opened, weak=False)
    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)


def parse_line(line: str) -> dict[str, Any] | None:
    """A worker's counts from one stderr line, or None for any other line."""
    if not line.startswith(MARKER):
        return None
    try:
        data = json.loads(line[len(MARKER) :])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def add_counts(reports: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The sum of the workers' latest counts, and their reasons (most frequent first)."""
    total: dict[str, Any] = {k: sum(_int(r.get(k)) for r in reports.values()) for k in COUNTS}
    reasons: Counter[str] = Counter()
    for report in reports.values():
        by_reason = report.get("by_reason")
        if isinstance(by_reason, dict):
            reasons.update({str(k): _int(v) for k, v in by_reason.items()})
    total["by_reason"] = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return total


def combined_line(reports: Mapping[str, Mapping[str, Any]], running: int, elapsed_s: float) -> str:
    """One progress line for every worker, e.g.
    ``3 workers · 1200 considered · 800 kept · 400 excluded (robots.disallow 390) · 450.0/s``."""
    total = add_counts(reports)
    top = ", ".join(f"{k} {v}" for k, v in list(total["by_reason"].items())[:3])
    excluded = f"{total['excluded']} excluded" + (f" ({top})" if top else "")
    rate = total["considered"] / elapsed_s if elapsed_s > 0 else 0.0
    return (
        f"{running} worker{'s' if running != 1 else ''} · {total['considered']} considered"
        f" · {total['kept']} kept · {excluded} · {rate:.1f}/s"
    )
