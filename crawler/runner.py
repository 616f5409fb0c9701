"""Runs one crawl in this process: builds the context, starts Scrapy, closes the output.

Scrapy's reactor can start once per process, so each ``heed crawl`` is one process; tests run
the real command in a subprocess.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.utils.defer import deferred_from_coro

from filters import ConfigError

from .config import RunConfig
from .context import RunContext
from .distributed._progress import report_progress
from .distributed._progress import wanted as progress_lines_wanted
from .output import check_output_dir
from .settings import scrapy_settings
from .spider import HeedSpider

__all__ = ["run_crawl"]

log = logging.getLogger(__name__)


def run_crawl(
    cfg: RunConfig,
    seeds: tuple[str, ...],
    *,
    out: str | Path,
    progress: bool = False,
    fresh: bool = False,
    on_crawler: Callable[[Crawler], None] | None = None,
) -> dict[str, Any]:
    """Crawl ``seeds`` under ``cfg`` into ``out``; returns the summary (also in run.json).

    ``on_crawler`` is called with the Scrapy crawler before the crawl starts, for a caller
    that wants heed's signals (``crawler/signals.py``) or Scrapy's own.

    A folder holding earlier output is resumed (``crawler/resume.py``) unless ``fresh`` or
    ``[output] resume = false``, which refuse such a folder with a ``ConfigError``. An output
    folder that cannot be created or written is a ``ConfigError`` before anything is fetched;
    a write failure during the crawl stops it promptly with ``fatal`` set (exit code 1).
    """
    check_output_dir(Path(out))
    if cfg.distributed:  # an unreachable Redis is one clear error before anything starts
        from .distributed.settings import job_for

        job = job_for(cfg)
        job.call(job.client.ping)  # RedisUnavailable (exit 1)
    try:
        ctx = RunContext(cfg, Path(out), fresh=fresh)
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise ConfigError(f"output folder {out}: {e.strerror or e}{where}") from None
    process = CrawlerProcess(scrapy_settings(ctx, progress=progress))
    crawler = process.create_crawler(HeedSpider)
    stop = _stopper(ctx, crawler)
    ctx.writer.on_failure = stop
    ctx.frontier.on_failure = stop
    if cfg.distributed:  # a lost Redis stops the crawl the same way (exit 1, parts complete)
        from .distributed.settings import job_for

        job_for(cfg).on_failure = stop
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
    if progress_lines_wanted():  # a worker of ``heed crawl --workers N``
        report_progress(crawler, ctx)
    if on_crawler is not None:
        on_crawler(crawler)
    process.crawl(crawler, ctx=ctx, seeds=seeds)
    _tune_gc()
    process.start()
    failure = ctx.writer.failure or ctx.frontier.failure
    if failure and not ctx.fatal:
        ctx.fatal = failure
    stats = crawler.stats.get_stats() or {}
    errors = int(stats.get("spider_exceptions/count", 0))
    if errors and not ctx.fatal:
        # An exception in the spider is a bug that may have lost decisions: a scheduled job
        # must not mistake such a run for a clean one (exit code 1).
        ctx.fatal = f"{errors} internal error(s) while processing responses; see the log"
    summary = ctx.summary()
    summary["stats"] = {k: v for k, v in stats.items() if k.startswith("heed/")}
    if ctx.registry is not None:  # how the registry was asked: batches, and URLs in them
        summary["stats"]["heed/registry/lookups"] = ctx.answers.lookups
        summary["stats"]["heed/registry/urls_asked"] = ctx.answers.urls_asked
    if ctx.writer.failure:
        summary["rows_lost"] = ctx.writer.rows_lost
    return summary


#: Python's collector thresholds during a crawl (the defaults are 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)


def _tune_gc() -> None:
    """Make the cyclic garbage collector cheap for the crawl that is about to start.

    A crawl creates many short-lived objects (requests, responses, deferreds) on a heap of
    several hundred thousand long-lived ones (Scrapy, Twisted, lxml, pyarrow, the config).
    With the default thresholds, the collector took about 11 % of the CPU of a crawl
    (3.3-3.7 s of 27-32 s on the 10,000-page benchmark web), most of it in full collections
    that walk that whole heap. Everything built so far is moved out of the collector's
    reach (``gc.freeze``: it lives as long as the process anyway), and the youngest
    generation is collected every 10,000 allocations instead of 700, so most of a page's
    objects are freed by reference counting before any collection sees them. Garbage in
    reference cycles still goes, a little later: memory stays flat (docs/benchmarks.md).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _stopper(ctx: RunContext, crawler: Crawler) -> Callable[[str], None]:
    """What a write failure calls: set ``fatal``, say so once, and close the spider.

    Nothing more can be written safely, so fetching on would only lose work (and, as the
    writer drops rows from then on, it would not leak anything either). The message names the
    folder and the error, never a row: log lines carry no page content.
    """
    stopped = False

    def stop(message: str) -> None:
        nonlocal stopped
        ctx.fatal = ctx.fatal or message
        if stopped:
            return
        stopped = True
        log.error("%s; stopping the crawl (rerun the same command to resume)", message)
        engine = crawler.engine
        if engine is not None and engine.spider is not None:
            closing = deferred_from_coro(engine.close_spider_async(reason="output-error"))
            closing.addErrback(lambda f: log.debug("closing after a write failure: %s", f.value))

    return stop
