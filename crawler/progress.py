"""A live progress line on stderr: pages/s, kept, and excluded by reason."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from .context import RunContext

__all__ = ["Progress", "progress_line"]


def progress_line(ctx: RunContext) -> str:
    """One line of progress, e.g. ``120 considered · 80 kept · 40 excluded (robots...) · 9.5/s``."""
    s = ctx.summary()
    top = ", ".join(f"{k} {v}" for k, v in list(s["by_reason"].items())[:3])
    excluded = f"{s['excluded']} excluded" + (f" ({top})" if top else "")
    resumed = (
        f" · {s['skipped_done']} done earlier · {s['frontier_restored']} restored"
        if s["resumed"]
        else ""
    )
    return (
        f"{s['considered']} considered · {s['kept']} kept · {excluded}{resumed}"
        f" · {s['pages_per_s']:.1f}/s"
    )


class Progress:
    """Prints :func:`progress_line` every ``HEED_PROGRESS_INTERVAL`` seconds (0 = off)."""

    def __init__(self, crawler: Crawler) -> None:
        self.interval = crawler.settings.getfloat("HEED_PROGRESS_INTERVAL", 0.0)
        self.ctx = crawler.settings.get("HEED_CONTEXT")
        if self.interval <= 0 or self.ctx is None:
            raise NotConfigured  # off: nothing to warn about
        self.loop = task.LoopingCall(self.tick)
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        return cls(crawler)

    def tick(self) -> None:
        sys.stderr.write("\r\x1b[K" + progress_line(self.ctx))
        sys.stderr.flush()

    def opened(self) -> None:
        self.loop.start(self.interval, now=False)

    def closed(self) -> None:
        if self.loop.running:
            self.loop.stop()
            self.tick()
            sys.stderr.write("\n")
