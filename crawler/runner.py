"""Runs one crawl in this process: builds the context, starts Scrapy, closes the output.

Scrapy's reactor can start once per process, so each ``heed crawl`` is one process; tests run
the real command in a subprocess.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from filters import ConfigError

from .config import RunConfig, read_seeds
from .context import RunContext
from .settings import scrapy_settings
from .spider import HeedSpider

__all__ = ["collect_seeds", "run_crawl"]

log = logging.getLogger(__name__)


def collect_seeds(cfg: RunConfig, seeds_file: str | None = None) -> tuple[str, ...]:
    """Seeds from the config and the seeds file, in order, deduplicated.

    Raises:
        ConfigError: no seeds at all, or an unreadable or invalid seeds file.
    """
    seeds = list(cfg.seeds)
    path = seeds_file or cfg.seeds_file
    if path:
        seeds.extend(read_seeds(path))
    if not seeds:
        raise ConfigError("no seeds: set [crawl] seeds or seeds_file, or pass --seeds FILE")
    return tuple(dict.fromkeys(seeds))


def run_crawl(
    cfg: RunConfig,
    seeds: tuple[str, ...],
    *,
    out: str | Path,
    progress: bool = False,
    fresh: bool = False,
) -> dict[str, Any]:
    """Crawl ``seeds`` under ``cfg`` into ``out``; returns the summary (also in run.json).

    A folder holding earlier output is resumed (``crawler/resume.py``) unless ``fresh`` or
    ``[output] resume = false``, which refuse such a folder with a ``ConfigError``.
    """
    ctx = RunContext(cfg, Path(out), fresh=fresh)
    process = CrawlerProcess(scrapy_settings(ctx, progress=progress))
    crawler = process.create_crawler(HeedSpider)
    # Clients are opened before the crawl starts so that a bad registry URL or a missing
    # registry file stops the run with a configuration error instead of crawling without it.
    ctx.open_clients()

    async def closed(reason: str) -> None:
        try:
            await ctx.close_clients()
        finally:
            if reason not in ("finished", "closespider_pagecount"):
                ctx.fatal = ctx.fatal or f"crawl ended: {reason}"
            try:
                ctx.writer.close(ctx.run_info())
            finally:
                ctx.frontier.close()

    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler, ctx=ctx, seeds=seeds)
    process.start()
    stats = crawler.stats.get_stats() or {}
    errors = int(stats.get("spider_exceptions/count", 0))
    if errors and not ctx.fatal:
        # An exception in the spider is a bug that may have lost decisions: a scheduled job
        # must not mistake such a run for a clean one (exit code 1).
        ctx.fatal = f"{errors} internal error(s) while processing responses; see the log"
    summary = ctx.summary()
    summary["stats"] = {k: v for k, v in stats.items() if k.startswith("heed/")}
    return summary
